"""authapi as an OpenID provider (issue 21): /oauth/authorize with PKCE, the headless
login and consent API, the code exchange with an ID token, userinfo, refresh, consents,
and the attacks on the flow (code injection and reuse, PKCE downgrade, open redirects,
mix-up, login CSRF, scopes the user does not hold, prompt=none).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest

from conftest import PASSWORD, assert_problem, bearer
from fixtures.oauth import assert_oauth_error, basic

ISSUER = "http://localhost:8000"
CALLBACK = "https://shop.example/callback"


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    return verifier, challenge.rstrip(b"=").decode()


def query(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


@pytest.fixture
def admin(auth_headers):
    return auth_headers(("admin",))


@pytest.fixture
def register(client, admin):
    def make(**body: Any) -> dict[str, Any]:
        response = client.post("/admin/clients", headers=admin, json={
            "name": "Shop", "scope": "orders:read", "redirect_uris": [CALLBACK], **body})
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    return make


class Flow:
    """One browser (the test client's cookies) taking a user through the provider."""

    def __init__(self, client: Any, app: dict[str, Any]) -> None:
        self.client, self.app = client, app
        self.verifier, self.challenge = pkce()
        self.state, self.nonce = secrets.token_urlsafe(8), secrets.token_urlsafe(8)

    def authorize(self, **params: Any) -> Any:
        base = {"response_type": "code", "client_id": self.app["client_id"],
                "redirect_uri": CALLBACK, "scope": "openid email profile",
                "state": self.state, "nonce": self.nonce, "code_challenge": self.challenge,
                "code_challenge_method": "S256"}
        base.update(params)
        return self.client.get("/oauth/authorize",
                               query_string={k: v for k, v in base.items() if v is not None})

    def request_id(self, response: Any) -> str:
        assert response.status_code == 302, response.get_json()
        location = response.headers["Location"]
        assert location.startswith(ISSUER + "/oauth/login?request="), location
        return query(location)["request"]

    def login(self, request_id: str, email: str, password: str = PASSWORD) -> Any:
        return self.client.post(f"/oauth/requests/{request_id}/login",
                                json={"email": email, "password": password})

    def consent(self, request_id: str, approve: bool = True, **extra: Any) -> Any:
        return self.client.post(f"/oauth/requests/{request_id}/consent",
                                json={"approve": approve, **extra})

    def code_of(self, location: str) -> str:
        assert location.startswith(CALLBACK + "?"), location
        answer = query(location)
        assert answer["state"] == self.state and answer["iss"] == ISSUER
        return answer["code"]

    def token(self, code: str, **form: str) -> Any:
        data = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK,
                "code_verifier": self.verifier, **form}
        headers = {}
        if self.app.get("client_secret"):
            headers = basic(self.app["client_id"], self.app["client_secret"])
        else:
            data.setdefault("client_id", self.app["client_id"])
        return self.client.post("/oauth/token", data=data, headers=headers)

    def sign_in(self, email: str, **params: Any) -> str:
        """authorize, log in, consent: the code."""
        request_id = self.request_id(self.authorize(**params))
        answer = self.login(request_id, email)
        assert answer.status_code == 200, answer.get_json()
        location = answer.get_json()["redirect_to"]
        if location.startswith(ISSUER + "/oauth/login"):
            answer = self.consent(request_id)
            assert answer.status_code == 200, answer.get_json()
            location = answer.get_json()["redirect_to"]
        return self.code_of(location)


@pytest.fixture
def user(make_user):
    make_user(email="ada@example.com", email_verified=True, display_name="Ada")
    return "ada@example.com"


def jwks_key(client, token):
    keys = client.get("/.well-known/jwks.json").get_json()["keys"]
    kid = jwt.get_unverified_header(token)["kid"]
    return jwt.PyJWK(next(k for k in keys if k["kid"] == kid))


# --- the whole flow ----------------------------------------------------------------------

def test_a_user_signs_in_to_an_app_with_code_and_pkce(client, register, user):
    app = register()
    flow = Flow(client, app)
    request_id = flow.request_id(flow.authorize())
    pending = client.get(f"/oauth/requests/{request_id}").get_json()
    assert pending["client"] == {"client_id": app["client_id"], "name": "Shop",
                                 "first_party": False}
    assert pending["scopes"] == ["openid", "email", "profile"] and pending["needs"] == "login"
    answer = flow.login(request_id, user).get_json()
    assert answer["redirect_to"].startswith(ISSUER + "/oauth/login?request=")
    assert client.get(f"/oauth/requests/{request_id}").get_json()["needs"] == "consent"
    code = flow.code_of(flow.consent(request_id).get_json()["redirect_to"])
    response = flow.token(code)
    body = response.get_json()
    assert response.status_code == 200, body
    assert body["token_type"] == "Bearer" and body["scope"] == "openid email profile"
    assert "refresh_token" in body  # the client has the refresh_token grant
    id_token = jwt.decode(body["id_token"], jwks_key(client, body["id_token"]),
                          algorithms=["RS256"], audience=app["client_id"], issuer=ISSUER)
    assert id_token["nonce"] == flow.nonce and id_token["email"] == user
    assert id_token["email_verified"] is True and id_token["name"] == "Ada"
    assert id_token["acr"] == "pwd" and id_token["amr"] == ["pwd"] and id_token["sid"]
    digest = hashlib.sha256(body["access_token"].encode()).digest()[:16]
    assert id_token["at_hash"] == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    access = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert access["client_id"] == app["client_id"] and access["aud"] == ISSUER
    assert access["sid"] == id_token["sid"] and access["auth_time"] == id_token["auth_time"]
    info = client.get("/oauth/userinfo", headers=bearer(body["access_token"])).get_json()
    assert info == {"sub": id_token["sub"], "email": user, "email_verified": True,
                    "name": "Ada"}


def test_consent_is_remembered(client, register, user):
    flow = Flow(client, register())
    flow.sign_in(user)
    again = flow.authorize()
    assert flow.code_of(again.headers["Location"])  # straight back with a code


def test_a_first_party_app_asks_no_consent(client, register, user):
    flow = Flow(client, register(first_party=True))
    request_id = flow.request_id(flow.authorize())
    location = flow.login(request_id, user).get_json()["redirect_to"]
    assert flow.code_of(location)


def test_refresh_rotates_for_the_app_only(client, register, user):
    app = register()
    flow = Flow(client, app)
    body = flow.token(flow.sign_in(user)).get_json()
    refreshed = client.post("/oauth/token", headers=basic(app["client_id"], app["client_secret"]),
                            data={"grant_type": "refresh_token",
                                  "refresh_token": body["refresh_token"]})
    assert refreshed.status_code == 200, refreshed.get_json()
    claims = jwt.decode(refreshed.get_json()["access_token"],
                        options={"verify_signature": False})
    assert claims["client_id"] == app["client_id"] and claims["scope"] == "openid email profile"
    other = register(name="Other")
    stolen = client.post("/oauth/token", headers=basic(other["client_id"],
                                                       other["client_secret"]),
                         data={"grant_type": "refresh_token",
                               "refresh_token": refreshed.get_json()["refresh_token"]})
    assert_oauth_error(stolen, 400, "invalid_grant")
    at_auth = client.post("/auth/refresh", json={"refresh_token": refreshed.get_json()[
        "refresh_token"]})
    assert_problem(at_auth, 401, "token_invalid")


def test_a_public_app_exchanges_with_client_id_alone(client, register, user):
    app = register(token_endpoint_auth_method="none",
                   redirect_uris=[CALLBACK, "http://127.0.0.1/cb"])
    assert app["client_secret"] is None
    flow = Flow(client, app)
    response = flow.token(flow.sign_in(user))
    assert response.status_code == 200, response.get_json()


def test_an_apps_token_never_reaches_authapis_own_routes(client, register, user):
    flow = Flow(client, register())
    access = flow.token(flow.sign_in(user)).get_json()["access_token"]
    for method, path in (("GET", "/auth/me"), ("POST", "/auth/passkeys/register/options"),
                         ("POST", "/auth/logout-all"), ("GET", "/admin/audit")):
        assert_problem(client.open(path, method=method, headers=bearer(access)),
                       401, "token_invalid")
    assert client.get("/auth/check", headers=bearer(access)).status_code == 200


def test_a_first_party_apps_token_is_the_users_own(client, register, user):
    flow = Flow(client, register(first_party=True))
    access = flow.token(flow.sign_in(user)).get_json()["access_token"]
    assert client.get("/auth/me", headers=bearer(access)).status_code == 200


def test_resources_become_the_audience(client, register, user):
    flow = Flow(client, register(resources=["https://api.shop.example",
                                            "https://pay.shop.example"]))
    code = flow.sign_in(user, resource=["https://api.shop.example", "https://pay.shop.example"])
    access = flow.token(code).get_json()["access_token"]
    claims = jwt.decode(access, options={"verify_signature": False})
    assert claims["aud"] == ["https://api.shop.example", "https://pay.shop.example"]
    assert client.get("/oauth/userinfo", headers=bearer(access)).status_code == 200
    response = flow.authorize(resource="https://elsewhere.example")
    assert query(response.headers["Location"])["error"] == "invalid_target"


def test_withdrawing_consent_revokes_the_apps_tokens(client, register, user, login):
    app = register()
    flow = Flow(client, app)
    access = flow.token(flow.sign_in(user)).get_json()["access_token"]
    mine = bearer(login(user)["access_token"])
    listed = client.get("/auth/consents", headers=mine).get_json()
    assert [i["client_id"] for i in listed["items"]] == [app["client_id"]]
    assert listed["items"][0]["name"] == "Shop"
    assert client.delete(f"/auth/consents/{app['client_id']}", headers=mine).status_code == 204
    assert_problem(client.get("/oauth/userinfo", headers=bearer(access)), 401, "token_revoked")
    assert_problem(client.delete(f"/auth/consents/{app['client_id']}", headers=mine),
                   404, "not_found")


def test_a_denied_consent_sends_access_denied(client, register, user):
    flow = Flow(client, register())
    request_id = flow.request_id(flow.authorize())
    flow.login(request_id, user)
    location = flow.consent(request_id, approve=False).get_json()["redirect_to"]
    answer = query(location)
    assert answer["error"] == "access_denied" and answer["state"] == flow.state
    assert answer["iss"] == ISSUER


# --- the attacks -------------------------------------------------------------------------

def test_an_unknown_client_or_redirect_uri_never_redirects(client, register):
    flow = Flow(client, register())
    for params in ({"client_id": "nobody"}, {"redirect_uri": "https://evil.example/cb"},
                   {"redirect_uri": CALLBACK + "/../evil"}, {"client_id": None}):
        response = flow.authorize(**params)
        assert "Location" not in response.headers
        assert_problem(response, 400, "invalid_request")


@pytest.mark.parametrize(("params", "error"), [
    ({"code_challenge_method": "plain"}, "invalid_request"),  # PKCE downgrade
    ({"code_challenge": None}, "invalid_request"),
    ({"code_challenge_method": None}, "invalid_request"),
    ({"response_type": "token"}, "unsupported_response_type"),
    ({"scope": "openid users:write"}, "invalid_scope"),
    ({"prompt": "none login"}, "invalid_request"),
    ({"max_age": "soon"}, "invalid_request"),
    ({"acr_values": "gold"}, "invalid_request"),
])
def test_a_bad_request_goes_back_with_error_state_and_iss(client, register, params, error):
    flow = Flow(client, register())
    response = flow.authorize(**params)
    assert response.status_code == 302
    answer = query(response.headers["Location"])
    assert response.headers["Location"].startswith(CALLBACK + "?")
    assert answer["error"] == error and answer["state"] == flow.state
    assert answer["iss"] == ISSUER


def test_a_code_works_once_and_its_reuse_revokes_what_it_issued(client, register, user):
    flow = Flow(client, register())
    code = flow.sign_in(user)
    first = flow.token(code).get_json()
    assert_oauth_error(flow.token(code), 400, "invalid_grant")
    assert_problem(client.get("/oauth/userinfo", headers=bearer(first["access_token"])),
                   401, "token_revoked")


@pytest.mark.parametrize("bend", [
    {"code_verifier": "x" * 43}, {"redirect_uri": "https://shop.example/other"},
    {"code_verifier": ""},
])
def test_a_wrong_verifier_or_redirect_uri_is_invalid_grant(client, register, user, bend):
    flow = Flow(client, register(redirect_uris=[CALLBACK, "https://shop.example/other"]))
    assert_oauth_error(flow.token(flow.sign_in(user), **bend), 400, "invalid_grant")


def test_a_code_injected_into_another_client_is_refused(client, register, user):
    victim, attacker = register(), register(name="Attacker")
    flow = Flow(client, victim)
    code = flow.sign_in(user)
    stolen = Flow(client, attacker)
    stolen.verifier = flow.verifier
    assert_oauth_error(stolen.token(code), 400, "invalid_grant")


def test_another_browsers_request_id_is_of_no_use(app, client, register, user):
    flow = Flow(client, register())
    request_id = flow.request_id(flow.authorize())
    other = app.test_client()  # another browser: no request cookie of this one
    assert_problem(other.get(f"/oauth/requests/{request_id}"), 404, "not_found")
    response = other.post(f"/oauth/requests/{request_id}/login",
                          json={"email": user, "password": PASSWORD})
    assert_problem(response, 404, "not_found")


def test_consent_needs_the_sign_in_of_the_requests_user(app, client, register, user,
                                                        make_user):
    flow = Flow(client, register())
    request_id = flow.request_id(flow.authorize())
    assert_problem(flow.consent(request_id), 401, "login_required")  # nobody signed in
    make_user(email="eve@example.com")
    flow.login(request_id, user)
    # Eve signs in in the same browser on another request: her cookie is not Ada's.
    eve_request = flow.request_id(flow.authorize())
    flow.login(eve_request, "eve@example.com")
    assert_problem(flow.consent(request_id), 401, "login_required")


def test_scopes_the_user_does_not_hold_are_never_granted(client, register, user):
    flow = Flow(client, register(scope="orders:read"))
    code = flow.sign_in(user, scope="openid orders:read")
    body = flow.token(code).get_json()
    assert body["scope"] == "openid"  # Ada does not hold orders:read


def test_prompt_none_tells_nothing_without_a_sign_in(client, register):
    flow = Flow(client, register())
    response = flow.authorize(prompt="none")
    answer = query(response.headers["Location"])
    assert answer["error"] == "login_required" and answer["state"] == flow.state


def test_prompt_none_without_consent_is_consent_required(client, register, user):
    flow = Flow(client, register())
    request_id = flow.request_id(flow.authorize())
    flow.login(request_id, user)
    response = flow.authorize(prompt="none")
    assert query(response.headers["Location"])["error"] == "consent_required"


def test_prompt_login_asks_again(client, register, user):
    flow = Flow(client, register(first_party=True))
    flow.sign_in(user)
    assert flow.request_id(flow.authorize(prompt="login"))


def test_max_age_zero_asks_again(client, register, user):
    flow = Flow(client, register(first_party=True))
    flow.sign_in(user)
    assert flow.request_id(flow.authorize(max_age="0"))


def test_userinfo_needs_openid(client, register, user):
    flow = Flow(client, register(first_party=True))
    access = flow.token(flow.sign_in(user, scope="email")).get_json()["access_token"]
    assert_problem(client.get("/oauth/userinfo", headers=bearer(access)),
                   403, "insufficient_scope")


def test_discovery_names_the_provider(client):
    for path in ("/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"):
        body = client.get(path).get_json()
        assert body["issuer"] == ISSUER
        assert body["authorization_endpoint"] == ISSUER + "/oauth/authorize"
        assert body["userinfo_endpoint"] == ISSUER + "/oauth/userinfo"
        assert body["response_types_supported"] == ["code"]
        assert body["code_challenge_methods_supported"] == ["S256"]
        assert body["authorization_response_iss_parameter_supported"] is True
        assert "none" in body["token_endpoint_auth_methods_supported"]
        assert {"openid", "profile", "email", "offline_access"} <= set(body["scopes_supported"])


# --- PAR (RFC 9126) ----------------------------------------------------------------------

def push(client, app, flow, **params):
    form = {"response_type": "code", "client_id": app["client_id"], "redirect_uri": CALLBACK,
            "scope": "openid", "state": flow.state, "code_challenge": flow.challenge,
            "code_challenge_method": "S256", **params}
    return client.post("/oauth/par", data=form,
                       headers=basic(app["client_id"], app["client_secret"]))


def test_a_pushed_request_is_used_once_by_the_browser(client, register, user):
    app = register(first_party=True, require_par=True)
    flow = Flow(client, app)
    response = push(client, app, flow)
    body = response.get_json()
    assert response.status_code == 201, body
    assert body["request_uri"].startswith("urn:ietf:params:oauth:request_uri:")
    assert body["expires_in"] == 60
    answer = client.get("/oauth/authorize", query_string={
        "client_id": app["client_id"], "request_uri": body["request_uri"],
        "scope": "openid email"})  # query parameters beside these are not the request
    request_id = flow.request_id(answer)
    assert client.get(f"/oauth/requests/{request_id}").get_json()["scopes"] == ["openid"]
    code = flow.code_of(flow.login(request_id, user).get_json()["redirect_to"])
    assert flow.token(code).status_code == 200
    again = client.get("/oauth/authorize", query_string={
        "client_id": app["client_id"], "request_uri": body["request_uri"]})
    assert_problem(again, 400, "invalid_request")


def test_a_client_that_requires_par_cannot_skip_it(client, register):
    flow = Flow(client, register(require_par=True))
    assert query(flow.authorize().headers["Location"])["error"] == "invalid_request"


@pytest.mark.parametrize(("params", "error"), [
    ({"redirect_uri": "https://evil.example/cb"}, "invalid_request"),
    ({"code_challenge_method": "plain"}, "invalid_request"),
    ({"scope": "openid users:write"}, "invalid_scope"),
])
def test_a_bad_pushed_request_is_refused_to_the_client(client, register, params, error):
    app = register()
    assert_oauth_error(push(client, app, Flow(client, app), **params), 400, error)


def test_par_needs_client_authentication(client, register):
    app = register()
    flow = Flow(client, app)
    response = client.post("/oauth/par", data={"client_id": app["client_id"],
                                                "redirect_uri": CALLBACK,
                                                "code_challenge": flow.challenge})
    assert_oauth_error(response, 401, "invalid_client")


def test_another_clients_request_uri_is_refused(client, register):
    app, other = register(), register(name="Other")
    uri = push(client, app, Flow(client, app)).get_json()["request_uri"]
    response = client.get("/oauth/authorize", query_string={
        "client_id": other["client_id"], "request_uri": uri})
    assert_problem(response, 400, "invalid_request")


# --- RP-initiated logout -----------------------------------------------------------------

def test_logout_ends_the_sign_in_and_the_apps_sessions(client, register, user):
    app = register(post_logout_redirect_uris=["https://shop.example/bye"])
    flow = Flow(client, app)
    body = flow.token(flow.sign_in(user)).get_json()
    response = client.get("/oauth/logout", query_string={
        "id_token_hint": body["id_token"], "post_logout_redirect_uri": "https://shop.example/bye",
        "state": "s1"})
    assert response.status_code == 302
    assert response.headers["Location"] == "https://shop.example/bye?state=s1"
    assert_problem(client.get("/oauth/userinfo", headers=bearer(body["access_token"])),
                   401, "token_revoked")
    assert flow.request_id(flow.authorize())  # the browser must sign in again


@pytest.mark.parametrize("uri", ["https://evil.example/", "https://shop.example/bye/x"])
def test_logout_never_redirects_to_an_unregistered_uri(client, register, user, uri):
    app = register(post_logout_redirect_uris=["https://shop.example/bye"])
    flow = Flow(client, app)
    body = flow.token(flow.sign_in(user)).get_json()
    response = client.get("/oauth/logout", query_string={
        "id_token_hint": body["id_token"], "post_logout_redirect_uri": uri})
    assert "Location" not in response.headers
    assert_problem(response, 400, "invalid_request")


def test_logout_without_a_uri_shows_the_signed_out_page(client):
    response = client.get("/oauth/logout")
    assert response.headers["Location"] == ISSUER + "/oauth/signed-out"
    page = client.get("/oauth/signed-out")
    assert page.status_code == 200 and b"signed out" in page.data


def test_a_forged_id_token_hint_is_refused(client):
    forged = jwt.encode({"sub": "x", "aud": "y", "sid": "z"}, "k" * 32, algorithm="HS256",
                        headers={"kid": "nope"})
    assert_problem(client.get("/oauth/logout", query_string={"id_token_hint": forged}),
                   400, "invalid_request")


# --- the built-in page -------------------------------------------------------------------

def test_the_login_page_runs_only_its_own_files(client):
    response = client.get("/oauth/login?request=abc")
    assert response.status_code == 200 and response.mimetype == "text/html"
    csp = response.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert "script-src 'self'" in csp and response.headers["X-Frame-Options"] == "DENY"
    html = response.get_data(as_text=True)
    assert "<script>" not in html and "style=" not in html and "http" not in html.split(
        "<body>")[1]
    for asset in ("/oauth/assets/login.js", "/oauth/assets/login.css"):
        assert client.get(asset).status_code == 200
    assert_problem(client.get("/oauth/assets/secret.py"), 404, "not_found")


def test_max_age_zero_is_met_by_the_sign_in_made_for_the_request(client, register, user):
    flow = Flow(client, register(first_party=True))
    code = flow.sign_in(user, max_age="0")  # not sent back to sign in again, and again
    body = flow.token(code).get_json()
    assert "id_token" in body


def test_acr_values_a_user_cannot_reach_end_with_the_acr_they_have(client, register, user):
    flow = Flow(client, register(first_party=True))
    body = flow.token(flow.sign_in(user, acr_values="mfa")).get_json()
    assert jwt.decode(body["id_token"], options={"verify_signature": False})["acr"] == "pwd"


def test_the_sign_in_cookie_is_httponly_lax_and_scoped_to_oauth(client, register, user):
    flow = Flow(client, register())
    request_id = flow.request_id(flow.authorize())
    response = flow.login(request_id, user)
    cookie = next(c for c in response.headers.getlist("Set-Cookie")
                  if c.startswith("authapi_session="))
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "path", "samesite"} <= attributes
    assert "Path=/oauth" in cookie and "SameSite=Lax" in cookie
    assert "Secure" in cookie  # AUTHAPI_ENV=testing is outside development


def test_signing_in_for_a_request_counts_toward_the_lockout(make_app, make_user, admin):
    app = make_app(AUTHAPI_LOGIN_MAX_FAILURES=3, AUTHAPI_LOGIN_BACKOFF_AFTER=100)
    client = app.test_client()
    make_user(email="ada@example.com")
    make_user(email="root@example.com", roles=("admin",))
    headers = bearer(client.post("/auth/login", json={"email": "root@example.com",
                                                      "password": PASSWORD}
                                 ).get_json()["access_token"])
    registered = client.post("/admin/clients", headers=headers, json={
        "name": "Shop", "scope": "", "redirect_uris": [CALLBACK]}).get_json()
    flow = Flow(client, registered)
    request_id = flow.request_id(flow.authorize())
    for _ in range(3):
        assert_problem(flow.login(request_id, "ada@example.com", "wrong password!"),
                       401, "invalid_credentials")
    assert_problem(flow.login(request_id, "ada@example.com"), 429, "account_locked")
    assert_problem(client.post("/auth/login", json={"email": "ada@example.com",
                                                    "password": PASSWORD}),
                   429, "account_locked")


def test_a_public_app_with_dpop_gets_bound_tokens(client, register, user):
    from fixtures.dpop import DpopClient

    app = register(token_endpoint_auth_method="none", require_dpop=True)
    flow = Flow(client, app)
    code = flow.sign_in(user)
    assert_oauth_error(flow.token(code), 400, "invalid_dpop_proof")  # DPoP required
    key = DpopClient()
    code = flow.code_of(flow.authorize().headers["Location"])  # signed in and consented
    body = client.post("/oauth/token", headers={"DPoP": key.proof("POST", "/oauth/token")},
                       data={"grant_type": "authorization_code", "code": code,
                             "redirect_uri": CALLBACK, "code_verifier": flow.verifier,
                             "client_id": app["client_id"]}).get_json()
    assert body["token_type"] == "DPoP"
    form = {"grant_type": "refresh_token", "refresh_token": body["refresh_token"],
            "client_id": app["client_id"]}
    assert_oauth_error(client.post("/oauth/token", data=form), 400, "invalid_dpop_proof")
    thief = DpopClient()
    stolen = client.post("/oauth/token", data=form,
                         headers={"DPoP": thief.proof("POST", "/oauth/token")})
    assert stolen.status_code in (400, 401)
    renewed = client.post("/oauth/token", data=form,
                          headers={"DPoP": key.proof("POST", "/oauth/token")})
    assert renewed.status_code == 200 and renewed.get_json()["token_type"] == "DPoP"


def test_an_app_revokes_its_own_tokens_and_no_other_apps(client, register, user):
    app, other = register(token_endpoint_auth_method="none"), register(name="Other")
    flow = Flow(client, app)
    body = flow.token(flow.sign_in(user)).get_json()
    stolen = client.post("/oauth/revoke", data={"token": body["refresh_token"]},
                         headers=basic(other["client_id"], other["client_secret"]))
    assert_oauth_error(stolen, 400, "unauthorized_client")
    assert client.get("/oauth/userinfo", headers=bearer(body["access_token"])).status_code == 200
    own = client.post("/oauth/revoke", data={"token": body["refresh_token"],
                                             "client_id": app["client_id"]})
    assert own.status_code == 200
    assert_problem(client.get("/oauth/userinfo", headers=bearer(body["access_token"])),
                   401, "token_revoked")


@pytest.mark.parametrize("kind", ["access", "app access", "refresh"])
def test_only_an_id_token_is_an_id_token_hint(client, register, user, make_user, login, kind):
    """OIDC RP-Initiated Logout §2: the hint is an ID token. An access or refresh token is
    signed by the same keys, but whoever holds one (a resource server) must not end the
    user's sign-in with it: 400, and the session lives on."""
    if kind == "app access":
        flow = Flow(client, register())
        body = flow.token(flow.sign_in(user)).get_json()
        token, check = body["access_token"], body["access_token"]
    else:
        pair = login(make_user())
        token, check = pair["access_token" if kind == "access" else "refresh_token"], \
            pair["access_token"]
    other_browser = client.application.test_client()
    assert_problem(other_browser.get("/oauth/logout", query_string={"id_token_hint": token}),
                   400, "invalid_request")
    me = "/oauth/userinfo" if kind == "app access" else "/auth/me"
    assert client.get(me, headers=bearer(check)).status_code == 200


def test_an_apps_token_for_an_admin_grants_only_its_own_scope(client, register, make_user,
                                                               admin):
    """A first-party app's token for an admin carries the admin's roles but only the scope
    the app was given: it grants that scope, never the `admin` role's every permission
    (a review gave a user `admin` with an app token scoped to `users:write`)."""
    make_user(email="root@example.com", roles=("admin",), email_verified=True)
    victim = make_user(email="mallory@example.com")
    flow = Flow(client, register(first_party=True, scope="users:write"))
    access = flow.token(flow.sign_in("root@example.com", scope="openid users:write")
                        ).get_json()["access_token"]
    refused = client.put(f"/admin/users/{victim}/roles", json={"roles": ["user", "admin"]},
                         headers=bearer(access))
    assert_problem(refused, 403, "insufficient_scope")
    assert client.get(f"/admin/users/{victim}", headers=admin).get_json()["roles"] == ["user"]
    given = client.put(f"/admin/users/{victim}/roles", json={"roles": ["user"]},
                       headers=bearer(access))
    assert given.status_code == 200, given.get_json()  # within its scope it still works


@pytest.mark.parametrize("named", [False, True])
def test_the_token_request_repeats_redirect_uri_only_if_authorize_named_it(
        client, register, user, named):
    """RFC 6749 §4.1.3: redirect_uri is required at the token endpoint if the authorization
    request included it, and must then be identical. A request without it (the client's
    one registered URI stood in) is exchanged without it."""
    flow = Flow(client, register(first_party=True))
    params = {} if named else {"redirect_uri": None}
    code = flow.sign_in(user, scope="orders:read", **params)
    response = flow.token(code, redirect_uri=None)
    if named:
        assert_oauth_error(response, 400, "invalid_grant")
    else:
        assert response.status_code == 200, response.get_json()
    other = flow.code_of(flow.authorize(scope="orders:read", **params).headers["Location"])
    assert_oauth_error(flow.token(other, redirect_uri="https://shop.example/other"),
                       400, "invalid_grant")


def test_a_code_used_twice_at_once_revokes_what_the_first_use_issued(app, client, register,
                                                                       user, monkeypatch):
    """RFC 6749 §4.1.2: a second use revokes what the first issued, also when the two
    exchanges overlap: the second read the code as unused, and lost the claim to the
    first, which then committed (a review found the loser refused but revoked nothing)."""
    import threading

    from authapi import db as database
    from authapi.oauth import code_grant

    flow = Flow(client, register())
    code = flow.sign_in(user)
    first_claimed, second_claiming = threading.Event(), threading.Event()
    real_tokens, real_affected = code_grant.app_tokens, database.affected

    def tokens_after_a_pause(*args: Any, **kwargs: Any) -> Any:
        if threading.current_thread().name == "first":  # claimed, not yet committed
            first_claimed.set()
            assert second_claiming.wait(10)
        return real_tokens(*args, **kwargs)

    def claim(statement: Any) -> int:
        if threading.current_thread().name == "second":  # it read the code as unused
            second_claiming.set()
        return real_affected(statement)

    monkeypatch.setattr(code_grant, "app_tokens", tokens_after_a_pause)
    monkeypatch.setattr(code_grant.db, "affected", claim)
    answers: dict[str, Any] = {}

    def exchange() -> None:
        twin = Flow(app.test_client(), flow.app)
        twin.verifier = flow.verifier
        response = twin.token(code)
        answers[threading.current_thread().name] = (response.status_code, response.get_json())

    first = threading.Thread(target=exchange, name="first")
    first.start()
    assert first_claimed.wait(10)
    second = threading.Thread(target=exchange, name="second")
    second.start()
    first.join(20)
    second.join(20)
    assert answers["first"][0] == 200, answers
    assert answers["second"][0] == 400 and answers["second"][1]["error"] == "invalid_grant"
    assert_problem(client.get("/oauth/userinfo", headers=bearer(
        answers["first"][1]["access_token"])), 401, "token_revoked")
