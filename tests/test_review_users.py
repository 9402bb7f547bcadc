"""Users: an address that NFKC turns into an account's own names that account at
/auth/password-reset and /auth/register as at /auth/login; a route that takes no body
refuses one with fields (422) and malformed JSON (400), yet takes no body or `{}`, and
judges authentication before the body.

The cases came from the review of 2026-12-05 (second session).
"""

from __future__ import annotations

import pytest

from conftest import PASSWORD, assert_problem, bearer

# U+FF45.. fullwidth letters and U+FF0E FULLWIDTH FULL STOP: NFKC turns this into
# "ada@example.com", the account's own address.
LOOKALIKE = "ada@\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45\uff0e\uff43\uff4f\uff4d"

# "ＡＤＡ@Example.com", the contract's own example: a fullwidth local part (U+FF21,
# U+FF24) and a capital in the domain.
FULLWIDTH_LOCAL = "\uff21\uff24\uff21@Example.com"

# Fields a caller might hope a bodyless route stores: all unknown to it.
UNKNOWN_FIELDS = {"secret": "JBSWY3DPEHPK3PXP", "roles": ["admin"]}


# --- look-alike addresses -----------------------------------------------------------------

def test_a_lookalike_address_names_the_account_at_password_reset_as_at_login(client,
                                                                              make_user):
    """API.md: "Emails are compared after Unicode NFKC normalisation and case folding, so
    look-alike forms ... name one account", and `POST /auth/password-reset` answers
    "202 always". /auth/login accepts this form (200); /auth/password-reset must not
    refuse it with 422 by validating the raw text before normalisation."""
    make_user(email="ada@example.com")
    assert client.post("/auth/login", json={"email": LOOKALIKE,
                                            "password": PASSWORD}).status_code == 200
    response = client.post("/auth/password-reset", json={"email": LOOKALIKE})
    assert response.status_code == 202, response.get_json()


def test_a_lookalike_of_a_taken_address_is_email_taken_at_register(client, make_user):
    """API.md: "Emails are compared after Unicode NFKC normalisation and case folding, so
    look-alike forms ... name one account": the look-alike names the existing account,
    so registering it is 409 `email_taken` (as `ＡＤＡ@example.com` already is), not a
    422."""
    make_user(email="ada@example.com")
    response = client.post("/auth/register", json={"email": LOOKALIKE, "password": PASSWORD})
    assert_problem(response, 409, "email_taken")


def test_the_contracts_fullwidth_example_is_email_taken_at_register(client, make_user):
    """API.md: "look-alike forms (`ＡＤＡ@example.com`, `Ada@Example.com`) name one
    account", so registering `ＡＤＡ@Example.com` beside `ada@example.com` is 409
    `email_taken`."""
    make_user(email="ada@example.com")
    response = client.post("/auth/register", json={"email": FULLWIDTH_LOCAL,
                                                   "password": PASSWORD})
    assert_problem(response, 409, "email_taken")


def test_the_contracts_fullwidth_example_is_202_at_password_reset(client, make_user):
    """API.md: `POST /auth/password-reset` answers "202 always, whether or not the email
    exists", and `ＡＤＡ@Example.com` names the account `ada@example.com`."""
    make_user(email="ada@example.com")
    response = client.post("/auth/password-reset", json={"email": FULLWIDTH_LOCAL})
    assert response.status_code == 202, response.get_json()


# --- routes that take no body -------------------------------------------------------------

@pytest.mark.parametrize("path", ["/auth/mfa/totp/setup", "/auth/verify-email",
                                  "/auth/logout-all", "/auth/logout"])
def test_unknown_fields_in_a_body_are_rejected_on_bodyless_routes(client, make_user, login,
                                                                  path):
    """API.md Conventions: "Unknown fields in a request body are rejected (422)". A
    body sent to a route that takes none is all unknown fields; it must not be ignored
    (setup once answered 200 with a fresh secret for `{"secret": ...}`)."""
    access = login(make_user())["access_token"]
    response = client.post(path, headers=bearer(access), json=UNKNOWN_FIELDS)
    assert_problem(response, 422, "validation_error")


def test_unknown_fields_are_rejected_at_passkey_registration_options(client, make_user,
                                                                     login):
    """API.md Conventions: "Unknown fields in a request body are rejected (422)";
    `POST /auth/passkeys/register/options` takes only the access token, so `{"x": 1}`
    is 422 `validation_error`."""
    access = login(make_user())["access_token"]
    response = client.post("/auth/passkeys/register/options", headers=bearer(access),
                           json={"x": 1})
    assert_problem(response, 422, "validation_error")


@pytest.mark.parametrize("path", ["/auth/mfa/totp/setup", "/auth/verify-email"])
def test_malformed_json_is_bad_request_on_bodyless_routes(client, make_user, login, path):
    """API.md Conventions: "400 | `bad_request` (malformed JSON, missing body)"."""
    access = login(make_user())["access_token"]
    response = client.post(path, headers=bearer(access), data="{not json",
                           content_type="application/json")
    assert_problem(response, 400, "bad_request")


@pytest.mark.parametrize("body", [{"json": {}}, {}], ids=["empty-object", "no-body"])
def test_logout_takes_no_body_or_an_empty_object(client, make_user, login, body):
    """API.md: "POST /auth/logout | access token | 204; its session is revoked". The
    route takes no body, so none at all and `{}` (no unknown field) are both 204."""
    access = login(make_user())["access_token"]
    response = client.post("/auth/logout", headers=bearer(access), **body)
    assert response.status_code == 204, response.get_json()


def test_logout_with_a_body_but_no_token_is_401(client):
    """API.md Conventions: "401 for a missing token carries `WWW-Authenticate: Bearer`
    with no error code"; authentication is judged before the body, so a body with
    unknown fields and no token is 401 `token_missing`, not 422."""
    response = client.post("/auth/logout", json=UNKNOWN_FIELDS)
    assert_problem(response, 401, "token_missing")
    assert response.headers["WWW-Authenticate"] == "Bearer"
