"""OAuth 2 for services: the token grants, introspection, revocation, server metadata.

RFC 6749 §4.4 (client credentials) and §6 (refresh), RFC 8693 (token exchange),
RFC 7662 (introspection), RFC 7009 (revocation), RFC 8414 (metadata). Every token
is checked by tokens.decode and every refresh goes through sessions.rotate: the
same paths as /auth/*.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from flask import current_app

from authapi import audit, context, db, models
from authapi.audit import ClientMeta
from authapi.errors import (
    ApiError,
    InvalidDpopProof,
    InvalidGrant,
    InvalidOAuthRequest,
    InvalidScope,
    InvalidTarget,
    UnauthorizedClient,
    UseDpopNonce,
)
from authapi.oauth import authorize, registration
from authapi.oauth.client_auth import ASSERTION_ALGORITHMS, METHODS, issuer, token_endpoint
from authapi.oauth.clients import Caller
from authapi.sessions import sessions
from authapi.sessions.sessions import OPENID_SCOPES
from authapi.tokens import core, dpop, revocation, tokens

CLIENT_CREDENTIALS = registration.CLIENT_CREDENTIALS
REFRESH_TOKEN = registration.REFRESH_TOKEN
TOKEN_EXCHANGE = registration.TOKEN_EXCHANGE
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"  # noqa: S105
GRANT_TYPES = (registration.AUTHORIZATION_CODE, CLIENT_CREDENTIALS, REFRESH_TOKEN,
               registration.DEVICE_CODE, TOKEN_EXCHANGE)
CLAIMS = ("iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "sid",
          "at_hash", "azp", "email", "email_verified", "name")


def _granted(requested: str | None, allowed: set[str]) -> str:
    """The requested scope if it is within `allowed`, else all of `allowed` when none asked."""
    if requested is None:
        return " ".join(sorted(allowed))
    wanted = set(requested.split())
    if not wanted.issubset(allowed):
        raise InvalidScope()
    return " ".join(sorted(wanted))


def _answer(access_token: str, scope: str, jkt: str | None, **extra: Any) -> dict[str, Any]:
    return {"access_token": access_token, "token_type": dpop.token_type(jkt),
            "expires_in": int(context.app().config["AUTHAPI_ACCESS_TTL"]), "scope": scope,
            **extra}


def client_credentials(client: Caller, form: Mapping[str, str], jkt: str | None = None,
                       resources: Sequence[str] = ()) -> dict[str, Any]:
    """RFC 6749 §4.4: a token for the client itself, no wider than its registered scope.

    With a DPoP proof (`jkt`, RFC 9449 §5) the token is bound to the proof's key. A
    `resource` (RFC 8707) may name only the configured audience: a service's token is
    for authapi's resources (`--audience` is token exchange's).
    """
    if registration.CLIENT_CREDENTIALS not in client.grant_types:
        raise UnauthorizedClient("This client may not use the client_credentials grant.")
    scope = _granted(form.get("scope"), set(client.scope.split()))
    if resources:
        sessions.target((), resources)
    subject = tokens.Subject(sub=client.client_id, roles=[], scope=scope)
    jti = tokens.new_jti()
    token = tokens.issue_access(subject, None, jti, cnf=dpop.confirmation(jkt),
                                extra={"client_id": client.client_id})
    audit.record_alone("client_token", client_id=client.client_id,
                       detail={"scope": scope, "jti": jti})
    return _answer(token, scope, jkt)


def refresh(form: Mapping[str, str], meta: ClientMeta, jkt: str | None = None,
            app_client: Callable[[], Caller] | None = None,
            resources: Sequence[str] = (), credentials: bool = False) -> dict[str, Any]:
    """RFC 6749 §6 for user sessions: exactly /auth/refresh's rotation, reuse and DPoP rules.

    An app's refresh token (its `client_id` claim) is refreshed only by that app, which
    authenticates as at the code exchange (`app_client`; a public app by client_id), as
    does any client that sent `credentials` along.
    """
    token = form.get("refresh_token")
    if not token:
        raise InvalidOAuthRequest("refresh_token is required.")
    try:  # the form's token; an Authorization header here is client authentication
        claims = tokens.refresh_claims(token)
    except ApiError as exc:
        raise InvalidGrant(exc.detail) from None
    # Credentials that were sent are checked, whoever the token belongs to: a wrong
    # secret is invalid_client (RFC 6749 §5.2), never ignored.
    caller = app_client() if app_client is not None and (
        "client_id" in claims or credentials) else None
    if "client_id" in claims and (caller is None or caller.client_id != claims["client_id"]):
        raise InvalidGrant("This refresh token was issued to another client.")
    if resources:  # RFC 8707 §2.2: checked before the token is spent
        sessions.target(sessions.granted_audience(claims["sid"]), resources)
    offered = None
    if "client_id" in claims:  # an app's session: no scope its client lost since
        app = authorize.app(claims["client_id"])

        def offered(scope: str) -> bool:
            return authorize.offered(app, scope)
    try:
        pair = sessions.rotate(claims, meta, jkt, resources, offered=offered,
                               bind="client_id" not in claims or caller is None or caller.public)
    except (InvalidDpopProof, UseDpopNonce):
        raise  # the token endpoint answers these as themselves (RFC 9449 §5)
    except ApiError as exc:
        if exc.status != 401 and exc.status != 403:
            raise
        raise InvalidGrant(exc.detail) from None
    pair.pop("csrf", None)  # a cookie session's CSRF value travels only in its cookie
    return pair


def _subject_claims(form: Mapping[str, str]) -> dict[str, Any]:
    token = form.get("subject_token")
    if not token or form.get("subject_token_type") != ACCESS_TOKEN_TYPE:
        raise InvalidOAuthRequest(
            f"subject_token and subject_token_type={ACCESS_TOKEN_TYPE} are required.")
    try:
        claims = tokens.decode(token, tokens.ACCESS)
    except ApiError as exc:
        raise InvalidGrant(f"subject_token: {exc.detail}") from None
    if "sid" not in claims:
        raise InvalidGrant("subject_token must be a user's access token.")
    return claims


def exchange(client: Caller, form: Mapping[str, str], jkt: str | None = None,
             resources: Sequence[str] = ()) -> dict[str, Any]:
    """RFC 8693: a token for the subject's user, narrowed to an audience, naming the actor.

    A `resource` (§2.1) names the target as `audience` does: one alone stands for the
    audience, and with one each must be it (`invalid_target`).
    """
    if not client.exchange:
        raise UnauthorizedClient("This client may not exchange tokens.")
    requested = form.get("requested_token_type")
    if requested is not None and requested != ACCESS_TOKEN_TYPE:
        # RFC 8693 §2.1: never answer a request for another type with an access token.
        raise InvalidOAuthRequest(f"requested_token_type: only {ACCESS_TOKEN_TYPE} is issued.")
    subject = _subject_claims(form)
    if isinstance(subject.get("cnf"), dict) and jkt is None:
        # A sender-constrained token is exchanged only for a sender-constrained one:
        # else a copied DPoP-bound token would come back as a plain bearer token.
        raise InvalidGrant("subject_token is DPoP-bound: send a DPoP proof, so that the "
                           "issued token is bound to the exchanging client's key.")
    named = form.get("audience") or (resources[0] if len(set(resources)) == 1 else None)
    audience = _audience(client, named)
    if any(resource != audience for resource in resources):
        raise InvalidTarget("resource must be the audience of the exchanged token.")
    allowed = set(str(subject.get("scope", "")).split()) & set(client.scope.split())
    scope = _granted(form.get("scope"), allowed)
    # RFC 8693 §4.1: the current actor outermost, earlier ones nested inside.
    act: dict[str, Any] = {"sub": client.client_id}
    if isinstance(subject.get("act"), dict):
        act["act"] = subject["act"]
    who = tokens.Subject(sub=subject["sub"], roles=list(subject.get("roles", [])), scope=scope)
    # The user's sign-in travels with the token, so the audience can ask for step-up.
    sign_in: dict[str, Any] = {k: subject[k] for k in ("auth_time", "acr", "amr")
                               if k in subject}
    token = tokens.issue_access(who, subject["sid"], cnf=dpop.confirmation(jkt), extra={
        "aud": audience, "act": act, "client_id": client.client_id, **sign_in})
    audit.record("token_exchanged", user_id=subject["sub"], client_id=client.client_id,
                 detail={"audience": audience, "scope": scope, "session_id": subject["sid"]})
    return _answer(token, scope, jkt, issued_token_type=ACCESS_TOKEN_TYPE)


def _audience(client: Caller, requested: str | None) -> str:
    """RFC 8693 §2.1 `audience`: one the client was registered with, and required when it
    has any; a client with none may name only the configured audience (the default)."""
    configured = current_app.config["AUTHAPI_AUDIENCE"]
    if not client.audiences:
        if requested not in (None, configured):
            raise InvalidTarget("This client may exchange tokens only for the configured "
                                "audience; register others with --audience.")
        return str(configured)
    if requested is None:
        raise InvalidOAuthRequest("audience is required: one of this client's audiences.")
    if requested not in client.audiences:
        raise InvalidTarget("audience is not one of this client's audiences.")
    return requested


def _access_claims(token: str) -> dict[str, Any] | None:
    try:
        return tokens.decode(token, tokens.ACCESS, any_audience=True)
    except ApiError:
        return None


def introspect(token: str) -> dict[str, Any]:
    """RFC 7662 §2.2: the claims of a live access token, else only `active: false`."""
    claims = _access_claims(token) if token else None
    if claims is None:
        return {"active": False}
    answer = {"active": True, "token_type": "DPoP" if "cnf" in claims else "Bearer"}
    for name in ("sub", "scope", "client_id", "exp", "iat", "nbf", "jti", "roles", "aud", "iss",
                 "sid", "act", "cnf", "auth_time", "acr", "amr"):  # the last three: step-up
        if name in claims:
            answer[name] = claims[name]
    return answer


def revoke(client: Caller, token: str) -> None:
    """RFC 7009: end what a token grants; unknown or dead tokens are simply ignored.

    A user's access or refresh token ends its whole session (§2.1 allows revoking
    the grant); a client token is revoked by its jti.
    """
    claims = _access_claims(token)
    if claims is None:
        try:
            claims = tokens.decode(token, tokens.REFRESH)
        except ApiError:
            return  # RFC 7009 §2.2: an invalid token needs no action
    holder = claims.get("client_id")
    if holder is not None and holder != client.client_id:  # an app's, or a service's
        raise UnauthorizedClient("This token was issued to another client.")
    if "sid" in claims:
        sessions.revoke(claims["sid"], "revoked")
    else:
        revocation.revoke_jti(db.orm(), claims["jti"],
                              datetime.fromtimestamp(float(claims["exp"]), UTC))
    audit.record("token_revoked", user_id=claims["sub"] if "sid" in claims else None,
                 client_id=client.client_id, detail={"jti": claims["jti"]})


def metadata() -> dict[str, Any]:
    """RFC 8414 §2 and OpenID Connect Discovery 1.0 §3: where everything is, with absolute
    URLs from AUTHAPI_ISSUER."""
    base = issuer()
    return {
        "issuer": current_app.config["AUTHAPI_ISSUER"],
        "authorization_endpoint": base + "/oauth/authorize",
        "token_endpoint": token_endpoint(),
        "userinfo_endpoint": base + "/oauth/userinfo",
        "end_session_endpoint": base + "/oauth/logout",
        **({"registration_endpoint": base + "/oauth/register"}
           if current_app.config["AUTHAPI_REGISTRATION"] == "open" else {}),
        "pushed_authorization_request_endpoint": base + "/oauth/par",
        "device_authorization_endpoint": base + "/oauth/device_authorization",
        "require_pushed_authorization_requests": bool(
            current_app.config["AUTHAPI_REQUIRE_PAR"]),
        "jwks_uri": base + "/.well-known/jwks.json",
        "introspection_endpoint": base + "/oauth/introspect",
        "revocation_endpoint": base + "/oauth/revoke",
        "grant_types_supported": list(GRANT_TYPES),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "code_challenge_methods_supported": ["S256"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [current_app.config["AUTHAPI_JWT_ALGORITHM"]],
        "claims_supported": list(CLAIMS),
        "acr_values_supported": list(core.ACR_LEVELS),
        "prompt_values_supported": ["none", "login", "consent"],
        "authorization_response_iss_parameter_supported": True,
        "client_id_metadata_document_supported": bool(
            current_app.config["AUTHAPI_CLIENT_METADATA_DOCUMENTS"]),
        "token_endpoint_auth_methods_supported": [*METHODS, registration.NONE],
        "token_endpoint_auth_signing_alg_values_supported": list(ASSERTION_ALGORITHMS),
        "introspection_endpoint_auth_methods_supported": list(METHODS),
        # RFC 8414 §2: present wherever private_key_jwt is listed.
        "introspection_endpoint_auth_signing_alg_values_supported": list(ASSERTION_ALGORITHMS),
        # A public app revokes its own tokens by client_id alone (RFC 7009 §2.1).
        "revocation_endpoint_auth_methods_supported": [*METHODS, registration.NONE],
        "revocation_endpoint_auth_signing_alg_values_supported": list(ASSERTION_ALGORITHMS),
        "scopes_supported": [*OPENID_SCOPES, *models.PERMISSIONS],
        "dpop_signing_alg_values_supported": list(dpop.SIGNING_ALGORITHMS),
    }

