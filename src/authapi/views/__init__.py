"""Blueprints, and the request parser that makes body errors the contract's."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from apispec import BasePlugin
from flask import Flask, Request, request
from flask_smorest import Api as SmorestApi
from flask_smorest import Blueprint as SmorestBlueprint
from webargs.flaskparser import FlaskParser
from werkzeug.exceptions import BadRequest as WerkzeugBadRequest

from authapi import authz
from authapi.accounts import users
from authapi.admin.delegation import Grantor
from authapi.errors import (
    PROBLEM_JSON,
    BadRequest,
    TokenInvalid,
    UnsupportedMediaType,
    ValidationError,
)
from authapi.web.schemas import ProblemSchema

MAX_PER_PAGE = 100  # the contract's cap on `per_page`


def paged(args: dict[str, Any],
          fetch: Callable[[int, int], tuple[list[Any], int]]) -> dict[str, Any]:
    """`{items, page, per_page, total}` of `fetch(page, per_page)`, `per_page` capped."""
    page, per_page = args["page"], min(args["per_page"], MAX_PER_PAGE)
    items, total = fetch(page, per_page)
    return {"items": items, "page": page, "per_page": per_page, "total": total}


def grantor() -> Grantor:
    """The caller as a grantor: what their verified token's scope lets them hand out."""
    return Grantor.of_claims(authz.current_claims())


def caller_email() -> str:
    """The signed-in caller's email: the account a password check counts against.

    A service's token (no `sid`) has no account and no password to check.
    """
    claims = authz.current_claims()
    if "sid" not in claims:
        raise TokenInvalid("Only a user's token can do this.")
    return users.get(str(claims["sub"])).email


def require_json_body() -> Any:
    """The parsed JSON body; 415 for another media type, 400 when absent or malformed."""
    if not request.get_data(cache=True):
        raise BadRequest("A JSON body is required.")
    if not request.is_json:
        raise UnsupportedMediaType()
    try:
        return request.get_json()
    except (WerkzeugBadRequest, RecursionError):
        raise BadRequest("The body is not valid JSON.") from None


def refuse_body() -> None:
    """For a route that takes no body: none, or `{}`, passes; malformed JSON is 400, and
    anything in it 422 (unknown fields are rejected, never ignored, Conventions)."""
    if not request.get_data(cache=True):
        return
    body = require_json_body()
    if body != {}:
        names = sorted(map(str, body)) if isinstance(body, dict) else ["_schema"]
        raise ValidationError(errors={name: ["This request takes no body."] for name in names})


class StrictParser(FlaskParser):
    """Like webargs' parser, but a missing or malformed body is 400 and not 422."""

    def load_json(self, req: Request, schema: Any) -> Any:
        """The JSON body, enforced."""
        return require_json_body()


class Blueprint(SmorestBlueprint):
    """A flask-smorest blueprint using the strict parser."""

    ARGUMENTS_PARSER = StrictParser()


class ProblemResponses(BasePlugin):
    """An apispec plugin: error responses are documented as application/problem+json.

    flask-smorest registers each HTTP status as a response component with our
    ERROR_SCHEMA under application/json; this moves that content to the media type
    the errors are really sent with.
    """

    def response_helper(self, response: dict[str, Any], **kwargs: Any) -> dict[str, Any] | None:
        """Rewrite the content of responses whose schema is the problem schema."""
        content = response.get("content", {})
        body = content.get("application/json")
        if body is None or not _is_problem(body.get("schema")):
            return None
        return {"content": {PROBLEM_JSON: body}}


def _is_problem(schema: Any) -> bool:
    if isinstance(schema, dict):  # already resolved by the marshmallow plugin
        return str(schema.get("$ref", "")).endswith("/Problem")
    return schema in (ProblemSchema, "Problem") or isinstance(schema, ProblemSchema)


BEARER_AUTH, REFRESH_COOKIE_AUTH, BASIC_AUTH = "bearerAuth", "refreshCookie", "basicAuth"
SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    BEARER_AUTH: {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                  "description": "An access token (`Authorization: Bearer <token>`, RFC 6750)."},
    REFRESH_COOKIE_AUTH: {"type": "apiKey", "in": "cookie", "name": "refresh_token_cookie",
                          "description": "The refresh token in its HttpOnly cookie; the request "
                                         "must echo `csrf_refresh_token` in `X-CSRF-TOKEN`."},
    BASIC_AUTH: {"type": "http", "scheme": "basic",
                 "description": "A service's client_id and client_secret, for `/oauth/*` "
                                "(`client_secret_basic`, RFC 6749 §2.3.1)."},
}
BEARER: list[dict[str, list[str]]] = [{BEARER_AUTH: []}]


class SecurityDocs(BasePlugin):
    """An apispec plugin: a view guarded by authz names its security and requirement.

    Each guard marks its view with what it requires (authz.REQUIRES); the operation
    then lists the bearer scheme, says the requirement in its description, and
    documents the 401 (and, past a bare token check, the 403) it can answer.
    """

    def __init__(self, app: Flask) -> None:
        self.app = app

    def operation_helper(self, path: str | None = None,
                         operations: dict[str, Any] | None = None, **kwargs: Any) -> None:
        """Complete the operations of a guarded view."""
        rule = kwargs.get("rule")
        view = self.app.view_functions.get(rule.endpoint) if rule is not None else None
        requires = getattr(view, authz.REQUIRES, None)
        if requires is None:
            return
        for operation in (operations or {}).values():
            operation.setdefault("security", [dict(item) for item in BEARER])
            text = operation.get("description", "")
            operation["description"] = f"{text}\n\nRequires {requires}.".strip()
            responses = operation.setdefault("responses", {})
            responses.setdefault("401", "UNAUTHORIZED")
            if requires != authz.ANY_TOKEN:
                responses.setdefault("403", "FORBIDDEN")


class Api(SmorestApi):
    """flask-smorest's Api, documenting errors as application/problem+json."""

    ERROR_SCHEMA = ProblemSchema

    def __init__(self, app: Flask) -> None:
        plugins = [ProblemResponses(), SecurityDocs(app)]
        super().__init__(app, spec_kwargs={"extra_plugins": plugins})
        for name, scheme in SECURITY_SCHEMES.items():
            self.spec.components.security_scheme(name, scheme)
