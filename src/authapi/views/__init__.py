"""Blueprints, and the request parser that makes body errors the contract's."""

from __future__ import annotations

from typing import Any

from apispec import BasePlugin
from flask import Flask, Request, request
from flask_smorest import Api as SmorestApi
from flask_smorest import Blueprint as SmorestBlueprint
from webargs.flaskparser import FlaskParser
from werkzeug.exceptions import BadRequest as WerkzeugBadRequest

from ..errors import PROBLEM_JSON, BadRequest, UnsupportedMediaType
from ..schemas import ProblemSchema


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


class Api(SmorestApi):
    """flask-smorest's Api, documenting errors as application/problem+json."""

    ERROR_SCHEMA = ProblemSchema

    def __init__(self, app: Flask) -> None:
        super().__init__(app, spec_kwargs={"extra_plugins": [ProblemResponses()]})
