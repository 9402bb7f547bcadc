"""The token endpoint's client read, cached per process (issue 23 item 3) and never
stale past the revocation feed's bound: a rotated secret, a disabled or a deleted client
is seen at once by the instance that changed it and by a second one on the database."""

from __future__ import annotations

import pytest

from authapi.oauth import clients
from conftest import bearer
from fixtures.oauth import assert_oauth_error, basic

POLLING = {"AUTHAPI_REVOCATION_POLL_INTERVAL": 0}


def token(client, registered, secret=None):
    return client.post("/oauth/token", data={"grant_type": "client_credentials"},
                       headers=basic(registered["client_id"], secret or
                                     registered["client_secret"]))


@pytest.fixture
def admin(make_user, login) -> dict[str, str]:
    return bearer(login(make_user(roles=("admin",)))["access_token"])


def test_the_client_is_read_once(client, make_client, monkeypatch):
    registered = make_client(scope="orders:read")
    reads: list[str] = []
    real = clients._read_caller
    monkeypatch.setattr(clients, "_read_caller", lambda cid: reads.append(cid) or real(cid))
    for _ in range(3):
        assert token(client, registered).status_code == 200
    assert reads == [registered["client_id"]]


@pytest.mark.parametrize("instance", ["same", "second"])
@pytest.mark.parametrize("change", ["secret", "disable", "delete"])
def test_a_client_change_is_seen_at_once(client, make_app, make_client, admin, instance,
                                         change):
    registered = make_client(scope="orders:read")
    server = client if instance == "same" else make_app(**POLLING).test_client()
    assert token(server, registered).status_code == 200  # cached there now
    path = f"/admin/clients/{registered['id']}"
    if change == "secret":
        answer = client.post(f"{path}/secret", headers=admin)
        assert answer.status_code == 200, answer.get_json()
        assert token(server, registered, answer.get_json()["client_secret"]).status_code == 200
    elif change == "disable":
        assert client.patch(path, headers=admin, json={"disabled": True}).status_code == 200
    else:
        assert client.delete(path, headers=admin).status_code == 204
    assert_oauth_error(token(server, registered), 401, "invalid_client")
