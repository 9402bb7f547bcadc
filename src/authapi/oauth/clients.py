"""Service clients: register, list, delete, rotate secrets; shared by the CLI and /admin.

A secret is 256 random bits, shown once and stored as HMAC-SHA-256 under a key
derived from AUTHAPI_SECRET_KEY. A slow password hash would add nothing against a
high-entropy secret and would cap /oauth/token at the hash rate; a keyed hash means a
leaked table alone does not let anyone check guesses either.
"""

from __future__ import annotations

import calendar
import functools
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app
from jwt import PyJWKSet
from jwt.exceptions import PyJWKError, PyJWKSetError
from sqlalchemy import bindparam, func, select

from authapi import audit, context, db, outbound
from authapi.admin import delegation
from authapi.admin.delegation import Grantor
from authapi.db import utcnow
from authapi.errors import NotFound, ValidationError
from authapi.models import Client
from authapi.oauth import registration
from authapi.tokens import revocation

SECRET_BYTES = 32  # 256 bits
SCOPE_TOKEN = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]{1,128}$")  # RFC 6749 §3.3 scope-token
MAX_SCOPES = 100
MAX_AUDIENCES = 20
MAX_AUDIENCE_LENGTH = 255
MAX_NAME = 100  # a client name, as the column holds


@dataclass(frozen=True)
class Caller:
    """An enabled client as /oauth/* needs it: one read per request, no ORM object."""

    id: str
    client_id: str
    scope: str
    secret_hash: str | None
    jwks: dict[str, Any] | None
    jwks_url: str | None
    exchange: bool
    audiences: tuple[str, ...] = ()
    grant_types: tuple[str, ...] = (registration.CLIENT_CREDENTIALS,)
    auth_method: str = registration.SECRET_BASIC
    first_party: bool = False
    require_dpop: bool = False  # RFC 9449 §5.2: every token request carries a proof

    @property
    def public(self) -> bool:
        """A client that cannot keep a secret (token endpoint auth `none`)."""
        return self.auth_method == registration.NONE


# Seconds past a client's poll interval before its tokens count again after a change:
# another instance's clock may be this far ahead (revocation.void_before_now).
SETTLE_MARGIN = 1.0
# The provider fields that decide who can obtain a client's tokens and where they are good.
TOKEN_ROUTES = ("redirect_uris", "grant_types", "token_endpoint_auth_method", "first_party",
                "resources")
CALLER = db.Read(select(Client.id, Client.client_id, Client.scope, Client.secret_hash,
                        Client.jwks, Client.jwks_url, Client.exchange, Client.audiences,
                        Client.grant_types, Client.token_endpoint_auth_method,
                        Client.first_party, Client.require_dpop)
                 .where(Client.client_id == bindparam("client_id"), Client.disabled.is_(False)))


@functools.lru_cache(maxsize=8)
def _hash_key(secret_key: str) -> bytes:
    """The key of client-secret hashes, derived once per AUTHAPI_SECRET_KEY."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=b"authapi client secrets").derive(secret_key.encode())


def hash_secret(secret: str) -> str:
    """The keyed hash a client secret is stored as."""
    key = _hash_key(context.app().config["AUTHAPI_SECRET_KEY"])
    return hmac.new(key, secret.encode(), hashlib.sha256).hexdigest()


def secret_matches(client: Caller, secret: str) -> bool:
    """Whether `secret` is the client's current secret, compared in constant time."""
    if client.secret_hash is None:
        return False
    return hmac.compare_digest(hash_secret(secret), client.secret_hash)


def normalize_scope(scope: str) -> str:
    """A space-separated scope, each token checked (RFC 6749 §3.3), deduplicated, sorted."""
    names = set(scope.split())
    if len(names) > MAX_SCOPES or not all(SCOPE_TOKEN.match(name) for name in names):
        raise ValidationError(errors={"scope": ["Not a valid space-separated scope."]})
    return " ".join(sorted(names))


def check_jwks(jwks: dict[str, Any]) -> dict[str, Any]:
    """A public JWK Set a client signs its assertions with; private members are refused."""
    try:
        keys = PyJWKSet.from_dict(jwks).keys
    except (PyJWKError, PyJWKSetError, TypeError, AttributeError):
        raise ValidationError(errors={"jwks": ["Not a usable JWK Set."]}) from None
    private = {"d", "p", "q", "dp", "dq", "qi", "k"}
    if any(private & set(key.keys()) for key in jwks["keys"]) or not keys:
        raise ValidationError(errors={"jwks": ["Only public asymmetric keys are accepted."]})
    for key in jwks["keys"]:
        if not all(db.storable(member) for member in _texts(key)):
            raise ValidationError(errors={"jwks": ["A key holds text that cannot be stored."]})
        if any(name in key and not isinstance(key[name], str) for name in ("kid", "alg", "use")) \
                or key.get("use", "sig") != "sig":
            raise ValidationError(errors={"jwks": [
                "kid, alg and use are strings, and use is sig (RFC 7517 §4)."]})
    return {"keys": [dict(key) for key in jwks["keys"]]}


def _texts(value: Any) -> list[str]:
    """Every string in a JSON value, its object keys included."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for k, v in value.items() for text in (*_texts(k), *_texts(v))]
    if isinstance(value, list):
        return [text for item in value for text in _texts(item)]
    return []


def check_audiences(audiences: list[str] | None) -> list[str] | None:
    """The audiences a client may exchange tokens for: at most MAX_AUDIENCES, each an
    absolute URI or a name of at most MAX_AUDIENCE_LENGTH printable characters."""
    if not audiences:
        return None
    unique = sorted(set(audiences))
    bad = [a for a in unique if not a or len(a) > MAX_AUDIENCE_LENGTH or not a.isprintable()
           or " " in a]
    if bad or len(unique) > MAX_AUDIENCES:
        raise ValidationError(errors={"audiences": [
            f"At most {MAX_AUDIENCES} audiences of 1 to {MAX_AUDIENCE_LENGTH} printable "
            "characters without spaces."]})
    return unique


def check_jwks_url(url: str) -> None:
    """A key-set URL authapi may fetch (outbound.py): https, and no private, loopback or
    link-local host outside development; a 422 naming the reason otherwise."""
    try:
        outbound.check_url(url, outbound.policy_for(current_app.config, outbound.KEY_SETS))
    except outbound.FetchFailed as exc:
        raise ValidationError(errors={"jwks_url": [f"Not fetchable: {exc}."]}) from None


def create(name: str, scope: str, exchange: bool = False, jwks: dict[str, Any] | None = None,
           jwks_url: str | None = None, grantor: Grantor | None = None,
           audiences: list[str] | None = None,
           app: registration.Registration | None = None, prefix: str = "svc_"
           ) -> dict[str, Any]:
    """Register a client; the answer holds its secret (None with a key set or for a
    public client), shown once.

    Over HTTP (`grantor`), its scope is at most the caller's own permissions. `app`
    holds the fields of a client that signs users in (registration.py).
    """
    delegation.check_permissions(grantor, normalize_scope(scope).split(), "a client scope")
    if not 1 <= len(name) <= MAX_NAME or not db.storable(name):  # the CLI's too
        raise ValidationError(errors={"name": [f"Between 1 and {MAX_NAME} characters."]})
    if jwks is not None and jwks_url is not None:
        raise ValidationError(errors={"jwks_url": ["Give jwks or jwks_url, not both."]})
    if jwks_url is not None:
        check_jwks_url(jwks_url)
    keyed = jwks is not None or jwks_url is not None
    settled = registration.settle(app or registration.Registration(), has_keys=keyed,
                                  exchange=exchange)
    public = settled["token_endpoint_auth_method"] == registration.NONE
    secret = None if keyed or public else secrets.token_urlsafe(SECRET_BYTES)
    client = Client(client_id=prefix + secrets.token_urlsafe(16), name=name,
                    scope=normalize_scope(scope),
                    secret_hash=hash_secret(secret) if secret else None,
                    jwks=check_jwks(jwks) if jwks is not None else None, jwks_url=jwks_url,
                    audiences=check_audiences(audiences), **settled)
    db.orm().add(client)
    db.orm().flush()
    audit.record("client_created", client_id=client.client_id,
                 detail={"name": name, "scope": client.scope,
                         "grant_types": settled["grant_types"]})
    return {**view(client), "client_secret": secret}


DYNAMIC_PREFIX = "dyn_"  # client_ids of clients that registered themselves (RFC 7591)
DYNAMIC_METHODS = (registration.NONE, registration.SECRET_BASIC, registration.SECRET_POST)


def register_dynamic(metadata: dict[str, Any]) -> dict[str, Any]:
    """RFC 7591: a client that registers itself. It signs users in (the code grant, and
    refresh), is never first-party, and holds no permission of its own: what it may get
    is what each user consents to of their own. The answer (§3.2.1) holds its secret."""
    name = metadata.get("client_name") or "Unnamed app"
    grants = metadata.get("grant_types") or [registration.AUTHORIZATION_CODE,
                                              registration.REFRESH_TOKEN]
    if not set(grants) <= {registration.AUTHORIZATION_CODE, registration.REFRESH_TOKEN} \
            or registration.AUTHORIZATION_CODE not in grants:
        raise ValidationError(errors={"grant_types": [
            "A registered client uses authorization_code (and may add refresh_token)."]})
    for uri in metadata.get("redirect_uris") or ():
        registration.check_web_redirect_uri(uri)
    method = metadata.get("token_endpoint_auth_method") or registration.SECRET_BASIC
    if method not in DYNAMIC_METHODS:
        raise ValidationError(errors={"token_endpoint_auth_method": [
            f"One of {', '.join(DYNAMIC_METHODS)}."]})
    if set(metadata.get("response_types") or ["code"]) != {"code"}:
        raise ValidationError(errors={"response_types": ["Only code is offered."]})
    created = create(str(name)[:100], "", app=registration.Registration(
        redirect_uris=tuple(metadata.get("redirect_uris") or ()),
        post_logout_redirect_uris=tuple(metadata.get("post_logout_redirect_uris") or ()),
        grant_types=tuple(grants), token_endpoint_auth_method=method, first_party=False),
        prefix=DYNAMIC_PREFIX)
    answer = {"client_id": created["client_id"], "client_name": created["name"],
              "client_id_issued_at": calendar.timegm(created["created_at"].utctimetuple()),
              "redirect_uris": created["redirect_uris"],
              "post_logout_redirect_uris": created["post_logout_redirect_uris"],
              "grant_types": created["grant_types"], "response_types": ["code"],
              "token_endpoint_auth_method": created["token_endpoint_auth_method"]}
    if created["client_secret"]:
        answer.update(client_secret=created["client_secret"], client_secret_expires_at=0)
    return answer


def update(row_id: str, grantor: Grantor | None, name: str | None = None,
           scope: str | None = None, app: registration.Registration | None = None,
           disabled: bool | None = None) -> dict[str, Any]:
    """PATCH a client: what is sent changes, the rest stays. A narrower scope, or a
    disabled client, voids the tokens it holds. Changing who may obtain its tokens, or
    where they are good (TOKEN_ROUTES), needs a grantor holding its whole scope."""
    client = _get(row_id)
    if app is not None and any(getattr(app, name) is not None for name in TOKEN_ROUTES):
        _check_holds(grantor, client)
    if scope is not None:
        new_scope = normalize_scope(scope)
        delegation.check_permissions(grantor, new_scope.split(), "a client scope")
        if set(client.scope.split()) - set(new_scope.split()):  # something was taken away
            revoke_tokens(client)
        client.scope = new_scope
    if app is not None:
        keyed = client.jwks is not None or client.jwks_url is not None
        for column, value in registration.settle(app, has_keys=keyed, exchange=client.exchange,
                                                 current=_provider_fields(client)).items():
            setattr(client, column, value)
    if name is not None:
        client.name = name
    if disabled is not None and disabled != client.disabled:
        client.disabled = disabled
        if disabled:
            revoke_tokens(client)
    audit.record("client_updated", client_id=client.client_id, detail={"name": client.name})
    return view(client)


def _provider_fields(client: Client) -> dict[str, Any]:
    """The provider columns as they read, legacy (NULL) rows included."""
    keyed = client.jwks is not None or client.jwks_url is not None
    return {"redirect_uris": client.redirect_uris or [],
            "post_logout_redirect_uris": client.post_logout_redirect_uris or [],
            "grant_types": client.grant_types or registration.default_grants(
                bool(client.redirect_uris), client.exchange),
            "token_endpoint_auth_method": client.token_endpoint_auth_method or (
                registration.PRIVATE_KEY_JWT if keyed else registration.SECRET_BASIC),
            "first_party": client.first_party, "resources": client.resources or [],
            "require_par": client.require_par, "require_dpop": client.require_dpop}


def view(client: Client) -> dict[str, Any]:
    """A client as the API shows it (never its secret or its hash)."""
    return {"id": client.id, "client_id": client.client_id, "name": client.name,
            "scope": client.scope, "exchange": client.exchange, "audiences": client.audiences or [],
            "disabled": client.disabled, **_provider_fields(client),
            "created_at": client.created_at}


def caller(client_id: str) -> Caller | None:
    """The enabled client with this client_id, if any.

    On the token endpoint's and introspection's path, so cached per process until the
    revocation feed says a client changed (tokens/changes.py): a rotated secret, a
    disabled or deleted client is seen with a revocation's bounds.
    """
    if len(client_id) > 48 or not db.storable(client_id):  # from Basic or an assertion's iss
        return None
    state = revocation.cache()
    state.sync()
    return cast("Caller | None", state.remembered(revocation.CLIENTS, client_id, _read_caller))


def _read_caller(client_id: str) -> Caller | None:
    rows = CALLER.rows({"client_id": client_id})
    if not rows:
        return None
    row = rows[0]
    grants = row[8] or registration.default_grants(False, bool(row[6]))
    keyed = row[4] is not None or row[5] is not None
    method = row[9] or (registration.PRIVATE_KEY_JWT if keyed else registration.SECRET_BASIC)
    return Caller(id=row[0], client_id=row[1], scope=row[2], secret_hash=row[3], jwks=row[4],
                  jwks_url=row[5], exchange=row[6], audiences=tuple(row[7] or ()),
                  grant_types=tuple(grants), auth_method=method, first_party=bool(row[10]),
                  require_dpop=bool(row[11]))


def first_party(client_id: str) -> bool:
    """Whether an enabled client is first-party (its users are not asked for consent, and
    its tokens reach authapi's own routes): the cached `caller` read."""
    client = caller(client_id)
    return client is not None and client.first_party


def _get(row_id: str) -> Client:
    client = db.orm().get(Client, row_id) if len(row_id) <= 36 else None
    if client is None:
        raise NotFound("No such client.")
    return client


def page(number: int, per_page: int) -> tuple[list[dict[str, Any]], int]:
    """One page of clients, oldest first, and their total."""
    total = db.orm().scalar(select(func.count()).select_from(Client)) or 0
    rows = db.orm().scalars(select(Client).order_by(Client.created_at, Client.id)
                            .limit(per_page).offset((number - 1) * per_page))
    return [view(row) for row in rows], total


def revoke_tokens(client: Client) -> None:
    """Void every token issued to the client so far, and none it gets later (they live
    one access TTL at most, and the cut-off as long)."""
    config = current_app.config
    settle = float(config["AUTHAPI_REVOCATION_POLL_INTERVAL"]) + SETTLE_MARGIN
    ttl = abs(int(config["AUTHAPI_ACCESS_TTL"])) + settle
    revocation.void_before_now(db.orm(), revocation.client_key(client.client_id),
                               utcnow() + timedelta(seconds=ttl), settle)


def _check_holds(grantor: Grantor | None, client: Client) -> None:
    """Refuse unless the grantor holds the client's whole scope: whoever sets a client's
    secret, redirect URIs, grants, sign-in method or first-party flag can take its tokens
    and their scope (delegation: nobody grants what they do not hold)."""
    delegation.check_permissions(grantor, client.scope.split(),
                                 "access to a client whose scope holds permissions")


def delete(row_id: str) -> None:
    """Delete a client; every token it holds stops working at once."""
    client = _get(row_id)
    revoke_tokens(client)
    db.orm().delete(client)
    audit.record("client_deleted", client_id=client.client_id)


def rotate_secret(row_id: str, grantor: Grantor | None = None) -> dict[str, Any]:
    """Give a client a new secret; the old one fails from the next request on."""
    client = _get(row_id)
    _check_holds(grantor, client)
    if client.secret_hash is None:
        raise ValidationError("This client authenticates without a secret "
                              f"({_provider_fields(client)['token_endpoint_auth_method']}).")
    secret = secrets.token_urlsafe(SECRET_BYTES)
    client.secret_hash = hash_secret(secret)
    audit.record("client_secret_rotated", client_id=client.client_id)
    return {**view(client), "client_secret": secret}
