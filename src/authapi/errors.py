"""Every error the API answers, and the one problem+json renderer (RFC 9457)."""

from __future__ import annotations

import logging
import re
from typing import Any

from flask import Flask, Response, current_app, json, request
from marshmallow import ValidationError as SchemaError
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
# RFC 6749 §5.2: error_description is %x20-21 / %x23-5B / %x5D-7E.
_NOT_IN_DESCRIPTION = re.compile(r'[^\x20\x21\x23-\x5b\x5d-\x7e]')
RETRY_AFTER = "5"  # seconds; a 503 without a hint invites clients to hammer
BEARER = "Bearer"
INVALID_TOKEN = 'Bearer error="invalid_token"'  # noqa: S105  (not a secret)
INSUFFICIENT_SCOPE = 'Bearer error="insufficient_scope"'


class ApiError(Exception):
    """An error with an HTTP status and a stable `code` for clients to switch on."""

    status = 400
    code = "bad_request"
    title = "Bad request"
    detail = "The request could not be understood."
    www_authenticate: str | None = None

    def __init__(self, detail: str | None = None, *, headers: dict[str, str] | None = None,
                 errors: dict[str, Any] | None = None) -> None:
        super().__init__(detail or self.detail)
        self.detail = detail or self.detail
        self.headers = dict(headers or {})
        if self.www_authenticate:
            self.headers.setdefault("WWW-Authenticate", self.www_authenticate)
        self.errors = errors
        self.extra: dict[str, Any] = {}  # problem-body members beyond RFC 9457's


def _error(name: str, status: int, code: str, title: str, detail: str,
           www_authenticate: str | None = None) -> type[ApiError]:
    attrs = {"status": status, "code": code, "title": title, "detail": detail,
             "www_authenticate": www_authenticate, "__doc__": title}
    return type(name, (ApiError,), attrs)


# Each code string is spelled here and nowhere else.
BadRequest = _error("BadRequest", 400, "bad_request", "Bad request",
                    "The request body is missing or is not valid JSON.")
InvalidCredentials = _error("InvalidCredentials", 401, "invalid_credentials",
                            "Invalid credentials", "The email or password is wrong.")
TokenMissing = _error("TokenMissing", 401, "token_missing", "Token missing",
                      "This endpoint needs a bearer token.", BEARER)
TokenInvalid = _error("TokenInvalid", 401, "token_invalid", "Token invalid",
                      "The token is malformed, forged or not accepted here.", INVALID_TOKEN)
TokenExpired = _error("TokenExpired", 401, "token_expired", "Token expired",
                      "The token has expired.", INVALID_TOKEN)
TokenRevoked = _error("TokenRevoked", 401, "token_revoked", "Token revoked",
                      "The token has been revoked.", INVALID_TOKEN)
TokenReused = _error("TokenReused", 401, "token_reused", "Refresh token reused",
                     "This refresh token was already used; its session is now revoked.",
                     INVALID_TOKEN)
CsrfFailed = _error("CsrfFailed", 401, "csrf_failed", "CSRF check failed",
                    "The X-CSRF-TOKEN header is missing or does not match.", INVALID_TOKEN)
InsufficientRole = _error("InsufficientRole", 403, "insufficient_role", "Insufficient role",
                          "The token lacks a required role.", INSUFFICIENT_SCOPE)
InsufficientScope = _error("InsufficientScope", 403, "insufficient_scope",
                           "Insufficient scope", "The token lacks a required scope.",
                           INSUFFICIENT_SCOPE)
AccountDisabled = _error("AccountDisabled", 403, "account_disabled", "Account disabled",
                         "This account is disabled.")
NotFound = _error("NotFound", 404, "not_found", "Not found", "No such resource.")
MethodNotAllowed = _error("MethodNotAllowed", 405, "method_not_allowed",
                          "Method not allowed", "This method is not allowed here.")
EmailTaken = _error("EmailTaken", 409, "email_taken", "Email taken",
                    "An account with this email already exists.")
Conflict = _error("Conflict", 409, "conflict", "Conflict",
                  "The request conflicts with the resource's current state.")
PayloadTooLarge = _error("PayloadTooLarge", 413, "payload_too_large", "Payload too large",
                         "Request bodies are limited to 64 KiB.")
UnsupportedMediaType = _error("UnsupportedMediaType", 415, "unsupported_media_type",
                              "Unsupported media type", "Send the body as application/json.")
ValidationError = _error("ValidationError", 422, "validation_error", "Validation error",
                         "The request body has invalid fields.")
WeakPassword = _error("WeakPassword", 422, "weak_password", "Weak password",
                      "The password does not meet the password policy.")
RateLimited = _error("RateLimited", 429, "rate_limited", "Too many requests",
                     "Too many requests; retry later.")
AccountLocked = _error("AccountLocked", 429, "account_locked", "Account locked",
                       "Too many failed logins for this account; retry later.")
class InsufficientUserAuthentication(ApiError):
    """RFC 9470: the sign-in behind the token is too old, or of too low a level.

    The challenge names what would satisfy the route (`acr_values`, `max_age`), and the
    problem body repeats them for clients that do not parse WWW-Authenticate.
    """

    status = 401
    code = "insufficient_user_authentication"
    title = "Recent sign-in required"
    detail = "Sign in again (POST /auth/reauthenticate) to do this."

    def __init__(self, detail: str | None = None, *, max_age: int | None = None,
                 acr: str | None = None) -> None:
        params = ['error="insufficient_user_authentication"']
        extra: dict[str, Any] = {}
        if acr is not None:
            params.append(f'acr_values="{acr}"')
            extra["acr_values"] = acr
        if max_age is not None:
            params.append(f"max_age={int(max_age)}")
            extra["max_age"] = int(max_age)
        super().__init__(detail, headers={"WWW-Authenticate": f"{BEARER} " + ", ".join(params)})
        self.extra = extra


# --- DPoP (RFC 9449 §7.1, §8) ---
DPOP_ALGORITHMS = "ES256 EdDSA RS256 PS256"
INVALID_DPOP_PROOF = f'DPoP error="invalid_dpop_proof", algs="{DPOP_ALGORITHMS}"'
DPOP_INVALID_TOKEN = f'DPoP error="invalid_token", algs="{DPOP_ALGORITHMS}"'  # noqa: S105
USE_DPOP_NONCE = f'DPoP error="use_dpop_nonce", algs="{DPOP_ALGORITHMS}"'
InvalidDpopProof = _error("InvalidDpopProof", 401, "invalid_dpop_proof", "Invalid DPoP proof",
                          "The DPoP proof is missing, malformed, replayed or for another "
                          "request or key.", INVALID_DPOP_PROOF)
UseDpopNonce = _error("UseDpopNonce", 401, "use_dpop_nonce", "DPoP nonce required",
                      "Sign the DPoP proof again with the nonce in the DPoP-Nonce header.",
                      USE_DPOP_NONCE)
# A token error answered with the DPoP challenge: same code as TokenInvalid.
DpopTokenInvalid = type("DpopTokenInvalid", (TokenInvalid,), {
    "__doc__": "A token error on the DPoP scheme, or a DPoP-bound token sent as Bearer.",
    "www_authenticate": DPOP_INVALID_TOKEN,
    "detail": "A DPoP-bound token must be sent as `Authorization: DPoP` with a proof."})
InternalError = _error("InternalError", 500, "internal_error", "Internal error",
                       "The server could not complete the request.")
Unavailable = _error("Unavailable", 503, "service_unavailable", "Service unavailable",
                     "The database is not answering.")
# --- OpenID Connect login (issue 12) ---
OidcStateInvalid = _error("OidcStateInvalid", 400, "invalid_state", "Sign-in state invalid",
                          "This sign-in did not start in this browser, or it expired.")

# --- OAuth 2 (RFC 6749 §5.2, RFC 8693 §2.2.2): rendered by `oauth_error`, not as problems ---
BASIC = 'Basic realm="authapi"'
InvalidOAuthRequest = _error("InvalidOAuthRequest", 400, "invalid_request", "Invalid request",
                             "The request is missing a parameter or repeats one.")
InvalidClient = _error("InvalidClient", 401, "invalid_client", "Invalid client",
                       "Client authentication failed.", BASIC)
InvalidGrant = _error("InvalidGrant", 400, "invalid_grant", "Invalid grant",
                      "The grant is invalid, expired or revoked.")
InvalidScope = _error("InvalidScope", 400, "invalid_scope", "Invalid scope",
                      "The requested scope exceeds what may be granted.")
InvalidTarget = _error("InvalidTarget", 400, "invalid_target", "Invalid target",
                       "The requested audience or resource is not allowed for this client.")
UnauthorizedClient = _error("UnauthorizedClient", 400, "unauthorized_client",
                            "Unauthorized client", "This client may not use this grant.")
# RFC 8628 §3.5: what a device hears while it polls.
AuthorizationPending = _error("AuthorizationPending", 400, "authorization_pending",
                              "Authorization pending", "The user has not answered yet.")
SlowDown = _error("SlowDown", 400, "slow_down", "Slow down",
                  "Polled faster than the interval: it grows by 5 seconds.")
AccessDenied = _error("AccessDenied", 400, "access_denied", "Access denied",
                      "The user said no.")
ExpiredToken = _error("ExpiredToken", 400, "expired_token", "Expired",
                      "The device code expired: start again.")
UnsupportedGrantType = _error("UnsupportedGrantType", 400, "unsupported_grant_type",
                              "Unsupported grant type", "This grant type is not supported.")


def _oauth_form_endpoint() -> bool:
    """Whether this request's path is an endpoint of the `oauth` blueprint (all POST)."""
    try:
        endpoint, _ = current_app.url_map.bind_to_environ(request.environ).match(
            request.path, method="POST")
    except HTTPException:
        return False
    return str(endpoint).startswith("oauth.")


def description(text: str) -> str:
    """Text fit for `error_description`: RFC 6749 §5.2 allows printable ASCII but `"` and
    `\\`. A detail may quote what the caller sent (a parameter's name, a field's error),
    so a quote becomes `'` and anything else outside the set `?`."""
    return _NOT_IN_DESCRIPTION.sub(lambda m: "'" if m.group() == '"' else "?", text)


def oauth_error(error: ApiError) -> Response:
    """Render an ApiError as RFC 6749 §5.2 JSON, keeping its headers."""
    body = {"error": error.code, "error_description": description(error.detail)}
    response = _render(error, body, "application/json")
    response.headers["Cache-Control"] = "no-store"
    return response


def render(error: ApiError) -> Response:
    """An error in the form of the endpoint it answers: RFC 6749 §5.2 on the form-encoded
    `/oauth/*` endpoints (the `oauth` blueprint), problem+json everywhere else. For the
    app-wide handlers (the database's errors, unexpected ones), which no blueprint's
    own handler sees."""
    return oauth_error(error) if request.blueprint == "oauth" else problem(error)


def _render(error: ApiError, body: dict[str, Any], mimetype: str) -> Response:
    response = Response(json.dumps(body), status=error.status, mimetype=mimetype)
    for name, value in error.headers.items():  # WWW-Authenticate, Retry-After, DPoP-Nonce
        response.headers[name] = value
    if error.status == 503:
        response.headers.setdefault("Retry-After", RETRY_AFTER)
    return response


# --- account lifecycle (links, MFA, verified email) ---
MfaRequired = _error("MfaRequired", 401, "mfa_required", "MFA required",
                     "This account has MFA on: send `otp`, a TOTP code or a recovery code.")
EmailUnverified = _error("EmailUnverified", 403, "email_unverified", "Email not verified",
                         "Verify the email address of this account before logging in.")
LinkInvalid = _error("LinkInvalid", 400, "link_invalid", "Invalid link",
                     "This link is invalid, expired or already used.")
# --- hardening: what gunicorn refuses before the app runs (gunicorn_worker.py) ---
UriTooLong = _error("UriTooLong", 414, "uri_too_long", "URI too long",
                    "The request line is too long.")
HeadersTooLarge = _error("HeadersTooLarge", 431, "headers_too_large",
                         "Request header fields too large",
                         "The request has too many or too large header fields.")

# werkzeug exceptions by status; anything else keeps its status with a generic code.
HTTP_ERRORS: dict[int, type[ApiError]] = {
    400: BadRequest,
    401: TokenMissing,
    404: NotFound,
    405: MethodNotAllowed,
    413: PayloadTooLarge,
    415: UnsupportedMediaType,
    422: ValidationError,
    429: RateLimited,
}

def problem(error: ApiError) -> Response:
    """Render an ApiError as application/problem+json, keeping its headers."""
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": error.title,
        "status": error.status,
        "detail": error.detail,
        "code": error.code,
    }
    if error.errors is not None:
        body["errors"] = error.errors
    body.update(error.extra)
    return _render(error, body, PROBLEM_JSON)


def flat_errors(messages: Any, field: str = "") -> dict[str, list[str]]:
    """`{"field": ["message", ...]}` as the contract says; a nested field by its dotted path
    (`roles.6`), since marshmallow nests the errors of list items and nested objects."""
    if isinstance(messages, dict):
        flat: dict[str, list[str]] = {}
        for key, value in messages.items():
            for name, texts in flat_errors(value, f"{field}.{key}" if field else str(key)).items():
                flat.setdefault(name, []).extend(texts)
        return flat
    items = messages if isinstance(messages, list) else [messages]
    flat = {}
    for item in items:
        for name, texts in (flat_errors(item, field) if isinstance(item, dict | list)
                            else {field or "_schema": [str(item)]}).items():
            flat.setdefault(name, []).extend(texts)
    return flat


def from_http_exception(exc: HTTPException) -> ApiError:
    """Translate a werkzeug exception, keeping `Allow`, `Retry-After` and the like."""
    status = exc.code or 500
    headers = {k: v for k, v in exc.get_headers() if k.lower() != "content-type"}
    cls = HTTP_ERRORS.get(status)
    if cls is None:
        cls = _error("HttpError", status, "http_error" if status < 500 else "internal_error",
                     exc.name, exc.description or exc.name)
    errors = None
    data = getattr(exc, "data", None)
    if status == 422 and isinstance(data, dict):
        errors = {}
        for location in data.get("messages", {}).values():
            errors.update(flat_errors(location) if isinstance(location, dict) else {})
    detail = f"Rate limit exceeded: {exc.description}." if status == 429 else None
    return cls(detail, headers=headers, errors=errors)


def init_app(app: Flask) -> None:
    """Route every error through `problem` (db.init_app adds SQLAlchemy's errors)."""

    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError) -> Response:
        return problem(exc)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        error = from_http_exception(exc)
        # Routing errors reach no blueprint's handler: a 405 on a form-encoded /oauth/*
        # endpoint still answers in RFC 6749 §5.2 form, as the endpoint's own errors do.
        return oauth_error(error) if exc.code == 405 and _oauth_form_endpoint() else problem(error)

    @app.errorhandler(SchemaError)
    def _schema_error(exc: SchemaError) -> Response:
        return problem(ValidationError(errors=flat_errors(exc.messages)))

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        log.exception("unhandled error")
        return render(InternalError())
