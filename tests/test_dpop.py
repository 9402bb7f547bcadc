"""DPoP on use (RFC 9449 §4.3, §7): a bound token needs a fresh proof by its key."""

from __future__ import annotations

import time

import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc import jwt
from joserfc.jwk import OctKey

from conftest import PASSWORD, assert_problem, bearer
from fixtures.dpop import DpopClient, dpop_login

ME = "/auth/me"


@pytest.fixture
def key() -> DpopClient:
    return DpopClient()


@pytest.fixture
def bound(client, make_user, key):
    """A DPoP-bound access token of a fresh user, logged in with `key`."""
    make_user(email="bound@example.com")
    return dpop_login(client, "bound@example.com", key, PASSWORD)["access_token"]


def refused(response, code="invalid_dpop_proof", challenge='DPoP error="invalid_dpop_proof"'):
    assert_problem(response, 401, code)
    assert response.headers["WWW-Authenticate"].startswith(challenge)


@pytest.mark.parametrize("alg", ["ES256", "EdDSA", "RS256", "PS256"])
def test_a_third_party_client_obtains_and_uses_a_bound_token(client, make_user, alg):
    key, email = DpopClient(alg), f"{alg.lower()}@example.com"
    make_user(email=email)
    login = dpop_login(client, email, key, PASSWORD)
    assert login["token_type"] == "DPoP"
    token = login["access_token"]
    response = client.get(ME, headers=key.headers("GET", ME, token))
    assert response.status_code == 200, response.get_json()


def test_the_access_token_names_the_key_by_its_rfc7638_thumbprint(app, bound, key):
    from authapi.tokens import tokens

    with app.app_context():
        assert tokens.decode(bound, tokens.ACCESS)["cnf"] == {"jkt": key.jkt}


def test_a_bound_token_as_bearer_is_refused(client, bound):
    refused(client.get(ME, headers=bearer(bound)), "token_invalid", 'DPoP error="invalid_token"')


def test_a_bound_token_without_a_proof_is_refused(client, bound):
    refused(client.get(ME, headers={"Authorization": f"DPoP {bound}"}))


def test_a_proof_by_another_key_is_refused(client, bound):
    refused(client.get(ME, headers=DpopClient().headers("GET", ME, bound)))


@pytest.mark.parametrize(("method", "url"), [
    ("POST", ME), ("GET", "/auth/sessions"), ("GET", "https://localhost/auth/me"),
    ("GET", "http://evil.example/auth/me"), ("GET", "http://localhost:8080/auth/me"),
    ("GET", "http://localhost/auth/me"),  # the Host header's URL, not the public one
])
def test_a_proof_for_another_method_or_url_is_refused(client, bound, key, method, url):
    proof = key.proof(method, url, bound)
    refused(client.get(ME, headers={"Authorization": f"DPoP {bound}", "DPoP": proof}))


@pytest.mark.parametrize("url", [
    "http://localhost:8000/auth/me?page=2", "HTTP://LocalHost:8000/auth/me#top",
    "http://localhost:8000/auth/%6De",
])
def test_htu_is_compared_after_normalisation(client, bound, key, url):
    proof = key.proof("GET", url, bound)
    response = client.get(ME + "?x=1", headers={"Authorization": f"DPoP {bound}", "DPoP": proof})
    assert response.status_code == 200, response.get_json()


def test_htu_names_the_public_url_whatever_host_the_client_sends(client, bound, key):
    """Probe low: htu was checked against the Host header the client chose."""
    proof = key.proof("GET", "http://evil.example/auth/me", bound)
    refused(client.get(ME, headers={"Authorization": f"DPoP {bound}", "DPoP": proof,
                                    "Host": "evil.example"}))
    proof = key.proof("GET", "http://localhost:8000/auth/me", bound)
    response = client.get(ME, headers={"Authorization": f"DPoP {bound}", "DPoP": proof,
                                       "Host": "evil.example"})
    assert response.status_code == 200, response.get_json()


def test_htu_follows_the_configured_issuer(make_app, make_user, key):
    make_user(email="iss@example.com")
    client = make_app(AUTHAPI_ISSUER="https://auth.example.com/").test_client()
    response = client.post("/auth/login", json={"email": "iss@example.com",
                                                "password": PASSWORD},
                           headers={"DPoP": key.proof("POST", "https://auth.example.com"
                                                              "/auth/login")})
    assert response.status_code == 200, response.get_json()
    response = client.post("/auth/login", json={"email": "iss@example.com",
                                                "password": PASSWORD},
                           headers={"DPoP": key.proof("POST", "/auth/login")})
    assert_problem(response, 401, "invalid_dpop_proof")


@pytest.mark.parametrize("age", [-120, 120])
def test_an_old_or_future_proof_is_refused(client, bound, key, age):
    refused(client.get(ME, headers=key.headers("GET", ME, bound, iat=int(time.time()) - age)))


def test_a_replayed_proof_is_refused(client, bound, key):
    headers = key.headers("GET", ME, bound)
    assert client.get(ME, headers=headers).status_code == 200
    refused(client.get(ME, headers=headers))


@pytest.mark.parametrize("value", ["not-the-hash", None])
def test_a_wrong_or_missing_ath_is_refused(client, bound, key, value):
    refused(client.get(ME, headers=key.headers("GET", ME, bound, ath=value)))


def test_a_private_key_in_the_jwk_is_refused(client, bound, key):
    proof = key.proof("GET", ME, bound, header={"jwk": key.key.as_dict(private=True)})
    refused(client.get(ME, headers={"Authorization": f"DPoP {bound}", "DPoP": proof}))


def test_a_symmetric_alg_is_refused(client, bound):
    secret = OctKey.generate_key(256)
    header = {"typ": "dpop+jwt", "alg": "HS256", "jwk": secret.as_dict()}
    proof = jwt.encode(header, {"jti": "j", "htm": "GET", "htu": "http://localhost/auth/me",
                                "iat": int(time.time())}, secret)
    refused(client.get(ME, headers={"Authorization": f"DPoP {bound}", "DPoP": proof}))


@pytest.mark.parametrize("typ", ["JWT", "at+jwt", None])
def test_a_proof_without_the_dpop_type_is_refused(client, bound, key, typ):
    if typ is None:  # joserfc always writes a typ; PyJWT drops a falsy one
        claims = pyjwt.decode(key.proof("GET", ME, bound), options={"verify_signature": False})
        proof = pyjwt.encode(claims, key.key.as_pem(private=True), "ES256",
                             headers={"typ": None, "jwk": key.key.as_dict(private=False)})
    else:
        proof = key.proof("GET", ME, bound, header={"typ": typ})
    assert pyjwt.get_unverified_header(proof).get("typ") == typ
    refused(client.get(ME, headers={"Authorization": f"DPoP {bound}", "DPoP": proof}))


@pytest.mark.parametrize("proof", ["", "x", "a.b.c", "e30.e30.", "x" * 9000, "é.é.é"])
def test_a_malformed_proof_is_refused(client, bound, proof):
    refused(client.get(ME, headers={"Authorization": f"DPoP {bound}", "DPoP": proof}))


def test_an_unbound_token_keeps_working_as_bearer(client, auth_headers):
    assert client.get(ME, headers=auth_headers()).status_code == 200


def test_an_unbound_token_on_the_dpop_scheme_is_refused(client, auth_headers, key):
    token = auth_headers()["Authorization"].split()[1]
    refused(client.get(ME, headers=key.headers("GET", ME, token)), "token_invalid",
            'DPoP error="invalid_token"')


@pytest.mark.parametrize("signer", ["stranger_key_real_kid", "alg_none"])
def test_a_token_forged_for_the_attackers_own_key_is_refused(client, bound, signer):
    # The attacker copies the victim's claims, binds them to a key of their own and
    # proves that key correctly: only the token's own signature can stop this.
    attacker = DpopClient()
    claims = pyjwt.decode(bound, options={"verify_signature": False})
    claims["cnf"] = {"jkt": attacker.jkt}
    header = {k: v for k, v in pyjwt.get_unverified_header(bound).items() if k != "alg"}
    if signer == "alg_none":
        token = pyjwt.encode(claims, None, "none", headers=header)
    else:
        stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        token = pyjwt.encode(claims, stranger, "RS256", headers=header)
    refused(client.get(ME, headers=attacker.headers("GET", ME, token)), "token_invalid",
            'DPoP error="invalid_token"')


def test_a_bound_token_of_a_logged_out_session_is_refused(client, bound, key):
    assert client.post("/auth/logout", headers=key.headers("POST", "/auth/logout",
                                                           bound)).status_code == 204
    refused(client.get(ME, headers=key.headers("GET", ME, bound)), "token_revoked",
            'DPoP error="invalid_token"')


def test_a_reused_bound_refresh_token_is_refused_even_with_its_key(client, make_user, key):
    make_user(email="reuse@example.com")
    old = dpop_login(client, "reuse@example.com", key, PASSWORD)["refresh_token"]
    for expected in (200, 401):
        response = client.post("/auth/refresh", headers={
            **bearer(old), "DPoP": key.proof("POST", "/auth/refresh")})
        assert response.status_code == expected, response.get_json()
    assert_problem(response, 401, "token_reused")


def test_an_expired_bound_token_gets_the_dpop_challenge(make_app, make_user, key):
    client = make_app(AUTHAPI_ACCESS_TTL=-1).test_client()
    email = "expired@example.com"
    make_user(email=email)
    token = dpop_login(client, email, key, PASSWORD)["access_token"]
    refused(client.get(ME, headers=key.headers("GET", ME, token)), "token_expired",
            'DPoP error="invalid_token"')


def test_a_short_rsa_key_is_refused(client, make_user):
    from joserfc.jwk import RSAKey

    weak = DpopClient("RS256")
    with pytest.warns(UserWarning, match="2048"):  # joserfc warns, and signs anyway
        weak.key = RSAKey.generate_key(1024, private=True)
    make_user(email="weak@example.com")
    response = client.post("/auth/login", json={"email": "weak@example.com", "password": PASSWORD},
                           headers={"DPoP": weak.proof("POST", "/auth/login")})
    refused(response)
