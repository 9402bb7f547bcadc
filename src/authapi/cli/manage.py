"""Administration without HTTP: users, roles, clients, keys (the domain functions of /admin)."""

from __future__ import annotations

import json
import sys
import typing

import click
from marshmallow import ValidationError

from authapi import db
from authapi.accounts import accounts
from authapi.accounts import users as users_
from authapi.admin import admin
from authapi.admin import roles as roles_
from authapi.cli.base import domain, load_app, print_json, refusal
from authapi.errors import ApiError
from authapi.oauth import clients
from authapi.oauth.registration import Registration
from authapi.tokens import keys
from authapi.web.schemas.base import EmailText


@click.group()
def users() -> None:
    """User accounts."""


@users.command(name="create")
@click.option("--email", required=True)
@click.option("--role", "roles", multiple=True, help="Repeatable; default: user.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def create_user(email: str, roles: tuple[str, ...], password_stdin: bool) -> None:
    """Create a user (the password is prompted for without echo unless --password-stdin)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:  # the address rules of POST /auth/register and /admin/users
        EmailText().deserialize(email)
    except ValidationError as exc:
        raise click.ClickException(f"--email: {' '.join(map(str, exc.messages))}") from None
    app = load_app()
    with app.app_context():
        try:
            user = accounts.create(email, password, roles=roles or ("user",))
        except ApiError as exc:
            raise click.ClickException(exc.detail) from None
        db.orm().commit()
        click.echo(json.dumps({"id": user.id, "email": user.email, "roles": user.role_names()}))


@users.command(name="roles")
@click.option("--email", required=True)
@click.option("--role", "roles", multiple=True, required=True, help="Repeatable.")
def set_user_roles(email: str, roles: tuple[str, ...]) -> None:
    """Replace a user's roles; their access tokens issued before now stop working."""
    with domain():
        user = admin.set_user_roles(user_id_of(email), list(roles))
        db.orm().commit()
        click.echo(json.dumps({"id": user.id, "email": user.email, "roles": user.role_names()}))


@users.command(name="list")
@click.option("--q", "query", help="Search emails and display names.")
@click.option("--page", default=1, show_default=True, type=click.IntRange(min=1))
@click.option("--per-page", default=20, show_default=True, type=click.IntRange(1, 100))
def list_users(query: str | None, page: int, per_page: int) -> None:
    """Print a page of users as JSON, as GET /admin/users answers it."""
    with domain():
        items, total = admin.list_page(query, page, per_page)
        print_json({"items": items, "page": page, "per_page": per_page, "total": total})


@users.command(name="disable")
@click.option("--email", required=True)
@click.option("--enable", is_flag=True, help="Enable the account again instead.")
def disable_user(email: str, enable: bool) -> None:
    """Disable a user and revoke every token of theirs at once (never the last admin)."""
    with domain():
        user = admin.update_user(user_id_of(email), {"disabled": not enable})
        db.orm().commit()
        print_json(admin.view(user))


@click.group(name="roles")
def roles_group() -> None:
    """Roles and their permissions (`resource:action`)."""


@roles_group.command(name="create")
@click.option("--name", required=True)
@click.option("--permission", "permissions", multiple=True, help="Repeatable.")
def create_role(name: str, permissions: tuple[str, ...]) -> None:
    """Create a role holding these permissions."""
    with domain():
        role = roles_.create(name, list(permissions))
        db.orm().commit()
        print_json(roles_.view(role))


@roles_group.command(name="grant")
@click.option("--name", required=True)
@click.option("--permission", "permissions", multiple=True, required=True, help="Repeatable.")
def grant_role(name: str, permissions: tuple[str, ...]) -> None:
    """Add permissions to a role; its holders' access tokens issued before now stop working."""
    with domain():
        role = roles_.grant(name, list(permissions))
        db.orm().commit()
        print_json(roles_.view(role))
@click.group(name="clients")
def clients_group() -> None:
    """Service clients (OAuth 2 client credentials)."""


@clients_group.command(name="create")
@click.option("--name", required=True)
@click.option("--scope", default="", help='Space-separated, e.g. "orders:read orders:write".')
@click.option("--exchange", is_flag=True, help="May exchange user tokens (RFC 8693).")
@click.option("--audience", "audiences", multiple=True,
              help="Repeatable: a service this client may exchange user tokens for.")
@click.option("--jwks-file", type=click.File("r"),
              help="Authenticates by private_key_jwt with these public keys; no secret.")
@click.option("--jwks-url", help="Authenticates by private_key_jwt with keys fetched here.")
@click.option("--redirect-uri", "redirect_uris", multiple=True,
              help="Repeatable: an app that signs users in (authorization code + PKCE).")
@click.option("--post-logout-redirect-uri", "logout_uris", multiple=True, help="Repeatable.")
@click.option("--public", is_flag=True, help="A public app (no secret): token auth `none`.")
@click.option("--first-party", is_flag=True, help="Users are not asked for consent.")
@click.option("--resource", "resources", multiple=True,
              help="Repeatable: an RFC 8707 resource URI the app may ask tokens for.")
@click.option("--grant", "grants", multiple=True,
              help="Repeatable grant type (default: authorization_code and refresh_token "
                   "with --redirect-uri, else client_credentials).")
@click.option("--require-par", is_flag=True, help="Authorize requests must come through PAR.")
@click.option("--require-dpop", is_flag=True, help="Tokens must be DPoP-bound.")
def create_client(name: str, scope: str, exchange: bool, audiences: tuple[str, ...],
                  jwks_file: typing.IO[str] | None, jwks_url: str | None,
                  redirect_uris: tuple[str, ...], logout_uris: tuple[str, ...], public: bool,
                  first_party: bool, resources: tuple[str, ...], grants: tuple[str, ...],
                  require_par: bool, require_dpop: bool) -> None:
    """Register a client; prints {"client_id", "client_secret"} (the secret only this once)."""
    try:
        jwks = json.load(jwks_file) if jwks_file else None
    except ValueError:
        raise click.ClickException("--jwks-file is not JSON") from None
    app_fields = Registration(
        redirect_uris=redirect_uris, post_logout_redirect_uris=logout_uris,
        grant_types=grants or None, token_endpoint_auth_method="none" if public else None,
        first_party=first_party, resources=resources, require_par=require_par,
        require_dpop=require_dpop)
    app = load_app()
    with app.app_context():
        try:
            created = clients.create(name, scope, exchange, jwks, jwks_url,
                                     audiences=list(audiences), app=app_fields)
        except ApiError as exc:
            raise refusal(exc) from None
        db.orm().commit()
    answer = {"client_id": created["client_id"], "client_secret": created["client_secret"]}
    if created["client_secret"] is None:
        del answer["client_secret"]
    click.echo(json.dumps(answer))


@clients_group.command(name="delete")
@click.option("--client-id", required=True)
def delete_client(client_id: str) -> None:
    """Delete a client; every token it holds stops working."""
    app = load_app()
    with app.app_context():
        client = clients.caller(client_id)
        if client is None:
            raise click.ClickException(f"no enabled client {client_id}")
        clients.delete(client.id)
        db.orm().commit()
    click.echo(json.dumps({"deleted": client_id}))


@click.group(name="keys")
def keys_group() -> None:
    """Signing keys."""


@keys_group.command()
def rotate() -> None:
    """Sign with a new key from now on; old keys keep verifying until their tokens expire."""
    app = load_app()
    algorithm = app.config["AUTHAPI_JWT_ALGORITHM"]
    if algorithm == "HS256":
        raise click.ClickException("HS256 signs with AUTHAPI_SECRET_KEY: rotate that secret")
    with app.app_context():
        row = keys.rotate(db.orm(), algorithm, app.config["AUTHAPI_SECRET_KEY"])
        db.orm().commit()
        click.echo(json.dumps({"kid": row.kid, "alg": algorithm}))


def user_id_of(email: str) -> str:
    """The id of the user with this email; else a one-line error."""
    found = users_.by_email(email)
    if found is None:
        raise click.ClickException(f"no user with email {email}")
    return found.id
