"""Token exchange (RFC 8693): a service acting for a user, never wider than both."""

from __future__ import annotations

import jwt
import pytest

from authapi import db
from authapi.accounts import accounts
from conftest import PASSWORD
from fixtures.oauth import ACCESS_TYPE, EXCHANGE, assert_oauth_error, basic


def claims_of(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


@pytest.fixture
def user_token(make_user, login) -> str:
    return login(make_user(roles=("admin",)))["access_token"]


ORDERS = "https://orders.example"


@pytest.fixture
def exchanger(make_client) -> dict:
    return make_client(scope="users:read clients:read orders:read", exchange=True,
                       audiences=[ORDERS, "http://localhost:8000"])


def exchange(client, registered, subject_token, **form):
    """An exchange; `audience` is the configured one unless given (None: sent without)."""
    form.setdefault("audience", "http://localhost:8000")
    sent = {name: value for name, value in form.items() if value is not None}
    return client.post("/oauth/token", headers=basic(registered["client_id"],
                                                     registered["client_secret"]),
                       data={"grant_type": EXCHANGE, "subject_token": subject_token,
                             "subject_token_type": ACCESS_TYPE, **sent})


def test_exchange_issues_a_token_for_the_user_naming_the_actor(client, exchanger, user_token):
    response = exchange(client, exchanger, user_token, audience=ORDERS)
    body = response.get_json()
    assert response.status_code == 200, body
    assert body["issued_token_type"] == ACCESS_TYPE and body["token_type"] == "Bearer"
    assert response.headers["Cache-Control"] == "no-store"
    subject, issued = claims_of(user_token), claims_of(body["access_token"])
    assert (issued["sub"], issued["sid"]) == (subject["sub"], subject["sid"])
    assert issued["aud"] == "https://orders.example"
    assert issued["act"] == {"sub": exchanger["client_id"]}
    assert issued["roles"] == ["admin"]


def test_the_scope_is_no_wider_than_both_the_users_and_the_clients(client, exchanger,
                                                                    user_token):
    body = exchange(client, exchanger, user_token).get_json()
    assert body["scope"] == "clients:read users:read"  # orders:read is not the user's


def test_without_registered_audiences_only_the_configured_one_is_issued(client, make_client,
                                                                        user_token):
    plain = make_client(scope="users:read", exchange=True)
    token = exchange(client, plain, user_token, audience=None).get_json()["access_token"]
    assert claims_of(token)["aud"] == "http://localhost:8000"
    # The probe: any string was accepted as an audience.
    assert_oauth_error(exchange(client, plain, user_token, audience=ORDERS), 400,
                       "invalid_target")


def test_an_audience_the_client_was_not_registered_with_is_invalid_target(client, exchanger,
                                                                          user_token):
    response = exchange(client, exchanger, user_token, audience="https://evil.example")
    assert_oauth_error(response, 400, "invalid_target")


def test_a_client_with_audiences_must_name_one(client, exchanger, user_token):
    assert_oauth_error(exchange(client, exchanger, user_token, audience=None), 400,
                       "invalid_request")


@pytest.mark.parametrize("scope", ["orders:read", "users:write", "users:read roles:write"])
def test_an_exchange_that_widens_scope_is_invalid_scope(client, exchanger, user_token, scope):
    assert_oauth_error(exchange(client, exchanger, user_token, scope=scope), 400,
                       "invalid_scope")


def test_a_second_exchange_nests_the_earlier_actor(client, make_client, exchanger, user_token):
    first = exchange(client, exchanger, user_token).get_json()["access_token"]
    second_client = make_client(scope="users:read", exchange=True)
    second = exchange(client, second_client, first).get_json()["access_token"]
    assert claims_of(second)["act"] == {"sub": second_client["client_id"],
                                        "act": {"sub": exchanger["client_id"]}}


def test_a_client_without_exchange_is_unauthorized_client(client, make_client, user_token):
    plain = make_client(scope="users:read")
    assert_oauth_error(exchange(client, plain, user_token), 400, "unauthorized_client")


def test_an_unauthenticated_exchange_is_invalid_client(client, exchanger, user_token):
    response = client.post("/oauth/token", data={
        "grant_type": EXCHANGE, "subject_token": user_token, "subject_token_type": ACCESS_TYPE})
    assert_oauth_error(response, 401, "invalid_client")


@pytest.mark.parametrize("kind", ["garbage", "refresh", "expired", "logged_out", "client"])
def test_a_bad_subject_token_is_invalid_grant(client, make_app, make_user, login, exchanger,
                                              client_token, kind):
    pair = login(make_user(email="subject@example.com"))
    subject = {"garbage": "not.a.token", "refresh": pair["refresh_token"],
               "client": client_token(exchanger).get_json()["access_token"],
               "logged_out": pair["access_token"]}.get(kind)
    if kind == "expired":
        subject = make_app(AUTHAPI_ACCESS_TTL=-1).test_client().post("/auth/login", json={
            "email": "subject@example.com", "password": PASSWORD}).get_json()["access_token"]
    if kind == "logged_out":
        client.post("/auth/logout", headers={"Authorization": f"Bearer {subject}"})
    assert_oauth_error(exchange(client, exchanger, subject), 400, "invalid_grant")


@pytest.mark.parametrize("token_type, empty", [("urn:other", False), (ACCESS_TYPE, True)])
def test_a_missing_subject_parameter_is_invalid_request(client, exchanger, user_token,
                                                        token_type, empty):
    response = exchange(client, exchanger, "" if empty else user_token,
                        subject_token_type=token_type)
    assert_oauth_error(response, 400, "invalid_request")


def active(client, registered, token) -> bool:
    """What introspection (RFC 7662) says of a token, asked by the exchanging client."""
    response = client.post("/oauth/introspect", data={"token": token},
                           headers=basic(registered["client_id"], registered["client_secret"]))
    assert response.status_code == 200, response.get_json()
    return bool(response.get_json()["active"])


def test_an_exchanged_token_is_refused_by_authapis_own_routes(client, exchanger, user_token):
    # The contract: /auth/* and /admin/* take no token that carries `act`, even one for
    # the configured audience: a service acting for a user cannot change the account.
    exchanged = exchange(client, exchanger, user_token).get_json()["access_token"]
    assert claims_of(exchanged)["aud"] == "http://localhost:8000"
    for method, path in (("get", "/auth/me"), ("post", "/auth/passkeys/register/options"),
                         ("get", "/admin/users"), ("post", "/auth/logout-all")):
        response = getattr(client, method)(path, headers={"Authorization": f"Bearer {exchanged}"})
        assert response.status_code == 401, path
        assert response.get_json()["code"] == "token_invalid"
    assert active(client, exchanger, exchanged)


def test_an_exchanged_token_dies_with_its_users_session(client, exchanger, user_token):
    exchanged = exchange(client, exchanger, user_token).get_json()["access_token"]
    assert active(client, exchanger, exchanged)
    assert client.post("/auth/logout", headers={"Authorization": f"Bearer {user_token}"}
                       ).status_code == 204
    assert not active(client, exchanger, exchanged)


def test_an_exchanged_token_dies_with_its_client(app, client, make_client, exchanger,
                                                 user_token):
    from authapi.oauth import clients
    exchanged = exchange(client, exchanger, user_token).get_json()["access_token"]
    other = make_client(scope="users:read")
    with app.app_context():
        clients.delete(exchanger["id"])
        db.orm().commit()
    assert not active(client, other, exchanged)


def test_a_role_change_voids_an_exchanged_token(app, client, exchanger, user_token):
    exchanged = exchange(client, exchanger, user_token).get_json()["access_token"]
    with app.app_context():
        accounts.set_roles(claims_of(user_token)["sub"], ("user",))
        db.orm().commit()
    assert not active(client, exchanger, exchanged)


@pytest.mark.parametrize("requested", ["urn:ietf:params:oauth:token-type:refresh_token",
                                       "urn:ietf:params:oauth:token-type:id_token", "nonsense"])
def test_a_request_for_another_token_type_is_refused_not_answered_with_an_access_token(
        client, exchanger, user_token, requested):
    # The probe: a requested refresh token was silently answered with an access token.
    response = exchange(client, exchanger, user_token, requested_token_type=requested)
    assert_oauth_error(response, 400, "invalid_request")
    assert "requested_token_type" in response.get_json()["error_description"]


def test_requesting_an_access_token_by_name_is_answered(client, exchanger, user_token):
    response = exchange(client, exchanger, user_token, requested_token_type=ACCESS_TYPE)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["issued_token_type"] == ACCESS_TYPE
