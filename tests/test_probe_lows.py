"""The probe's low findings (issue 20), each reproduced: red on the old code, green now."""

from __future__ import annotations

import pytest

from conftest import assert_problem

LONE_SURROGATE = '{"email": "a\\ud800@example.com", "password": "correct horse battery"}'


@pytest.mark.parametrize("path", ["/auth/login", "/auth/register",
                                  "/auth/passkeys/login/options", "/auth/password-reset"])
def test_a_lone_surrogate_in_email_is_422_never_500(client, path):
    response = client.post(path, data=LONE_SURROGATE, content_type="application/json")
    assert_problem(response, 422, "validation_error")


def test_an_email_longer_than_320_once_normalised_is_422(client, app):
    # U+2474 (PARENTHESIZED DIGIT ONE) is one character that NFKC turns into three.
    email = "a" * 20 + "\u2474" * 280 + "@example.com"
    assert len(email) <= 320
    response = client.post("/auth/register", json={"email": email,
                                                   "password": "a-strong-passw0rd-here"})
    assert "email" in assert_problem(response, 422, "validation_error")["errors"]


@pytest.mark.parametrize("password", ["\u200b" * 8, "\u200b\u200c\u200d\u2060" * 3,
                                      " \u00a0\u3000\ufeff" * 3, "\u3164" * 9, "\u2800" * 10])
def test_a_password_of_only_invisible_characters_is_weak(client, password):
    response = client.post("/auth/register", json={"email": "blank@example.com",
                                                   "password": password})
    assert_problem(response, 422, "weak_password")


def test_a_password_with_something_visible_in_it_is_judged_as_usual(client):
    response = client.post("/auth/register", json={"email": "seen@example.com",
                                                   "password": "\u200b" * 8 + "Kx9#mQ2!vZ"})
    assert response.status_code == 201, response.get_json()
