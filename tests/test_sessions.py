"""GET /auth/sessions and DELETE /auth/sessions/{id}: the caller's own sessions only."""

import jwt
import pytest

from conftest import assert_problem, bearer

SESSION_FIELDS = {"id", "created_at", "last_used_at", "user_agent", "ip", "current"}


def sid(pair):
    return jwt.decode(pair["access_token"], options={"verify_signature": False})["sid"]


def list_sessions(client, pair, query=""):
    return client.get(f"/auth/sessions{query}", headers=bearer(pair["access_token"]))


def delete(client, pair, session_id):
    return client.delete(f"/auth/sessions/{session_id}", headers=bearer(pair["access_token"]))


def test_sessions_list_has_the_list_shape(client, make_user, login):
    user_id = make_user()
    login(user_id)
    response = list_sessions(client, login(user_id))
    body = response.get_json()
    assert response.status_code == 200
    assert response.content_type == "application/json"
    assert set(body) == {"items", "page", "per_page", "total"}
    assert body["page"] == 1 and body["total"] == 2 and len(body["items"]) == 2
    assert all(set(item) == SESSION_FIELDS for item in body["items"])


def test_sessions_list_marks_only_the_current_session(client, make_user, login):
    user_id = make_user()
    login(user_id)
    pair = login(user_id)
    items = list_sessions(client, pair).get_json()["items"]
    assert [item["id"] for item in items if item["current"]] == [sid(pair)]


def test_sessions_list_records_ip_and_user_agent(client, make_user, login):
    pair = login(make_user())
    response = client.get("/auth/sessions", headers=bearer(pair["access_token"]))
    (item,) = response.get_json()["items"]
    assert item["ip"] == "127.0.0.1"
    assert item["user_agent"].startswith("Werkzeug")


def test_sessions_list_shows_only_the_callers_sessions(client, make_user, login):
    login(make_user())
    pair = login(make_user())
    body = list_sessions(client, pair).get_json()
    assert body["total"] == 1
    assert [item["id"] for item in body["items"]] == [sid(pair)]


def test_sessions_list_leaves_out_revoked_sessions(client, make_user, login):
    user_id = make_user()
    gone = login(user_id)
    client.post("/auth/logout", headers=bearer(gone["access_token"]))
    body = list_sessions(client, login(user_id)).get_json()
    assert body["total"] == 1
    assert sid(gone) not in [item["id"] for item in body["items"]]


@pytest.mark.parametrize(("query", "per_page"), [("?per_page=1000", 100), ("?per_page=100", 100),
                                                 ("?per_page=7", 7), ("", 20)])
def test_sessions_per_page_is_at_most_100(client, make_user, login, query, per_page):
    response = list_sessions(client, login(make_user()), query)
    assert response.status_code == 200
    assert response.get_json()["per_page"] == per_page


def test_sessions_list_pages(client, make_user, login):
    user_id = make_user()
    pairs = [login(user_id) for _ in range(3)]
    first = list_sessions(client, pairs[0], "?per_page=2").get_json()
    second = list_sessions(client, pairs[0], "?per_page=2&page=2").get_json()
    assert first["total"] == second["total"] == 3
    assert len(first["items"]) == 2 and len(second["items"]) == 1
    ids = {item["id"] for item in first["items"] + second["items"]}
    assert ids == {sid(pair) for pair in pairs}


@pytest.mark.parametrize("query", ["?per_page=0", "?page=0", "?page=x", "?per_page=-1"])
def test_sessions_list_refuses_bad_paging(client, make_user, login, query):
    assert_problem(list_sessions(client, login(make_user()), query), 422, "validation_error")


def test_sessions_list_needs_a_token(client):
    response = client.get("/auth/sessions")
    assert_problem(response, 401, "token_missing")
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_delete_own_session_answers_204(client, make_user, login):
    user_id = make_user()
    other, pair = login(user_id), login(user_id)
    response = delete(client, pair, sid(other))
    assert response.status_code == 204
    assert response.get_data() == b""


def test_deleted_sessions_tokens_are_revoked(client, make_user, login):
    user_id = make_user()
    other, pair = login(user_id), login(user_id)
    delete(client, pair, sid(other))
    assert_problem(client.get("/auth/me", headers=bearer(other["access_token"])),
                   401, "token_revoked")
    assert_problem(client.post("/auth/refresh", headers=bearer(other["refresh_token"])),
                   401, "token_revoked")
    assert client.get("/auth/me", headers=bearer(pair["access_token"])).status_code == 200


def test_deleting_the_current_session_revokes_it(client, make_user, login):
    pair = login(make_user())
    assert delete(client, pair, sid(pair)).status_code == 204
    assert_problem(client.get("/auth/me", headers=bearer(pair["access_token"])),
                   401, "token_revoked")


def test_deleting_another_users_session_is_404(client, make_user, login):
    theirs, mine = login(make_user()), login(make_user())
    assert_problem(delete(client, mine, sid(theirs)), 404, "not_found")
    assert client.get("/auth/me", headers=bearer(theirs["access_token"])).status_code == 200


@pytest.mark.parametrize("session_id", ["00000000-0000-4000-8000-000000000000", "nope",
                                        "x" * 300, "a%00b", "%C3%BC"])
def test_deleting_an_unknown_session_is_404(client, make_user, login, session_id):
    assert_problem(delete(client, login(make_user()), session_id), 404, "not_found")


def test_deleting_a_deleted_session_is_404(client, make_user, login):
    user_id = make_user()
    other, pair = login(user_id), login(user_id)
    delete(client, pair, sid(other))
    assert_problem(delete(client, pair, sid(other)), 404, "not_found")
