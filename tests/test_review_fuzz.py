"""Signed claims a fuzzer chose, and the OpenAPI document's request bodies: a DPoP proof or
a client assertion, validly signed, whose `jti` is a lone surrogate (JSON can carry
"\\ud800") is a string like any other -- taken once, at /auth/login, at /oauth/token and
by the resource verifier, and refused as a replay the second time, never a 500 from the
replay key's hashing; and /openapi.json gives POST /oauth/register its JSON body and
POST /auth/refresh its optional `{refresh_token}` body.

The proofs with such a jti are signed with PyJWT by the key of tests/fixtures/dpop.py's
prover: its own signer (joserfc) cannot encode a lone surrogate, where PyJWT's
`json.dumps` writes it as the JSON escape. The resource case runs a real `authapi serve`
and a resource service (tests/test_resource.py's fixtures).
The cases came from the review of 2026-12-05 (second session).
"""

from __future__ import annotations

import time
from typing import Any

import jwt

from conftest import PASSWORD, assert_problem
from fixtures.dpop import BASE, DpopClient, ath
from fixtures.oauth import ASSERTION_TYPE, assert_oauth_error, basic
from test_resource import ISSUER, authapi_server, get_with, resource  # noqa: F401  (fixtures)
from test_resource import dpop_login as live_dpop_login

EMAIL = "dpop-fuzz@example.com"


def claims_of(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


def proof_with_jti(key: DpopClient, method: str, path_or_url: str, jti: str,
                   token: str | None = None) -> str:
    """`key`'s proof for a request (RFC 9449 §4.2) with this `jti`, signed with PyJWT."""
    url = path_or_url if "://" in path_or_url else BASE + path_or_url
    payload: dict[str, Any] = {"jti": jti, "htm": method, "htu": url, "iat": int(time.time())}
    if token is not None:
        payload["ath"] = ath(token)
    return jwt.encode(payload, key.key.private_key, algorithm=key.alg,
                      headers={"typ": "dpop+jwt", "jwk": key.key.as_dict(private=False)})


def resolved(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """A schema of the document, with a `$ref` to its components followed."""
    if "$ref" in schema:
        return doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


# --- a lone surrogate as the jti ----------------------------------------------------------

def test_a_login_proof_whose_jti_is_a_lone_surrogate_binds_once_and_is_then_a_replay(
        client, make_user):
    """API.md, DPoP: "A client that sends a `DPoP` proof header with `POST /auth/login` ...
    gets tokens bound to the proof's key", and a proof is checked for "a `jti` not seen
    before within that window" (RFC 9449 §11.1); "No input, however malformed, produces
    a 5xx." A jti of "\\ud800" is a JSON string: the proof binds the tokens, and the same
    proof again is a replay (401 `invalid_dpop_proof`). Hashing it into the replay key
    (`.encode()`) raised UnicodeEncodeError: 500."""
    make_user(email=EMAIL)
    key = DpopClient()
    proof = proof_with_jti(key, "POST", "/auth/login", "\ud800")
    credentials = {"email": EMAIL, "password": PASSWORD}
    first = client.post("/auth/login", json=credentials, headers={"DPoP": proof})
    assert first.status_code == 200, (first.status_code, first.get_data(as_text=True)[:300])
    assert first.get_json()["token_type"] == "DPoP"
    assert claims_of(first.get_json()["access_token"])["cnf"] == {"jkt": key.jkt}
    replayed = client.post("/auth/login", json=credentials, headers={"DPoP": proof})
    assert_problem(replayed, 401, "invalid_dpop_proof")
    assert replayed.headers["WWW-Authenticate"].startswith('DPoP error="invalid_dpop_proof"')


def test_a_token_endpoint_proof_whose_jti_is_a_lone_surrogate_binds_once_and_is_then_a_replay(
        client, make_client):
    """API.md, DPoP: a proof with "`/oauth/token` gets tokens bound to the proof's key",
    its `jti` "not seen before within that window"; "No input, however malformed,
    produces a 5xx." A service's client_credentials request with a proof whose jti is
    "\\udfff" gets a DPoP token; the same proof again is refused in RFC 6749 §5.2 form
    (400 `invalid_dpop_proof`, RFC 9449 §5)."""
    registered = make_client()
    key = DpopClient()
    headers = {**basic(registered["client_id"], registered["client_secret"]),
               "DPoP": proof_with_jti(key, "POST", "/oauth/token", "\udfff")}
    form = {"grant_type": "client_credentials"}
    first = client.post("/oauth/token", data=form, headers=headers)
    assert first.status_code == 200, (first.status_code, first.get_data(as_text=True)[:300])
    assert first.get_json()["token_type"] == "DPoP"
    assert claims_of(first.get_json()["access_token"])["cnf"] == {"jkt": key.jkt}
    assert_oauth_error(client.post("/oauth/token", data=form, headers=headers), 400,
                       "invalid_dpop_proof")


def test_a_client_assertion_whose_jti_is_a_lone_surrogate_is_taken_once(
        client, make_client, keypair):
    """API.md, POST /oauth/token: `private_key_jwt` (RFC 7523) with "a `jti` accepted
    once"; "No input, however malformed, produces a 5xx." An assertion signed by the
    client's registered key with jti "\\ud800" authenticates the client; the same
    assertion again is `invalid_client` (401, `WWW-Authenticate: Basic`). The used-jti
    key hashed `f"{client_id}\\x00{jti}".encode()`: UnicodeEncodeError, 500."""
    registered = make_client(jwks=keypair.jwks)
    form = {"grant_type": "client_credentials", "client_id": registered["client_id"],
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": keypair.assertion(registered["client_id"], jti="\ud800")}
    first = client.post("/oauth/token", data=form)
    assert first.status_code == 200, (first.status_code, first.get_data(as_text=True)[:300])
    assert claims_of(first.get_json()["access_token"])["sub"] == registered["client_id"]
    replayed = client.post("/oauth/token", data=form)
    assert_oauth_error(replayed, 401, "invalid_client")
    assert replayed.headers["WWW-Authenticate"].startswith("Basic")


def test_the_resource_verifier_takes_a_proof_whose_jti_is_a_lone_surrogate_once(
        resource, authapi_server):  # noqa: F811
    """API.md, DPoP: "the resource verifier checks proofs" -- a bound token needs "a fresh
    `DPoP` proof", and "a missing, invalid, replayed or other-key proof ... answers 401
    ... `invalid_dpop_proof`". authapi.resource.Verifier keys its replay cache by
    `proofs.Proof.replay_key()`, which raised UnicodeEncodeError for a jti of "\\ud800":
    the host service answered 500. Now the proof is taken, and its replay refused."""
    key = DpopClient()
    token = live_dpop_login(authapi_server, key)
    _, base = resource()
    headers = {"Authorization": f"DPoP {token}",
               "DPoP": proof_with_jti(key, "GET", base + "/me", "\ud800", token)}
    status, body, _ = get_with(base + "/me", headers)
    assert status == 200, (status, body)
    assert body["iss"] == ISSUER and body["cnf"] == {"jkt": key.jkt}
    status, body, answered = get_with(base + "/me", headers)
    assert (status, body["code"]) == (401, "invalid_dpop_proof"), (status, body)
    assert answered["WWW-Authenticate"].startswith('DPoP error="invalid_dpop_proof"')


# --- the OpenAPI document's request bodies ------------------------------------------------

def test_dynamic_registration_documents_its_json_body(make_app):
    """API.md, Operations: "GET /openapi.json: the OpenAPI 3 document of every endpoint
    above", and POST /oauth/register takes "client metadata JSON (`redirect_uris`
    required ...)". The operation had no requestBody, so a generated client (or
    schemathesis) could not know it takes a body, let alone which fields."""
    doc = make_app(AUTHAPI_REGISTRATION="open").test_client().get("/openapi.json").get_json()
    operation = doc["paths"]["/oauth/register"]["post"]
    assert "requestBody" in operation, sorted(operation)
    body = operation["requestBody"]
    assert body["required"] is True
    schema = resolved(doc, body["content"]["application/json"]["schema"])
    assert "redirect_uris" in schema["properties"]
    assert "redirect_uris" in schema["required"]


def test_refresh_documents_its_optional_json_body(client):
    """API.md: POST /auth/refresh takes the refresh token "as `Authorization: Bearer`, or
    `{refresh_token}`, or cookie"; the document named the header and the cookie only.
    The body is optional (the header or the cookie will do)."""
    doc = client.get("/openapi.json").get_json()
    operation = doc["paths"]["/auth/refresh"]["post"]
    assert "requestBody" in operation, sorted(operation)
    body = operation["requestBody"]
    assert body.get("required", False) is False
    schema = resolved(doc, body["content"]["application/json"]["schema"])
    assert "refresh_token" in schema["properties"]
