"""Who is calling /oauth/*: client_secret_basic, client_secret_post, private_key_jwt.

RFC 6749 §2.3.1 for secrets, RFC 7521 §4.2 and RFC 7523 §3 for signed assertions.
A client uses exactly one method per request (RFC 6749 §2.3).
"""

from __future__ import annotations

import base64
import hashlib
import logging
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, cast
from urllib.parse import unquote_plus

import jwt
from flask import current_app
from jwt import PyJWK
from jwt.exceptions import PyJWKError
from sqlalchemy import Table

from authapi import db, outbound
from authapi.errors import InvalidClient, InvalidDpopProof, InvalidOAuthRequest, TokenInvalid
from authapi.models import UsedAssertion
from authapi.oauth import clients, documents
from authapi.oauth.clients import Caller
from authapi.oauth.registration import NONE
from authapi.tokens import core, jws

log = logging.getLogger(__name__)

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_ALGORITHMS = ("RS256", "PS256", "ES256", "EdDSA")
MAX_ASSERTION_LIFETIME = 300  # seconds: "exp at most 5 minutes ahead"
CLOCK_SKEW = 30
MAX_ASSERTION_LENGTH = 8192
METHODS = ("client_secret_basic", "client_secret_post", "private_key_jwt")


def issuer() -> str:
    """AUTHAPI_ISSUER without a trailing slash: the base of every absolute URL we publish."""
    return str(current_app.config["AUTHAPI_ISSUER"]).rstrip("/")


def token_endpoint() -> str:
    """The absolute URL of /oauth/token (an assertion's accepted `aud`, with the issuer)."""
    return issuer() + "/oauth/token"


def _basic(authorization: str | None) -> tuple[str, str] | None:
    scheme, _, value = (authorization or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except ValueError:  # binascii.Error, non-ASCII text, UnicodeDecodeError
        raise InvalidClient("The Basic credentials are malformed.") from None
    client_id, colon, secret = decoded.partition(":")
    if not colon:
        raise InvalidClient("The Basic credentials are malformed.")
    # RFC 6749 §2.3.1: both parts are form-urlencoded before they are joined.
    return unquote_plus(client_id), unquote_plus(secret)


def authenticate(authorization: str | None, form: Mapping[str, str]) -> Caller:
    """The client this request authenticates as, or InvalidClient (401)."""
    basic = _basic(authorization)
    used = [basic is not None, "client_secret" in form, "client_assertion" in form]
    if sum(used) > 1:
        raise InvalidOAuthRequest("Use exactly one client authentication method.")
    if used[2]:
        return _by_assertion(form)
    client_id, secret = basic or (form.get("client_id", ""), form.get("client_secret", ""))
    if basic and form.get("client_id", client_id) != client_id:
        raise InvalidOAuthRequest("client_id differs from the authenticated client.")
    client = clients.caller(client_id) if client_id else None
    if client is None or not secret or not clients.secret_matches(client, secret):
        raise InvalidClient()
    return client


def with_proof(client: Caller, jkt: str | None) -> Caller:
    """`client`, if its token request may go on: one registered with `require_dpop` sends
    a DPoP proof with every token request, whatever the grant (RFC 9449 §5.2,
    `dpop_bound_access_tokens`), so none of its tokens is a bearer token."""
    if client.require_dpop and jkt is None:
        raise InvalidDpopProof("This client's tokens must be DPoP-bound: send a DPoP proof.")
    return client


def credentials_sent(authorization: str | None, form: Mapping[str, str]) -> bool:
    """Whether the request carries client credentials (HTTP Basic, a secret or an
    assertion), which must then be right. (Another Authorization scheme, such as a
    Bearer token, authenticates no client and carries no token here.)"""
    scheme = (authorization or "").partition(" ")[0].lower()
    return scheme == "basic" or "client_secret" in form or "client_assertion" in form


def authenticate_app(authorization: str | None, form: Mapping[str, str]) -> Caller:
    """Client authentication where a public app may come too (the code and refresh
    grants, PAR): a public client (`none`) names itself by `client_id` alone and sends
    no credentials; any other client authenticates as `authenticate` says."""
    if not (authorization or "client_secret" in form or "client_assertion" in form):
        client_id = form.get("client_id", "")
        client = (clients.caller(client_id) or _described(client_id)) if client_id else None
        if client is None or not client.public:
            raise InvalidClient()
        return client
    client = authenticate(authorization, form)
    if client.public:  # a public client has no credentials to check
        raise InvalidClient()
    return client


def _described(client_id: str) -> Caller | None:
    """A public client named by its metadata document (documents.py), if it is one."""
    described = documents.metadata(client_id)
    if described is None:
        return None
    return Caller(id="", client_id=client_id, scope="", secret_hash=None, jwks=None,
                  jwks_url=None, exchange=False, grant_types=tuple(described["grant_types"]),
                  auth_method=NONE)


def _by_assertion(form: Mapping[str, str]) -> Caller:
    if form.get("client_assertion_type") != ASSERTION_TYPE:
        raise InvalidOAuthRequest("client_assertion_type must be " + ASSERTION_TYPE + ".")
    assertion = form["client_assertion"]
    if len(assertion) > MAX_ASSERTION_LENGTH:
        raise InvalidClient()
    try:
        jws.check_canonical(assertion)  # one spelling per assertion, as for every token
        header = jwt.get_unverified_header(assertion)
        unverified = jwt.decode(assertion, options={"verify_signature": False})
    except (jwt.InvalidTokenError, TokenInvalid):
        raise InvalidClient("The client assertion is malformed.") from None
    client_id = unverified.get("iss")
    client = clients.caller(client_id) if isinstance(client_id, str) else None
    if client is None or form.get("client_id", client_id) != client_id:
        raise InvalidClient()
    _plausible(unverified, client)  # before any key is looked up, let alone fetched
    claims = _verify_assertion(assertion, header, client)
    _use_once(client.client_id, claims)
    return client


def _plausible(claims: dict[str, Any], client: Caller) -> None:
    """The assertion's claims could be valid (checked again after the signature): junk is
    refused before a key set is fetched for it."""
    now, aud = time.time(), claims.get("aud")
    exp: Any = claims.get("exp")
    audiences = aud if isinstance(aud, list) else [aud]
    if claims.get("sub") != client.client_id or not isinstance(claims.get("jti"), str):
        raise InvalidClient("The client assertion's sub must be the client_id, with a jti.")
    if not set(_audiences()) & {a for a in audiences if isinstance(a, str)}:
        raise InvalidClient("The client assertion's aud must be the issuer or the token "
                            "endpoint.")
    if not core.number(exp) or exp <= now - CLOCK_SKEW:
        raise InvalidClient("The client assertion has expired.")
    if exp > now + MAX_ASSERTION_LIFETIME:
        raise InvalidClient("The client assertion may live 5 minutes at most.")


def _audiences() -> list[str]:
    """What an assertion's `aud` may be: the issuer (as published, and without a trailing
    slash), the token endpoint's URL (RFC 7523 §3 item 3), or the PAR endpoint's (RFC 9126
    §2: an assertion made for the push)."""
    return list(dict.fromkeys((str(current_app.config["AUTHAPI_ISSUER"]), issuer(),
                               token_endpoint(), issuer() + "/oauth/par")))


def _key(header: dict[str, Any], client: Caller) -> PyJWK:
    """The client's registered key named by the assertion's kid (RFC 7523 §3)."""
    algorithm, kid = header.get("alg"), header.get("kid")
    if algorithm not in ASSERTION_ALGORITHMS:
        raise InvalidClient("The assertion's algorithm is not accepted.")
    if client.jwks_url:
        if not isinstance(kid, str):
            raise InvalidClient("An assertion checked against a jwks_url needs a kid.")
        candidates = _remote_keys(client.jwks_url, kid)
    else:
        candidates = [k for k in (client.jwks or {}).get("keys", [])
                      if kid is None or k.get("kid") == kid]
    if len(candidates) != 1:
        raise InvalidClient("No single registered key matches the assertion's kid.")
    try:
        return PyJWK(candidates[0], algorithm=str(algorithm))
    except (PyJWKError, jwt.PyJWTError, ValueError, TypeError):  # e.g. an EC key for RS256
        raise InvalidClient("No registered key matches the assertion.") from None


def _named(document: Any, kid: str) -> list[dict[str, Any]]:
    keys = document.get("keys") if isinstance(document, dict) else None
    return [k for k in keys if isinstance(k, dict) and k.get("kid") == kid] \
        if isinstance(keys, list) else []


def _remote_keys(url: str, kid: str) -> list[dict[str, Any]]:
    """The keys named `kid` in the client's key set at `url`: cached, or fetched (bounded,
    off the request thread: outbound.py); an unknown kid refetches at most once a minute."""
    cache = outbound.cache(current_app, "client-jwks", outbound.KEY_SETS)
    try:
        return _named(cache.get(url), kid) or _named(cache.get(url, refresh=True), kid)
    except outbound.FetchFailed as exc:
        log.warning("jwks_url of a client could not be used: %s", exc)
        raise InvalidClient("The client's key set could not be fetched.") from None


def _verify_assertion(assertion: str, header: dict[str, Any], client: Caller) -> dict[str, Any]:
    key = _key(header, client)
    try:
        claims: dict[str, Any] = jwt.decode(
            assertion, key, algorithms=[str(header["alg"])],
            audience=_audiences(), issuer=client.client_id, leeway=CLOCK_SKEW,
            options={"require": ["iss", "sub", "aud", "exp", "jti"]})
    except (jwt.PyJWTError, ValueError, TypeError):
        raise InvalidClient("The client assertion is invalid.") from None
    if claims["sub"] != client.client_id or not isinstance(claims["jti"], str):
        raise InvalidClient("The client assertion's sub must be the client_id.")
    if claims["exp"] > time.time() + MAX_ASSERTION_LIFETIME:  # no leeway: "at most 5 minutes"
        raise InvalidClient("The client assertion may live 5 minutes at most.")
    return claims


def _use_once(client_id: str, claims: dict[str, Any]) -> None:
    """Record the assertion's jti; a second use is refused (RFC 7523 §3, item 7).

    One INSERT that does nothing on a conflict, committed at once: whether it returns the row says
    whether this request is the first to use the jti, even under concurrency. (A
    Core statement with RETURNING: psycopg reports no row count for an ORM insert.)
    """
    # The jti is any JSON string, a lone surrogate included: hashed as it came.
    text = f"{client_id}\x00{claims['jti']}".encode("utf-8", "surrogatepass")
    key = hashlib.sha256(text).hexdigest()
    expires_at = datetime.fromtimestamp(float(claims["exp"]) + CLOCK_SKEW, UTC)
    table = cast(Table, UsedAssertion.__table__)
    statement = (db.upsert(db.engine(), table).values(key=key, expires_at=expires_at)
                 .on_conflict_do_nothing(index_elements=["key"]).returning(table.c.key))
    if db.orm().execute(statement).first() is None:
        raise InvalidClient("This client assertion was already used.")
    # The use outlives whatever the request does next: a grant that fails after this
    # (a wider scope, a grant the client may not use) must not leave the assertion
    # usable again by whoever saw it.
    db.orm().commit()
