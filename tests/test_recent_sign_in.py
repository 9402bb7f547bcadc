"""Sensitive changes need a recent sign-in (issue 20, item 3): `auth_time`, `acr` and `amr`
in every user's access token, kept across refresh; 401 `insufficient_user_authentication`
with `max_age` when the sign-in is older than AUTHAPI_RECENT_AUTH; POST
/auth/reauthenticate; a notice mail for each sensitive change; and a password reset that
undoes the factors added in the hour before it.

A sign-in is made old the way time would: the session's `auth_time` is moved back in the
database, and a refresh carries it into a new access token (as it must, across refreshes).
"""

from __future__ import annotations

import time
from datetime import timedelta

import jwt
import pyotp
import pytest
from sqlalchemy import select, update

from authapi import db
from authapi.accounts import mfa
from authapi.db import utcnow
from authapi.models import AuditEvent, Passkey, TotpFactor, User, UserSession
from authapi.tokens import core
from conftest import PASSWORD, assert_problem, bearer
from fixtures.authenticator import SoftAuthenticator, add_passkey, login_options, sign_in
from fixtures.smtp import text_of, token_of

NOW = 1_800_000_000  # a TOTP step boundary (mfa.clock is frozen here)
STALE = 301  # seconds: just past the default AUTHAPI_RECENT_AUTH
CHALLENGE = 'Bearer error="insufficient_user_authentication", max_age=300'


def claims_of(token):
    return jwt.decode(token, options={"verify_signature": False})


def age(app, access, seconds):
    """Move the session's sign-in `seconds` into the past."""
    sid, when = claims_of(access)["sid"], int(time.time()) - seconds
    with app.app_context():
        db.orm().execute(update(UserSession).where(UserSession.id == sid)
                         .values(auth_time=when))
        db.orm().commit()
    return when


def aged_pair(app, client, pair, seconds=STALE):
    """The pair a refresh gives after the sign-in behind `pair` grew `seconds` old."""
    age(app, pair["access_token"], seconds)
    response = client.post("/auth/refresh", headers=bearer(pair["refresh_token"]))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


@pytest.fixture
def frozen(monkeypatch):
    monkeypatch.setattr(mfa, "clock", lambda: NOW)


def turn_on_totp(client, access):
    secret = client.post("/auth/mfa/totp/setup", headers=bearer(access)).get_json()["secret"]
    response = client.post("/auth/mfa/totp/enable", headers=bearer(access),
                           json={"otp": pyotp.TOTP(secret).at(NOW - 30)})
    assert response.status_code == 200, response.get_json()
    return secret


# --- the claims --------------------------------------------------------------------------

def test_a_password_login_carries_auth_time_acr_and_amr(client, make_user, login):
    before = int(time.time())
    claims = claims_of(login(make_user())["access_token"])
    assert before <= claims["auth_time"] <= int(time.time())
    assert claims["acr"] == "pwd" and claims["amr"] == ["pwd"]


def test_a_refresh_keeps_the_sign_in_it_descends_from(app, client, make_user, login):
    pair = login(make_user())
    refreshed = client.post("/auth/refresh", headers=bearer(pair["refresh_token"])).get_json()
    assert {k: claims_of(refreshed["access_token"])[k] for k in ("auth_time", "acr", "amr")} \
        == {k: claims_of(pair["access_token"])[k] for k in ("auth_time", "acr", "amr")}
    when = age(app, refreshed["access_token"], 1000)
    again = client.post("/auth/refresh", headers=bearer(refreshed["refresh_token"])).get_json()
    claims = claims_of(again["access_token"])
    assert claims["auth_time"] == when
    assert (claims["acr"], claims["amr"]) == ("pwd", ["pwd"])


def test_a_refresh_never_makes_a_sign_in_fresh(app, client, make_user, login):
    pair = aged_pair(app, client, login(make_user()))
    again = client.post("/auth/refresh", headers=bearer(pair["refresh_token"])).get_json()
    assert claims_of(again["access_token"])["auth_time"] == claims_of(
        pair["access_token"])["auth_time"]


def test_an_mfa_login_is_acr_mfa_with_both_methods(frozen, client, make_user, login):
    access = login(make_user(email="ada@example.com"))["access_token"]
    secret = turn_on_totp(client, access)
    body = client.post("/auth/login", json={"email": "ada@example.com", "password": PASSWORD,
                                            "otp": pyotp.TOTP(secret).at(NOW)}).get_json()
    claims = claims_of(body["access_token"])
    assert claims["acr"] == "mfa" and claims["amr"] == ["pwd", "otp", "mfa"]


def test_a_service_token_carries_no_sign_in(client, make_client_token):
    claims = claims_of(make_client_token())
    assert not {"auth_time", "acr", "amr"} & set(claims)


@pytest.fixture
def make_client_token(make_client, client_token):
    def factory():
        response = client_token(make_client())
        assert response.status_code == 200, response.get_json()
        return response.get_json()["access_token"]

    return factory


# --- the pure rules ----------------------------------------------------------------------

@pytest.mark.parametrize(("methods", "acr", "amr"), [
    (("pwd",), "pwd", ["pwd"]),
    (("pwd", "otp"), "mfa", ["pwd", "otp", "mfa"]),
    (("hwk", "user"), "phr", ["hwk", "user", "mfa"]),
    (("swk", "user"), "phr", ["swk", "user", "mfa"]),
    (("hwk",), "pwd", ["hwk"]),  # a key without user verification is one factor
])
def test_sign_in_context_names_the_level_and_methods(methods, acr, amr):
    assert core.sign_in_context(methods) == (acr, amr)


@pytest.mark.parametrize(("claims", "acr", "max_age", "ok"), [
    ({"auth_time": 1000, "acr": "pwd"}, None, 300, True),
    ({"auth_time": 699, "acr": "pwd"}, None, 300, False),
    ({"acr": "phr"}, None, 300, False),  # no auth_time is never recent
    ({"auth_time": True, "acr": "phr"}, None, 300, False),
    ({"auth_time": 1000, "acr": "pwd"}, "mfa", None, False),
    ({"auth_time": 1000, "acr": "mfa"}, "mfa", None, True),
    ({"auth_time": 1000, "acr": "phr"}, "mfa", 300, True),
    ({"auth_time": 1000, "acr": "bogus"}, "pwd", None, False),
])
def test_check_sign_in_orders_levels_and_ages(claims, acr, max_age, ok):
    if ok:
        core.check_sign_in(claims, 1000.0, acr, max_age)
        return
    with pytest.raises(core.InsufficientUserAuthentication) as raised:
        core.check_sign_in(claims, 1000.0, acr, max_age)
    challenge = raised.value.headers["WWW-Authenticate"]
    assert challenge.startswith('Bearer error="insufficient_user_authentication"')
    assert (f'acr_values="{acr}"' in challenge) == (acr is not None)
    assert (f"max_age={max_age}" in challenge) == (max_age is not None)


# --- sensitive changes -------------------------------------------------------------------

SENSITIVE = [
    ("POST", "/auth/passkeys/register/options", None),
    ("POST", "/auth/passkeys/register/verify", {"challenge_id": "x", "credential": {}}),
    ("POST", "/auth/mfa/totp/setup", None),
    ("POST", "/auth/mfa/totp/enable", {"otp": "123456"}),
    ("POST", "/auth/mfa/totp/disable", {"password": PASSWORD}),
    ("POST", "/auth/email", {"new_email": "new@example.com", "password": PASSWORD}),
]


@pytest.mark.parametrize(("method", "path", "body"), SENSITIVE,
                         ids=[path for _, path, _ in SENSITIVE])
def test_a_sensitive_change_with_an_old_sign_in_is_refused(app, client, make_user, login,
                                                           method, path, body):
    pair = aged_pair(app, client, login(make_user()))
    response = client.open(path, method=method, json=body, headers=bearer(pair["access_token"]))
    problem = assert_problem(response, 401, "insufficient_user_authentication")
    assert response.headers["WWW-Authenticate"] == CHALLENGE
    assert problem["max_age"] == 300


def test_the_window_is_a_setting(make_app, make_user):
    app = make_app(AUTHAPI_RECENT_AUTH=3600)
    client = app.test_client()
    user = make_user(email="ada@example.com")
    assert user
    pair = client.post("/auth/login", json={"email": "ada@example.com",
                                            "password": PASSWORD}).get_json()
    pair = aged_pair(app, client, pair, seconds=1800)
    response = client.post("/auth/mfa/totp/setup", headers=bearer(pair["access_token"]))
    assert response.status_code == 200
    pair = aged_pair(app, client, pair, seconds=3700)
    response = client.post("/auth/mfa/totp/setup", headers=bearer(pair["access_token"]))
    assert_problem(response, 401, "insufficient_user_authentication")
    assert response.headers["WWW-Authenticate"].endswith("max_age=3600")


def test_a_fresh_sign_in_may_make_sensitive_changes(client, make_user, login):
    access = login(make_user())["access_token"]
    response = client.post("/auth/mfa/totp/setup", headers=bearer(access))
    assert response.status_code == 200


def test_a_password_change_needs_only_the_current_password(app, client, make_user, login):
    # The contract lists it among the notices, not the recent-sign-in changes: the
    # current password is itself the proof.
    pair = aged_pair(app, client, login(make_user()))
    response = client.post("/auth/password", headers=bearer(pair["access_token"]),
                           json={"current_password": PASSWORD,
                                 "new_password": "a different long passphrase"})
    assert response.status_code == 204


# --- re-authentication -------------------------------------------------------------------

def reauthenticate(client, access, **body):
    return client.post("/auth/reauthenticate", json=body, headers=bearer(access))


def test_reauthenticating_gives_a_fresh_pair_in_the_same_session(app, client, make_user,
                                                                 login):
    pair = aged_pair(app, client, login(make_user()))
    old = claims_of(pair["access_token"])
    response = reauthenticate(client, pair["access_token"], password=PASSWORD)
    body = response.get_json()
    assert response.status_code == 200, body
    assert {"access_token", "refresh_token", "token_type", "expires_in"} <= set(body)
    new = claims_of(body["access_token"])
    assert new["sid"] == old["sid"] and new["sub"] == old["sub"]
    assert new["auth_time"] >= int(time.time()) - 5 > old["auth_time"]
    assert (new["acr"], new["amr"]) == ("pwd", ["pwd"])
    assert client.post("/auth/mfa/totp/setup",
                       headers=bearer(body["access_token"])).status_code == 200
    # The session's refresh chain moved on: the new refresh token works, and keeps
    # the fresh sign-in.
    again = client.post("/auth/refresh", headers=bearer(body["refresh_token"])).get_json()
    assert claims_of(again["access_token"])["auth_time"] == new["auth_time"]


def test_the_replaced_refresh_token_is_a_reuse(app, client, make_user, login):
    pair = aged_pair(app, client, login(make_user()))
    assert reauthenticate(client, pair["access_token"], password=PASSWORD).status_code == 200
    response = client.post("/auth/refresh", headers=bearer(pair["refresh_token"]))
    assert_problem(response, 401, "token_reused")


def test_a_wrong_password_is_refused_and_counts_toward_the_lockout(make_app, make_user):
    app = make_app(AUTHAPI_LOGIN_MAX_FAILURES=3, AUTHAPI_LOGIN_BACKOFF_AFTER=100)
    client = app.test_client()
    make_user(email="ada@example.com")
    access = client.post("/auth/login", json={"email": "ada@example.com",
                                              "password": PASSWORD}).get_json()["access_token"]
    for _ in range(3):
        assert_problem(reauthenticate(client, access, password="wrong password here"),
                       401, "invalid_credentials")
    assert_problem(reauthenticate(client, access, password=PASSWORD), 429, "account_locked")
    response = client.post("/auth/login", json={"email": "ada@example.com",
                                                "password": PASSWORD})
    assert_problem(response, 429, "account_locked")


def test_with_mfa_on_reauthenticating_needs_the_second_factor(frozen, client, make_user, login):
    access = login(make_user(email="ada@example.com"))["access_token"]
    secret = turn_on_totp(client, access)
    assert_problem(reauthenticate(client, access, password=PASSWORD), 401, "mfa_required")
    assert_problem(reauthenticate(client, access, password=PASSWORD, otp="000000"),
                   401, "invalid_credentials")
    body = reauthenticate(client, access, password=PASSWORD,
                          otp=pyotp.TOTP(secret).at(NOW)).get_json()
    claims = claims_of(body["access_token"])
    assert claims["acr"] == "mfa" and claims["amr"] == ["pwd", "otp", "mfa"]


@pytest.mark.parametrize("body", [
    {}, {"otp": "123456"}, {"password": PASSWORD, "challenge_id": "x", "credential": {}},
    {"challenge_id": "x"}, {"credential": {}}, {"password": 5},
    {"challenge_id": "x", "credential": {}, "otp": "123456"}, {"password": PASSWORD, "x": 1},
])
def test_a_malformed_reauthentication_is_422(client, auth_headers, body):
    response = client.post("/auth/reauthenticate", json=body, headers=auth_headers())
    assert_problem(response, 422, "validation_error")


def test_reauthenticating_needs_an_access_token(client):
    assert_problem(client.post("/auth/reauthenticate", json={"password": PASSWORD}),
                   401, "token_missing")


def test_a_service_cannot_reauthenticate(client, make_client_token):
    response = reauthenticate(client, make_client_token(), password=PASSWORD)
    assert_problem(response, 401, "token_invalid")


def test_a_revoked_session_cannot_reauthenticate(client, make_user, login):
    access = login(make_user())["access_token"]
    assert client.post("/auth/logout", headers=bearer(access)).status_code == 204
    assert_problem(reauthenticate(client, access, password=PASSWORD), 401, "token_revoked")


def test_in_cookie_mode_the_new_refresh_token_replaces_the_cookie(client, make_user):
    make_user(email="ada@example.com")
    login = client.post("/auth/login", json={"email": "ada@example.com", "password": PASSWORD,
                                             "use_cookies": True})
    access = login.get_json()["access_token"]
    response = reauthenticate(client, access, password=PASSWORD)
    assert response.status_code == 200
    assert "refresh_token" not in response.get_json()
    cookies = response.headers.getlist("Set-Cookie")
    assert any(c.startswith("refresh_token_cookie=") and "HttpOnly" in c for c in cookies)
    csrf = client.get_cookie("csrf_refresh_token").value
    refreshed = client.post("/auth/refresh", headers={"X-CSRF-TOKEN": csrf})
    assert refreshed.status_code == 200, refreshed.get_json()


def test_reauthentication_is_audited(app, client, make_user, login):
    access = login(make_user())["access_token"]
    assert reauthenticate(client, access, password=PASSWORD).status_code == 200
    with app.app_context():
        events = list(db.orm().scalars(select(AuditEvent.event)))
    assert "reauthenticated" in events


# --- step-up on /auth/check and guards ---------------------------------------------------

def test_check_demands_a_level(client, make_user, login):
    access = login(make_user())["access_token"]
    response = client.get("/auth/check?acr=mfa", headers=bearer(access))
    assert_problem(response, 401, "insufficient_user_authentication")
    assert response.headers["WWW-Authenticate"] == (
        'Bearer error="insufficient_user_authentication", acr_values="mfa"')
    assert client.get("/auth/check?acr=pwd", headers=bearer(access)).status_code == 200


def test_check_demands_a_freshness(app, client, make_user, login):
    pair = login(make_user())
    assert client.get("/auth/check?max_age=60",
                      headers=bearer(pair["access_token"])).status_code == 200
    old = aged_pair(app, client, pair, seconds=120)["access_token"]
    response = client.get("/auth/check?acr=pwd&max_age=60", headers=bearer(old))
    assert response.headers["WWW-Authenticate"] == (
        'Bearer error="insufficient_user_authentication", acr_values="pwd", max_age=60')


@pytest.mark.parametrize("query", ["acr=gold", "max_age=-1", "max_age=ten", "max_age=1e3"])
def test_check_refuses_a_malformed_step_up(client, auth_headers, query):
    assert_problem(client.get(f"/auth/check?{query}", headers=auth_headers()),
                   422, "validation_error")


def test_a_host_route_can_demand_step_up(make_app, make_user):
    from authapi import authz

    app = make_app()

    @app.get("/wire-money")
    @authz.auth_required(acr="mfa", max_age=300)
    def wire_money():
        return {"ok": True}

    client = app.test_client()
    make_user(email="ada@example.com")
    access = client.post("/auth/login", json={"email": "ada@example.com",
                                              "password": PASSWORD}).get_json()["access_token"]
    response = client.get("/wire-money", headers=bearer(access))
    assert_problem(response, 401, "insufficient_user_authentication")
    assert 'acr_values="mfa", max_age=300' in response.headers["WWW-Authenticate"]


def test_a_guard_refuses_an_unknown_level():
    from authapi import authz

    with pytest.raises(ValueError, match="acr"):
        authz.auth_required(acr="gold")


# --- notices -----------------------------------------------------------------------------

def test_turning_totp_on_and_off_mails_the_owner(frozen, mail_app, make_user):
    app, inbox = mail_app()
    client = app.test_client()
    make_user(email="ada@example.com")
    access = client.post("/auth/login", json={"email": "ada@example.com",
                                              "password": PASSWORD}).get_json()["access_token"]
    turn_on_totp(client, access)
    message = inbox.next()
    assert message["To"] == "ada@example.com"
    assert "turned on" in message["Subject"] and "reset your password" in text_of(message)
    assert client.post("/auth/mfa/totp/disable", json={"password": PASSWORD},
                       headers=bearer(access)).status_code == 204
    assert "turned off" in inbox.next()["Subject"]


def test_a_password_change_mails_the_owner(mail_app, make_user):
    app, inbox = mail_app()
    client = app.test_client()
    make_user(email="ada@example.com")
    access = client.post("/auth/login", json={"email": "ada@example.com",
                                              "password": PASSWORD}).get_json()["access_token"]
    response = client.post("/auth/password", headers={**bearer(access), "User-Agent": "Eve/2"},
                           json={"current_password": PASSWORD,
                                 "new_password": "a different long passphrase"})
    assert response.status_code == 204
    message = inbox.next()
    assert message["Subject"] == "Your password was changed"
    assert "Eve/2" in text_of(message)


# --- a password reset and the factors added just before it -------------------------------

def reset(inbox, client, email="ada@example.com"):
    assert client.post("/auth/password-reset", json={"email": email}).status_code == 202
    token = token_of(inbox.next())
    response = client.post("/auth/password-reset/confirm",
                           json={"token": token, "new_password": "a brand new passphrase"})
    assert response.status_code == 204, response.get_json()
    return inbox.next()


def test_a_reset_undoes_totp_turned_on_in_the_hour_before(frozen, mail_app, make_user):
    app, inbox = mail_app()
    client = app.test_client()
    user_id = make_user(email="ada@example.com", email_verified=True)
    access = client.post("/auth/login", json={"email": "ada@example.com",
                                              "password": PASSWORD}).get_json()["access_token"]
    turn_on_totp(client, access)  # an intruder with a fresh token, say
    inbox.next()  # the notice
    notice = reset(inbox, client)
    assert "was turned off" in text_of(notice)
    with app.app_context():
        assert db.orm().get(User, user_id).mfa_enabled is False
        assert db.orm().get(TotpFactor, user_id) is None
    response = client.post("/auth/login", json={"email": "ada@example.com",
                                                "password": "a brand new passphrase"})
    assert response.status_code == 200  # no second factor the owner never chose


def test_a_reset_keeps_totp_turned_on_earlier(frozen, mail_app, make_user):
    app, inbox = mail_app()
    client = app.test_client()
    user_id = make_user(email="ada@example.com", email_verified=True)
    access = client.post("/auth/login", json={"email": "ada@example.com",
                                              "password": PASSWORD}).get_json()["access_token"]
    turn_on_totp(client, access)
    inbox.next()
    with app.app_context():
        db.orm().execute(update(TotpFactor).where(TotpFactor.user_id == user_id)
                         .values(enabled_at=utcnow() - timedelta(hours=2)))
        db.orm().commit()
    notice = reset(inbox, client)
    assert notice["Subject"] == "Your password was reset"
    assert "turned off" not in text_of(notice)
    with app.app_context():
        assert db.orm().get(User, user_id).mfa_enabled is True


# --- passkeys ----------------------------------------------------------------------------

def passkey_proof(client, authenticator):
    options = login_options(client)
    return {"challenge_id": options["challenge_id"],
            "credential": authenticator.get(options["publicKey"])}


def test_a_passkey_sign_in_is_phr_with_the_key_and_the_verified_user(client, make_user, login):
    authenticator = SoftAuthenticator()  # device-bound: no backup flags
    headers = bearer(login(make_user())["access_token"])
    assert add_passkey(client, headers, authenticator).status_code == 201
    claims = claims_of(sign_in(client, authenticator).get_json()["access_token"])
    assert claims["acr"] == "phr" and claims["amr"] == ["hwk", "user", "mfa"]


def test_reauthenticating_with_ones_own_passkey_is_phr(app, client, make_user, login):
    authenticator = SoftAuthenticator()
    pair = login(make_user())
    assert add_passkey(client, bearer(pair["access_token"]), authenticator).status_code == 201
    pair = aged_pair(app, client, pair)
    response = reauthenticate(client, pair["access_token"],
                              **passkey_proof(client, authenticator))
    assert response.status_code == 200, response.get_json()
    claims = claims_of(response.get_json()["access_token"])
    assert claims["acr"] == "phr" and claims["auth_time"] >= int(time.time()) - 5


def test_someone_elses_passkey_does_not_reauthenticate_you(client, make_user, login):
    theirs = SoftAuthenticator()
    assert add_passkey(client, bearer(login(make_user())["access_token"]),
                       theirs).status_code == 201
    mine = login(make_user())["access_token"]
    response = reauthenticate(client, mine, **passkey_proof(client, theirs))
    assert_problem(response, 401, "invalid_credentials")


def test_adding_a_passkey_mails_the_owner(mail_app, make_user):
    app, inbox = mail_app()
    client = app.test_client()
    make_user(email="ada@example.com")
    access = client.post("/auth/login", json={"email": "ada@example.com",
                                              "password": PASSWORD}).get_json()["access_token"]
    assert add_passkey(client, bearer(access), SoftAuthenticator(),
                       name="Yubi").status_code == 201
    message = inbox.next()
    assert message["Subject"] == "A passkey was added" and '"Yubi"' in text_of(message)


def test_a_reset_removes_a_passkey_added_in_the_hour_before(mail_app, make_user):
    app, inbox = mail_app()
    client = app.test_client()
    user_id = make_user(email="ada@example.com", email_verified=True)
    access = client.post("/auth/login", json={"email": "ada@example.com",
                                              "password": PASSWORD}).get_json()["access_token"]
    old, new = SoftAuthenticator(), SoftAuthenticator()
    assert add_passkey(client, bearer(access), old, name="Old").status_code == 201
    assert add_passkey(client, bearer(access), new, name="New").status_code == 201
    inbox.next(), inbox.next()
    with app.app_context():
        db.orm().execute(update(Passkey).where(Passkey.name == "Old")
                         .values(created_at=utcnow() - timedelta(hours=2)))
        db.orm().commit()
    notice = reset(inbox, client)
    assert '"New"' in text_of(notice) and '"Old"' not in text_of(notice)
    with app.app_context():
        names = list(db.orm().scalars(select(Passkey.name).where(Passkey.user_id == user_id)))
    assert names == ["Old"]
    assert sign_in(client, new).status_code == 401
    assert sign_in(client, old).status_code == 200


# --- a provider's sign-in ----------------------------------------------------------------

def test_a_provider_sign_in_is_one_factor_with_its_registered_methods():
    from authapi.accounts import oidc

    now = int(time.time())
    made = oidc.sign_in_context({"auth_time": now - 60, "amr": ["pwd", "otp", "x-custom", 7]})
    # API.md, Tokens: `amr` says `mfa` when two or more methods; `acr` stays `pwd`, since
    # authapi vouches for one factor, however the provider checked it.
    assert (made.auth_time, made.acr, made.amr) == (now - 60, "pwd", ("pwd", "otp", "mfa"))
    future = oidc.sign_in_context({"auth_time": now + 3600, "amr": "pwd"})
    assert now <= future.auth_time <= int(time.time()) and future.amr == ()
    assert oidc.sign_in_context({"auth_time": True}).auth_time >= now
