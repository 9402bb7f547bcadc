"""CLI parity with /admin: `authapi users list|disable|roles` and `authapi roles create|grant`."""

from __future__ import annotations

import json

import pytest

from conftest import PASSWORD, assert_problem, bearer


@pytest.fixture
def run(cli, database_url):
    """Run `authapi` on the test database; returns (exit status, parsed stdout or stderr)."""

    def invoke(*args: str) -> tuple[int, object]:
        result = cli(*args, env={"AUTHAPI_DATABASE_URL": database_url})
        assert "Traceback" not in result.stderr
        if result.returncode:
            return result.returncode, result.stderr
        return 0, json.loads(result.stdout)

    return invoke


def test_users_list_matches_the_api(run, client, make_user, auth_headers):
    make_user(email="ada@example.com", display_name="Ada")
    status, page = run("users", "list", "--q", "ada")
    assert status == 0
    api = client.get("/admin/users?q=ada", headers=auth_headers(("admin",))).get_json()
    assert page == api


def test_users_list_caps_per_page(run):
    status, message = run("users", "list", "--per-page", "101")
    assert status != 0 and "101" in str(message)


def test_users_disable_kills_every_token_and_enable_undoes_it(run, client, make_user, login):
    user_id = make_user(email="ada@example.com")
    pair = login(user_id)
    status, user = run("users", "disable", "--email", "ADA@example.com")
    assert status == 0 and user["disabled"] is True
    assert_problem(client.get("/auth/me", headers=bearer(pair["access_token"])),
                   401, "token_revoked")
    assert run("users", "disable", "--email", "ada@example.com", "--enable")[1]["disabled"] is False
    assert client.post("/auth/login", json={"email": "ada@example.com", "password": PASSWORD}
                       ).status_code == 200


@pytest.mark.parametrize("command", [("users", "disable"), ("users", "roles", "--role", "user")])
def test_the_last_admin_is_kept_on_the_command_line_too(run, make_user, command):
    make_user(email="boss@example.com", roles=("admin",))
    status, message = run(*command, "--email", "boss@example.com")
    assert status != 0 and "last active admin" in str(message)


def test_roles_create_then_grant_changes_the_scope_after_refresh(run, client, make_user, login):
    assert run("roles", "create", "--name", "reporter", "--permission", "reports:read")[0] == 0
    pair = login(make_user(roles=("reporter",)))
    status, role = run("roles", "grant", "--name", "reporter", "--permission", "reports:write")
    assert (status, role["permissions"]) == (0, ["reports:read", "reports:write"])
    assert_problem(client.get("/auth/me", headers=bearer(pair["access_token"])),
                   401, "token_revoked")
    fresh = client.post("/auth/refresh", headers=bearer(pair["refresh_token"])).get_json()
    me = client.get("/auth/me", headers=bearer(fresh["access_token"])).get_json()
    assert me["scope"] == "reports:read reports:write"


@pytest.mark.parametrize(("args", "says"), [
    (("roles", "create", "--name", "user"), "already exists"),
    (("roles", "create", "--name", "x", "--permission", "nope"), "permissions"),
    (("roles", "grant", "--name", "ghost", "--permission", "a:b"), "No such role"),
    (("users", "disable", "--email", "ghost@example.com"), "no user"),
    (("users", "roles", "--email", "ghost@example.com", "--role", "user"), "no user"),
])
def test_mistakes_are_one_line_messages(run, args, says):
    status, message = run(*args)
    assert status != 0 and says in str(message)
