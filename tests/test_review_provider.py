"""authapi as an OpenID provider: what a pending request `needs` once its user signed in,
PAR assertions audienced to the PAR endpoint, POST at the authorization and logout
endpoints, the errors of a request without response_type or with a request object, and
a code that outlives a consent withdrawal.

The cases came from the review of 2026-12-05.
"""

from __future__ import annotations

import pytest
from sqlalchemy import update

from authapi import db
from authapi.models import UserSession
from conftest import bearer
from fixtures.oauth import ASSERTION_TYPE, KeyPair, assert_oauth_error
from test_provider import CALLBACK, ISSUER, Flow, admin, query, register, user  # noqa: F401  (fixtures)


def age_sign_ins(app, seconds: int = 10) -> None:
    """Let `seconds` pass since every sign-in (their auth_time moved back in time)."""
    with app.app_context():
        db.orm().execute(update(UserSession).values(auth_time=UserSession.auth_time - seconds))
        db.orm().commit()


# --- GET /oauth/requests/{id}: needs ------------------------------------------------------

def test_a_sign_in_made_for_a_max_age_request_leads_to_consent(
        app, client, register, user):  # noqa: F811
    """API.md: `needs` is what the request still lacks; the sign-in made for a `max_age=0`
    request meets it, so a third-party app's request needs `consent` after it, even once
    time passed, not `login` again (a loop on the login page)."""
    flow = Flow(client, register())
    request_id = flow.request_id(flow.authorize(max_age="0"))
    answer = flow.login(request_id, user)
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["redirect_to"].startswith(ISSUER + "/oauth/login?request=")
    age_sign_ins(app)
    pending = client.get(f"/oauth/requests/{request_id}").get_json()
    assert pending["needs"] == "consent", pending


def test_a_sign_in_made_for_an_acr_values_request_leads_to_consent(
        client, register, user):  # noqa: F811
    """API.md: `acr_values` asks for what is missing; for a user who has only a password,
    the sign-in made for `acr_values=mfa` is the best they can reach (/login already moved
    on to consent), so the request needs `consent`, not `mfa` (the login form again)."""
    flow = Flow(client, register())
    request_id = flow.request_id(flow.authorize(acr_values="mfa"))
    answer = flow.login(request_id, user)
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["redirect_to"].startswith(ISSUER + "/oauth/login?request=")
    pending = client.get(f"/oauth/requests/{request_id}").get_json()
    assert pending["needs"] == "consent", pending


# --- PAR with private_key_jwt -------------------------------------------------------------

@pytest.mark.parametrize("aud", [ISSUER, ISSUER + "/oauth/token", ISSUER + "/oauth/par"],
                         ids=["issuer", "token-endpoint", "par-endpoint"])
def test_par_accepts_an_assertion_for_any_of_its_audiences(client, register, aud):  # noqa: F811
    """RFC 9126 §2: for private_key_jwt at the PAR endpoint, "the authorization server MUST
    accept its issuer identifier, token endpoint URL, or pushed authorization request
    endpoint URL as values that identify it as an intended audience"."""
    key = KeyPair()
    app = register(token_endpoint_auth_method="private_key_jwt", jwks=key.jwks)
    flow = Flow(client, app)
    response = client.post("/oauth/par", data={
        "response_type": "code", "client_id": app["client_id"], "redirect_uri": CALLBACK,
        "scope": "openid", "state": flow.state, "code_challenge": flow.challenge,
        "code_challenge_method": "S256", "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": key.assertion(app["client_id"], aud=aud)})
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["request_uri"].startswith("urn:ietf:params:oauth:request_uri:")


# --- methods and errors of the endpoints --------------------------------------------------

def test_authorize_accepts_post(client, register):  # noqa: F811
    """OIDC Core §3.1.2.1: "Authorization Servers MUST support the use of the HTTP GET and
    POST methods defined in RFC 7231 at the Authorization Endpoint"."""
    flow = Flow(client, register())
    response = client.post("/oauth/authorize", data={
        "response_type": "code", "client_id": flow.app["client_id"], "redirect_uri": CALLBACK,
        "scope": "openid", "state": flow.state, "code_challenge": flow.challenge,
        "code_challenge_method": "S256"})
    assert response.status_code == 302, (response.status_code, response.get_json())
    assert flow.request_id(response)


def test_logout_accepts_post(client):
    """OIDC RP-Initiated Logout 1.0 §2: "The OP MUST support the use of the HTTP GET and
    POST methods defined in RFC 7231 at the Logout Endpoint"."""
    response = client.post("/oauth/logout", data={})
    assert response.status_code == 302, (response.status_code, response.get_json())
    assert response.headers["Location"] == ISSUER + "/oauth/signed-out"


def test_a_request_without_response_type_is_invalid_request(client, register):  # noqa: F811
    """RFC 6749 §4.1.2.1: a request "missing a required parameter" is invalid_request;
    unsupported_response_type is for a response_type the server does not offer."""
    flow = Flow(client, register())
    response = flow.authorize(response_type=None)
    assert response.status_code == 302
    assert query(response.headers["Location"])["error"] == "invalid_request"


def test_a_request_object_is_request_not_supported(client, register):  # noqa: F811
    """OIDC Core §3.1.2.6 and §6: an OP that does not support request objects answers
    `request_not_supported` (discovery says request_parameter_supported is false)."""
    flow = Flow(client, register())
    response = flow.authorize(request="eyJhbGciOiJub25lIn0.e30.")
    assert response.status_code == 302
    assert query(response.headers["Location"])["error"] == "request_not_supported"


# --- consent withdrawal -------------------------------------------------------------------

def test_a_code_issued_before_consent_is_withdrawn_gets_no_tokens(
        client, register, user, login):  # noqa: F811
    """API.md: `DELETE /auth/consents/{client_id}` "withdraws one and revokes every token
    the client holds for that user": a code issued under the withdrawn grant yields no
    tokens afterwards (else the app would hold tokens the user cannot withdraw)."""
    app = register()
    flow = Flow(client, app)
    code = flow.sign_in(user)
    mine = bearer(login(user)["access_token"])
    assert client.delete(f"/auth/consents/{app['client_id']}", headers=mine).status_code == 204
    assert_oauth_error(flow.token(code), 400, "invalid_grant")
    assert client.get("/auth/consents", headers=mine).get_json()["items"] == []
