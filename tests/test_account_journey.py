"""A new user's path through a real `authapi serve` and a real SMTP server, on the test's
database engine: reset a password from the mail, enable MFA from the otpauth URI with an
authenticator library, log in with a code, with a recovery code, then replay the code."""

import time

import pyotp

from conftest import PASSWORD
from fixtures.smtp import text_of, token_of

NEW_PASSWORD = "the journey's new passphrase"


def test_reset_then_mfa_then_recovery_then_replay(serve, smtp_server, empty_database_url):
    inbox, mail_url = smtp_server(refuse=1)  # the first delivery is refused and retried
    server = serve("--workers", "1", "--migrate", env={
        "AUTHAPI_DATABASE_URL": empty_database_url, "AUTHAPI_MAIL_URL": mail_url,
        "AUTHAPI_MAIL_RETRY_BASE": "0.05"})
    email = "journey@example.com"
    registration = {"email": email, "password": PASSWORD}
    assert server.request("POST", "/auth/register", registration)[0] == 201
    assert "/verify-email?token=" in text_of(inbox.next())
    assert server.request("POST", "/auth/password-reset", {"email": email})[0] == 202
    reset = {"token": token_of(inbox.next()), "new_password": NEW_PASSWORD}
    assert server.request("POST", "/auth/password-reset/confirm", reset)[0] == 204

    credentials = {"email": email, "password": NEW_PASSWORD}
    status, tokens = server.request("POST", "/auth/login", credentials)
    assert status == 200
    setup = server.request("POST", "/auth/mfa/totp/setup", token=tokens["access_token"])[1]
    authenticator = pyotp.parse_uri(setup["otpauth_uri"])
    status, enabled = server.request("POST", "/auth/mfa/totp/enable",
                                     {"otp": authenticator.now()}, token=tokens["access_token"])
    assert status == 200 and len(enabled["recovery_codes"]) == 10

    assert server.request("POST", "/auth/login", credentials)[1]["code"] == "mfa_required"
    next_code = authenticator.at(time.time() + 30)  # the code just used to enable is spent
    assert server.request("POST", "/auth/login", {**credentials, "otp": next_code})[0] == 200
    recovery = {**credentials, "otp": enabled["recovery_codes"][0]}
    assert server.request("POST", "/auth/login", recovery)[0] == 200
    status, body = server.request("POST", "/auth/login", {**credentials, "otp": next_code})
    assert (status, body["code"]) == (401, "invalid_credentials")
