"""Third-party login with OpenID Connect (Authlib's Flask client), and linked identities.

The login redirect carries a state, a nonce and a PKCE S256 challenge (RFC 7636); the
three are kept in a signed, HttpOnly, SameSite=Lax cookie scoped to /auth/oidc, so
only the browser that started a sign-in can finish it. The callback swaps the code
(with the PKCE verifier) for tokens and verifies the ID token against the provider's
JWKS: signature, issuer, audience, times, and the nonce. Providers are found by
discovery (`<issuer>/.well-known/openid-configuration`), on first use.
"""

from __future__ import annotations

import time
import unicodedata
from typing import TYPE_CHECKING, Any

from flask import Flask, Request, current_app
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from sqlalchemy import and_, delete, exists, func, select, update
from sqlalchemy.exc import IntegrityError

from authapi import audit, db
from authapi.accounts import notices
from authapi.accounts.users import normalize_email
from authapi.config import oidc_providers
from authapi.db import utcnow
from authapi.errors import (
    AccountDisabled,
    ApiError,
    Conflict,
    InvalidCredentials,
    NotFound,
    OidcStateInvalid,
)
from authapi.models import DEFAULT_ROLE, OidcIdentity, Role, User
from authapi.tokens import core
from authapi.tokens.tokens import SignIn

if TYPE_CHECKING:
    from authlib.integrations.flask_client import OAuth

SCOPE = "openid email profile"
CALLBACK = "/auth/oidc/{provider}/callback"
SESSION_PATH = "/auth/oidc"


def _provider_errors() -> tuple[type[Exception], ...]:
    """What a provider's answer can fail with, once the state matched. Authlib, joserfc
    and requests load only where a provider is configured (a faster cold start)."""
    from authlib.integrations.base_client import OAuthError
    from joserfc.errors import JoseError
    from requests import RequestException

    # RuntimeError: Authlib's "Missing ... value" for discovery metadata that lacks an
    # endpoint (a misconfigured provider, as unreachable as a dead one).
    return (OAuthError, JoseError, RequestException, ValueError, KeyError, TypeError,
            RuntimeError)


def _registry() -> OAuth:
    """The app's Authlib client registry."""
    return current_app.extensions["authapi.accounts.oidc"]


def _client(provider: str) -> Any:
    """The Authlib client of a configured provider; NotFound for any other name."""
    if provider not in oidc_providers(current_app.config):
        raise NotFound("No such identity provider.")
    return _registry().create_client(provider)


def redirect_uri(provider: str) -> str:
    """The callback URL registered at the provider: under AUTHAPI_ISSUER, never the Host."""
    return current_app.config["AUTHAPI_ISSUER"].rstrip("/") + CALLBACK.format(provider=provider)


def authorization_url(provider: str) -> str:
    """Where to send the browser; its state, nonce and PKCE verifier go in its cookie."""
    client = _client(provider)
    uri = redirect_uri(provider)
    try:
        data = client.create_authorization_url(uri)
    except _provider_errors():  # discovery failed: the provider is down or misconfigured
        raise InvalidCredentials("The identity provider cannot be reached.") from None
    _forget_older_starts(provider)
    client.save_authorize_data(redirect_uri=uri, **data)
    return str(data["url"])


KEPT_STARTS = 3  # sign-ins a browser may have begun and not finished (tabs), per provider


def _forget_older_starts(provider: str) -> None:
    """Drop all but the newest few unfinished sign-ins from the state cookie: each adds
    its state, nonce and verifier, and a cookie over 4 KiB is dropped by the browser
    (RFC 6265 §6.1), which would break every later callback."""
    from flask import session

    prefix = f"_state_{provider}_"
    started = sorted((key for key in session if key.startswith(prefix)),
                     key=lambda key: _expiry(session[key]))
    for key in started[:max(0, len(started) - (KEPT_STARTS - 1))]:
        session.pop(key, None)


def _expiry(value: Any) -> float:
    exp = value.get("exp") if isinstance(value, dict) else None
    return float(exp) if isinstance(exp, int | float) and core.number(exp) else 0.0


def verified_claims(provider: str) -> dict[str, Any]:
    """The ID token's claims after the whole callback check (state, PKCE, JWKS, nonce)."""
    from authlib.integrations.base_client import OAuthError

    client = _client(provider)
    try:
        token = client.authorize_access_token()
    except OAuthError as exc:
        if exc.error == "mismatching_state":
            raise OidcStateInvalid() from None
        raise _failed(provider, exc.error or "provider_error") from None
    except _provider_errors() as exc:
        raise _failed(provider, type(exc).__name__) from None
    claims = token.get("userinfo")
    if not claims or not isinstance(claims.get("sub"), str):
        raise _failed(provider, "no_id_token")
    return dict(claims)


def _failed(provider: str, reason: str) -> ApiError:
    """Audit a failed sign-in and make its (deliberately uninformative) error."""
    audit.record("login_failed", detail={"method": "oidc", "provider": provider,
                                         "reason": reason[:64]})
    return InvalidCredentials("The identity provider's answer could not be verified.")


def sign_in(provider: str, claims: dict[str, Any]) -> User:
    """The user these verified claims name: by linked identity, by verified email, or new."""
    subject = claims["sub"]
    user: User | None = None
    for _ in range(2):  # a second look when a concurrent callback linked it first
        row = db.orm().scalar(select(OidcIdentity).where(OidcIdentity.provider == provider,
                                                         OidcIdentity.subject == subject))
        if row is not None:
            user = db.orm().get(User, row.user_id)
            row.last_login_at = utcnow()
            break
        linked = _link_or_create(provider, claims)
        if linked is not None:
            user = linked
            break
    if user is None or user.disabled:
        audit.record("login_failed", user_id=user.id if user else None,
                     detail={"method": "oidc", "reason": "disabled"})
        raise AccountDisabled()
    return user


# RFC 8176 §2: the registered authentication method reference values.
RFC8176_METHODS = frozenset({"face", "fpt", "geo", "hwk", "iris", "kba", "mca", "mfa", "otp",
                             "pin", "pop", "pwd", "rba", "retina", "sc", "sms", "swk", "tel",
                             "user", "vbm", "wia"})


def sign_in_context(claims: dict[str, Any]) -> SignIn:
    """The sign-in a provider's verified ID token makes here: when the provider says the
    user authenticated (`auth_time`, never in the future), its registered `amr` values,
    and `acr` `pwd`: authapi vouches for one factor, however the provider checked it."""
    now = int(time.time())
    auth_time: Any = claims.get("auth_time")
    when = int(auth_time) if core.number(auth_time) and 0 < auth_time <= now else now
    amr = claims.get("amr")
    methods = tuple(m for m in amr if m in RFC8176_METHODS and m != "mfa"
                    ) if isinstance(amr, list) else ()
    _, named = core.sign_in_context(methods)  # `mfa` when two or more, as for ours
    return SignIn(auth_time=when, acr="pwd", amr=tuple(named))


class SignInRefused(Exception):  # noqa: N818  (a refusal, not an error of ours)
    """A provider sign-in that links and creates nothing; the browser is sent back with
    `error=<code>` (account_exists, email_unverified)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def _link_or_create(provider: str, claims: dict[str, Any]) -> User | None:
    """Link the account with this email, or create one, only where both sides are verified.

    A provider identity is linked only to an account whose own email is verified, and
    only for an email the provider verified: else an attacker who registered the
    victim's address first (or a provider that vouches for nothing) would be handed the
    account. An account is created only for a provider-verified email. A refused link
    mails the address (notices.link_refused). A disabled account is linked to nothing.

    None: a concurrent callback created the user or the link first (the unique keys
    said so); the caller looks again.
    """
    email = claims.get("email")
    if not isinstance(email, str) or "@" not in email:
        raise _failed(provider, "no_email")
    verified = claims.get("email_verified") is True
    address = normalize_email(email)
    user = db.orm().scalar(select(User).where(User.email == address))
    if user is not None and not (verified and user.email_verified and _same_mailbox(email, user)):
        reason = ("unverified_email" if not verified else
                  "account_unverified" if not user.email_verified else "different_address")
        audit.record("login_failed", user_id=user.id,
                     detail={"method": "oidc", "provider": provider, "reason": reason})
        notices.link_refused(user.email, provider, reason)
        raise SignInRefused("account_exists")
    if user is None and not verified:
        audit.record("login_failed", detail={"method": "oidc", "provider": provider,
                                             "reason": "unverified_email"})
        raise SignInRefused("email_unverified")
    if user is not None and user.disabled:
        return user  # refused by the caller, with nothing linked
    created = user is None
    role = db.orm().scalar(select(Role).where(Role.name == DEFAULT_ROLE)) if created else None
    # The savepoint's first statement writes: on SQLite it then waits for a concurrent
    # writer and sees what it committed (a read first would pin an older snapshot).
    try:
        with db.orm().begin_nested():
            if user is None:
                user = User(email=address, password_hash=None, email_verified=True,
                            display_name=_display_name(claims), roles=[role] if role else [])
                db.orm().add(user)
                db.orm().flush()
            db.orm().add(OidcIdentity(user_id=user.id, provider=provider,
                                      subject=claims["sub"], email=address))
            db.orm().flush()
    except IntegrityError:
        return None
    if created:
        audit.record("register", user_id=user.id, detail={"method": "oidc", "provider": provider})
    audit.record("oidc_linked", user_id=user.id, detail={"provider": provider})
    return user


def _same_mailbox(email: str, user: User) -> bool:
    """Whether the provider's address is the account's without case folding.

    Accounts are found by the folded form (users.normalize_email), where `ß` is `ss`
    and `ς` is `σ`; but `straße.de` and `strasse.de` are two domains (IDNA2008), and
    whoever owns the one may have a provider vouch for it. Linking hands over the
    account, so it asks for the address as the provider wrote it, compatibility forms
    and letter case aside (NFKC, lower case), to be the account's own.
    """
    return unicodedata.normalize("NFKC", email).strip().lower() == user.email


def _display_name(claims: dict[str, Any]) -> str | None:
    """The provider's `name` claim, cut to what the column holds."""
    name = claims.get("name")
    return name[:100] if isinstance(name, str) and name else None


def list_identities(user_id: str, page: int, per_page: int) -> tuple[list[OidcIdentity], int]:
    """One page of the user's linked identities, oldest first, and their total."""
    where = OidcIdentity.user_id == user_id
    total = db.orm().scalar(select(func.count()).select_from(OidcIdentity).where(where)) or 0
    rows = db.orm().scalars(select(OidcIdentity).where(where)
                            .order_by(OidcIdentity.created_at, OidcIdentity.id)
                            .limit(per_page).offset((page - 1) * per_page))
    return list(rows), total


def unlink(user_id: str, identity_id: str) -> None:
    """Remove a linked identity, unless it is the user's last way to sign in."""
    # Lock the user: two unlinks at once must not both see "another way is left".
    db.affected(update(User).where(User.id == user_id).values(updated_at=utcnow()))
    other = OidcIdentity.__table__.alias("other")
    another_way = (User.password_hash.is_not(None)) | exists().where(
        and_(other.c.user_id == user_id, other.c.id != identity_id))
    removed = db.affected(delete(OidcIdentity).where(
        OidcIdentity.id == identity_id, OidcIdentity.user_id == user_id,
        exists().where(and_(User.id == user_id, another_way))))
    if removed:
        audit.record("oidc_unlinked", user_id=user_id, detail={"identity_id": identity_id})
        return
    row = db.orm().get(OidcIdentity, identity_id)
    if row is None or row.user_id != user_id:
        raise NotFound("No such linked identity.")
    raise Conflict("This is the account's last way to sign in: set a password first.")


class ScopedSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie session, opened only under /auth/oidc (the only user of it).

    Elsewhere a request gets Flask's null session for free: opening the cookie session
    builds a signing serializer, ~100 µs on every request, /auth/check included.
    """

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        """The state cookie's session on OIDC paths; None (a null session) elsewhere."""
        if not request.path.startswith(SESSION_PATH):
            return None
        return super().open_session(app, request)


def init_app(app: Flask) -> None:
    """Register every configured provider with Authlib; scope the state cookie."""
    app.session_interface = ScopedSessions()
    config = app.config
    config.update(SESSION_COOKIE_NAME="authapi_oidc", SESSION_COOKIE_PATH=SESSION_PATH,
                  SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
                  SESSION_COOKIE_SECURE=config["AUTHAPI_ENV"] != "development")
    providers = oidc_providers(config)
    if not providers:
        return  # no Authlib registry: nothing to sign in with
    from authlib.integrations.flask_client import OAuth

    registry = OAuth(app)
    for name, provider in providers.items():
        registry.register(
            name, client_id=provider["client_id"], client_secret=provider["client_secret"],
            server_metadata_url=provider["issuer"].rstrip("/")
            + "/.well-known/openid-configuration",
            client_kwargs={"scope": SCOPE, "code_challenge_method": "S256", "timeout": 10})
    app.extensions["authapi.accounts.oidc"] = registry
