"""Introspection (RFC 7662), revocation (RFC 7009), metadata (RFC 8414), JWKS caching."""

from __future__ import annotations

import jwt
import pytest

from conftest import assert_problem, bearer
from fixtures.oauth import ACCESS_TYPE, EXCHANGE, assert_oauth_error, basic


@pytest.fixture
def caller(make_client) -> dict:
    return make_client(scope="orders:read")


def post(client, path, registered, **form):
    return client.post(path, data=form,
                       headers=basic(registered["client_id"], registered["client_secret"]))


def test_a_live_client_token_is_active_with_its_claims(client, caller, client_token):
    token = client_token(caller).get_json()["access_token"]
    response = post(client, "/oauth/introspect", caller, token=token)
    body = response.get_json()
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    claims = jwt.decode(token, options={"verify_signature": False})
    assert body["active"] is True and body["token_type"] == "Bearer"
    for name in ("sub", "scope", "client_id", "exp", "iat", "jti", "roles"):
        assert body[name] == claims[name]


def test_a_users_token_is_active_with_its_roles(client, caller, make_user, login):
    token = login(make_user(roles=("admin",)))["access_token"]
    body = post(client, "/oauth/introspect", caller, token=token).get_json()
    assert body["active"] is True and body["roles"] == ["admin"] and "sid" in body


def forged(token: str) -> str:
    head, payload, signature = token.split(".")
    return f"{head}.{payload}.{signature[:-4]}AAAA"


def unsigned(token: str) -> str:
    """The token's own header (kid, typ) and claims, with `alg: none` and no signature."""
    header = {k: v for k, v in jwt.get_unverified_header(token).items() if k != "alg"}
    return jwt.encode(jwt.decode(token, options={"verify_signature": False}), None, "none",
                      headers=header)


@pytest.fixture
def dead_tokens(client, make_app, make_user, login) -> dict[str, str]:
    """Tokens that must all introspect as inactive, by kind."""
    pair = login(make_user(email="intro@example.com"))
    expired = make_app(AUTHAPI_ACCESS_TTL=-1).test_client().post("/auth/login", json={
        "email": "intro@example.com", "password": "correct horse battery staple"}).get_json()
    logged_out = login("intro@example.com")["access_token"]
    assert client.post("/auth/logout", headers=bearer(logged_out)).status_code == 204
    return {"garbage": "%%%garbage", "empty": "", "forged": forged(pair["access_token"]),
            "refresh": pair["refresh_token"], "logged_out": logged_out,
            "expired": expired["access_token"], "none_alg": unsigned(pair["access_token"])}


@pytest.mark.parametrize("kind", ["garbage", "empty", "forged", "refresh", "logged_out",
                                  "expired", "none_alg"])
def test_anything_not_live_is_inactive_and_nothing_more(client, caller, dead_tokens, kind):
    response = post(client, "/oauth/introspect", caller, token=dead_tokens[kind])
    assert response.status_code == 200
    assert response.get_json() == {"active": False}


def test_introspection_needs_client_authentication(client, caller, client_token):
    token = client_token(caller).get_json()["access_token"]
    response = client.post("/oauth/introspect", data={"token": token})
    assert_oauth_error(response, 401, "invalid_client")


def test_an_exchanged_token_for_another_audience_is_introspected(client, make_client, caller,
                                                                  make_user, login):
    exchanger = make_client(scope="users:read", exchange=True,
                            audiences=["https://orders.example"])
    user_token = login(make_user(roles=("admin",)))["access_token"]
    exchanged = post(client, "/oauth/token", exchanger, grant_type=EXCHANGE,
                     subject_token=user_token, subject_token_type=ACCESS_TYPE,
                     audience="https://orders.example").get_json()["access_token"]
    body = post(client, "/oauth/introspect", caller, token=exchanged).get_json()
    assert body["active"] is True and body["aud"] == "https://orders.example"
    assert body["act"] == {"sub": exchanger["client_id"]}
    # ...but authapi itself does not accept a token meant for another audience.
    assert_problem(client.get("/auth/me", headers=bearer(exchanged)), 401, "token_invalid")


# --- revocation ----------------------------------------------------------------------------

def test_revoking_a_client_token_makes_it_inactive(client, caller, client_token):
    token = client_token(caller).get_json()["access_token"]
    response = post(client, "/oauth/revoke", caller, token=token)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    assert post(client, "/oauth/introspect", caller, token=token).get_json() == {"active": False}
    assert_problem(client.get("/auth/check", headers=bearer(token)), 401, "token_revoked")


@pytest.mark.parametrize("which", ["refresh_token", "access_token"])
def test_revoking_a_users_token_ends_its_session(client, caller, make_user, login, which):
    pair = login(make_user())
    assert post(client, "/oauth/revoke", caller, token=pair[which]).status_code == 200
    assert_problem(client.get("/auth/me", headers=bearer(pair["access_token"])),
                   401, "token_revoked")
    refreshed = client.post("/auth/refresh", headers=bearer(pair["refresh_token"]))
    assert refreshed.status_code == 401


@pytest.mark.parametrize("which", ["refresh_token", "access_token"])
def test_revoking_a_forged_copy_of_a_users_token_ends_nothing(client, caller, make_user, login,
                                                              which):
    pair = login(make_user())
    for fake in (forged(pair[which]), unsigned(pair[which])):
        assert post(client, "/oauth/revoke", caller, token=fake).status_code == 200
    assert client.get("/auth/me", headers=bearer(pair["access_token"])).status_code == 200
    assert client.post("/auth/refresh", headers=bearer(pair["refresh_token"])).status_code == 200


@pytest.mark.parametrize("token", ["", "unknown", "a.b.c"])
def test_revoking_an_unknown_token_is_200(client, caller, token):
    assert post(client, "/oauth/revoke", caller, token=token).status_code == 200


def test_revocation_needs_client_authentication(client, caller, client_token):
    token = client_token(caller).get_json()["access_token"]
    assert_oauth_error(client.post("/oauth/revoke", data={"token": token}), 401,
                       "invalid_client")
    assert post(client, "/oauth/introspect", caller, token=token).get_json()["active"] is True


def test_a_client_cannot_revoke_another_clients_token(client, make_client, caller,
                                                      client_token):
    token = client_token(make_client()).get_json()["access_token"]
    assert_oauth_error(post(client, "/oauth/revoke", caller, token=token), 400,
                       "unauthorized_client")
    assert post(client, "/oauth/introspect", caller, token=token).get_json()["active"] is True


# --- discovery -----------------------------------------------------------------------------

def test_metadata_lists_every_endpoint_grant_and_method(make_app):
    client = make_app(AUTHAPI_ISSUER="https://auth.example.com").test_client()
    body = client.get("/.well-known/oauth-authorization-server").get_json()
    assert body["issuer"] == "https://auth.example.com"
    for name, path in (("token_endpoint", "/oauth/token"), ("jwks_uri", "/.well-known/jwks.json"),
                       ("introspection_endpoint", "/oauth/introspect"),
                       ("revocation_endpoint", "/oauth/revoke")):
        assert body[name] == "https://auth.example.com" + path
    assert set(body["grant_types_supported"]) == {
        "authorization_code", "client_credentials", "refresh_token", EXCHANGE,
        "urn:ietf:params:oauth:grant-type:device_code"}
    assert set(body["token_endpoint_auth_methods_supported"]) == {
        "client_secret_basic", "client_secret_post", "private_key_jwt", "none"}
    assert "clients:read" in body["scopes_supported"]


@pytest.mark.parametrize("path", ["/.well-known/jwks.json",
                                  "/.well-known/oauth-authorization-server"])
def test_discovery_documents_may_be_cached(make_app, path):
    response = make_app(AUTHAPI_JWKS_MAX_AGE=120).test_client().get(path)
    assert response.status_code == 200
    assert "max-age=120" in response.headers["Cache-Control"]
