"""Blueprints, and the request parser that makes body errors the contract's."""

from __future__ import annotations

from typing import Any

from flask import Request, request
from flask_smorest import Blueprint as SmorestBlueprint
from webargs.flaskparser import FlaskParser
from werkzeug.exceptions import BadRequest as WerkzeugBadRequest

from ..errors import BadRequest, UnsupportedMediaType


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
