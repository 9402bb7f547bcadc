"""The claims of every issuing path: a password, MFA, passkey, cookie and re-authenticated
sign-in and their refreshes; an app's code exchange, refresh, introspection and
userinfo; the device grant; client credentials and token exchange; a third-party
(OpenID Connect) sign-in, whose `amr` says `mfa` when the provider named two methods.
Also the discovery document (`none` for a public app's revocation, the signing
algorithms of `private_key_jwt` at introspection and revocation) and scope `profile`,
which never reveals the email address as a `name`.

The cases came from the review of 2026-12-05 (second session).
"""

from __future__ import annotations

import base64
import hashlib
import time
from typing import Any

import jwt
import pyotp
import pytest
from flask.testing import FlaskClient

from authapi import db
from authapi.accounts import accounts, mfa
from conftest import PASSWORD, bearer
from fixtures.authenticator import SoftAuthenticator, add_passkey, login_options
from fixtures.authenticator import sign_in as passkey_sign_in
from fixtures.oauth import ACCESS_TYPE, EXCHANGE, basic
from fixtures.oidc_provider import CLIENT_ID, CLIENT_SECRET, Code
from test_device import ask, cli_app, fast_forward, poll  # noqa: F401  (cli_app: a fixture)
from test_oidc import (  # noqa: F401  (provider and provider_server are fixtures)
    FRONTEND,
    access_token,
    provider,
    provider_server,
    sign_in,
)
from test_provider import ISSUER, Flow, admin, jwks_key, register, user  # noqa: F401  (fixtures)

AUDIENCE = ISSUER  # the configured audience of the test app
ACCESS_TTL, REFRESH_TTL = 900, 1_209_600
USER_ACCESS_CLAIMS = {"iss", "sub", "aud", "iat", "nbf", "exp", "jti", "type", "roles",
                      "scope", "sid", "auth_time", "acr", "amr"}
APP_ACCESS_CLAIMS = USER_ACCESS_CLAIMS | {"client_id"}
REFRESH_CLAIMS = {"iss", "sub", "iat", "exp", "jti", "type", "sid"}
NOW = 1_800_000_000


def claims_of(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


def check_access(token: str, sub: str, acr: str, amr: list[str],
                 ttl: int = ACCESS_TTL) -> dict[str, Any]:
    """A user's access token for authapi itself; its claims."""
    header, claims = jwt.get_unverified_header(token), claims_of(token)
    assert header["alg"] == "RS256" and header["kid"] and header["typ"] == "at+jwt", header
    assert USER_ACCESS_CLAIMS <= set(claims), USER_ACCESS_CLAIMS - set(claims)
    assert (claims["iss"], claims["aud"], claims["sub"], claims["type"]) == (
        ISSUER, AUDIENCE, sub, "access")
    assert isinstance(claims["roles"], list) and isinstance(claims["scope"], str)
    assert claims["nbf"] <= claims["iat"] + 1 and claims["exp"] - claims["iat"] == ttl
    assert (claims["acr"], claims["amr"]) == (acr, amr)
    assert isinstance(claims["auth_time"], int) and claims["auth_time"] <= claims["iat"]
    return claims


def check_refresh(token: str, sub: str, sid: str, ttl: int = REFRESH_TTL) -> dict[str, Any]:
    """A refresh token: HS256 under the signing key's `kid`, no roles or scope."""
    header, claims = jwt.get_unverified_header(token), claims_of(token)
    assert header["alg"] == "HS256" and header["kid"], header
    assert REFRESH_CLAIMS <= set(claims), REFRESH_CLAIMS - set(claims)
    assert (claims["type"], claims["sub"], claims["sid"], claims["iss"]) == (
        "refresh", sub, sid, ISSUER)
    assert claims["exp"] - claims["iat"] == ttl
    assert "roles" not in claims and "scope" not in claims
    return claims


def check_app_access(token: str, sub: str, client_id: str) -> dict[str, Any]:
    """An access token issued to an OAuth client on a user's behalf; its claims."""
    header, claims = jwt.get_unverified_header(token), claims_of(token)
    assert header["typ"] == "at+jwt" and header["kid"] and header["alg"] == "RS256", header
    assert APP_ACCESS_CLAIMS <= set(claims), APP_ACCESS_CLAIMS - set(claims)
    assert (claims["sub"], claims["client_id"], claims["type"]) == (sub, client_id, "access")
    assert claims["exp"] - claims["iat"] == ACCESS_TTL and claims["iss"] == ISSUER
    return claims


def introspect(client: FlaskClient, caller: dict[str, Any], token: str) -> dict[str, Any]:
    return client.post("/oauth/introspect", data={"token": token},
                       headers=basic(caller["client_id"], caller["client_secret"])).get_json()


def user_id_of(client: FlaskClient, email: str) -> str:
    answer = client.post("/auth/login", json={"email": email, "password": PASSWORD})
    assert answer.status_code == 200, answer.get_json()
    return claims_of(answer.get_json()["access_token"])["sub"]


# --- authapi's own sign-ins ---------------------------------------------------------------

def test_a_password_sign_in_and_its_refresh_carry_the_claims_of_the_contract(
        client, make_user, login):
    """API.md, Tokens: access token claims "`iss`, `sub` (user id ...), `aud`, `iat`,
    `nbf`, `exp`, `jti`, `type: "access"`, `roles` ..., `scope` ..., `sid`", and a user's
    also "`auth_time` (... kept across refreshes), `acr` ... and `amr`"; refresh token
    claims "`iss`, `sub`, `iat`, `exp`, `jti`, `type: "refresh"`, `sid`" (HS256, "same
    `kid`"); "Access tokens live 15 minutes, refresh tokens 14 days"."""
    uid = make_user()
    pair = login(uid)
    first = check_access(pair["access_token"], uid, "pwd", ["pwd"])
    assert first["roles"] == ["user"]
    check_refresh(pair["refresh_token"], uid, first["sid"])
    time.sleep(1.1)
    answer = client.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert answer.status_code == 200, answer.get_json()
    second = check_access(answer.get_json()["access_token"], uid, "pwd", ["pwd"])
    assert (second["auth_time"], second["sid"]) == (first["auth_time"], first["sid"])
    assert second["jti"] != first["jti"]
    check_refresh(answer.get_json()["refresh_token"], uid, first["sid"])


def test_a_refresh_reads_the_roles_permissions_from_the_database(
        client, make_user, login, admin):  # noqa: F811
    """API.md, Tokens: "A refresh always reads the user's current roles and permissions
    from the database; it never copies claims from the old token.\""""
    assert client.post("/admin/roles", headers=admin, json={
        "name": "reader", "permissions": ["users:read"]}).status_code == 201
    pair = login(make_user(roles=("user", "reader")))
    assert claims_of(pair["access_token"])["scope"] == "users:read"
    changed = client.patch("/admin/roles/reader", headers=admin,
                           json={"permissions": ["users:read", "audit:read"]})
    assert changed.status_code == 200, changed.get_json()
    answer = client.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert answer.status_code == 200, answer.get_json()
    assert claims_of(answer.get_json()["access_token"])["scope"] == "audit:read users:read"


def test_configured_lifetimes_are_the_tokens_lifetimes(make_app):
    """API.md, Tokens: "Access tokens live 15 minutes, refresh tokens 14 days
    (configurable).\""""
    app = make_app(AUTHAPI_ACCESS_TTL=120, AUTHAPI_REFRESH_TTL=3600)
    with app.app_context():
        uid = accounts.create("ttl@example.com", PASSWORD, roles=("user",)).id
        db.orm().commit()
    answer = app.test_client().post("/auth/login",
                                    json={"email": "ttl@example.com", "password": PASSWORD})
    body = answer.get_json()
    assert body["expires_in"] == 120
    access = check_access(body["access_token"], uid, "pwd", ["pwd"], ttl=120)
    check_refresh(body["refresh_token"], uid, access["sid"], ttl=3600)


@pytest.fixture
def mfa_user(monkeypatch, client, make_user, login) -> tuple[str, str, list[str]]:
    """ada@example.com with TOTP on (the clock held at NOW): id, secret, recovery codes."""
    monkeypatch.setattr(mfa, "clock", lambda: NOW)
    uid = make_user(email="ada@example.com")
    access = login(uid)["access_token"]
    secret = client.post("/auth/mfa/totp/setup", headers=bearer(access)).get_json()["secret"]
    enabled = client.post("/auth/mfa/totp/enable", headers=bearer(access),
                          json={"otp": pyotp.TOTP(secret).at(NOW - 30)})
    assert enabled.status_code == 200, enabled.get_json()
    return uid, secret, enabled.get_json()["recovery_codes"]


def test_an_mfa_sign_in_says_mfa_by_a_code_or_a_recovery_code(client, mfa_user):
    """API.md, Tokens: `acr` "`mfa`: password and a second factor" and `amr` "RFC 8176
    method names: `pwd`, `otp`, ... `mfa` when two or more"; "With MFA on, `otp` on login
    takes a current TOTP code or one unused recovery code."""
    uid, secret, codes = mfa_user
    for otp in (pyotp.TOTP(secret).at(NOW), codes[0]):
        answer = client.post("/auth/login", json={"email": "ada@example.com",
                                                  "password": PASSWORD, "otp": otp})
        assert answer.status_code == 200, answer.get_json()
        check_access(answer.get_json()["access_token"], uid, "mfa", ["pwd", "otp", "mfa"])


def test_a_passkey_sign_in_and_a_passkey_reauthentication_say_phr(client, make_user, login):
    """API.md, Tokens: `acr` "`phr`: a passkey with user verification", `amr` with
    "`user`, `mfa` when two or more"; `POST /auth/reauthenticate` with a passkey: "200 a
    new pair in the same session with a fresh `auth_time` and the `acr`/`amr` of what was
    just proved", which a refresh keeps ("kept across refreshes")."""
    uid = make_user(email="ada@example.com")
    pair = login(uid)
    authenticator = SoftAuthenticator()
    assert add_passkey(client, bearer(pair["access_token"]), authenticator).status_code == 201
    answer = passkey_sign_in(client, authenticator)
    assert answer.status_code == 200, answer.get_json()
    signed_in = claims_of(answer.get_json()["access_token"])
    assert signed_in["acr"] == "phr" and signed_in["amr"][-1] == "mfa", signed_in
    assert "user" in signed_in["amr"], signed_in
    check_refresh(answer.get_json()["refresh_token"], uid, signed_in["sid"])
    # the password session re-authenticates with the passkey
    time.sleep(1.1)
    options = login_options(client)
    answer = client.post("/auth/reauthenticate", headers=bearer(pair["access_token"]), json={
        "challenge_id": options["challenge_id"],
        "credential": authenticator.get(options["publicKey"])})
    assert answer.status_code == 200, answer.get_json()
    old, new = claims_of(pair["access_token"]), claims_of(answer.get_json()["access_token"])
    assert new["sid"] == old["sid"] and new["auth_time"] > old["auth_time"]
    assert new["acr"] == "phr"
    check_refresh(answer.get_json()["refresh_token"], uid, old["sid"])
    refreshed = client.post("/auth/refresh",
                            json={"refresh_token": answer.get_json()["refresh_token"]})
    assert refreshed.status_code == 200, refreshed.get_json()
    kept = claims_of(refreshed.get_json()["access_token"])
    assert (kept["auth_time"], kept["acr"], kept["amr"]) == (
        new["auth_time"], new["acr"], new["amr"])


def test_a_password_reauthentication_gives_a_fresh_auth_time_in_the_same_session(
        client, make_user, login):
    """API.md: `POST /auth/reauthenticate` with `{password}`: "200 a new pair in the same
    session with a fresh `auth_time` and the `acr`/`amr` of what was just proved"."""
    uid = make_user()
    pair = login(uid)
    time.sleep(1.1)
    answer = client.post("/auth/reauthenticate", headers=bearer(pair["access_token"]),
                         json={"password": PASSWORD})
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert (body["token_type"], body["expires_in"]) == ("Bearer", ACCESS_TTL)
    new = check_access(body["access_token"], uid, "pwd", ["pwd"])
    old = claims_of(pair["access_token"])
    assert new["sid"] == old["sid"] and new["auth_time"] > old["auth_time"]
    check_refresh(body["refresh_token"], uid, new["sid"])


def test_a_cookie_sign_in_carries_the_same_claims(client, make_user):
    """API.md, cookie mode: "`use_cookies: true` on login puts the refresh token in an
    `HttpOnly` cookie `refresh_token_cookie` (path `/auth` ...)"; the tokens are those of
    any sign-in."""
    uid = make_user(email="c@example.com")
    answer = client.post("/auth/login", json={"email": "c@example.com", "password": PASSWORD,
                                              "use_cookies": True})
    assert answer.status_code == 200, answer.get_json()
    access = check_access(answer.get_json()["access_token"], uid, "pwd", ["pwd"])
    check_refresh(client.get_cookie("refresh_token_cookie", path="/auth").value, uid,
                  access["sid"])


# --- apps ---------------------------------------------------------------------------------

def test_an_apps_code_exchange_refresh_introspection_and_userinfo_agree(
        client, register, user, admin, make_client):  # noqa: F811
    """API.md, apps: "The ID token ...: `iss`, `sub`, `aud` (the client_id), `exp`, `iat`,
    `auth_time`, `nonce` (when sent), `acr`, `amr`, `sid`, `at_hash`, and `email`,
    `email_verified`, `name` by scope; signed by the keys of the JWKS. The access token:
    ... `client_id`, `scope` (what was consented), `roles`, `sid`, `auth_time`, `acr`,
    `amr`"; introspection answers "`{active: true, sub, scope, client_id, exp, iat, jti,
    token_type, roles}`"; a refresh "reads the user's current roles"."""
    app = register()
    uid = user_id_of(client, user)
    flow = Flow(client, app)
    body = flow.token(flow.sign_in(user)).get_json()
    access = check_app_access(body["access_token"], uid, app["client_id"])
    assert (access["aud"], access["roles"], access["acr"]) == (AUDIENCE, ["user"], "pwd")
    id_token = jwt.decode(body["id_token"], jwks_key(client, body["id_token"]),
                          algorithms=["RS256"], audience=app["client_id"], issuer=ISSUER)
    assert jwt.get_unverified_header(body["id_token"])["kid"]
    for name in ("iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "sid",
                 "at_hash", "email", "email_verified", "name"):
        assert name in id_token, name
    assert (id_token["sub"], id_token["sid"]) == (access["sub"], access["sid"])
    assert (id_token["auth_time"], id_token["amr"]) == (access["auth_time"], access["amr"])
    refresh = claims_of(body["refresh_token"])
    assert refresh["type"] == "refresh" and refresh["sid"] == access["sid"]
    info = introspect(client, make_client(scope="orders:read"), body["access_token"])
    for name in ("sub", "scope", "client_id", "exp", "iat", "jti", "roles", "aud", "iss"):
        assert info[name] == access[name], name
    assert info["active"] is True and info["token_type"] == "Bearer"
    userinfo = client.get("/oauth/userinfo", headers=bearer(body["access_token"])).get_json()
    assert userinfo["sub"] == id_token["sub"]
    # a role change, then the app's refresh: the roles of the database
    changed = client.put(f"/admin/users/{uid}/roles", headers=admin,
                         json={"roles": ["user", "admin"]})
    assert changed.status_code == 200, changed.get_json()
    time.sleep(1.1)
    refreshed = client.post("/oauth/token", headers=basic(app["client_id"], app["client_secret"]),
                            data={"grant_type": "refresh_token",
                                  "refresh_token": body["refresh_token"]})
    assert refreshed.status_code == 200, refreshed.get_json()
    again = check_app_access(refreshed.get_json()["access_token"], uid, app["client_id"])
    assert again["roles"] == ["admin", "user"]
    assert (again["auth_time"], again["sid"], again["acr"]) == (
        access["auth_time"], access["sid"], access["acr"])


def test_the_device_grants_tokens_carry_the_approving_sign_in(
        app, client, cli_app, make_user, login):  # noqa: F811
    """API.md: the device grant's `POST /oauth/token` answers "the tokens, once"; the
    access token of an app carries "`client_id`, `scope` ..., `sid`, `auth_time`, `acr`,
    `amr`", and the ID token "`aud` (the client_id), ... `sid`, `at_hash`, and `email`,
    `email_verified`, `name` by scope"."""
    uid = make_user(email="dev@example.com", email_verified=True)
    pair = login(uid)
    started = ask(client, cli_app).get_json()  # scope "openid email"
    assert client.post("/oauth/device/approve", headers=bearer(pair["access_token"]), json={
        "user_code": started["user_code"], "approve": True}).status_code == 204
    fast_forward(app)
    tokens = poll(client, cli_app, started["device_code"]).get_json()
    access = check_app_access(tokens["access_token"], uid, cli_app["client_id"])
    assert access["auth_time"] == claims_of(pair["access_token"])["auth_time"]
    assert (access["acr"], access["amr"]) == ("pwd", ["pwd"])
    id_token = claims_of(tokens["id_token"])
    assert (id_token["aud"], id_token["sub"], id_token["sid"]) == (
        cli_app["client_id"], uid, access["sid"])
    assert id_token["email"] == "dev@example.com" and "name" not in id_token
    digest = hashlib.sha256(tokens["access_token"].encode()).digest()[:16]
    assert id_token["at_hash"] == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def test_client_credentials_and_token_exchange_carry_the_claims_of_the_contract(
        client, make_client, make_user, login):
    """API.md, Tokens: "`sub` (user id, or client id for a service)", "`roles` (...; empty
    for services)", "`sid` (...; absent for client tokens)"; token exchange: "an access
    token for the same `sub` and `sid`, with `aud` set to `audience`, ... `scope` no wider
    than both the subject token's and the client's ..., the subject's `roles`, and `act:
    {"sub": <client_id>}`"."""
    service = make_client(scope="orders:read", name="svc")
    body = client.post("/oauth/token", data={"grant_type": "client_credentials"},
                       headers=basic(service["client_id"], service["client_secret"])).get_json()
    own = claims_of(body["access_token"])
    assert jwt.get_unverified_header(body["access_token"])["typ"] == "at+jwt"
    for name in ("iss", "sub", "aud", "iat", "nbf", "exp", "jti", "type", "roles", "scope"):
        assert name in own, name
    assert (own["sub"], own["client_id"], own["roles"]) == (
        service["client_id"], service["client_id"], [])
    assert "sid" not in own and "auth_time" not in own
    info = introspect(client, service, body["access_token"])
    assert info["active"] and info["sub"] == info["client_id"] == service["client_id"]

    exchanger = make_client(scope="users:read orders:read", exchange=True, name="ex",
                            audiences=["https://orders.example"])
    uid = make_user(roles=("admin",))
    pair = login(uid)
    answer = client.post("/oauth/token", headers=basic(exchanger["client_id"],
                                                       exchanger["client_secret"]), data={
        "grant_type": EXCHANGE, "subject_token": pair["access_token"],
        "subject_token_type": ACCESS_TYPE, "audience": "https://orders.example"})
    assert answer.status_code == 200, answer.get_json()
    exchanged, subject = claims_of(answer.get_json()["access_token"]), claims_of(
        pair["access_token"])
    assert (exchanged["sub"], exchanged["sid"], exchanged["aud"]) == (
        uid, subject["sid"], "https://orders.example")
    assert exchanged["act"] == {"sub": exchanger["client_id"]}
    assert exchanged["roles"] == subject["roles"] and exchanged["scope"] == "users:read"
    assert exchanged["client_id"] == exchanger["client_id"]
    assert (exchanged["auth_time"], exchanged["acr"], exchanged["amr"]) == (
        subject["auth_time"], subject["acr"], subject["amr"])
    info = introspect(client, service, answer.get_json()["access_token"])
    assert info["active"] and info["aud"] == "https://orders.example"
    assert info["act"] == exchanged["act"]


def test_the_metadata_lists_none_for_revocation_since_public_apps_revoke(
        client, register, user):  # noqa: F811
    """API.md, apps: `token_endpoint_auth_method` "`none` for a public client"; "POST
    /oauth/revoke | RFC 7009: 200 always", and a public app revokes its own token by
    `client_id` alone, so `revocation_endpoint_auth_methods_supported` must say `none`
    ("`/.well-known/oauth-authorization-server` says the same" as discovery)."""
    app = register(token_endpoint_auth_method="none")
    flow = Flow(client, app)
    body = flow.token(flow.sign_in(user)).get_json()
    revoked = client.post("/oauth/revoke", data={"token": body["refresh_token"],
                                                 "client_id": app["client_id"]})
    assert revoked.status_code == 200
    assert client.get("/oauth/userinfo",
                      headers=bearer(body["access_token"])).status_code == 401
    metadata = client.get("/.well-known/oauth-authorization-server").get_json()
    assert "none" in metadata["revocation_endpoint_auth_methods_supported"]


def test_the_metadata_names_the_signing_algorithms_where_private_key_jwt_is_listed(client):
    """API.md: "GET /.well-known/oauth-authorization-server | RFC 8414 metadata", and RFC
    8414 §2 on `*_endpoint_auth_signing_alg_values_supported`: it "MUST be present if
    either of these authentication methods [private_key_jwt, client_secret_jwt] are
    specified in the ..._auth_methods_supported entry"."""
    metadata = client.get("/.well-known/openid-configuration").get_json()
    assert "private_key_jwt" in metadata["introspection_endpoint_auth_methods_supported"]
    assert "private_key_jwt" in metadata["revocation_endpoint_auth_methods_supported"]
    assert metadata.get("introspection_endpoint_auth_signing_alg_values_supported")
    assert metadata.get("revocation_endpoint_auth_signing_alg_values_supported")


def test_scope_profile_never_reveals_the_email_as_a_name(
        client, register, make_user):  # noqa: F811
    """API.md, apps: userinfo gives "`{sub}` plus `email`, `email_verified` (scope
    `email`) and `name` (scope `profile`)", and the ID token "`email`, `email_verified`,
    `name` by scope": a user without a display name who consents to `openid profile`
    alone does not hand the app the address in `name`."""
    make_user(email="secret.address@example.com", email_verified=True)
    flow = Flow(client, register())
    body = flow.token(flow.sign_in("secret.address@example.com",
                                   scope="openid profile")).get_json()
    assert body["scope"] == "openid profile"
    id_token = claims_of(body["id_token"])
    userinfo = client.get("/oauth/userinfo", headers=bearer(body["access_token"])).get_json()
    assert "email" not in id_token and "email" not in userinfo
    assert "secret.address@example.com" not in str(id_token.get("name")), id_token
    assert "secret.address@example.com" not in str(userinfo.get("name")), userinfo


# --- a third-party sign-in (OpenID Connect) -----------------------------------------------

@pytest.fixture
def oidc_client(make_app, provider) -> FlaskClient:  # noqa: F811
    """A browser at an app whose provider `acme` is the loopback provider of test_oidc."""
    app = make_app(AUTHAPI_ISSUER="http://localhost", AUTHAPI_AUDIENCE="http://localhost",
                   AUTHAPI_FRONTEND_URL=FRONTEND, AUTHAPI_OIDC_ACME_ISSUER=provider.issuer,
                   AUTHAPI_OIDC_ACME_CLIENT_ID=CLIENT_ID,
                   AUTHAPI_OIDC_ACME_CLIENT_SECRET=CLIENT_SECRET)
    return app.test_client()


def claims_after_a_third_party_sign_in(client: FlaskClient) -> dict[str, Any]:
    answer = sign_in(client)
    assert answer.status_code == 302 and answer.headers["Location"] == FRONTEND
    return claims_of(access_token(client))


def test_a_third_party_sign_ins_token_carries_the_claims_of_the_contract(oidc_client):
    """API.md, Tokens: access token claims "`iss`, `sub`, `aud`, `iat`, `nbf`, `exp`,
    `jti`, `type: "access"`, `roles` ..., `scope` ..., `sid`", and a user's also
    "`auth_time`, `acr` ... and `amr`". (An empty `amr` when the provider names no
    method is a known limit, not checked here.)"""
    claims = claims_after_a_third_party_sign_in(oidc_client)
    assert USER_ACCESS_CLAIMS <= set(claims), USER_ACCESS_CLAIMS - set(claims)
    assert claims["acr"] == "pwd" and claims["roles"] == ["user"]
    assert isinstance(claims["amr"], list)


def test_a_third_party_sign_in_with_two_methods_says_mfa_in_amr(oidc_client, monkeypatch):
    """API.md, Tokens: `amr` "RFC 8176 method names: `pwd`, `otp`, ... `mfa` when two or
    more": a provider that names `pwd` and `otp` made a sign-in of two methods."""
    monkeypatch.setattr(Code, "get_amr", lambda self: ["pwd", "otp"])
    claims = claims_after_a_third_party_sign_in(oidc_client)
    assert claims["amr"][:2] == ["pwd", "otp"]
    assert "mfa" in claims["amr"], claims["amr"]
