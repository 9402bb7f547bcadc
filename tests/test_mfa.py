"""TOTP MFA: setup, enable with recovery codes, login with `otp`, replay, lockout, disable."""

import re

import pyotp
import pytest
from sqlalchemy import select

from authapi import db
from authapi.accounts import mfa
from authapi.models import AuditEvent, RecoveryCode, TotpFactor
from conftest import PASSWORD, assert_problem, bearer

NOW = 1_800_000_000  # a TOTP step boundary


@pytest.fixture
def frozen(monkeypatch):
    monkeypatch.setattr(mfa, "clock", lambda: NOW)


def setup(client, access):
    response = client.post("/auth/mfa/totp/setup", headers=bearer(access))
    assert response.status_code == 200
    return response.get_json()


def enable(client, access, otp):
    return client.post("/auth/mfa/totp/enable", json={"otp": otp}, headers=bearer(access))


def code(secret, steps=0):
    return pyotp.TOTP(secret).at(NOW + 30 * steps)


def post_login(client, otp=None, email="ada@example.com", password=PASSWORD):
    body = {"email": email, "password": password, **({"otp": otp} if otp else {})}
    return client.post("/auth/login", json=body)


@pytest.fixture
def mfa_user(frozen, client, make_user, login):
    """A user with MFA on: (secret, recovery codes), enabled with the previous step's code."""
    access = login(make_user(email="ada@example.com"))["access_token"]
    secret = setup(client, access)["secret"]
    response = enable(client, access, code(secret, -1))
    assert response.status_code == 200
    return secret, response.get_json()["recovery_codes"]


def test_setup_returns_the_secret_its_uri_and_a_qr_code(client, auth_headers):
    body = client.post("/auth/mfa/totp/setup", headers=auth_headers()).get_json()
    assert set(body) == {"secret", "otpauth_uri", "qr_svg"}
    parsed = pyotp.parse_uri(body["otpauth_uri"])
    assert parsed.secret == body["secret"] and parsed.issuer == "authapi"
    assert body["qr_svg"].startswith("<svg") and "xmlns" in body["qr_svg"]


def test_enabling_from_the_uri_with_an_authenticator_returns_ten_codes(client, make_user, login):
    access = login(make_user(email="ada@example.com"))["access_token"]
    authenticator = pyotp.parse_uri(setup(client, access)["otpauth_uri"])
    codes = enable(client, access, authenticator.now()).get_json()["recovery_codes"]
    assert len(codes) == len(set(codes)) == 10
    assert all(re.fullmatch(r"[a-z2-7]{4}(-[a-z2-7]{4}){3}", c) for c in codes)
    assert client.get("/auth/me", headers=bearer(access)).get_json()["mfa_enabled"] is True


def test_enabling_with_a_wrong_code_is_refused(frozen, client, auth_headers):
    headers = auth_headers()
    secret = client.post("/auth/mfa/totp/setup", headers=headers).get_json()["secret"]
    response = client.post("/auth/mfa/totp/enable", json={"otp": code(secret, 3)}, headers=headers)
    assert_problem(response, 422, "validation_error")
    assert client.get("/auth/me", headers=headers).get_json()["mfa_enabled"] is False


def test_enabling_without_setup_is_a_conflict(client, auth_headers):
    response = client.post("/auth/mfa/totp/enable", json={"otp": "123456"}, headers=auth_headers())
    assert_problem(response, 409, "conflict")


def test_setup_while_enabled_is_a_conflict(mfa_user, client):
    tokens = post_login(client, code(mfa_user[0])).get_json()
    response = client.post("/auth/mfa/totp/setup", headers=bearer(tokens["access_token"]))
    assert_problem(response, 409, "conflict")


def test_login_without_otp_answers_mfa_required(mfa_user, client):
    body = assert_problem(post_login(client), 401, "mfa_required")
    assert "access_token" not in body


def test_login_with_a_current_code_succeeds(mfa_user, client):
    assert post_login(client, code(mfa_user[0])).status_code == 200


def test_a_code_is_accepted_once(mfa_user, client):
    assert post_login(client, code(mfa_user[0])).status_code == 200
    assert_problem(post_login(client, code(mfa_user[0])), 401, "invalid_credentials")


@pytest.mark.parametrize(("steps", "status"), [(1, 200), (-1, 401), (2, 401), (-5, 401)])
def test_codes_one_step_ahead_are_accepted_and_older_ones_not(mfa_user, client, steps, status):
    # The previous step was used to enable MFA, so it is spent too.
    assert post_login(client, code(mfa_user[0], steps)).status_code == status


def test_a_recovery_code_works_once(mfa_user, client):
    recovery = mfa_user[1][0]
    assert post_login(client, recovery.upper()).status_code == 200
    assert_problem(post_login(client, recovery), 401, "invalid_credentials")


def test_a_wrong_password_with_a_right_code_is_refused(mfa_user, client):
    response = post_login(client, code(mfa_user[0]), password="not the password")
    assert_problem(response, 401, "invalid_credentials")


@pytest.fixture
def strict_app(frozen, make_app, make_user, login):
    """An app locking an account after 2 failures, and the secret of its MFA user."""
    client = make_app(AUTHAPI_LOGIN_MAX_FAILURES=2).test_client()
    access = login(make_user(email="ada@example.com"))["access_token"]
    secret = setup(client, access)["secret"]
    enable(client, access, code(secret, -1))
    return client, secret


def test_wrong_codes_count_toward_the_lockout(strict_app):
    client, secret = strict_app
    for _ in range(2):
        assert_problem(post_login(client, "000000"), 401, "invalid_credentials")
    assert_problem(post_login(client, code(secret)), 429, "account_locked")


def test_mfa_required_does_not_count_toward_the_lockout(strict_app):
    client, secret = strict_app
    for _ in range(3):
        assert_problem(post_login(client), 401, "mfa_required")
    assert post_login(client, code(secret)).status_code == 200


def test_disable_needs_the_password(mfa_user, client):
    access = post_login(client, code(mfa_user[0])).get_json()["access_token"]
    response = client.post("/auth/mfa/totp/disable", json={"password": "wrong password"},
                           headers=bearer(access))
    assert_problem(response, 401, "invalid_credentials")
    response = client.post("/auth/mfa/totp/disable", json={"password": PASSWORD},
                           headers=bearer(access))
    assert response.status_code == 204
    assert post_login(client).status_code == 200


def test_the_secret_is_encrypted_and_the_codes_hashed_at_rest(app, mfa_user):
    secret, codes = mfa_user
    with app.app_context():
        row = db.orm().scalar(select(TotpFactor))
        hashes = set(db.orm().scalars(select(RecoveryCode.code_hash)))
    assert secret not in row.secret
    assert len(hashes) == 10
    assert not hashes & ({c.replace("-", "") for c in codes} | set(codes))


def test_mfa_changes_are_audited(app, mfa_user, client):
    post_login(client, mfa_user[1][0])
    with app.app_context():
        events = list(db.orm().scalars(select(AuditEvent.event)))
    assert {"mfa_setup", "mfa_enabled", "mfa_recovery_code_used"} <= set(events)


@pytest.mark.parametrize("otp", ["", "1" * 65, 123456])
def test_a_malformed_otp_is_a_validation_error(client, otp):
    response = client.post("/auth/login",
                           json={"email": "a@example.com", "password": PASSWORD, "otp": otp})
    assert_problem(response, 422, "validation_error")


@pytest.mark.parametrize("odd", ["\u0661\u0662\u0663\u0664\u0665\u0666", "\uff11" * 6])
def test_a_code_of_other_digits_is_a_wrong_code(mfa_user, client, odd):
    """Arabic-Indic or full-width digits pass str.isdigit(); they are a wrong code (401),
    never a 500 from comparing non-ASCII text."""
    assert_problem(post_login(client, odd), 401, "invalid_credentials")
