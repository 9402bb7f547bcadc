"""/admin/clients and `authapi clients`: register, list, rotate, delete."""

from __future__ import annotations

import json

import pytest

from conftest import assert_problem, bearer
from fixtures.oauth import assert_oauth_error, basic


@pytest.fixture
def admin(auth_headers) -> dict[str, str]:
    return auth_headers(("admin",))


def create(client, admin, **body):
    return client.post("/admin/clients", headers=admin,
                       json={"name": "orders", "scope": "orders:read", **body})


def test_create_answers_the_secret_once(client, admin):
    response = create(client, admin, scope="orders:write orders:read")
    body = response.get_json()
    assert response.status_code == 201, body
    assert {"id", "client_id", "client_secret", "name", "scope", "created_at"} <= set(body)
    assert body["scope"] == "orders:read orders:write" and len(body["client_secret"]) >= 43
    listed = client.get("/admin/clients", headers=admin).get_json()
    assert listed["total"] == 1 and listed["items"][0]["client_id"] == body["client_id"]
    assert "client_secret" not in listed["items"][0]


def test_the_secret_is_stored_only_as_a_keyed_hash(app, client, admin):
    from authapi import db
    from authapi.models import Client
    secret = create(client, admin).get_json()["client_secret"]
    with app.app_context():
        row = db.orm().query(Client).one()
        assert secret not in json.dumps({c: str(getattr(row, c)) for c in
                                         Client.__table__.columns.keys()})
        assert len(row.secret_hash) == 64


@pytest.mark.parametrize("method, path", [
    ("get", "/admin/clients"), ("post", "/admin/clients"),
    ("delete", "/admin/clients/x"), ("post", "/admin/clients/x/secret")])
def test_a_user_without_the_permission_is_refused(client, auth_headers, method, path):
    response = getattr(client, method)(path, headers=auth_headers(("user",)),
                                       json={"name": "n"} if method == "post" else None)
    assert_problem(response, 403, "insufficient_scope")
    assert_problem(getattr(client, method)(path), 401, "token_missing")


@pytest.mark.parametrize("body, field", [
    ({"roles": ["admin"]}, "roles"), ({"name": ""}, "name"), ({"scope": "a\x01b"}, "scope"),
    ({"jwks": {}}, "jwks"), ({"jwks": {"keys": [{"kty": "oct", "k": "abc"}]}}, "jwks"),
    ({"jwks_url": "ftp://example.com/jwks"}, "jwks_url")])
def test_bad_bodies_are_422(client, admin, body, field):
    body = assert_problem(create(client, admin, **body), 422, "validation_error")
    assert field in body["errors"]


def test_rotating_the_secret_stops_the_old_one_at_once(client, admin):
    created = create(client, admin).get_json()
    rotated = client.post(f"/admin/clients/{created['id']}/secret", headers=admin)
    assert rotated.status_code == 200
    new = rotated.get_json()["client_secret"]
    form = {"grant_type": "client_credentials"}
    old = client.post("/oauth/token", data=form, headers=basic(created["client_id"],
                                                               created["client_secret"]))
    assert_oauth_error(old, 401, "invalid_client")
    assert client.post("/oauth/token", data=form,
                       headers=basic(created["client_id"], new)).status_code == 200


def test_deleting_a_client_revokes_its_tokens(client, admin):
    created = create(client, admin).get_json()
    auth = basic(created["client_id"], created["client_secret"])
    token = client.post("/oauth/token", data={"grant_type": "client_credentials"},
                        headers=auth).get_json()["access_token"]
    assert client.get("/auth/check", headers=bearer(token)).status_code == 200
    assert client.delete(f"/admin/clients/{created['id']}", headers=admin).status_code == 204
    assert_problem(client.get("/auth/check", headers=bearer(token)), 401, "token_revoked")
    assert_oauth_error(client.post("/oauth/token", data={"grant_type": "client_credentials"},
                                   headers=auth), 401, "invalid_client")


@pytest.mark.parametrize("method, path", [("delete", "/admin/clients/{}"),
                                          ("post", "/admin/clients/{}/secret")])
def test_an_unknown_client_is_404(client, admin, method, path):
    for unknown in ("3f1e2c4a-0000-4000-8000-000000000000", "x" * 80):
        assert_problem(getattr(client, method)(path.format(unknown), headers=admin),
                       404, "not_found")


def test_a_key_set_client_gets_no_secret(client, admin, keypair):
    body = create(client, admin, jwks=keypair.jwks).get_json()
    assert body["client_secret"] is None
    assert body["token_endpoint_auth_method"] == "private_key_jwt"
    response = client.post(f"/admin/clients/{body['id']}/secret", headers=admin)
    assert_problem(response, 422, "validation_error")


def test_a_private_key_is_refused_as_a_client_key_set(client, admin, keypair):
    from jwt.algorithms import ECAlgorithm
    private = ECAlgorithm.to_jwk(keypair.private, as_dict=True)
    assert_problem(create(client, admin, jwks={"keys": [private]}), 422, "validation_error")


# --- the command line ------------------------------------------------------------------------

@pytest.fixture
def upgraded(cli, empty_database_url) -> dict[str, str]:
    env = {"AUTHAPI_DATABASE_URL": empty_database_url}
    assert cli("db", "upgrade", env=env).returncode == 0
    return env


def test_cli_create_prints_a_working_secret(cli, upgraded, make_app):
    result = cli("clients", "create", "--name", "billing", "--scope", "a b", env=upgraded)
    assert result.returncode == 0, result.stderr
    created = json.loads(result.stdout)
    assert set(created) == {"client_id", "client_secret"}
    app = make_app(AUTHAPI_DATABASE_URL=upgraded["AUTHAPI_DATABASE_URL"])
    response = app.test_client().post("/oauth/token", data={"grant_type": "client_credentials"},
                                      headers=basic(created["client_id"], created["client_secret"]))
    assert response.get_json()["scope"] == "a b"


def test_cli_create_with_a_key_set_prints_no_secret(cli, upgraded, keypair, tmp_path):
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(keypair.jwks))
    result = cli("clients", "create", "--name", "n", "--jwks-file", str(path), "--exchange",
                 env=upgraded)
    assert result.returncode == 0, result.stderr
    assert set(json.loads(result.stdout)) == {"client_id"}


def test_cli_refuses_a_bad_scope(cli, upgraded):
    result = cli("clients", "create", "--name", "n", "--scope", "a\"b", env=upgraded)
    assert result.returncode != 0 and "scope" in result.stderr


def test_cli_delete_ends_the_client(cli, upgraded, make_app):
    created = json.loads(cli("clients", "create", "--name", "n", env=upgraded).stdout)
    result = cli("clients", "delete", "--client-id", created["client_id"], env=upgraded)
    assert result.returncode == 0, result.stderr
    app = make_app(AUTHAPI_DATABASE_URL=upgraded["AUTHAPI_DATABASE_URL"])
    response = app.test_client().post("/oauth/token", data={"grant_type": "client_credentials"},
                                      headers=basic(created["client_id"], created["client_secret"]))
    assert_oauth_error(response, 401, "invalid_client")


def test_cli_create_with_audiences_records_them(cli, upgraded, make_app, auth_headers):
    result = cli("clients", "create", "--name", "gateway", "--exchange", "--audience",
                 "https://orders.example", "--audience", "https://billing.example", env=upgraded)
    assert result.returncode == 0, result.stderr
    client_id = json.loads(result.stdout)["client_id"]
    app = make_app(AUTHAPI_DATABASE_URL=upgraded["AUTHAPI_DATABASE_URL"])
    from authapi.oauth import clients
    with app.app_context():
        assert clients.caller(client_id).audiences == ("https://billing.example",
                                                      "https://orders.example")


def test_api_create_takes_and_shows_audiences(client, admin):
    response = client.post("/admin/clients", headers=admin, json={
        "name": "gw", "exchange": True, "audiences": ["https://orders.example"]})
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["audiences"] == ["https://orders.example"]


@pytest.mark.parametrize("audiences", [[""], ["has space"], ["x" * 256]])
def test_bad_audiences_are_422(client, admin, audiences):
    response = client.post("/admin/clients", headers=admin, json={"name": "gw",
                                                                  "audiences": audiences})
    assert response.status_code == 422, response.get_json()
