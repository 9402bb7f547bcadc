"""Protected-resource metadata (RFC 9728, issue 22 item 3): authapi's own API, and a
resource service guarded by `authapi.resource.Verifier` that names its metadata in every
401 challenge, so a client (an MCP client, say) finds the authorization server."""

from __future__ import annotations

from flask import Flask

from authapi.resource import Verifier
from conftest import assert_problem


def test_authapi_describes_its_own_api(client):
    response = client.get("/.well-known/oauth-protected-resource")
    body = response.get_json()
    assert response.status_code == 200
    assert body["resource"] == "http://localhost:8000"
    assert body["authorization_servers"] == ["http://localhost:8000"]
    assert body["bearer_methods_supported"] == ["header"]
    assert "users:read" in body["scopes_supported"]
    assert "ES256" in body["dpop_signing_alg_values_supported"]


def service(audience: str) -> Flask:
    verifier = Verifier("https://auth.example", audience,
                        jwks_url="https://auth.example/.well-known/jwks.json",
                        scopes=("orders:read",))
    app = Flask("orders")
    verifier.init_app(app)

    @app.get("/orders")
    @verifier.scopes_required("orders:read")
    def orders():
        return {"orders": []}

    return app


def test_a_resource_service_serves_its_metadata():
    client = service("https://orders.example/api").test_client()
    body = client.get("/.well-known/oauth-protected-resource/api").get_json()
    assert body == {"resource": "https://orders.example/api",
                    "authorization_servers": ["https://auth.example"],
                    "scopes_supported": ["orders:read"], "bearer_methods_supported": ["header"],
                    "dpop_signing_alg_values_supported": ["ES256", "EdDSA", "RS256", "PS256"]}


def test_its_401_names_the_metadata():
    client = service("https://orders.example").test_client()
    response = client.get("/orders")
    assert_problem(response, 401, "token_missing")
    assert response.headers["WWW-Authenticate"] == (
        'Bearer resource_metadata="https://orders.example/.well-known/oauth-protected-resource"')
    response = client.get("/orders", headers={"Authorization": "Bearer not.a.token"})
    assert_problem(response, 401, "token_invalid")
    assert response.headers["WWW-Authenticate"] == (
        'Bearer error="invalid_token", resource_metadata='
        '"https://orders.example/.well-known/oauth-protected-resource"')


def test_an_audience_that_is_no_url_serves_no_metadata():
    client = service("orders").test_client()
    assert client.get("/.well-known/oauth-protected-resource").status_code == 404
    assert client.get("/orders").headers["WWW-Authenticate"] == "Bearer"
