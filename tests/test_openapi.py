"""The OpenAPI document: valid (openapi-spec-validator), complete, and true of every endpoint.

The schemathesis pass generates requests from the document itself, as an anonymous
caller and as an admin, and checks that no answer is a 5xx and that every answer
matches the status, media type and schema the document gives for it. It is bounded
(MAX_EXAMPLES per operation and generation mode) and derandomized, so CI runs the
same cases every time.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from openapi_spec_validator import validate
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from authapi import db
from authapi.accounts import users
from authapi.audit import ClientMeta
from authapi.sessions import sessions
from authapi.tokens import core
from authapi.tokens.tokens import SignIn
from conftest import bearer

MAX_EXAMPLES = 8
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]
BOUNDED = settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, derandomize=True,
                   phases=[Phase.explicit, Phase.generate],
                   suppress_health_check=list(HealthCheck))
# An admin's pass must not end its own session (STACK-NOTES: it reuses ids it has seen).
SELF_ENDING = {("DELETE", "/auth/sessions/{session_id}"), ("POST", "/auth/logout"),
               ("POST", "/auth/logout-all")}
MODES = [schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE]


def document(client) -> dict:
    return client.get("/openapi.json").get_json()  # type: ignore[no-any-return]


def test_the_document_is_valid_openapi(client):
    validate(document(client))


def test_security_schemes_are_bearer_cookie_and_basic(client):
    schemes = document(client)["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {**schemes["bearerAuth"], "type": "http", "scheme": "bearer"}
    assert (schemes["refreshCookie"]["in"], schemes["refreshCookie"]["name"]) == (
        "cookie", "refresh_token_cookie")
    assert (schemes["basicAuth"]["type"], schemes["basicAuth"]["scheme"]) == ("http", "basic")


@pytest.mark.parametrize(("method", "path"), [("get", "/auth/me"), ("post", "/auth/logout-all"),
                                              ("get", "/auth/check"), ("get", "/admin/audit")])
def test_guarded_operations_name_bearer_and_document_401(client, method, path):
    operation = document(client)["paths"][path][method]
    assert {"bearerAuth": []} in operation["security"]
    assert "401" in operation["responses"]


def test_errors_are_documented_as_problem_json(client):
    responses = document(client)["components"]["responses"]
    for name in ("UNAUTHORIZED", "FORBIDDEN", "DEFAULT_ERROR"):
        content = responses[name]["content"]
        assert list(content) == ["application/problem+json"]
        assert content["application/problem+json"]["schema"] == {
            "$ref": "#/components/schemas/Problem"}


@pytest.mark.parametrize(("query", "members"), [({"acr": "mfa"}, {"acr_values": "mfa"}),
                                                ({"max_age": "60"}, {"max_age": 60})])
def test_a_step_up_problem_matches_the_document(app, make_user, query, members):
    """RFC 9470's problem repeats the challenge's `acr_values` or `max_age` in its body:
    the document's Problem schema names them (a longer schemathesis run found the body
    refused by `additionalProperties: false`)."""
    user_id = make_user()
    with app.test_request_context():  # a password sign-in of an hour ago
        sign_in = SignIn(int(time.time()) - 3600, *core.sign_in_context(("pwd",)))
        pair = sessions.start(users.get(user_id), ClientMeta(ip=None, user_agent="st"), sign_in)
        db.orm().commit()
    operation = schemathesis.openapi.from_wsgi("/openapi.json", app)["/auth/check"]["GET"]
    case = operation.Case(query=query)
    response = case.call(headers=bearer(pair["access_token"]))
    assert response.status_code == 401
    assert response.json()["code"] == "insufficient_user_authentication"
    assert members.items() <= response.json().items()
    case.validate_response(response, checks=CHECKS)


def run_pass(app, headers: Callable[[], dict[str, str]], skip: set[tuple[str, str]]) -> Counter:
    """Every operation, both generation modes, bounded; returns the status classes seen."""
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    seen: Counter = Counter()
    for result in schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) in skip:
            continue
        for mode in MODES:

            @BOUNDED
            @given(case=operation.as_strategy(generation_mode=mode))
            def check(case: schemathesis.Case) -> None:
                response = case.call(headers=headers())
                case.validate_response(response, checks=CHECKS)
                seen[f"{response.status_code // 100}xx"] += 1

            try:
                check()
            except Unsatisfiable:  # nothing about this operation can be made invalid
                assert mode is schemathesis.GenerationMode.NEGATIVE, operation.label
    return seen


def test_schemathesis_as_anonymous(make_app):
    app = make_app(AUTHAPI_LOGIN_RATE_PER_ADDRESS="100000 per minute")
    seen = run_pass(app, dict, set())
    print(f"schemathesis anonymous: {sum(seen.values())} cases {dict(sorted(seen.items()))}")
    assert "5xx" not in seen and seen["2xx"] > 0


def test_schemathesis_as_admin(make_app, make_user):
    app = make_app(AUTHAPI_LOGIN_RATE_PER_ADDRESS="100000 per minute")
    admin_id = make_user(roles=("admin",))

    def fresh_admin_token() -> dict[str, str]:
        # A new session per case: what one case does to the admin cannot starve the next.
        with app.test_request_context():
            pair = sessions.start(users.get(admin_id), ClientMeta(ip=None, user_agent="st"),
                                  SignIn.now(("pwd",)))
            db.orm().commit()
        return bearer(pair["access_token"])

    seen = run_pass(app, fresh_admin_token, SELF_ENDING)
    print(f"schemathesis admin: {sum(seen.values())} cases {dict(sorted(seen.items()))}")
    assert "5xx" not in seen and seen["2xx"] > seen["4xx"] / 10
