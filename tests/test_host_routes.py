"""A host route guarded by Flask-JWT-Extended answers exactly as authapi's own guards do.

Each case presents the same token to a host route with `@jwt_required()` and to
authapi's `/auth/me` (guarded by `authz`), and expects the same status, problem code
and challenge: the logout hole (issue 19) was a host route that said 200 after logout.
"""

from __future__ import annotations

import pytest
from flask import Blueprint, jsonify
from flask_jwt_extended import (
    create_access_token,
    current_user,
    get_jwt,
    get_jwt_identity,
    jwt_required,
)

from authapi.web.hostjwt import Principal
from conftest import PASSWORD, assert_problem, bearer
from fixtures.dpop import DpopClient, dpop_login
from test_token_forgery import FORGERIES, Forge, forge  # noqa: F401  (forge is a fixture)


@pytest.fixture
def host_app(make_app):
    app = make_app()
    bp = Blueprint("host", __name__)

    @bp.get("/host/reports")
    @jwt_required()
    def reports():
        return jsonify(sub=get_jwt_identity(), claims=get_jwt(), user=current_user.id,
                       user_roles=list(current_user.roles), is_user=current_user.is_user)

    app.register_blueprint(bp)
    return app


@pytest.fixture
def host(host_app):
    return host_app.test_client()


def same_answer(host, headers):
    """The host route's answer and /auth/me's, reduced to what a client switches on."""
    answers = [host.get(path, headers=headers) for path in ("/host/reports", "/auth/me")]
    return [(r.status_code, (r.get_json() or {}).get("code"), r.headers.get("WWW-Authenticate"))
            for r in answers]


def host_login(host, email):
    response = host.post("/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_a_fresh_token_is_accepted_with_get_jwt_filled(host, make_user):
    user = make_user(email="fresh@example.com")
    token = host_login(host, "fresh@example.com")["access_token"]
    response = host.get("/host/reports", headers=bearer(token))
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["sub"] == body["user"] == user
    assert body["claims"]["type"] == "access" and body["claims"]["sid"]
    assert body["user_roles"] == ["user"] and body["is_user"] is True


def test_a_token_after_logout_is_refused_as_revoked(host, make_user):
    make_user(email="out@example.com")
    token = host_login(host, "out@example.com")["access_token"]
    assert host.post("/auth/logout", headers=bearer(token)).status_code == 204
    answers = same_answer(host, bearer(token))
    assert answers[0] == answers[1] == (401, "token_revoked", 'Bearer error="invalid_token"')


def test_every_token_after_logout_all_is_refused(host, make_user):
    make_user(email="all@example.com")
    first = host_login(host, "all@example.com")["access_token"]
    second = host_login(host, "all@example.com")["access_token"]
    assert host.post("/auth/logout-all", headers=bearer(second)).status_code == 204
    for token in (first, second):
        answers = same_answer(host, bearer(token))
        assert answers[0] == answers[1] and answers[0][:2] == (401, "token_revoked")


def test_a_disabled_users_token_is_refused(host, host_app, make_user):
    user = make_user(email="gone@example.com")
    token = host_login(host, "gone@example.com")["access_token"]
    make_user(email="boss@example.com", roles=("admin",))
    admin_token = host_login(host, "boss@example.com")["access_token"]
    patched = host.patch(f"/admin/users/{user}", json={"disabled": True},
                         headers=bearer(admin_token))
    assert patched.status_code == 200, patched.get_json()
    assert host.get("/host/reports", headers=bearer(admin_token)).status_code == 200
    assert_problem(host.get("/host/reports", headers=bearer(token)), 401, "token_revoked")


def test_a_refresh_token_is_refused_as_authapi_refuses_it(host, make_user):
    make_user(email="refresh@example.com")
    refresh = host_login(host, "refresh@example.com")["refresh_token"]
    answers = same_answer(host, bearer(refresh))
    assert answers[0] == answers[1] and answers[0][:2] == (401, "token_invalid")


def test_an_expired_token_is_refused_as_expired(make_app, make_user):
    app = make_app(AUTHAPI_ACCESS_TTL=-1)
    bp = Blueprint("host", __name__)
    bp.add_url_rule("/host/reports", "reports", jwt_required()(lambda: {"ok": True}))
    app.register_blueprint(bp)
    client = app.test_client()
    make_user(email="late@example.com")
    token = host_login(client, "late@example.com")["access_token"]
    answers = same_answer(client, bearer(token))
    assert answers[0] == answers[1] and answers[0][:2] == (401, "token_expired")


@pytest.mark.parametrize("name", sorted(FORGERIES))
def test_a_forged_token_is_refused_as_authapi_refuses_it(host, forge: Forge, name):  # noqa: F811
    token = FORGERIES[name](forge, "access")
    answers = same_answer(host, bearer(token))
    assert answers[0] == answers[1], name
    assert answers[0][0] == 401


def test_a_token_for_another_audience_is_refused(host, forge: Forge):  # noqa: F811
    token = forge.token("access", aud="https://elsewhere.example")
    answers = same_answer(host, bearer(token))
    assert answers[0] == answers[1] and answers[0][:2] == (401, "token_invalid")


def test_a_dpop_bound_token_is_no_bearer_token_on_a_host_route(host, make_user):
    make_user(email="bound@example.com")
    key = DpopClient()
    token = dpop_login(host, "bound@example.com", key, PASSWORD)["access_token"]
    answers = same_answer(host, bearer(token))
    assert answers[0] == answers[1]
    assert answers[0][:2] == (401, "token_invalid")
    assert answers[0][2].startswith('DPoP error="invalid_token"')


def test_the_dpop_scheme_on_a_host_route_says_to_use_authapis_guards(host, make_user):
    make_user(email="scheme@example.com")
    key = DpopClient()
    token = dpop_login(host, "scheme@example.com", key, PASSWORD)["access_token"]
    response = host.get("/host/reports", headers=key.headers("GET", "/host/reports", token))
    body = assert_problem(response, 401, "token_invalid")
    assert "authapi.authz" in body["detail"]


def test_no_token_is_token_missing_with_a_bare_challenge(host):
    response = host.get("/host/reports")
    assert_problem(response, 401, "token_missing")
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_a_service_token_is_accepted_as_a_principal_without_a_session(host, forge: Forge):  # noqa: F811
    claims = {k: v for k, v in forge.claims["access"].items() if k != "sid"}
    token = forge.token("access", sid=None, jti=claims["jti"])
    response = host.get("/host/reports", headers=bearer(token))
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["is_user"] is False


def test_flask_jwt_extended_cannot_mint_tokens_beside_authapi(host_app):
    with host_app.test_request_context(), pytest.raises(RuntimeError, match="issues every"):
        create_access_token(identity="someone")


def test_principal_is_built_from_the_verified_claims():
    principal = Principal(id="u", roles=("user",), scope="", session_id=None)
    assert principal.is_user is False
    assert Principal(id="u", roles=(), scope="", session_id="s").is_user is True


def test_a_role_change_voids_the_host_routes_token_too(host, make_user):
    user = make_user(email="demoted@example.com", roles=("user", "admin"))
    make_user(email="chief@example.com", roles=("admin",))
    token = host_login(host, "demoted@example.com")["access_token"]
    chief = host_login(host, "chief@example.com")["access_token"]
    changed = host.put(f"/admin/users/{user}/roles", json={"roles": ["user"]},
                       headers=bearer(chief))
    assert changed.status_code == 200, changed.get_json()
    answers = same_answer(host, bearer(token))
    assert answers[0] == answers[1] and answers[0][:2] == (401, "token_revoked")


def test_a_delegated_token_is_refused_on_both(host, forge: Forge):  # noqa: F811
    # RFC 8693 `act`: exchanged on someone's behalf; authapi's routes take none (contract).
    token = forge.token("access", act={"sub": "svc_orders"})
    answers = same_answer(host, bearer(token))
    assert answers[0] == answers[1] and answers[0][:2] == (401, "token_invalid")
