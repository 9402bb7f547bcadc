"""/oauth: the token endpoint, introspection and revocation, answering RFC 6749 §5.2 errors."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from flask import Response, current_app, request
from marshmallow import ValidationError as SchemaError
from werkzeug.exceptions import HTTPException

from authapi import context, db
from authapi.audit import request_meta
from authapi.errors import (
    ApiError,
    InvalidDpopProof,
    InvalidOAuthRequest,
    NotFound,
    UnauthorizedClient,
    UnsupportedGrantType,
    UseDpopNonce,
    ValidationError,
    from_http_exception,
    oauth_error,
)
from authapi.limits import limits
from authapi.oauth import (
    authorize,
    client_auth,
    clients,
    code_grant,
    device,
    oauth,
    par,
    registration,
)
from authapi.tokens import dpop, tokens
from authapi.views import Blueprint, require_json_body
from authapi.web.schemas import ClientMetadataSchema, OAuthErrorSchema

bp = Blueprint("oauth", __name__, url_prefix="/oauth",
               description="OAuth 2 for services (form-encoded; errors as RFC 6749 §5.2).")
FORM = "application/x-www-form-urlencoded"
FORM_BODY = {"required": True, "content": {FORM: {"schema": {
    "type": "object", "additionalProperties": {"type": "string"}}}}}
# Every error status these endpoints answer, documented with its real media type.
OAUTH_ERRORS = {str(status): {"description": description, "content": {
    "application/json": {"schema": OAuthErrorSchema}}} for status, description in (
    (400, "invalid_request, invalid_grant, invalid_scope, unsupported_grant_type, ..."),
    (401, "invalid_client (with WWW-Authenticate: Basic)"),
    (413, "the body is over 64 KiB"),
    (429, "too many failed requests from this address (with Retry-After)"),
    (503, "the database is not answering (with Retry-After)"),
)}
REGISTER_ERRORS = {**OAUTH_ERRORS, "404": {
    "description": "registration is off (AUTHAPI_REGISTRATION)",
    "content": {"application/json": {"schema": OAuthErrorSchema}}}}
# Errors from inside this blueprint are RFC 6749 §5.2 JSON, not problems.
bp.register_error_handler(ApiError, oauth_error)
bp.register_error_handler(HTTPException, lambda exc: oauth_error(from_http_exception(exc)))


class Refusal(ApiError):
    """An authorization request refused at PAR, with the error authorize would send."""

    def __init__(self, detail: str, code: str) -> None:
        super().__init__(detail)
        self.code = code


def _parameters() -> dict[str, list[str]]:
    """The form body's parameters, each with its values in order.

    Parsed from the body with `parse_qsl` (as werkzeug's form parser does), without the
    parser's machinery (about 40 µs of every token request). A body or a value that is
    not UTF-8 is 400 `invalid_request` (werkzeug's parser answered an empty form for the
    first and kept the second's bytes as `%XX`). Empty values are dropped (RFC 6749 §3.2)."""
    current = context.request()
    if current.mimetype != FORM:
        raise InvalidOAuthRequest(f"Send the parameters as {FORM}.")
    try:  # the body, and each percent-encoded value, must be UTF-8
        pairs = parse_qsl(current.get_data().decode(), keep_blank_values=True,
                          errors="strict")
    except UnicodeDecodeError:
        raise InvalidOAuthRequest("The parameters are not UTF-8.") from None
    params: dict[str, list[str]] = {}
    for name, value in pairs:
        if "\x00" in name or "\x00" in value:
            raise InvalidOAuthRequest(f"The parameter {name!r} is malformed.")
        if value:  # RFC 6749 §3.2: a parameter sent without a value is as if omitted
            params.setdefault(name, []).append(value)
    return params


def _form() -> dict[str, str]:
    """The form parameters; none may repeat (RFC 6749 §3.2) or hold a NUL."""
    form = {}
    for name, values in _parameters().items():
        if len(values) > 1:
            raise InvalidOAuthRequest(f"The parameter {name!r} is repeated or malformed.")
        form[name] = values[0]
    return form


def _grant(form: dict[str, str], resources: list[str]) -> dict[str, Any]:
    """Run the requested grant, bound to the DPoP proof's key when one came (RFC 9449 §5).

    At the token endpoint a bad or nonce-less proof is 400 `invalid_dpop_proof` or
    `use_dpop_nonce` (RFC 9449 §5, §8), with the DPoP-Nonce header when one is due.
    A client registered with `require_dpop` is refused without a proof whatever the grant,
    before the grant spends a code, a device code or a refresh token. `resources` (RFC 8707
    §2.2) narrow the access token to some of what the grant holds (`invalid_target`).
    """
    grant = form.get("grant_type")
    try:
        jkt = dpop.proof_key_thumbprint()

        def app() -> Any:
            return client_auth.with_proof(_app(form), jkt)

        def service() -> Any:
            return client_auth.with_proof(_client(form), jkt)

        if grant == oauth.REFRESH_TOKEN:
            sent = client_auth.credentials_sent(request.headers.get("Authorization"), form)
            return oauth.refresh(form, request_meta(), jkt, app_client=app,
                                 resources=resources, credentials=sent)
        if grant == registration.AUTHORIZATION_CODE:
            return code_grant.exchange(app(), form, request_meta(), jkt, resources)
        if grant == registration.DEVICE_CODE:
            if not form.get("device_code"):
                raise InvalidOAuthRequest("device_code is required.")
            return device.poll(app(), form["device_code"], request_meta(), jkt, resources)
        if grant == oauth.CLIENT_CREDENTIALS:
            return oauth.client_credentials(service(), form, jkt, resources)
        if grant == oauth.TOKEN_EXCHANGE:
            return oauth.exchange(service(), form, jkt, resources)
    except (InvalidDpopProof, UseDpopNonce) as error:
        error.status = 400
        error.headers.pop("WWW-Authenticate", None)
        raise
    if not grant:
        raise InvalidOAuthRequest("grant_type is required.")
    raise UnsupportedGrantType()


def _client(form: dict[str, str]) -> Any:
    return client_auth.authenticate(context.request().headers.get("Authorization"), form)


def _app(form: dict[str, str]) -> Any:
    """A client of the code and refresh grants: a public app names itself by client_id."""
    return client_auth.authenticate_app(request.headers.get("Authorization"), form)


@bp.post("/token")
@limits.token_limits
@bp.doc(requestBody=FORM_BODY, responses=OAUTH_ERRORS)
@bp.response(200)
def token() -> Any:
    """Issue a token: client_credentials, refresh_token or token exchange (RFC 8693)."""
    tokens.load_signing_key()
    params, form = _resource_form()
    answer = _grant(form, params.get("resource") or [])
    db.commit()
    return answer


def _resource_form() -> tuple[dict[str, list[str]], dict[str, str]]:
    """The parameters where `resource` may repeat (RFC 8707: tokens, PAR, devices),
    all of them and the first of each; nothing else may repeat or hold a NUL."""
    params = _parameters()
    for name, values in params.items():
        if len(values) > 1 and name != "resource":
            raise InvalidOAuthRequest(f"The parameter {name!r} is repeated or malformed.")
    return params, {name: values[0] for name, values in params.items()}


@bp.post("/par")
@limits.token_limits
@bp.doc(requestBody=FORM_BODY, responses=OAUTH_ERRORS)
@bp.response(201)
def pushed_authorization_request() -> Any:
    """RFC 9126: push the authorize parameters first; answers the request_uri to use."""
    params, form = _resource_form()
    client = authorize.app(_app(form).client_id)
    if client is None or registration.AUTHORIZATION_CODE not in client.grant_types:
        raise UnauthorizedClient("This client signs no users in.")
    redirects = params.get("redirect_uri") or []
    if len(redirects) != 1 or not registration.redirect_matches(client.redirect_uris,
                                                               redirects[0]):
        raise InvalidOAuthRequest("redirect_uri is required and must be registered.")
    try:
        request_uri, expires_in = par.push(client, redirects[0], params)
    except authorize.Refused as refused:
        raise Refusal(refused.description, code=refused.error) from None
    db.orm().commit()
    return {"request_uri": request_uri, "expires_in": expires_in}, 201, {
        "Cache-Control": "no-store"}


@bp.post("/device_authorization")
@limits.token_limits
@bp.doc(requestBody=FORM_BODY, responses=OAUTH_ERRORS)
@bp.response(200)
def device_authorization() -> Any:
    """RFC 8628 §3.1: a device code to poll with, a user code to show, and where to go."""
    params, form = _resource_form()
    answer = device.start(_app(form), form, params.get("resource") or [])
    db.orm().commit()
    return answer, 200, {"Cache-Control": "no-store"}


class RegistrationRefused(ApiError):
    """RFC 7591 §3.2.2: what in the client's metadata cannot be registered."""

    status = 400
    code = "invalid_client_metadata"


@bp.post("/register")
@limits.register_limits
@bp.doc(responses=REGISTER_ERRORS, requestBody={  # parsed by hand: errors in RFC 7591 form
    "required": True, "content": {"application/json": {"schema": ClientMetadataSchema}}})
@bp.response(201)
def register() -> Any:
    """RFC 7591 dynamic registration, when AUTHAPI_REGISTRATION=open: an app registers
    itself (never first-party, no permission of its own); 201 with its client_id."""
    if current_app.config["AUTHAPI_REGISTRATION"] != "open":
        raise NotFound("Dynamic client registration is off.")
    try:
        body = require_json_body()
    except ApiError as exc:  # missing, malformed or not JSON: 400 invalid_request, as
        raise InvalidOAuthRequest(exc.detail) from None  # /oauth/token answers a JSON body
    try:
        metadata = ClientMetadataSchema().load(body)
        answer = clients.register_dynamic(metadata)
    except (SchemaError, ValidationError) as exc:
        errors = exc.messages if isinstance(exc, SchemaError) else (exc.errors or {})
        refused = RegistrationRefused(f"{', '.join(sorted(map(str, errors)))}: "
                                      f"{json.dumps(errors)[:300]}")
        if "redirect_uris" in errors:
            refused.code = "invalid_redirect_uri"
        raise refused from None
    db.orm().commit()
    return answer, 201, {"Cache-Control": "no-store"}


@bp.post("/introspect")
@bp.doc(requestBody=FORM_BODY, responses=OAUTH_ERRORS)
@bp.response(200)
def introspect() -> Any:
    """RFC 7662: whether a token is active, and its claims if it is."""
    form = _form()
    _client(form)
    db.commit()  # the assertion's jti, if the client used private_key_jwt
    return oauth.introspect(form.get("token", ""))


@bp.post("/revoke")
@bp.doc(requestBody=FORM_BODY, responses=OAUTH_ERRORS)
@bp.response(200)
def revoke() -> Response:
    """RFC 7009: revoke an access or refresh token; 200 whether or not it was valid."""
    form = _form()
    client = _app(form)  # a public app revokes its own tokens by client_id (RFC 7009 §2.1)
    if form.get("token"):
        oauth.revoke(client, form["token"])
    db.orm().commit()
    return Response(status=200)
