"""The authorization endpoint (OAuth 2.1 §4.1, OpenID Connect Core §3.1.2, RFC 9700):
check a request, keep it, say what it still needs, and answer with a code.

A request names its client and redirect URI first: while either is unknown, nothing
redirects (RFC 6749 §4.1.2.1), so authapi is never an open redirector. Every later
refusal goes back to the client's redirect URI with `error`, `state` and `iss`
(RFC 9207). A request is bound to the browser that made it (a cookie whose hash it
keeps), lives 10 minutes, and once completed holds a code (hashed) good for 60 s, once.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from flask import current_app
from sqlalchemy import select

from authapi import audit, db
from authapi.db import utcnow
from authapi.errors import ApiError, NotFound, description
from authapi.models import (
    PERMISSIONS,
    AuthorizationRequest,
    Client,
    Consent,
    Passkey,
    User,
    UserSession,
)
from authapi.oauth import documents, registration
from authapi.oauth.clients import DYNAMIC_PREFIX, SCOPE_TOKEN
from authapi.sessions.sessions import OPENID_SCOPES
from authapi.tokens import core

PROMPTS = ("none", "login", "consent")
REQUEST_TTL = timedelta(minutes=10)
CODE_TTL = timedelta(seconds=60)
MAX_PARAMETER = 512
MAX_LOGIN_HINT = 320  # an email address at most (RFC 5321), as the column holds
PKCE = re.compile(r"^[A-Za-z0-9._~-]{43,128}$")  # RFC 7636 §4.1
S256_CHALLENGE = re.compile(r"^[A-Za-z0-9_-]{43}$")
LOGIN, MFA, CONSENT, NONE = "login", "mfa", "consent", "none"


class Unredirectable(ApiError):
    """An unknown client or an unregistered redirect URI: 400, never a redirect."""

    status = 400
    code = "invalid_request"
    title = "Invalid authorization request"


class Refused(Exception):  # noqa: N818  (an OAuth answer, sent to the client)
    """A refusal answered by redirecting to the client (RFC 6749 §4.1.2.1)."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error, self.description = error, description


@dataclass(frozen=True)
class App:
    """A client that signs users in, as the authorization endpoint needs it."""

    client_id: str
    name: str
    scope: frozenset[str]
    redirect_uris: tuple[str, ...]
    grant_types: tuple[str, ...]
    first_party: bool
    resources: tuple[str, ...]
    require_par: bool
    require_dpop: bool
    # Clients no operator registered (RFC 7591, metadata documents) hold no permission of
    # their own: they may ask for the operator's own scopes (never authapi's
    # administrative ones) and name any resource. What they get is what the user holds
    # and consents to; the resource's own audience check reads `aud`.
    self_registered: bool = False


def app(client_id: str) -> App | None:
    """The enabled client with this id, read for the authorization endpoint; or the one a
    client ID metadata document describes (documents.py)."""
    if not client_id or len(client_id) > 2048:
        return None
    row = db.orm().scalar(select(Client).where(Client.client_id == client_id,
                                               Client.disabled.is_(False))) \
        if len(client_id) <= 48 else None
    if row is None:
        described = documents.metadata(client_id)
        if described is None:
            return None
        return App(client_id=client_id, name=described["name"], scope=frozenset(),
                   redirect_uris=tuple(described["redirect_uris"]),
                   grant_types=tuple(described["grant_types"]), first_party=False,
                   resources=(), require_par=False, require_dpop=False, self_registered=True)
    return App(client_id=row.client_id, name=row.name, scope=frozenset(row.scope.split()),
               redirect_uris=tuple(row.redirect_uris or ()),
               grant_types=tuple(row.grant_types or ()), first_party=row.first_party,
               resources=tuple(row.resources or ()), require_par=row.require_par,
               require_dpop=row.require_dpop,
               self_registered=row.client_id.startswith(DYNAMIC_PREFIX))


def hashed(value: str) -> str:
    """SHA-256, hex: how codes and browser bindings are kept."""
    return hashlib.sha256(value.encode()).hexdigest()


def redirect_to(uri: str, params: Mapping[str, str | None]) -> str:
    """`uri` with `params` added to its query (what it had is kept)."""
    parts = urlsplit(uri)
    added = urlencode({k: v for k, v in params.items() if v is not None})
    query = f"{parts.query}&{added}" if parts.query else added
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


def error_redirect(redirect_uri: str, state: str | None, refused: Refused) -> str:
    """The client's redirect URI with the error, its state and our issuer (RFC 9207)."""
    return redirect_to(redirect_uri, {"error": refused.error,
                                      "error_description": description(refused.description),
                                      "state": state, "iss": current_app.config["AUTHAPI_ISSUER"]})


def _single(params: Mapping[str, list[str]], name: str) -> str | None:
    values = params.get(name) or []
    if len(values) > 1:
        raise Refused("invalid_request", f"{name} is repeated.")
    if values and ("\x00" in values[0] or len(values[0]) > MAX_PARAMETER * 4):
        raise Refused("invalid_request", f"{name} is malformed.")
    return values[0] if values else None


def client_and_redirect(params: Mapping[str, list[str]]) -> tuple[App, str]:
    """The request's client and redirect URI, or Unredirectable (400, no redirect)."""
    client_ids = params.get("client_id") or []
    redirects = params.get("redirect_uri") or []
    if len(client_ids) != 1 or len(redirects) > 1:
        raise Unredirectable("client_id (once) is required, and redirect_uri at most once.")
    client = app(client_ids[0])
    if client is None or registration.AUTHORIZATION_CODE not in client.grant_types:
        raise Unredirectable("Unknown client_id, or a client that signs no users in.")
    if not redirects:  # OpenID Connect requires it; one registered URI may stand in
        if len(client.redirect_uris) != 1 or "openid" in (params.get("scope") or [""])[0]:
            raise Unredirectable("redirect_uri is required.")
        return client, client.redirect_uris[0]
    if not registration.redirect_matches(client.redirect_uris, redirects[0]):
        raise Unredirectable("redirect_uri is not one registered for this client.")
    return client, redirects[0]


def offered(client: App | None, scope: str) -> bool:
    """Whether `client` may be granted `scope` now: an OpenID scope, one of its own, or
    (a client no operator registered) a delegable one. A client gone or disabled since
    may be granted nothing."""
    if client is None:
        return False
    return scope in OPENID_SCOPES or scope in client.scope or (
        client.self_registered and _delegable(scope))


def _delegable(scope: str) -> bool:
    """A scope a client no operator registered may ask a user for: a permission the
    operator defined for their own resources (`notes:read`), never one of authapi's
    administrative permissions."""
    return bool(SCOPE_TOKEN.match(scope)) and scope not in PERMISSIONS


def check_params(client: App, params: Mapping[str, list[str]], pushed: bool = False
             ) -> dict[str, Any]:
    """The request's parameters after every check that redirects on failure."""
    response_type = _single(params, "response_type")
    if response_type is None:
        raise Refused("invalid_request", "response_type is required (code).")
    if response_type != "code":
        raise Refused("unsupported_response_type", "Only response_type=code is offered.")
    if "request" in params:  # OIDC Core §6: request objects are not supported
        raise Refused("request_not_supported", "Request objects are not supported; use PAR.")
    challenge = _single(params, "code_challenge")
    method = _single(params, "code_challenge_method")
    if not challenge or method != "S256" or not S256_CHALLENGE.match(challenge):
        raise Refused("invalid_request", "PKCE is required: code_challenge with "
                                         "code_challenge_method=S256 (plain is refused).")
    scopes = (_single(params, "scope") or "").split()
    unknown = [s for s in scopes if not offered(client, s)]
    if unknown:
        raise Refused("invalid_scope", f"Not offered to this client: {' '.join(unknown)}.")
    resources = params.get("resource") or []
    for resource in resources:
        if client.self_registered:
            try:
                registration.check_resource(resource)
            except ApiError:
                raise Refused("invalid_target", "resource must be an absolute URI.") from None
        elif resource not in client.resources:
            raise Refused("invalid_target", "resource is not one this client may ask for.")
    prompt = list(dict.fromkeys((_single(params, "prompt") or "").split()))  # once each
    if any(p not in PROMPTS for p in prompt) or ("none" in prompt and len(prompt) > 1):
        raise Refused("invalid_request", "prompt is none, login or consent (none alone).")
    max_age = _single(params, "max_age")
    if max_age is not None and not (max_age.isascii() and max_age.isdigit()
                                    and len(max_age) <= 10):
        raise Refused("invalid_request", "max_age is a whole number of seconds.")
    acr_values = list(dict.fromkeys((_single(params, "acr_values") or "").split()))
    if any(value not in core.ACR_LEVELS for value in acr_values):
        raise Refused("invalid_request", f"acr_values are among {' '.join(core.ACR_LEVELS)}.")
    state, nonce = _single(params, "state"), _single(params, "nonce")
    login_hint = _single(params, "login_hint")
    for name, value, most in (("state", state, MAX_PARAMETER), ("nonce", nonce, MAX_PARAMETER),
                              ("login_hint", login_hint, MAX_LOGIN_HINT)):
        if value is not None and len(value) > most:
            raise Refused("invalid_request", f"{name} is longer than {most}.")
    if not pushed and (client.require_par or current_app.config["AUTHAPI_REQUIRE_PAR"]):
        raise Refused("invalid_request", "This client's requests must come through PAR.")
    if "request_uri" in params:
        raise Refused("invalid_request", "request_uri goes alone with client_id.")
    return {"scope": " ".join(dict.fromkeys(scopes)), "code_challenge": challenge,
            "resources": list(dict.fromkeys(resources)) or None,
            "prompt": " ".join(prompt) or None, "max_age": int(max_age) if max_age else None,
            "acr_values": " ".join(acr_values) or None, "state": state, "nonce": nonce,
            "login_hint": login_hint, "redirect_uri_sent": "redirect_uri" in params}


def start(client: App, redirect_uri: str, params: Mapping[str, list[str]],
          binding: str) -> AuthorizationRequest:
    """Keep a checked request for this browser (`binding`: its request cookie's value)."""
    checked = check_params(client, params)
    row = AuthorizationRequest(id=secrets.token_urlsafe(24), binding=hashed(binding),
                               client_id=client.client_id, redirect_uri=redirect_uri,
                               expires_at=utcnow() + REQUEST_TTL, **checked)
    db.orm().add(row)
    db.orm().flush()
    return row


def pending(request_id: str, binding: str | None) -> AuthorizationRequest:
    """A live, not yet completed request of this browser; 404 otherwise (another browser's
    id, a used or an expired one alike)."""
    row = db.orm().get(AuthorizationRequest, request_id) if 0 < len(request_id) <= 64 else None
    if (row is None or binding is None or not hmac.compare_digest(row.binding, hashed(binding))
            or row.code_hash is not None or row.expires_at <= utcnow()):
        raise NotFound("No such authorization request, or it expired.")
    return row


def granted_scope(row: AuthorizationRequest, held: str) -> str:
    """What may be granted: the OpenID scopes asked for, and the asked permissions the user
    holds (never one they do not)."""
    have = set(held.split())
    return " ".join(s for s in row.scope.split() if s in OPENID_SCOPES or s in have)


def _consented(user_id: str, client_id: str, scope: str) -> bool:
    row = db.orm().get(Consent, (user_id, client_id))
    return row is not None and set(scope.split()) <= set(row.scopes)


def needs(row: AuthorizationRequest, client: App, sign_in: UserSession | None,
          held: str = "", fresh: bool = False) -> str:
    """What the request still needs from the user: `login`, `mfa`, `consent` or `none`.

    `fresh`: right after a sign-in made for this request, which meets `prompt=login`
    and `max_age`. `acr_values` are asked for (OIDC Core §3.1.2.1: voluntary): a fresh
    sign-in meets them when it reached the level asked for or the best one this user
    can reach (a passkey: `phr`; a second factor: `mfa`); the ID token's `acr` tells
    the app what it got.
    """
    if sign_in is None or sign_in.auth_time is None:
        return LOGIN
    # The sign-in this request was given (made for it, or found meeting it) stays enough
    # while the user consents: asked again, `max_age` alone would send them back to log in.
    fresh = fresh or row.sign_in_id == sign_in.id
    prompts = (row.prompt or "").split()
    if not fresh and "login" in prompts:
        return LOGIN  # prompt=login: a sign-in made for this very request
    if not fresh and row.max_age is not None and time.time() - sign_in.auth_time > row.max_age:
        return LOGIN
    if row.acr_values:
        least = min(core.acr_level(a) for a in row.acr_values.split())
        if fresh and least > core.acr_level(sign_in.acr):
            least = min(least, _reachable(sign_in.user_id))
        if core.acr_level(sign_in.acr) < least:
            return MFA
    if client.first_party:
        return NONE
    if "consent" in prompts or not _consented(sign_in.user_id, client.client_id,
                                              granted_scope(row, held)):
        return CONSENT
    return NONE


def _reachable(user_id: str) -> int:
    """The best sign-in level this user can reach: `phr` with a passkey, `mfa` with a
    second factor, else `pwd` (tokens.core.ACR_LEVELS)."""
    if db.orm().scalar(select(Passkey.id).where(Passkey.user_id == user_id).limit(1)):
        return core.acr_level("phr")
    user = db.orm().get(User, user_id)
    return core.acr_level("mfa" if user is not None and user.mfa_enabled else "pwd")


def signed_in(row: AuthorizationRequest, sign_in: UserSession) -> None:
    """The request's user is the one of this sign-in."""
    row.user_id, row.sign_in_id = sign_in.user_id, sign_in.id


def consent(row: AuthorizationRequest, user_id: str, scope: str) -> None:
    """Remember that the user let the request's client have `scope`."""
    remember(user_id, row.client_id, scope)
    row.granted_scope = scope


def remember(user_id: str, client_id: str, scope: str) -> None:
    """The user let the client have `scope` (added to what it had): a consent that
    GET /auth/consents lists and DELETE withdraws, whichever grant asked for it."""
    current = db.orm().get(Consent, (user_id, client_id))
    if current is None:
        db.orm().add(Consent(user_id=user_id, client_id=client_id,
                             scopes=sorted(set(scope.split()))))
    else:
        current.scopes = sorted(set(current.scopes) | set(scope.split()))
        current.granted_at = utcnow()
    audit.record("consent_given", user_id=user_id, client_id=client_id,
                 detail={"scope": scope})


def complete(row: AuthorizationRequest, sign_in: UserSession, scope: str) -> str:
    """Issue the request's code: the redirect URI with `code`, `state` and `iss`."""
    code = secrets.token_urlsafe(32)
    row.user_id, row.sign_in_id, row.granted_scope = sign_in.user_id, sign_in.id, scope
    row.code_hash, row.code_expires_at = hashed(code), utcnow() + CODE_TTL
    audit.record("authorization_granted", user_id=sign_in.user_id, client_id=row.client_id,
                 detail={"scope": scope})
    return redirect_to(row.redirect_uri, {"code": code, "state": row.state,
                                          "iss": current_app.config["AUTHAPI_ISSUER"]})


def deny(row: AuthorizationRequest) -> str:
    """The user said no: the redirect URI with access_denied; the request is spent."""
    row.expires_at = utcnow()
    return error_redirect(row.redirect_uri, row.state,
                          Refused("access_denied", "The user did not let the app in."))
