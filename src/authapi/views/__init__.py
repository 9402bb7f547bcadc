"""Blueprints, and the request parser that makes body errors the contract's."""

from __future__ import annotations

import http
from typing import Any

from flask import Request, request
from flask_smorest import Api as SmorestApi
from flask_smorest import Blueprint as SmorestBlueprint
from flask_smorest.utils import prepare_response
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


class Api(SmorestApi):
    """flask-smorest's Api, documenting errors as application/problem+json."""

    ERROR_SCHEMA = ProblemSchema

    def _register_responses(self) -> None:
        for status in http.HTTPStatus:
            response: dict[str, Any] = {"description": status.phrase}
            if status >= 400:
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, PROBLEM_JSON)
            self.spec.components.response(status.name, response, lazy=True)
        response = {"description": "Default error response", "schema": self.ERROR_SCHEMA}
        prepare_response(response, self.spec, PROBLEM_JSON)
        self.spec.components.response("DEFAULT_ERROR", response, lazy=True)
