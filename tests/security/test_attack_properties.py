"""Property tests (Hypothesis): no input gives a 5xx, and a refused request writes nothing."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from authapi import db
from authapi.models import AuditEvent, User, UserSession

PROPERTY = settings(max_examples=60, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])
JSON_SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
JSON = st.recursive(JSON_SCALARS, lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.text(max_size=10), inner, max_size=4), max_leaves=12)
FIELDS = st.sampled_from(["email", "password", "display_name", "use_cookies", "roles", "otp"])
BODIES = st.dictionaries(FIELDS | st.text(max_size=8), JSON, max_size=5) | JSON
EMAILS = st.emails() | st.text(max_size=40).map(lambda t: t + "@example.com")
REGISTER = st.fixed_dictionaries({"email": EMAILS, "password": st.text(max_size=80)},
                                 optional={"display_name": st.text(max_size=120) | st.none()})
# Bearer values: anything, and things shaped like a JWS.
SEGMENT = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+/.",
                  max_size=60)
TOKENS = st.text(max_size=200) | st.builds(lambda a, b, c: f"{a}.{b}.{c}", SEGMENT, SEGMENT,
                                           SEGMENT)


@pytest.fixture
def lenient(make_app):
    """An app whose per-address limits do not stop a property run."""
    return make_app(AUTHAPI_REGISTER_RATE_PER_ADDRESS="100000 per hour",
                    AUTHAPI_LOGIN_RATE_PER_ADDRESS="100000 per hour")


def counts(app) -> tuple[int, int, int]:
    with app.app_context():
        return tuple(int(db.orm().scalar(select(func.count()).select_from(model)) or 0)
                     for model in (User, UserSession, AuditEvent))  # type: ignore[return-value]


@PROPERTY
@given(body=BODIES, path=st.sampled_from(["/auth/register", "/auth/login", "/auth/refresh"]))
def test_any_json_body_gets_a_4xx_problem_never_a_5xx(lenient, body, path):
    response = lenient.test_client().post(path, json=body)
    assert response.status_code < 500
    if response.status_code >= 400:
        assert response.content_type == "application/problem+json"


@PROPERTY
@given(body=REGISTER)
def test_register_either_creates_one_whole_user_or_nothing(lenient, body):
    before = counts(lenient)
    response = lenient.test_client().post("/auth/register", json=body)
    users, sessions, events = counts(lenient)
    assert response.status_code in (201, 409, 422), response.get_json()
    if response.status_code == 201:
        # register, and email_verification_sent for the link it mails
        assert (users, sessions, events) == (before[0] + 1, before[1], before[2] + 2)
        assert response.get_json()["email"] == response.get_json()["email"].casefold()
    else:
        assert (users, sessions, events) == before


@PROPERTY
@given(token=TOKENS, path=st.sampled_from(["/auth/me", "/auth/check", "/auth/refresh"]))
def test_any_bearer_value_is_a_401_problem(lenient, token, path):
    client = lenient.test_client()
    method = "POST" if path == "/auth/refresh" else "GET"
    try:
        response = client.open(path, method=method, headers={"Authorization": f"Bearer {token}"})
    except ValueError:  # werkzeug refuses to send a header with a newline: not an input
        return
    assert response.status_code == 401, response.get_json()
    assert response.get_json()["code"] in ("token_invalid", "token_missing")
