"""authapi.resource: a separate Flask service verifying a live authapi's tokens over HTTP."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask
from werkzeug.serving import make_server

from authapi.resource import Verifier
from conftest import PASSWORD

ISSUER = AUDIENCE = "http://localhost:8000"  # the server's defaults


@pytest.fixture
def authapi_server(serve):
    """A real `authapi serve` that picks up a rotated key on the next token it signs."""
    return serve("--workers", "1", env={"AUTHAPI_KEY_REFRESH_INTERVAL": "0",
                                        "AUTHAPI_ISSUER": ISSUER})


@pytest.fixture
def user_token(authapi_server) -> Callable[[], str]:
    credentials = {"email": "svc-user@example.com", "password": PASSWORD}
    assert authapi_server.request("POST", "/auth/register", credentials)[0] == 201
    return lambda: authapi_server.request("POST", "/auth/login", credentials)[1]["access_token"]


@pytest.fixture
def resource(authapi_server) -> Iterator[Callable[..., tuple[Verifier, str]]]:
    """Start a resource service on loopback with a Verifier; returns (verifier, base URL)."""
    servers = []

    def start(**options) -> tuple[Verifier, str]:
        options.setdefault("jwks_url", authapi_server.base_url + "/.well-known/jwks.json")
        verifier = Verifier(ISSUER, options.pop("audience", AUDIENCE), **options)
        app = Flask("orders")
        verifier.init_app(app)
        for path, guard in (("/me", verifier.access_required),
                            ("/admin", verifier.roles_required("admin")),
                            ("/scoped", verifier.scopes_required("orders:read"))):
            app.add_url_rule(path, path, guard(verifier.current_claims))
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return verifier, f"http://127.0.0.1:{server.server_port}"

    yield start
    for server in servers:
        server.shutdown()


def get(url: str, token: str | None) -> tuple[int, dict, dict]:
    return get_with(url, {"Authorization": f"Bearer {token}"} if token else {})


def get_with(url: str, headers: dict[str, str]) -> tuple[int, dict, dict]:
    request = urllib.request.Request(url, headers=headers)  # noqa: S310  (loopback)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
            return answer.status, json.loads(answer.read()), dict(answer.headers)
    except urllib.error.HTTPError as exc:
        body, headers = json.loads(exc.read()), dict(exc.headers)
        exc.close()
        return exc.code, body, headers


def test_a_user_token_is_verified_through_the_jwks(resource, user_token):
    _, base = resource()
    token = user_token()
    status, body, _ = get(base + "/me", token)
    assert status == 200 and body["sub"] == jwt.decode(
        token, options={"verify_signature": False})["sub"]


@pytest.mark.parametrize("path, token, status, code", [
    ("/me", None, 401, "token_missing"),
    ("/me", "garbage", 401, "token_invalid"),
    ("/admin", "USER", 403, "insufficient_role"),
    ("/scoped", "USER", 403, "insufficient_scope"),
])
def test_the_verifiers_refusals_are_the_contracts(resource, user_token, path, token, status,
                                                  code):
    _, base = resource()
    answer = get(base + path, user_token() if token == "USER" else token)
    assert (answer[0], answer[1]["code"]) == (status, code)
    assert answer[2]["Content-Type"] == "application/problem+json"
    assert answer[2]["WWW-Authenticate"].startswith("Bearer")


def test_forged_expired_and_refresh_tokens_are_refused(resource, authapi_server, serve):
    _, base = resource()
    credentials = {"email": "svc-user@example.com", "password": PASSWORD}
    assert authapi_server.request("POST", "/auth/register", credentials)[0] == 201
    pair = authapi_server.request("POST", "/auth/login", credentials)[1]
    token = pair["access_token"]
    assert get(base + "/me", token)[0] == 200
    header = {k: v for k, v in jwt.get_unverified_header(token).items() if k != "alg"}
    claims = jwt.decode(token, options={"verify_signature": False})
    head, payload, signature = token.split(".")
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    # A second instance on the same database signs with the same key, minting expired tokens.
    expired = serve("--workers", "1", env={"AUTHAPI_ACCESS_TTL": "-1",
                                           "AUTHAPI_ISSUER": ISSUER}).request(
        "POST", "/auth/login", credentials)[1]["access_token"]
    refused = {
        "stranger_key_real_kid": (jwt.encode(claims, stranger, "RS256", headers=header),
                                  "token_invalid"),
        "alg_none": (jwt.encode(claims, None, "none", headers=header), "token_invalid"),
        "flipped_signature": (f"{head}.{payload}.{signature[:-4]}AAAA", "token_invalid"),
        "refresh_token": (pair["refresh_token"], "token_invalid"),
        "expired": (expired, "token_expired"),
    }
    for kind, (fake, code) in refused.items():
        status, body, _ = get(base + "/me", fake)
        assert (status, body["code"]) == (401, code), kind


def test_a_token_for_another_audience_is_refused(resource, user_token):
    _, base = resource(audience="https://orders.example")
    assert get(base + "/me", user_token())[1]["code"] == "token_invalid"


def test_old_and_new_keys_verify_across_a_rotation(resource, user_token, cli):
    verifier, base = resource(min_refetch_interval=0)
    old = user_token()
    assert get(base + "/me", old)[0] == 200
    assert cli("keys", "rotate").returncode == 0
    new = user_token()
    assert jwt.get_unverified_header(new)["kid"] != jwt.get_unverified_header(old)["kid"]
    assert get(base + "/me", new)[0] == 200  # unknown kid: the key set is fetched again
    assert get(base + "/me", old)[0] == 200
    assert verifier.fetches == 2


def test_unknown_kids_refetch_at_a_bounded_rate(resource, user_token):
    verifier, base = resource(min_refetch_interval=3600)
    token = user_token()
    head, payload, signature = token.split(".")
    header = jwt.get_unverified_header(token)
    for n in range(3):
        fake = jwt.utils.base64url_encode(json.dumps({**header, "kid": f"nope{n}"}).encode())
        assert get(base + "/me", f"{fake.decode()}.{payload}.{signature}")[0] == 401
    assert verifier.fetches == 1


def test_introspection_mode_sees_a_logout_at_once(resource, user_token, authapi_server, cli):
    created = json.loads(cli("clients", "create", "--name", "orders").stdout)
    _, base = resource(jwks_url=None, introspection_ttl=0,
                       introspection_url=authapi_server.base_url + "/oauth/introspect",
                       client_id=created["client_id"], client_secret=created["client_secret"])
    token = user_token()
    assert get(base + "/me", token)[0] == 200
    assert authapi_server.request("POST", "/auth/logout", token=token)[0] == 204
    assert get(base + "/me", token)[1]["code"] == "token_invalid"


def test_introspection_mode_answers_step_up(resource, user_token, authapi_server, cli):
    """Introspection carries the sign-in (`auth_time`, `acr`, `amr`): a verifier asking
    for `acr`/`max_age` through it judges the token's sign-in, not a missing one."""
    from authapi.errors import InsufficientUserAuthentication

    created = json.loads(cli("clients", "create", "--name", "orders").stdout)
    verifier, _ = resource(jwks_url=None, introspection_ttl=0,
                           introspection_url=authapi_server.base_url + "/oauth/introspect",
                           client_id=created["client_id"],
                           client_secret=created["client_secret"])
    token = user_token()
    claims = verifier.verify(token, acr="pwd", max_age=300)  # a password sign-in, just now
    assert claims["acr"] == "pwd" and claims["amr"] == ["pwd"] and claims["auth_time"]
    with pytest.raises(InsufficientUserAuthentication):
        verifier.verify(token, acr="mfa")


@pytest.mark.parametrize("outer", ["authapi", "billing"])
def test_each_verifier_checks_the_token_for_its_own_audience(authapi_server, user_token,
                                                             outer):
    """Two verifiers in one request (two audiences) keep their results apart: the
    billing verifier refuses authapi's token whichever guard runs first."""
    jwks = authapi_server.base_url + "/.well-known/jwks.json"
    ours = Verifier(ISSUER, AUDIENCE, jwks_url=jwks)
    billing = Verifier(ISSUER, "https://billing.example", jwks_url=jwks)
    app = Flask("billing")
    ours.init_app(app)
    first, second = (ours, billing) if outer == "authapi" else (billing, ours)
    app.add_url_rule("/pay", "pay", first.access_required(second.access_required(
        lambda: {"ok": True})))
    app.add_url_rule("/ours", "ours", ours.access_required(lambda: {"ok": True}))
    token = {"Authorization": f"Bearer {user_token()}"}
    assert app.test_client().get("/ours", headers=token).status_code == 200
    assert app.test_client().get("/pay", headers=token).status_code == 401


def test_a_verifier_needs_a_source_of_truth():
    with pytest.raises(ValueError):
        Verifier(ISSUER, AUDIENCE)
    with pytest.raises(ValueError):
        Verifier(ISSUER, AUDIENCE, jwks_url="file:///etc/passwd")


# --- DPoP-bound tokens (RFC 9449 §7): the verifier checks the proof itself -------------------

def dpop_login(server, key) -> str:
    """A user's access token bound to `key`, from the live server."""
    credentials = {"email": "dpop-svc@example.com", "password": PASSWORD}
    assert server.request("POST", "/auth/register", credentials)[0] == 201
    url = server.base_url + "/auth/login"
    request = urllib.request.Request(  # noqa: S310  (loopback)
        url, data=json.dumps(credentials).encode(), method="POST",
        # `htu` names authapi's public URL (its issuer), not the loopback port it runs on.
        headers={"Content-Type": "application/json",
                 "DPoP": key.proof("POST", ISSUER + "/auth/login")})
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
        body = json.loads(answer.read())
    assert body["token_type"] == "DPoP"
    return str(body["access_token"])


def test_a_bound_token_needs_a_proof_by_its_key_at_the_resource(resource, authapi_server):
    from fixtures.dpop import DpopClient

    key, thief = DpopClient(), DpopClient()
    token = dpop_login(authapi_server, key)
    _, base = resource()
    proof = key.proof("GET", base + "/me", token)
    assert get_with(base + "/me", {"Authorization": f"DPoP {token}", "DPoP": proof})[0] == 200
    replayed = get_with(base + "/me", {"Authorization": f"DPoP {token}", "DPoP": proof})
    assert (replayed[0], replayed[1]["code"]) == (401, "invalid_dpop_proof")
    stolen = get_with(base + "/me", {"Authorization": f"DPoP {token}",
                                     "DPoP": thief.proof("GET", base + "/me", token)})
    assert (stolen[0], stolen[1]["code"]) == (401, "invalid_dpop_proof")
    as_bearer = get(base + "/me", token)
    assert (as_bearer[0], as_bearer[1]["code"]) == (401, "token_invalid")
    assert as_bearer[2]["WWW-Authenticate"].startswith("DPoP")


def test_with_a_public_url_the_proof_must_name_it_not_the_host_header(resource,
                                                                       authapi_server):
    """A proof made for another service (another Host) is refused when the verifier knows
    its own public URL; one for that URL is accepted whatever Host the request carries."""
    from fixtures.dpop import DpopClient

    key = DpopClient()
    token = dpop_login(authapi_server, key)
    _, base = resource(public_url="https://orders.example")
    other = key.proof("GET", "http://127.0.0.1:1/me", token)  # for some other service
    refused = get_with(base + "/me", {"Authorization": f"DPoP {token}", "DPoP": other,
                                      "Host": "127.0.0.1:1"})
    assert (refused[0], refused[1]["code"]) == (401, "invalid_dpop_proof")
    ours = key.proof("GET", "https://orders.example/me", token)
    assert get_with(base + "/me", {"Authorization": f"DPoP {token}", "DPoP": ours})[0] == 200
