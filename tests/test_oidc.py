"""OpenID Connect login against a real provider on loopback (tests/fixtures/oidc_provider.py)."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from sqlalchemy import select

from authapi import db
from authapi.accounts import users
from authapi.config import ConfigError
from authapi.models import AuditEvent, OidcIdentity, OutboxMail, User
from conftest import PASSWORD, assert_problem, bearer
from fixtures.oidc_provider import CLIENT_ID, CLIENT_SECRET, Provider

FRONTEND = "https://app.example.com/signed-in"
LOGIN, CALLBACK = "/auth/oidc/acme/login", "/auth/oidc/acme/callback"


@pytest.fixture(scope="module")
def provider_server() -> Iterator[Provider]:
    server = Provider().start()
    yield server
    server.stop()


@pytest.fixture
def provider(provider_server: Provider) -> Provider:
    """The provider, reset: signs in a verified alice@example.com, behaves well."""
    provider_server.user = {"sub": "alice-1", "email": "alice@example.com",
                            "email_verified": True, "name": "Alice"}
    provider_server.wrong_nonce = provider_server.sign_with_rogue_key = False
    provider_server.register("http://localhost" + CALLBACK)
    return provider_server


@pytest.fixture
def app(make_app, provider):
    return make_app(AUTHAPI_ISSUER="http://localhost", AUTHAPI_FRONTEND_URL=FRONTEND,
                    AUTHAPI_OIDC_ACME_ISSUER=provider.issuer, AUTHAPI_OIDC_ACME_CLIENT_ID=CLIENT_ID,
                    AUTHAPI_OIDC_ACME_CLIENT_SECRET=CLIENT_SECRET)


def authorize(client) -> str:
    """Start a sign-in in this browser and let the provider answer; the callback URL."""
    started = client.get(LOGIN)
    assert started.status_code == 302
    answer = requests.get(started.headers["Location"], allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text
    return answer.headers["Location"]


def path(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def sign_in(client):
    """A whole sign-in; the callback's response."""
    return client.get(path(authorize(client)))


def access_token(client) -> str:
    """Trade the refresh cookie the callback set for an access token."""
    csrf = client.get_cookie("csrf_refresh_token").value
    response = client.post("/auth/refresh", headers={"X-CSRF-TOKEN": csrf})
    assert response.status_code == 200, response.get_json()
    return response.get_json()["access_token"]


def failure_reason(app) -> str:
    """The reason of the last login_failed audit event."""
    with app.app_context():
        event = db.orm().scalars(select(AuditEvent).where(AuditEvent.event == "login_failed")
                                 .order_by(AuditEvent.id.desc())).first()
        return event.detail["reason"]


def me(client) -> dict:
    return client.get("/auth/me", headers=bearer(access_token(client))).get_json()


def test_login_redirects_with_state_nonce_and_pkce_s256(client, provider):
    response = client.get(LOGIN)
    query = parse_qs(urlsplit(response.headers["Location"]).query)
    assert response.headers["Location"].startswith(provider.issuer + "/authorize?")
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"][0]
    assert query["state"][0] and query["nonce"][0] and "openid" in query["scope"][0].split()
    assert query["redirect_uri"] == ["http://localhost" + CALLBACK]
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/auth/oidc" in cookie


def test_callback_creates_the_user_sets_the_refresh_cookie_and_redirects(client):
    response = sign_in(client)
    assert response.status_code == 302 and response.headers["Location"] == FRONTEND
    assert client.get_cookie("refresh_token_cookie", path="/auth") is not None
    profile = me(client)
    assert (profile["email"], profile["email_verified"], profile["roles"]) == (
        "alice@example.com", True, ["user"])


def test_a_returning_identity_signs_in_as_the_same_user(app, client):
    sign_in(client)
    first = me(client)["id"]
    sign_in(client)
    assert me(client)["id"] == first
    with app.app_context():
        assert db.orm().query(OidcIdentity).count() == 1


def test_a_verified_email_links_the_existing_verified_account(client, make_user):
    existing = make_user(email="Alice@Example.com", email_verified=True)
    sign_in(client)
    assert me(client)["id"] == existing


def refused(response, code: str) -> None:
    """A callback that signed nobody in: back to the app with `error=code`, no cookie."""
    assert response.status_code == 302, response.get_json()
    assert parse_qs(urlsplit(response.headers["Location"]).query)["error"] == [code]
    assert "refresh_token_cookie" not in response.headers.get("Set-Cookie", "")


def test_an_account_registered_in_advance_is_not_taken_over(app, client, make_user):
    # The probe: an attacker registers the victim's address with their own password;
    # the victim's later provider sign-in linked and verified that account.
    attacker = make_user(email="alice@example.com")  # its email is not verified
    refused(sign_in(client), "account_exists")
    with app.app_context():
        assert db.orm().query(OidcIdentity).count() == 0
        assert db.orm().get(User, attacker).email_verified is False
        mail = db.orm().scalars(select(OutboxMail)).one()
    assert mail.recipient == "alice@example.com"
    assert mail.subject == "A sign-in with acme was not linked to your account"
    assert failure_reason(app) == "account_unverified"


def test_an_unverified_email_never_links_an_existing_account(app, client, make_user, provider):
    make_user(email="alice@example.com", email_verified=True)
    provider.user["email_verified"] = False
    refused(sign_in(client), "account_exists")
    assert client.get_cookie("refresh_token_cookie", path="/auth") is None
    with app.app_context():
        assert db.orm().query(OidcIdentity).count() == 0
    assert failure_reason(app) == "unverified_email"


def test_an_unverified_email_of_no_account_creates_nothing(app, client, provider):
    provider.user.update(sub="bob-2", email="bob@example.com", email_verified=False)
    refused(sign_in(client), "email_unverified")
    with app.app_context():
        assert db.orm().query(User).filter_by(email="bob@example.com").one_or_none() is None


def test_a_callback_from_another_browser_is_refused(app):
    victim, attacker = app.test_client(), app.test_client()
    assert_problem(attacker.get(path(authorize(victim))), 400, "invalid_state")


@pytest.mark.parametrize("state", ["forged", ""])
def test_a_wrong_or_missing_state_is_refused(client, state):
    callback = urlsplit(authorize(client))
    code = parse_qs(callback.query)["code"][0]
    assert_problem(client.get(f"{CALLBACK}?code={code}&state={state}"), 400, "invalid_state")


def test_a_state_is_single_use(client):
    callback = path(authorize(client))
    assert client.get(callback).status_code == 302
    assert_problem(client.get(callback), 400, "invalid_state")


def test_an_id_token_with_another_nonce_is_refused(app, client, provider):
    provider.wrong_nonce = True
    assert_problem(sign_in(client), 401, "invalid_credentials")
    assert failure_reason(app) == "InvalidClaimError"
    assert client.get_cookie("refresh_token_cookie", path="/auth") is None


def test_an_id_token_not_signed_by_the_providers_jwks_is_refused(app, client, provider):
    provider.sign_with_rogue_key = True
    assert_problem(sign_in(client), 401, "invalid_credentials")
    assert failure_reason(app) == "BadSignatureError"


def test_pkce_refuses_a_code_injected_from_another_authorization(app):
    victim, attacker = app.test_client(), app.test_client()
    victim_state = parse_qs(urlsplit(authorize(victim)).query)["state"][0]
    stolen_code = parse_qs(urlsplit(authorize(attacker)).query)["code"][0]
    response = victim.get(f"{CALLBACK}?code={stolen_code}&state={victim_state}")
    assert_problem(response, 401, "invalid_credentials")
    assert failure_reason(app) == "invalid_grant"  # the provider: code challenge failed


def test_a_provider_error_answer_is_refused(client):
    state = parse_qs(urlsplit(client.get(LOGIN).headers["Location"]).query)["state"][0]
    response = client.get(f"{CALLBACK}?error=access_denied&state={state}")
    assert_problem(response, 401, "invalid_credentials")


def test_an_unknown_provider_is_not_found(client):
    assert_problem(client.get("/auth/oidc/nobody/login"), 404, "not_found")


def test_a_disabled_user_cannot_sign_in(client, make_user):
    make_user(email="alice@example.com", disabled=True, email_verified=True)
    assert_problem(sign_in(client), 403, "account_disabled")


def test_identities_are_listed_and_unlinked(client, make_user, login):
    make_user(email="alice@example.com", email_verified=True)
    sign_in(client)
    headers = bearer(login("alice@example.com")["access_token"])
    items = client.get("/auth/oidc/identities", headers=headers).get_json()["items"]
    assert [(i["provider"], i["subject"]) for i in items] == [("acme", "alice-1")]
    assert client.delete(f"/auth/oidc/identities/{items[0]['id']}", headers=headers
                         ).status_code == 204
    assert client.get("/auth/oidc/identities", headers=headers).get_json()["total"] == 0


def test_the_last_way_to_sign_in_cannot_be_unlinked(client):
    sign_in(client)
    headers = bearer(access_token(client))
    identity = client.get("/auth/oidc/identities", headers=headers).get_json()["items"][0]
    assert_problem(client.delete(f"/auth/oidc/identities/{identity['id']}", headers=headers),
                   409, "conflict")


def test_someone_elses_identity_is_not_found(app, client, auth_headers):
    sign_in(client)
    with app.app_context():
        identity = db.orm().query(OidcIdentity).one().id
    assert_problem(client.delete(f"/auth/oidc/identities/{identity}", headers=auth_headers()),
                   404, "not_found")


def test_an_oidc_only_user_has_no_password_to_log_in_with(app, client):
    sign_in(client)
    response = client.post("/auth/login", json={"email": "alice@example.com",
                                                "password": PASSWORD})
    assert_problem(response, 401, "invalid_credentials")
    with app.app_context():
        assert users.by_email("alice@example.com").password_hash is None


@pytest.mark.parametrize("missing", ["ISSUER", "CLIENT_ID", "CLIENT_SECRET"])
def test_a_provider_missing_a_variable_is_refused_by_name(make_app, missing):
    variables = {f"AUTHAPI_OIDC_ACME_{field}": "http://127.0.0.1:1"
                 for field in ("ISSUER", "CLIENT_ID", "CLIENT_SECRET") if field != missing}
    with pytest.raises(ConfigError, match=f"AUTHAPI_OIDC_ACME_{missing}"):
        make_app(**variables)


@pytest.mark.parametrize(("path", "opened"), [("/auth/check", False), (LOGIN, True)])
def test_the_cookie_session_is_opened_only_under_auth_oidc(app, path, opened):
    from flask import session
    from flask.sessions import NullSession

    with app.test_request_context(path):
        assert isinstance(session, NullSession) is not opened  # the proxy forwards __class__
