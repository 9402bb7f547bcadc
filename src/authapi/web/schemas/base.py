"""The building blocks: strict request schemas, storable text, pages, problems."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from authapi import db
from authapi.accounts.users import normalize_email


def storable(value: str) -> None:
    """Refuse text no database column can hold: NUL characters and lone surrogates."""
    if "\x00" in value:
        raise ValidationError("NUL characters are not allowed.")
    if not db.storable(value):
        raise ValidationError("Not valid Unicode text.")


class Text(fields.String):
    """A string field that only accepts storable text."""

    def __init__(self, **kwargs: Any) -> None:
        extra = kwargs.pop("validate", None)
        validators = [storable, *([extra] if callable(extra) else list(extra or []))]
        super().__init__(validate=validators, **kwargs)


MAX_EMAIL = 320  # RFC 5321 §4.5.3.1, counted after normalisation (NFKC can lengthen)


def normalized_length(value: str) -> None:
    """Refuse an address whose stored form (NFKC, case-folded) is over MAX_EMAIL long."""
    if len(normalize_email(value)) > MAX_EMAIL:
        raise ValidationError(f"Longer than {MAX_EMAIL} characters once normalised.")


class EmailText(fields.Email):
    """An email address that only accepts storable text, at most 320 characters stored.

    Its syntax is judged in the form it is stored and compared in (NFKC, case-folded):
    a look-alike form (`ada@ｅｘａｍｐｌｅ．ｃｏｍ`) names the account it folds to, at
    sign-up and reset as at login, rather than failing marshmallow's ASCII syntax.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(validate=[storable, validate.Length(max=MAX_EMAIL), normalized_length],
                         **kwargs)
        syntax = self.validators[0]  # fields.Email's own, put first
        self.validators[0] = lambda value: syntax(normalize_email(value))



class StrictSchema(Schema):
    """A request body: unknown fields are rejected, never ignored."""

    class Meta:
        unknown = RAISE


# Password lengths are the policy's to judge (422 weak_password), not the schema's;
# the 64 KiB body limit bounds them.


class PageArgsSchema(StrictSchema):
    """?page&per_page of a list."""

    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=1_000_000))
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1))


def page_of(item: type[Schema], name: str) -> type[Schema]:
    """The contract's list shape `{items, page, per_page, total}` around an item schema."""
    return Schema.from_dict({"items": fields.List(fields.Nested(item)), "page": fields.Integer(),
                             "per_page": fields.Integer(), "total": fields.Integer()}, name=name)


def utc_convertible(value: Any) -> None:
    """Refuse an instant that does not survive conversion to UTC (year 1 at +01:00)."""
    try:
        value.astimezone(UTC)
    except (OverflowError, ValueError):
        raise ValidationError("Out of range.") from None


class ProblemSchema(Schema):
    """RFC 9457 problem details, with the stable `code` clients switch on."""

    type = fields.String()
    title = fields.String()
    status = fields.Integer()
    detail = fields.String()
    code = fields.String(required=True)
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))
    # RFC 9470 step-up (insufficient_user_authentication): what would satisfy the route,
    # repeated from the WWW-Authenticate challenge for clients that do not parse it.
    acr_values = fields.String(metadata={"description": "The sign-in level the route needs."})
    max_age = fields.Integer(metadata={"description": "How recent, in seconds, the sign-in "
                                                      "must be."})


class OAuthErrorSchema(Schema):
    """An error of the /oauth/* endpoints (RFC 6749 §5.2), not a problem document."""

    error = fields.String(required=True)
    error_description = fields.String()


class HealthSchema(Schema):
    """A health check's answer."""

    status = fields.String()
