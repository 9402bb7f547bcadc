"""Apps that sign users in: a step-up through /oauth/authorize with `acr_values=phr` asks a
passkey holder for the passkey; a confidential app's refresh token is not bound to the
DPoP key of its code exchange (a public app's still is); and the authorize parameters
that a pending request stores (`login_hint`, repeated `prompt` and `acr_values`) are
refused by an error redirect or kept within their columns, on any database.

The cases came from the review of 2026-12-05 (second session).
"""

from __future__ import annotations

from typing import Any

import jwt
import pytest

from authapi import db
from authapi.models import AuthorizationRequest
from conftest import bearer
from fixtures.authenticator import SoftAuthenticator, add_passkey
from fixtures.dpop import DpopClient
from fixtures.oauth import assert_oauth_error, basic
from test_provider import CALLBACK, ISSUER, Flow, admin, query, register, user  # noqa: F401  (fixtures)


def claims_of(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


# --- step-up ------------------------------------------------------------------------------

def test_a_password_sign_in_does_not_meet_acr_values_phr_for_a_user_with_a_passkey(
        client, register, make_user, login):  # noqa: F811
    """API.md, step-up: the client re-authorizes "with `acr_values` and `max_age`, which
    asks for what is missing". A user who holds a passkey can reach `phr`: a sign-in with
    the password alone misses it, so authorize must ask for the passkey (`needs: mfa`)
    rather than hand the app a code for an `acr=pwd` sign-in (the RFC 9470 resource
    would refuse that token again: a loop)."""
    user_id = make_user(email="ada@example.com")
    assert add_passkey(client, bearer(login(user_id)["access_token"]),
                       SoftAuthenticator()).status_code == 201
    flow = Flow(client, register(first_party=True))
    request_id = flow.request_id(flow.authorize(acr_values="phr"))
    answer = flow.login(request_id, "ada@example.com")
    assert answer.status_code == 200, answer.get_json()
    location = answer.get_json()["redirect_to"]
    if location.startswith(CALLBACK):
        tokens = flow.token(query(location)["code"]).get_json()
        acr = claims_of(tokens["id_token"])["acr"]
        raise AssertionError(f"a code for a sign-in with acr={acr} despite acr_values=phr")
    assert client.get(f"/oauth/requests/{request_id}").get_json()["needs"] == "mfa"


# --- DPoP and an app's refresh token ------------------------------------------------------

def test_a_confidential_apps_refresh_token_is_not_bound_to_its_dpop_key(
        client, register, user):  # noqa: F811
    """API.md, apps: a `refresh_token` "rotates with the same reuse rules as
    `/auth/refresh`, and for a public client with DPoP it is bound to the key" -- for a
    public client only (RFC 9449 §5: "Refresh tokens issued to confidential clients are
    not bound to the DPoP proof public key"). The confidential client authenticates; a
    refresh with a new key, or with none, is its own."""
    app = register()  # client_secret_basic, not require_dpop
    flow = Flow(client, app)
    code = flow.sign_in(user)
    key = DpopClient()
    auth = basic(app["client_id"], app["client_secret"])
    first = client.post(
        "/oauth/token", headers={**auth, "DPoP": key.proof("POST", "/oauth/token")},
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK,
              "code_verifier": flow.verifier})
    assert first.status_code == 200, first.get_json()
    assert first.get_json()["token_type"] == "DPoP"
    new_key = DpopClient()
    refreshed = client.post(
        "/oauth/token", headers={**auth, "DPoP": new_key.proof("POST", "/oauth/token")},
        data={"grant_type": "refresh_token", "refresh_token": first.get_json()["refresh_token"]})
    assert refreshed.status_code == 200, refreshed.get_json()
    assert refreshed.get_json()["token_type"] == "DPoP"
    assert claims_of(refreshed.get_json()["access_token"])["cnf"] == {"jkt": new_key.jkt}
    unproven = client.post(
        "/oauth/token", headers=auth,
        data={"grant_type": "refresh_token",
              "refresh_token": refreshed.get_json()["refresh_token"]})
    assert unproven.status_code == 200, unproven.get_json()
    assert unproven.get_json()["token_type"] == "Bearer"


def test_a_public_apps_refresh_token_stays_bound_to_its_dpop_key(
        client, register, user):  # noqa: F811
    """API.md, apps: "for a public client with DPoP it is bound to the key", and a bound
    refresh token needs "a proof by that key" (Sender-constrained tokens). A public app
    that proved a key at its code exchange (without require_dpop) cannot refresh with
    another key's proof, nor with none; with its own key it can."""
    app = register(token_endpoint_auth_method="none")
    flow = Flow(client, app)
    code = flow.sign_in(user)
    key = DpopClient()
    first = client.post(
        "/oauth/token", headers={"DPoP": key.proof("POST", "/oauth/token")},
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK,
              "code_verifier": flow.verifier, "client_id": app["client_id"]})
    assert first.status_code == 200, first.get_json()
    assert first.get_json()["token_type"] == "DPoP"
    form = {"grant_type": "refresh_token", "refresh_token": first.get_json()["refresh_token"],
            "client_id": app["client_id"]}
    stolen = client.post("/oauth/token", data=form,
                         headers={"DPoP": DpopClient().proof("POST", "/oauth/token")})
    assert_oauth_error(stolen, 400, "invalid_dpop_proof")
    assert_oauth_error(client.post("/oauth/token", data=form), 400, "invalid_dpop_proof")
    renewed = client.post("/oauth/token", data=form,
                          headers={"DPoP": key.proof("POST", "/oauth/token")})
    assert renewed.status_code == 200, renewed.get_json()
    assert claims_of(renewed.get_json()["access_token"])["cnf"] == {"jkt": key.jkt}


# --- authorize parameters a pending request stores ----------------------------------------

@pytest.mark.parametrize("length", [321, 400])
def test_a_login_hint_longer_than_an_email_address_is_an_error_redirect(
        client, register, length):  # noqa: F811
    """API.md, GET /oauth/authorize: "An unknown client or a redirect URI that is not
    registered answers 400 problem+json and never redirects. Any other error redirects to
    the redirect URI with `error`, `error_description`, `state` and `iss`." A login_hint
    is an address (at most 320 characters, as API.md's emails); a longer one, within the
    512 the other parameters have, was taken, and PostgreSQL's String(320) column refused
    the INSERT: a 422 problem+json instead of a redirect."""
    flow = Flow(client, register())
    response = flow.authorize(login_hint="a" * length)
    assert response.status_code == 302, (response.status_code, response.get_json())
    location = response.headers["Location"]
    assert location.startswith(CALLBACK + "?"), location
    answer = query(location)
    assert answer["error"] == "invalid_request", answer
    assert answer["error_description"] and answer["state"] == flow.state
    assert answer["iss"] == ISSUER


def test_a_login_hint_of_320_characters_is_taken(client, register):  # noqa: F811
    """API.md, GET /oauth/authorize takes a `login_hint`, and `GET /oauth/requests/{id}`
    shows it to the login page: the longest address (320 characters) is kept whole."""
    flow = Flow(client, register())
    request_id = flow.request_id(flow.authorize(login_hint="a" * 320))
    assert client.get(f"/oauth/requests/{request_id}").get_json()["login_hint"] == "a" * 320


@pytest.mark.parametrize(("name", "value"), [
    ("acr_values", " ".join(["pwd"] * 30)),
    ("prompt", " ".join(["login", "consent"] * 10)),
], ids=["acr_values-repeated", "prompt-repeated"])
def test_repeated_prompt_or_acr_values_still_reach_the_login_page(
        app, client, register, name, value):  # noqa: F811
    """API.md, GET /oauth/authorize: `prompt` (`none`, `login`, `consent`) and
    `acr_values`; "Otherwise 302 to the login page with `?request=<id>`". Each value was
    valid, but repeats were kept whole: more than the String(64) columns hold, so on
    PostgreSQL the INSERT failed and authorize answered 422 instead. What is stored
    fits its column, whatever the database."""
    flow = Flow(client, register())
    request_id = flow.request_id(flow.authorize(**{name: value}))
    with app.app_context():
        row = db.orm().get(AuthorizationRequest, request_id)
        assert row is not None
        stored = getattr(row, name)
    column = AuthorizationRequest.__table__.c[name]
    assert len(stored) <= column.type.length, stored
    assert set(stored.split()) == set(value.split())
