"""Clients for apps that sign users in (issue 21, item 1): redirect URIs, grant types, the
token endpoint auth method, first party, resources, require_par and require_dpop, through
POST and PATCH /admin/clients and `authapi clients create`; and how a presented redirect
URI matches a registered one (exact; a loopback IP literal on any port, RFC 8252 §7.3).
"""

from __future__ import annotations

import json

import pytest

from authapi.oauth.registration import redirect_matches
from conftest import assert_problem, bearer
from fixtures.oauth import assert_oauth_error, basic

APP = {"name": "Shop", "scope": "", "redirect_uris": ["https://shop.example/callback"]}


@pytest.fixture
def admin(auth_headers):
    return auth_headers(("admin",))


def create(client, admin, **body):
    return client.post("/admin/clients", headers=admin, json={**APP, **body})


def test_an_app_client_gets_the_code_grant_and_a_secret(client, admin):
    response = create(client, admin, post_logout_redirect_uris=["https://shop.example/bye"],
                      resources=["https://api.shop.example"], first_party=True,
                      require_par=True, require_dpop=True)
    body = response.get_json()
    assert response.status_code == 201, body
    assert body["client_secret"] and body["token_endpoint_auth_method"] == "client_secret_basic"
    assert body["grant_types"] == ["authorization_code", "refresh_token"]
    assert body["redirect_uris"] == ["https://shop.example/callback"]
    assert body["post_logout_redirect_uris"] == ["https://shop.example/bye"]
    assert body["resources"] == ["https://api.shop.example"]
    assert body["first_party"] is body["require_par"] is body["require_dpop"] is True
    listed = client.get("/admin/clients", headers=admin).get_json()["items"]
    assert {k: listed[0][k] for k in ("redirect_uris", "grant_types", "first_party")} == {
        "redirect_uris": body["redirect_uris"], "grant_types": body["grant_types"],
        "first_party": True}


def test_a_public_app_has_no_secret(client, admin):
    body = create(client, admin, token_endpoint_auth_method="none",
                  redirect_uris=["http://127.0.0.1/callback", "com.example.app:/oauth"]
                  ).get_json()
    assert body["client_secret"] is None and body["token_endpoint_auth_method"] == "none"
    rotated = client.post(f"/admin/clients/{body['id']}/secret", headers=admin)
    assert "none" in assert_problem(rotated, 422, "validation_error")["detail"]


def test_a_service_client_keeps_its_defaults(client, admin):
    body = client.post("/admin/clients", headers=admin,
                       json={"name": "svc", "scope": "", "exchange": True}).get_json()
    assert body["grant_types"] == ["client_credentials",
                                   "urn:ietf:params:oauth:grant-type:token-exchange"]
    assert body["redirect_uris"] == [] and body["first_party"] is False


@pytest.mark.parametrize("uri", [
    "https://shop.example/cb#frag", "http://shop.example/cb", "javascript:alert(1)",
    "data:text/html,hi", "/relative/cb", "myapp:/cb", "https://user:pw@shop.example/cb",
    "https://", "https://shop.example/c b", "https://shop.example:99999/cb", "",
])
def test_an_unsafe_redirect_uri_is_refused(client, admin, uri):
    body = assert_problem(create(client, admin, redirect_uris=[uri]), 422, "validation_error")
    assert "redirect_uris" in body["errors"]


@pytest.mark.parametrize(("body", "field"), [
    ({"grant_types": ["authorization_code"], "redirect_uris": []}, "redirect_uris"),
    ({"grant_types": ["client_credentials"]}, "redirect_uris"),
    ({"grant_types": ["implicit"]}, "grant_types"),
    ({"grant_types": ["password"]}, "grant_types"),
    ({"token_endpoint_auth_method": "none", "grant_types": ["authorization_code",
                                                            "client_credentials"]},
     "grant_types"),
    ({"token_endpoint_auth_method": "private_key_jwt"}, "token_endpoint_auth_method"),
    ({"token_endpoint_auth_method": "client_secret_jwt"}, "token_endpoint_auth_method"),
    ({"resources": ["https://api.example#x"]}, "resources"),
    ({"resources": ["not-a-uri"]}, "resources"),
    ({"redirect_uris": [f"https://shop.example/{n}" for n in range(21)]}, "redirect_uris"),
    ({"post_logout_redirect_uris": ["http://shop.example/bye"]}, "post_logout_redirect_uris"),
    ({"grant_types": ["refresh_token"], "redirect_uris": []}, "grant_types"),
])
def test_a_combination_no_server_should_accept_is_422(client, admin, body, field):
    problem = assert_problem(create(client, admin, **body), 422, "validation_error")
    assert field in problem["errors"], problem


def test_patch_changes_only_what_is_sent(client, admin):
    created = create(client, admin, first_party=True).get_json()
    response = client.patch(f"/admin/clients/{created['id']}", headers=admin,
                            json={"redirect_uris": ["https://shop.example/new"],
                                  "name": "Shop 2"})
    body = response.get_json()
    assert response.status_code == 200, body
    assert body["redirect_uris"] == ["https://shop.example/new"] and body["name"] == "Shop 2"
    assert body["first_party"] is True and body["grant_types"] == created["grant_types"]
    assert "client_secret" not in body or body["client_secret"] is None


def test_patch_checks_what_it_would_become(client, admin):
    created = create(client, admin).get_json()
    response = client.patch(f"/admin/clients/{created['id']}", headers=admin,
                            json={"redirect_uris": []})
    assert_problem(response, 422, "validation_error")
    response = client.patch(f"/admin/clients/{created['id']}", headers=admin,
                            json={"token_endpoint_auth_method": "none"})
    assert_problem(response, 422, "validation_error")  # not patchable: unknown field


def test_patching_an_unknown_client_is_404(client, admin):
    assert_problem(client.patch("/admin/clients/nope", headers=admin, json={"name": "x"}),
                   404, "not_found")


def test_patch_is_bound_by_delegation(app, client, auth_headers, admin):
    from authapi import db
    from authapi.admin import roles

    created = create(client, admin).get_json()
    with app.app_context():
        roles.create("client-writer", ["clients:write"])
        db.orm().commit()
    headers = auth_headers(("client-writer",))
    response = client.patch(f"/admin/clients/{created['id']}", headers=headers,
                            json={"scope": "users:write"})
    assert_problem(response, 403, "insufficient_scope")


def test_taking_scope_away_voids_the_clients_tokens(client, admin, client_token):
    created = client.post("/admin/clients", headers=admin,
                          json={"name": "svc", "scope": "orders:read orders:write"}).get_json()
    token = client_token(created).get_json()["access_token"]
    assert client.get("/auth/check", headers=bearer(token)).status_code == 200
    response = client.patch(f"/admin/clients/{created['id']}", headers=admin,
                            json={"scope": "orders:read"})
    assert response.status_code == 200
    assert_problem(client.get("/auth/check", headers=bearer(token)), 401, "token_revoked")


def test_disabling_a_client_refuses_its_tokens_and_credentials(client, admin, client_token):
    created = client.post("/admin/clients", headers=admin,
                          json={"name": "svc", "scope": ""}).get_json()
    token = client_token(created).get_json()["access_token"]
    response = client.patch(f"/admin/clients/{created['id']}", headers=admin,
                            json={"disabled": True})
    assert response.status_code == 200 and response.get_json()["disabled"] is True
    assert_problem(client.get("/auth/check", headers=bearer(token)), 401, "token_revoked")
    assert_oauth_error(client_token(created), 401, "invalid_client")


def jti_minted_in(seconds: float) -> str:
    """A UUIDv7 jti as tokens.new_jti mints one, `seconds` from now."""
    import os
    import time
    import uuid

    value = (int((time.time() + seconds) * 1000)) << 80 | int.from_bytes(os.urandom(10), "big")
    value = value & ~(0xF << 76) | 0x7 << 76
    return str(uuid.UUID(int=value & ~(0x3 << 62) | 0x2 << 62))


@pytest.mark.parametrize("change", ["narrow", "disable and enable"])
def test_a_clients_later_tokens_work_once_the_change_has_settled(client, admin, client_token,
                                                                  monkeypatch, change):
    """Voiding a client's tokens voids those minted before the change (and while other
    processes may still hold the old client row: a settle time of the poll interval and a
    second), not every token for one access TTL: a review found a narrowed or re-enabled
    client refused for 15 minutes. Later mints are made by moving new_jti's clock on."""
    from authapi.tokens import tokens

    created = client.post("/admin/clients", headers=admin,
                          json={"name": "svc", "scope": "orders:read orders:write"}).get_json()
    before = client_token(created).get_json()["access_token"]
    path = f"/admin/clients/{created['id']}"
    if change == "narrow":
        assert client.patch(path, headers=admin, json={"scope": "orders:read"}).status_code == 200
    else:
        assert client.patch(path, headers=admin, json={"disabled": True}).status_code == 200
        assert client.patch(path, headers=admin, json={"disabled": False}).status_code == 200
    settling = client_token(created).get_json()["access_token"]
    monkeypatch.setattr(tokens, "new_jti", lambda: jti_minted_in(5))
    settled = client_token(created)
    assert settled.status_code == 200, settled.get_json()
    assert client.get("/auth/check", headers=bearer(settled.get_json()["access_token"])
                      ).status_code == 200
    for void in (before, settling):
        assert_problem(client.get("/auth/check", headers=bearer(void)), 401, "token_revoked")
    if change == "narrow":
        assert settled.get_json()["scope"] == "orders:read"


def test_an_app_without_the_client_credentials_grant_cannot_use_it(client, admin):
    created = create(client, admin).get_json()
    response = client.post("/oauth/token", data={"grant_type": "client_credentials"},
                           headers=basic(created["client_id"], created["client_secret"]))
    assert_oauth_error(response, 400, "unauthorized_client")


def test_the_cli_registers_a_public_native_app(cli, app, client, admin):
    database = app.config["AUTHAPI_DATABASE_URL"]
    result = cli("clients", "create", "--name", "Tool", "--redirect-uri",
                 "http://127.0.0.1/callback", "--public", "--first-party", "--resource",
                 "https://api.example", "--require-dpop",
                 env={"AUTHAPI_DATABASE_URL": database})
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert set(answer) == {"client_id"}
    listed = client.get("/admin/clients", headers=admin).get_json()["items"]
    tool = next(item for item in listed if item["client_id"] == answer["client_id"])
    assert tool["token_endpoint_auth_method"] == "none" and tool["first_party"] is True
    assert tool["resources"] == ["https://api.example"] and tool["require_dpop"] is True


def test_the_cli_refuses_an_unsafe_redirect_uri(cli, app):
    result = cli("clients", "create", "--name", "Bad", "--redirect-uri", "http://evil.example/",
                 env={"AUTHAPI_DATABASE_URL": app.config["AUTHAPI_DATABASE_URL"]})
    assert result.returncode != 0 and "redirect_uris" in result.stderr


# --- matching a presented redirect URI ---------------------------------------------------

REGISTERED = ["https://shop.example/callback", "http://127.0.0.1/cb", "http://[::1]/cb",
              "http://localhost:3000/cb", "com.example.app:/oauth"]


@pytest.mark.parametrize(("presented", "ok"), [
    ("https://shop.example/callback", True),
    ("https://shop.example/callback/", False),
    ("https://shop.example/Callback", False),
    ("https://shop.example/callback?x=1", False),
    ("https://shop.example:443/callback", False),  # exact, character for character
    ("https://shop.example.evil/callback", False),
    ("http://127.0.0.1:51234/cb", True),  # RFC 8252 §7.3: any port on a loopback literal
    ("http://127.0.0.1/cb", True),
    ("http://[::1]:8080/cb", True),
    ("http://127.0.0.1:51234/other", False),
    ("http://127.0.0.1:51234/cb#x", False),
    ("http://localhost:3000/cb", True),
    ("http://localhost:3001/cb", False),  # a name is not a literal: exact only
    ("com.example.app:/oauth", True),
    ("com.example.app:/oauth2", False),
    ("http://127.0.0.1:bad/cb", False),
])
def test_redirect_matching(presented, ok):
    assert redirect_matches(REGISTERED, presented) is ok
