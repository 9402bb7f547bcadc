"""Hostile input the review of 2026-12-05 found a way through: a password longer than
the hashing library takes, a client key set holding text no column can store, and a
malformed registration body on an /oauth/* endpoint (RFC 6749 §5.2 form, never a problem
code)."""

from __future__ import annotations

import json

from conftest import PASSWORD, assert_problem

LONG = "a" * 5000  # over passlib's 4096-character MAX_PASSWORD_SIZE


def test_login_with_unknown_email_and_very_long_password_is_401_not_500(client, make_user):
    # Contract: "No input, however malformed, produces a 5xx" and "A wrong password and an
    # unknown email get the same answer". A known email with the same password answers 401.
    known = make_user(email="known@example.com")
    assert known
    known_answer = client.post("/auth/login",
                               json={"email": "known@example.com", "password": LONG})
    assert_problem(known_answer, 401, "invalid_credentials")
    unknown_answer = client.post("/auth/login",
                                 json={"email": "nobody@example.com", "password": LONG})
    assert_problem(unknown_answer, 401, "invalid_credentials")


def _admin_headers(client, make_user):
    admin = make_user(email="root@example.com", roles=("admin",))
    assert admin
    token = client.post("/auth/login", json={"email": "root@example.com",
                                             "password": PASSWORD}).get_json()["access_token"]
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


def test_client_jwks_with_a_lone_surrogate_is_422(client, make_user, keypair):
    # Contract: "A lone surrogate or other invalid Unicode in any field is a 422, never a 5xx."
    headers = _admin_headers(client, make_user)
    jwks = json.dumps({"keys": [{**keypair.jwk, "kid": "KID"}]}).replace("KID", "\\ud800")
    body = '{"name": "svc", "scope": "", "jwks": ' + jwks + "}"
    response = client.post("/admin/clients", data=body, headers=headers)
    assert_problem(response, 422, "validation_error")
    listed = client.get("/admin/clients", headers=headers).get_json()
    assert listed["total"] == 0  # nothing stored


def test_dynamic_registration_malformed_json_answers_an_rfc_error_code(make_app):
    # RFC 7591 §3.2.2 / RFC 6749 §5.2: the `error` of an /oauth/* endpoint is one of the
    # registered codes (invalid_client_metadata, invalid_redirect_uri, invalid_request...),
    # never the problem+json code "bad_request".
    client = make_app(AUTHAPI_REGISTRATION="open").test_client()
    for data, ctype in [(b'{"redirect_uris": ', "application/json"),
                        (b"", "application/json"),
                        (b'{"redirect_uris": ["https://a.example/cb"]}', "text/plain")]:
        response = client.post("/oauth/register", data=data, headers={"Content-Type": ctype})
        body = response.get_json()
        assert response.status_code == 400, (data, ctype, response.status_code, body)
        assert body["error"] in {"invalid_client_metadata", "invalid_request"}, (data, ctype, body)



def test_a_client_key_set_is_for_signatures_with_string_members(client, make_user, keypair):
    """RFC 7517 §4: `kid`, `alg` and `use` are strings; an assertion key's `use` is sig."""
    headers = _admin_headers(client, make_user)
    for bend in ({"kid": {}}, {"use": "enc"}, {"kid": "a\u0000b"}):
        body = {"name": "svc", "scope": "", "jwks": {"keys": [{**keypair.jwk, **bend}]}}
        assert_problem(client.post("/admin/clients", json=body, headers=headers), 422,
                       "validation_error")
    body = {"name": "svc", "scope": "", "jwks": {"keys": [{**keypair.jwk, "use": "sig"}]}}
    assert client.post("/admin/clients", json=body, headers=headers).status_code == 201
