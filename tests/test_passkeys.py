"""Passkey registration (WebAuthn attestation), listing and removal."""

import json
from datetime import datetime

import pytest
from sqlalchemy import select

from authapi import db
from authapi.models import AuditEvent, User
from conftest import PASSWORD, assert_problem, bearer
from fixtures.authenticator import SoftAuthenticator, add_passkey, b64url

PASSKEY_FIELDS = {"id", "name", "created_at", "last_used_at"}


def events(app, name):
    with app.app_context():
        return list(db.orm().scalars(select(AuditEvent).where(AuditEvent.event == name)))


def options(client, headers):
    response = client.post("/auth/passkeys/register/options", headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_registration_options_ask_for_user_verification_and_a_resident_key(client, auth_headers):
    body = options(client, auth_headers())
    public_key = body["publicKey"]
    assert set(body) == {"challenge_id", "publicKey"}
    assert public_key["rp"]["id"] == "localhost"
    assert public_key["authenticatorSelection"]["userVerification"] == "required"
    assert public_key["authenticatorSelection"]["residentKey"] == "preferred"
    assert public_key["excludeCredentials"] == []
    assert {"type": "public-key", "alg": -7} in public_key["pubKeyCredParams"]


def test_registration_options_exclude_the_callers_passkeys(client, auth_headers):
    headers, authenticator = auth_headers(), SoftAuthenticator()
    assert add_passkey(client, headers, authenticator).status_code == 201
    excluded = options(client, headers)["publicKey"]["excludeCredentials"]
    assert [item["id"] for item in excluded] == [b64url(authenticator.credential_id)]


def test_rp_id_and_origins_follow_the_settings(make_app):
    app = make_app(AUTHAPI_FRONTEND_URL="https://app.example.com:8443/spa",
                   AUTHAPI_WEBAUTHN_ORIGINS="https://a.example.com, https://b.example.com/")
    from authapi.accounts import passkeys

    with app.app_context():
        assert passkeys.rp_id() == "app.example.com"
        assert passkeys.origins() == ["https://a.example.com", "https://b.example.com"]
    with make_app(AUTHAPI_FRONTEND_URL="https://x.example.org/").app_context():
        assert passkeys.origins() == ["https://x.example.org"]


@pytest.mark.parametrize("name", [None, "Laptop"])
def test_registration_answers_201_with_the_passkey(client, auth_headers, name):
    response = add_passkey(client, auth_headers(), SoftAuthenticator(), name=name)
    body = response.get_json()
    assert response.status_code == 201, body
    assert set(body) == PASSKEY_FIELDS
    assert body["name"] == (name or "Passkey")
    assert body["last_used_at"] is None and datetime.fromisoformat(body["created_at"])


@pytest.mark.parametrize("bend", [
    {"origin": "https://evil.example"},
    {"rp_id": "evil.example"},
    {"uv": False},
], ids=["wrong-origin", "wrong-rp-id", "no-user-verification"])
def test_a_bent_registration_is_refused(client, auth_headers, bend):
    response = add_passkey(client, auth_headers(), SoftAuthenticator(), **bend)
    assert_problem(response, 401, "invalid_credentials")


def test_a_registration_challenge_is_single_use(client, auth_headers):
    headers, authenticator = auth_headers(), SoftAuthenticator()
    body = options(client, headers)
    verify = {"challenge_id": body["challenge_id"],
              "credential": authenticator.create(body["publicKey"])}
    assert client.post("/auth/passkeys/register/verify", headers=headers,
                       json=verify).status_code == 201
    verify["credential"] = SoftAuthenticator().create(body["publicKey"])
    response = client.post("/auth/passkeys/register/verify", headers=headers, json=verify)
    assert_problem(response, 401, "invalid_credentials")


def test_another_users_registration_challenge_is_refused(client, auth_headers):
    body = options(client, auth_headers())
    credential = SoftAuthenticator().create(body["publicKey"])
    response = client.post("/auth/passkeys/register/verify", headers=auth_headers(),
                           json={"challenge_id": body["challenge_id"], "credential": credential})
    assert_problem(response, 401, "invalid_credentials")


def test_an_expired_registration_challenge_is_refused(make_app, make_user):
    client = make_app(AUTHAPI_WEBAUTHN_CHALLENGE_TTL=-1).test_client()
    make_user(email="late@example.com")
    token = client.post("/auth/login", json={"email": "late@example.com",
                                             "password": PASSWORD}).get_json()["access_token"]
    response = add_passkey(client, bearer(token), SoftAuthenticator())
    assert_problem(response, 401, "invalid_credentials")


def test_a_credential_registered_twice_is_a_conflict(client, auth_headers):
    headers, authenticator = auth_headers(), SoftAuthenticator()
    assert add_passkey(client, headers, authenticator).status_code == 201
    assert_problem(add_passkey(client, headers, authenticator), 409, "conflict")


@pytest.mark.parametrize("transports, kept", [(["internal", "x", 5], ["internal"]),
                                               (5, []), ({"usb": 1}, [])])
def test_only_known_transports_are_kept_and_offered(client, auth_headers, transports, kept):
    headers, authenticator = auth_headers(), SoftAuthenticator()
    body = options(client, headers)
    credential = authenticator.create(body["publicKey"])
    credential["response"]["transports"] = transports
    assert client.post("/auth/passkeys/register/verify", headers=headers, json={
        "challenge_id": body["challenge_id"], "credential": credential}).status_code == 201
    [excluded] = options(client, headers)["publicKey"]["excludeCredentials"]
    assert excluded.get("transports", []) == kept


@pytest.mark.parametrize("credential", [{}, {"id": "x"}, {"id": "AA", "rawId": "AA",
                                                          "response": {"clientDataJSON": "!"}}])
def test_a_malformed_registration_is_401_not_500(client, auth_headers, credential):
    headers = auth_headers()
    body = options(client, headers)
    response = client.post("/auth/passkeys/register/verify", headers=headers,
                           json={"challenge_id": body["challenge_id"], "credential": credential})
    assert_problem(response, 401, "invalid_credentials")


@pytest.mark.parametrize("method, path", [
    ("post", "/auth/passkeys/register/options"), ("post", "/auth/passkeys/register/verify"),
    ("get", "/auth/passkeys"), ("delete", "/auth/passkeys/00000000-0000-4000-8000-000000000000"),
])
def test_management_needs_an_access_token(client, method, path):
    assert_problem(getattr(client, method)(path), 401, "token_missing")


def test_list_shows_only_the_callers_passkeys(client, auth_headers):
    mine, theirs = auth_headers(), auth_headers()
    add_passkey(client, mine, SoftAuthenticator(), name="Mine")
    add_passkey(client, theirs, SoftAuthenticator(), name="Theirs")
    body = client.get("/auth/passkeys", headers=mine).get_json()
    assert set(body) == {"items", "page", "per_page", "total"}
    assert [item["name"] for item in body["items"]] == ["Mine"] and body["total"] == 1
    assert set(body["items"][0]) == PASSKEY_FIELDS


def test_remove_deletes_the_passkey_and_is_audited(app, client, auth_headers):
    headers = auth_headers()
    passkey_id = add_passkey(client, headers, SoftAuthenticator()).get_json()["id"]
    response = client.delete(f"/auth/passkeys/{passkey_id}", headers=headers)
    assert response.status_code == 204
    assert client.get("/auth/passkeys", headers=headers).get_json()["total"] == 0
    assert [e.detail["passkey_id"] for e in events(app, "passkey_added")] == [passkey_id]
    assert [e.detail["passkey_id"] for e in events(app, "passkey_removed")] == [passkey_id]


@pytest.mark.parametrize("other", [True, False], ids=["someone-elses", "non-uuid"])
def test_removing_a_passkey_that_is_not_yours_is_404(client, auth_headers, other):
    passkey_id = add_passkey(client, auth_headers(), SoftAuthenticator()).get_json()["id"]
    target = passkey_id if other else "not-a-uuid"
    assert_problem(client.delete(f"/auth/passkeys/{target}", headers=auth_headers()),
                   404, "not_found")


def test_the_last_way_to_sign_in_cannot_be_removed(app, client, make_user, login):
    user_id = make_user()
    headers = bearer(login(user_id)["access_token"])
    first, second = (add_passkey(client, headers, SoftAuthenticator()).get_json()["id"]
                     for _ in range(2))
    with app.app_context():
        db.orm().get(User, user_id).password_hash = None
        db.orm().commit()
    assert client.delete(f"/auth/passkeys/{first}", headers=headers).status_code == 204
    response = client.delete(f"/auth/passkeys/{second}", headers=headers)
    assert_problem(response, 409, "conflict")
    assert client.get("/auth/passkeys", headers=headers).get_json()["total"] == 1


def test_the_openapi_document_lists_the_passkey_endpoints(client):
    paths = client.get("/openapi.json").get_json()["paths"]
    assert {"/auth/passkeys/register/options", "/auth/passkeys/register/verify",
            "/auth/passkeys", "/auth/passkeys/{passkey_id}", "/auth/passkeys/login/options",
            "/auth/passkeys/login/verify"} <= set(paths)


def log_lines(capsys):
    return [json.loads(line) for line in capsys.readouterr().err.splitlines()
            if line.startswith("{")]


def test_a_registration_on_another_origin_is_logged_and_named(client, auth_headers, capsys):
    """A page on an unexpected port: the server logs both origins, and the 401 (the
    contract's `invalid_credentials`) says which origin it expected."""
    headers = auth_headers()
    capsys.readouterr()
    response = add_passkey(client, headers, SoftAuthenticator(), origin="http://localhost:9001")
    body = assert_problem(response, 401, "invalid_credentials")
    assert "http://localhost:9001" in body["detail"]
    assert "http://localhost:5173" in body["detail"]
    assert "AUTHAPI_WEBAUTHN_ORIGINS" in body["detail"]
    logged = [line for line in log_lines(capsys)
              if line.get("event") == "webauthn_origin_mismatch"]
    assert len(logged) == 1 and logged[0]["level"] == "warning"
    assert logged[0]["expected_origins"] == ["http://localhost:5173"]
    assert logged[0]["received_origin"] == "http://localhost:9001"
    assert logged[0]["ceremony"] == "registration" and logged[0]["request_id"]
    # The same authenticator on the expected origin, with a new challenge, is accepted.
    assert add_passkey(client, headers, SoftAuthenticator()).status_code == 201


def test_the_named_origins_follow_the_settings(make_app, make_user):
    app = make_app(AUTHAPI_WEBAUTHN_ORIGINS="http://localhost:3000,http://localhost:3001")
    client = app.test_client()
    make_user(email="o@example.com")
    pair = client.post("/auth/login", json={"email": "o@example.com", "password": PASSWORD})
    headers = bearer(pair.get_json()["access_token"])
    response = add_passkey(client, headers, SoftAuthenticator(), origin="http://localhost:5173")
    detail = assert_problem(response, 401, "invalid_credentials")["detail"]
    assert "http://localhost:3000, http://localhost:3001 only" in detail
    assert add_passkey(client, headers, SoftAuthenticator(),
                       origin="http://localhost:3001").status_code == 201
