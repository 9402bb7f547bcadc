"""Errors are problem+json with the contract's codes; no input gives a 5xx; ops endpoints."""

import json

import pytest

from conftest import PASSWORD, PROBLEM, assert_problem

JSON = "application/json"


@pytest.mark.parametrize(("method", "path"), [("get", "/nope"), ("post", "/auth/nope"),
                                              ("get", "/auth/sessions/a/b"), ("get", "/admin")])
def test_unknown_path_is_404_not_found(client, method, path):
    assert_problem(getattr(client, method)(path), 404, "not_found")


@pytest.mark.parametrize(("method", "path", "allowed"), [
    ("get", "/auth/login", "POST"),
    ("put", "/auth/register", "POST"),
    ("post", "/auth/me", "GET"),
    ("post", "/healthz", "GET"),
    ("get", "/auth/sessions/x", "DELETE"),
])
def test_wrong_method_is_405_with_allow(client, method, path, allowed):
    response = getattr(client, method)(path)
    assert_problem(response, 405, "method_not_allowed")
    assert allowed in [m.strip() for m in response.headers["Allow"].split(",")]


@pytest.mark.parametrize("path", ["/auth/register", "/auth/login", "/auth/refresh"])
def test_body_over_64_kib_is_413(client, path):
    body = json.dumps({"email": "a@example.com", "password": "x" * (65 * 1024)})
    response = client.post(path, data=body, content_type=JSON)
    assert_problem(response, 413, "payload_too_large")


def test_body_of_exactly_64_kib_is_not_413(client):
    prefix = '{"email": "a@example.com", "password": "'
    body = prefix + "x" * (64 * 1024 - len(prefix) - 2) + '"}'
    assert len(body) == 64 * 1024
    assert client.post("/auth/register", data=body, content_type=JSON).status_code == 422


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          "application/xml"])
def test_non_json_body_is_415(client, content_type):
    body = json.dumps({"email": "a@example.com", "password": PASSWORD})
    response = client.post("/auth/register", data=body, content_type=content_type)
    assert_problem(response, 415, "unsupported_media_type")


@pytest.mark.parametrize("data", ['{"email": ', "{'email': 'a'}", "not json", "{}}", "\xff"])
@pytest.mark.parametrize("path", ["/auth/register", "/auth/login"])
def test_malformed_json_is_400_bad_request(client, path, data):
    assert_problem(client.post(path, data=data, content_type=JSON), 400, "bad_request")


@pytest.mark.parametrize("path", ["/auth/register", "/auth/login", "/auth/password"])
def test_missing_body_is_400_bad_request(client, auth_headers, path):
    response = client.post(path, headers=auth_headers(), content_type=JSON)
    assert_problem(response, 400, "bad_request")


@pytest.mark.parametrize("data", ["[" * 50000, '{"a":' * 10000 + "1" + "}" * 10000])
@pytest.mark.parametrize("path", ["/auth/register", "/auth/login", "/auth/refresh"])
def test_deeply_nested_json_is_400_not_500(client, path, data):
    assert_problem(client.post(path, data=data, content_type=JSON), 400, "bad_request")


@pytest.mark.parametrize("data", ["[]", '["a@example.com", "pw"]', '"text"', "42", "null"])
@pytest.mark.parametrize("path", ["/auth/register", "/auth/login"])
def test_json_that_is_not_an_object_is_422(client, path, data):
    response = client.post(path, data=data, content_type=JSON)
    assert_problem(response, 422, "validation_error")
    assert "errors" in response.get_json()


def test_validation_error_lists_fields(client):
    response = client.post("/auth/register", json={"email": 7})
    assert_problem(response, 422, "validation_error")
    assert set(response.get_json()["errors"]) >= {"email", "password"}


HOSTILE = [
    {"email": "a" * 60000 + "@example.com", "password": PASSWORD},
    {"email": "a@example.com", "password": "p" * 60000},
    {"email": "nul\x00l@example.com", "password": PASSWORD},
    {"email": "a@example.com", "password": "pass\x00word-with-nul"},
    {"email": "ü@exämple.com", "password": "pässwörd-ünïcödé-☃"},
    {"email": "a@example.com", "password": "\udfff\ud800 lone surrogates"},
    {"email": "'; DROP TABLE users; --@example.com", "password": PASSWORD},
    {"email": "a@example.com", "password": "😀" * 300},
    {"email": 123, "password": PASSWORD},
    {"email": None, "password": None},
    {"email": ["a@example.com"], "password": {"$ne": ""}},
    {"email": {"$gt": ""}, "password": PASSWORD},
    {"email": "a@example.com", "password": True},
    {"email": "a@example.com", "password": 1e308},
    {"email": "a@example.com", "password": PASSWORD, "use_cookies": "maybe"},
    {"email": "a@example.com", "password": PASSWORD, "display_name": ["x"]},
    {"email": "a@example.com", "password": PASSWORD, "display_name": "nul\x00name"},
    {"email": "a@example.com", "password": PASSWORD, "otp": 123456},
    {"": "", "\x00": "\x00"},
]


def assert_not_5xx(response):
    assert response.status_code < 500, response.get_json()
    if response.status_code >= 400:
        assert response.content_type == PROBLEM
        assert response.get_json()["code"]


@pytest.mark.parametrize("body", HOSTILE)
def test_hostile_register_never_gives_5xx(client, body):
    assert_not_5xx(client.post("/auth/register", data=json.dumps(body), content_type=JSON))


@pytest.mark.parametrize("body", HOSTILE)
def test_hostile_login_never_gives_5xx(client, make_user, body):
    make_user(email="a@example.com")
    assert_not_5xx(client.post("/auth/login", data=json.dumps(body), content_type=JSON))


@pytest.mark.parametrize("header", ["Bearer \x00", "Bearer " + "é" * 100, "Bearer " + "a" * 60000,
                                    "Bearer eyJ" + "A" * 500, "Bearer ..", "\x7f"])
@pytest.mark.parametrize("path", ["/auth/me", "/auth/check", "/auth/refresh"])
def test_hostile_authorization_header_is_401(client, path, header):
    response = client.open(path, method="POST" if path == "/auth/refresh" else "GET",
                           headers={"Authorization": header})
    assert response.status_code == 401
    assert response.content_type == PROBLEM


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_health_endpoints_answer_200(client, path):
    response = client.get(path)
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_openapi_document_lists_the_auth_endpoints(client):
    response = client.get("/openapi.json")
    document = json.loads(response.get_data(as_text=True))
    assert response.status_code == 200
    assert document["openapi"].startswith("3.")
    assert {"/auth/login", "/auth/register", "/auth/refresh", "/auth/check"} <= set(
        document["paths"])
    assert "post" in document["paths"]["/auth/login"]


def test_docs_page_is_html_with_local_assets(client):
    response = client.get("/docs")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert "/docs/assets/" in page
    assert "cdn" not in page.lower()


def test_docs_assets_are_served(client):
    with client.get("/docs/assets/swagger-ui-bundle.js") as response:
        assert response.status_code == 200
        assert "javascript" in response.mimetype
        assert len(response.get_data()) > 10_000


def test_docs_asset_path_cannot_escape(client):
    response = client.get("/docs/assets/../../../../etc/passwd")
    assert response.status_code == 404
    assert b"root:" not in response.get_data()
