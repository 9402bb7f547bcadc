from conftest import bearer


def test_register_login_me(client, make_user, login):
    user_id = make_user(email="Someone@Example.com")
    pair = login("someone@example.com")
    response = client.get("/auth/me", headers=bearer(pair["access_token"]))
    assert response.status_code == 200
    assert response.get_json()["id"] == user_id
