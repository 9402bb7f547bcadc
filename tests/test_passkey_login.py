"""Signing in with a passkey: the same pair as /auth/login, and every refusal a 401."""

import json

import pytest
from sqlalchemy import select

from authapi import db
from authapi.models import AuditEvent, Passkey
from conftest import PASSWORD, assert_problem, bearer
from fixtures.authenticator import (
    SoftAuthenticator,
    add_passkey,
    b64url,
    login_options,
    sign_in,
)
from test_token_forgery import respell

PAIR_FIELDS = {"access_token", "refresh_token", "token_type", "expires_in"}


@pytest.fixture
def enrolled(client, make_user, login):
    """A user with a password and one passkey: (email, authenticator)."""
    user_id = make_user(email="ada@example.com")
    authenticator = SoftAuthenticator()
    headers = bearer(login(user_id)["access_token"])
    assert add_passkey(client, headers, authenticator).status_code == 201
    return "ada@example.com", authenticator


def events(app, name):
    with app.app_context():
        return list(db.orm().scalars(select(AuditEvent).where(AuditEvent.event == name)))


@pytest.mark.parametrize("by_email", [False, True], ids=["discoverable", "by-email"])
def test_a_passkey_sign_in_answers_the_login_pair(client, enrolled, by_email):
    email, authenticator = enrolled
    response = sign_in(client, authenticator, email if by_email else None)
    body = response.get_json()
    assert response.status_code == 200, body
    assert set(body) == PAIR_FIELDS and body["token_type"] == "Bearer"
    me = client.get("/auth/me", headers=bearer(body["access_token"])).get_json()
    assert me["email"] == email


def test_a_passkey_sign_in_is_a_session_and_an_audited_login(app, client, enrolled):
    pair = sign_in(client, enrolled[1]).get_json()
    sessions = client.get("/auth/sessions", headers=bearer(pair["access_token"])).get_json()
    assert [item["current"] for item in sessions["items"]].count(True) == 1
    assert [e.detail["method"] for e in events(app, "login")] == ["password", "passkey"]


def test_a_passkey_sign_in_can_use_cookies(client, enrolled):
    response = sign_in(client, enrolled[1], use_cookies=True)
    assert response.status_code == 200
    assert "refresh_token" not in response.get_json()
    cookies = response.headers.getlist("Set-Cookie")
    assert any(c.startswith("refresh_token_cookie=") and "HttpOnly" in c for c in cookies)
    assert any(c.startswith("csrf_refresh_token=") for c in cookies)


def test_a_sign_in_moves_the_counter_and_last_used_at(app, client, enrolled):
    assert sign_in(client, enrolled[1], counter=7).status_code == 200
    with app.app_context():
        row = db.orm().scalar(select(Passkey))
        assert row.sign_count == 7 and row.last_used_at is not None


def test_options_by_email_allow_exactly_the_users_passkeys(client, enrolled):
    email, authenticator = enrolled
    public_key = login_options(client, email)["publicKey"]
    assert [c["id"] for c in public_key["allowCredentials"]] == [
        b64url(authenticator.credential_id)]
    assert public_key["userVerification"] == "required"
    assert public_key["rpId"] == "localhost"


def test_discoverable_options_allow_any_credential(client):
    assert login_options(client)["publicKey"].get("allowCredentials", []) == []


def test_an_unknown_email_gets_the_same_shape_of_answer(client, enrolled):
    known = login_options(client, enrolled[0])
    unknown = login_options(client, "nobody@example.com")
    assert set(unknown) == set(known)
    assert set(unknown["publicKey"]) == set(known["publicKey"])
    decoy = unknown["publicKey"]["allowCredentials"]
    assert len(decoy) == 1 and set(decoy[0]) == set(known["publicKey"]["allowCredentials"][0])
    assert login_options(client, "NOBODY@example.com")["publicKey"]["allowCredentials"] == decoy
    assert login_options(client, "other@example.com")["publicKey"]["allowCredentials"] != decoy


@pytest.mark.parametrize("bend", [
    {"origin": "https://evil.example"},
    {"rp_id": "evil.example"},
    {"tamper": True},
    {"uv": False},
], ids=["wrong-origin", "wrong-rp-id", "tampered-signature", "no-user-verification"])
def test_a_bent_assertion_is_refused(client, enrolled, bend):
    assert_problem(sign_in(client, enrolled[1], **bend), 401, "invalid_credentials")


def test_an_unknown_credential_is_refused(client, enrolled):
    stranger = SoftAuthenticator()
    stranger.user_handle = enrolled[1].user_handle
    assert_problem(sign_in(client, stranger), 401, "invalid_credentials")


def test_a_counter_going_backwards_is_refused(client, enrolled):
    assert sign_in(client, enrolled[1], counter=5).status_code == 200
    assert_problem(sign_in(client, enrolled[1], counter=3), 401, "invalid_credentials")
    assert_problem(sign_in(client, enrolled[1], counter=5), 401, "invalid_credentials")


def test_a_replayed_challenge_is_refused(client, enrolled):
    options = login_options(client)
    body = {"challenge_id": options["challenge_id"],
            "credential": enrolled[1].get(options["publicKey"])}
    assert client.post("/auth/passkeys/login/verify", json=body).status_code == 200
    body["credential"] = enrolled[1].get(options["publicKey"])
    response = client.post("/auth/passkeys/login/verify", json=body)
    assert_problem(response, 401, "invalid_credentials")


def test_a_failed_assertion_still_uses_up_its_challenge(client, enrolled):
    options = login_options(client)
    body = {"challenge_id": options["challenge_id"],
            "credential": enrolled[1].get(options["publicKey"], tamper=True)}
    assert_problem(client.post("/auth/passkeys/login/verify", json=body), 401,
                   "invalid_credentials")
    body["credential"] = enrolled[1].get(options["publicKey"])
    assert_problem(client.post("/auth/passkeys/login/verify", json=body), 401,
                   "invalid_credentials")


def test_a_challenge_for_one_email_refuses_another_users_passkey(client, enrolled, make_user):
    make_user(email="bob@example.com")
    options = login_options(client, "bob@example.com")
    credential = enrolled[1].get(options["publicKey"])
    response = client.post("/auth/passkeys/login/verify",
                           json={"challenge_id": options["challenge_id"], "credential": credential})
    assert_problem(response, 401, "invalid_credentials")


def test_a_user_handle_of_another_user_is_refused(client, enrolled):
    other = b64url(bytes(16))
    assert_problem(sign_in(client, enrolled[1], user_handle=other), 401, "invalid_credentials")


def test_a_registration_challenge_cannot_sign_in(client, enrolled, login):
    headers = bearer(login(enrolled[0])["access_token"])
    options = client.post("/auth/passkeys/register/options", headers=headers).get_json()
    credential = enrolled[1].get(options["publicKey"])
    response = client.post("/auth/passkeys/login/verify",
                           json={"challenge_id": options["challenge_id"], "credential": credential})
    assert_problem(response, 401, "invalid_credentials")


def test_an_expired_challenge_is_refused(make_app, enrolled):
    client = make_app(AUTHAPI_WEBAUTHN_CHALLENGE_TTL=-1).test_client()
    assert_problem(sign_in(client, enrolled[1]), 401, "invalid_credentials")


@pytest.mark.parametrize("challenge_id, credential", [
    ("not-a-uuid", {}),
    ("00000000-0000-4000-8000-000000000000", {}),
    (None, {"id": "AA", "rawId": "AA", "type": "public-key", "response": {
        "clientDataJSON": "AA", "authenticatorData": "AA", "signature": "AA", "userHandle": "*"}}),
    (None, {"id": 1, "response": []}),
])
def test_a_malformed_assertion_is_401_not_500(client, enrolled, challenge_id, credential):
    challenge_id = challenge_id or login_options(client)["challenge_id"]
    response = client.post("/auth/passkeys/login/verify",
                           json={"challenge_id": challenge_id, "credential": credential})
    assert_problem(response, 401, "invalid_credentials")


def test_failures_are_audited_as_passkey_logins(app, client, enrolled):
    sign_in(client, enrolled[1], tamper=True)
    failed = events(app, "login_failed")
    assert [(e.detail["method"], e.detail["reason"]) for e in failed] == [
        ("passkey", "invalid_assertion")]


def test_failures_count_toward_the_lockout(make_app, enrolled):
    client = make_app(AUTHAPI_LOGIN_MAX_FAILURES=2).test_client()
    for _ in range(2):
        assert_problem(sign_in(client, enrolled[1], tamper=True), 401, "invalid_credentials")
    response = client.post("/auth/passkeys/login/verify", json={
        "challenge_id": login_options(client)["challenge_id"], "credential": {}})
    assert_problem(response, 429, "account_locked")
    assert int(response.headers["Retry-After"]) > 0


def test_a_disabled_account_cannot_sign_in_with_a_passkey(app, client, enrolled):
    from authapi.accounts import users

    with app.app_context():
        users.by_email(enrolled[0]).disabled = True
        db.orm().commit()
    assert_problem(sign_in(client, enrolled[1]), 403, "account_disabled")


def test_login_options_refuse_unknown_fields(client):
    response = client.post("/auth/passkeys/login/options", json={"email": "a@b.c", "x": 1})
    assert_problem(response, 422, "validation_error")


def test_an_account_without_passkeys_gets_a_decoy_too(client, make_user):
    make_user(email="nokeys@example.com")
    allowed = login_options(client, "nokeys@example.com")["publicKey"]["allowCredentials"]
    assert len(allowed) == 1
    assert allowed == login_options(client, "nokeys@example.com")["publicKey"]["allowCredentials"]


def test_an_assertion_with_a_non_canonical_part_is_refused(client, enrolled):
    # Contract: every token, proof and assertion has exactly one spelling.
    options = login_options(client)
    credential = enrolled[1].get(options["publicKey"])
    data = credential["response"]["authenticatorData"]  # 37 bytes: 50 characters, 4 spare bits
    credential["response"]["authenticatorData"] = respell(data)
    response = client.post("/auth/passkeys/login/verify", json={
        "challenge_id": options["challenge_id"], "credential": credential})
    assert_problem(response, 401, "invalid_credentials")


def test_the_same_assertion_spelled_canonically_is_accepted(client, enrolled):
    options = login_options(client)
    credential = enrolled[1].get(options["publicKey"])
    response = client.post("/auth/passkeys/login/verify", json={
        "challenge_id": options["challenge_id"], "credential": credential})
    assert response.status_code == 200, response.get_json()


def test_sign_in_options_do_not_tell_accounts_with_passkeys_from_others(client, make_user):
    """Probe low: the real credential (with its stored transports) and the decoy (one
    fixed length, fixed transports) could be told apart."""
    access = client.post("/auth/login", json={"email": make_user_email(make_user),
                                              "password": PASSWORD}).get_json()["access_token"]
    # The soft authenticator reports the `internal` transport, which is stored.
    assert add_passkey(client, bearer(access), SoftAuthenticator()).status_code == 201
    make_user(email="nokeys@example.com")
    answers = {email: login_options(client, email)["publicKey"]["allowCredentials"]
               for email in ("keys@example.com", "nokeys@example.com", "ghost@example.com")}
    for listed in answers.values():
        assert len(listed) == 1 and set(listed[0]) == {"type", "id"}  # no transports
    lengths = {len(b64decode(login_options(client, f"u{n}@example.com")["publicKey"][
        "allowCredentials"][0]["id"])) for n in range(40)}
    assert lengths == {16, 32, 64}  # decoys as long as real credential ids are


def make_user_email(make_user):
    make_user(email="keys@example.com")
    return "keys@example.com"


def b64decode(text):
    import base64
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def test_a_sign_in_on_another_origin_is_named_logged_and_audited(app, client, enrolled,
                                                                    capsys):
    capsys.readouterr()
    response = sign_in(client, enrolled[1], origin="http://localhost:9001")
    detail = assert_problem(response, 401, "invalid_credentials")["detail"]
    assert "sign-in ran on http://localhost:9001" in detail
    assert "http://localhost:5173 only" in detail
    logged = [json.loads(line) for line in capsys.readouterr().err.splitlines()
              if '"webauthn_origin_mismatch"' in line]
    assert [(line["ceremony"], line["received_origin"], line["expected_origins"])
            for line in logged] == [("sign-in", "http://localhost:9001", ["http://localhost:5173"])]
    assert [e.detail["reason"] for e in events(app, "login_failed")] == ["origin"]
    assert sign_in(client, enrolled[1]).status_code == 200  # the expected origin still works


def test_a_discoverable_sign_in_on_another_origin_names_it_for_any_credential(client):
    """The origin is checked before the credential is looked up: the answer is the same
    for a credential no account has (it tells nothing about accounts)."""
    response = sign_in(client, SoftAuthenticator(), origin="http://localhost:9001")
    assert "http://localhost:9001" in assert_problem(response, 401, "invalid_credentials")["detail"]
