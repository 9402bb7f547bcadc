"""Accounts: digit-only common passwords are refused, an email too long after NFKC is a 422
at login too, and a revoked refresh cookie cannot log out a second time.

The cases came from the review of 2026-12-05.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from authapi import db
from authapi.models import AuditEvent
from conftest import PASSWORD, assert_problem, bearer

# Digit-only passwords at the top of the well-known leaked-password lists (SecLists'
# 10-million-password-list-top-100 has 987654321; NordPass' yearly top 50 has 123123123
# and 00000000). zxcvbn's frequency list leaves repeats and sequences out (it catches
# them by pattern), so a lookup in that list alone misses them.
COMMON = ["987654321", "123123123", "00000000", "1111111111", "12341234"]

# 117 characters as sent; NFKC turns each U+FB03 (the "ffi" ligature) into "ffi": 327.
LONG_AFTER_NFKC = "\ufb03" * 105 + "@example.com"

EMAIL = "c@example.com"


@pytest.mark.parametrize("password", COMMON)
def test_register_refuses_a_common_digit_only_password(client, password):
    """API.md: "the most common passwords are refused (`weak_password`)"."""
    response = client.post("/auth/register", json={"email": "new@example.com",
                                                   "password": password})
    assert_problem(response, 422, "weak_password")


@pytest.mark.parametrize("password", COMMON)
def test_password_change_refuses_a_common_digit_only_password(client, make_user, login,
                                                               password):
    """API.md: "the most common passwords are refused (`weak_password`)", on a change too."""
    tokens = login(make_user(email="p@example.com"))
    response = client.post("/auth/password", headers=bearer(tokens["access_token"]),
                           json={"current_password": PASSWORD, "new_password": password})
    assert_problem(response, 422, "weak_password")


@pytest.mark.parametrize("path", ["/auth/register", "/auth/login"])
def test_an_email_over_320_characters_after_normalisation_is_422(client, path):
    """API.md: "An email longer than 320 characters after normalisation is a 422", at
    /auth/login as at /auth/register, though it is short enough as sent."""
    assert len(LONG_AFTER_NFKC) <= 320
    response = client.post(path, json={"email": LONG_AFTER_NFKC, "password": PASSWORD})
    assert_problem(response, 422, "validation_error")


def test_a_revoked_refresh_cookie_cannot_log_out_again(app, client, make_user):
    """API.md: verification rejects "any revoked token"; a logout by a cookie whose session
    is already revoked (a second tab, a replayed request) is 401 `token_revoked`, as a
    second bearer logout is, and audits no second logout."""
    user_id = make_user(email=EMAIL)
    response = client.post("/auth/login", json={"email": EMAIL, "password": PASSWORD,
                                                "use_cookies": True})
    assert response.status_code == 200, response.get_json()
    cookie = client.get_cookie("refresh_token_cookie", path="/auth").value
    csrf = {"X-CSRF-TOKEN": client.get_cookie("csrf_refresh_token").value}
    assert client.post("/auth/logout", headers=csrf).status_code == 204
    client.set_cookie("refresh_token_cookie", cookie, path="/auth")
    assert_problem(client.post("/auth/logout", headers=csrf), 401, "token_revoked")
    with app.app_context():
        events = list(db.orm().scalars(select(AuditEvent).where(AuditEvent.event == "logout")))
    assert [event.user_id for event in events] == [user_id]
