"""POST /auth/register: the created user, unique emails, strict bodies, the password policy."""

import pytest

from conftest import PASSWORD, PROBLEM

USER_FIELDS = {"id", "email", "display_name", "roles", "scope", "email_verified",
               "mfa_enabled", "created_at"}


def register(client, email="new@example.com", password=PASSWORD, **extra):
    return client.post("/auth/register", json={"email": email, "password": password, **extra})


def login_status(client, email, password):
    return client.post("/auth/login", json={"email": email, "password": password}).status_code


def test_register_answers_201_with_the_user(client):
    response = register(client, display_name="New Person")
    body = response.get_json()
    assert response.status_code == 201
    assert response.content_type == "application/json"
    assert set(body) == USER_FIELDS
    assert body["email"] == "new@example.com"
    assert body["display_name"] == "New Person"
    assert body["roles"] == ["user"]
    assert body["scope"] == ""
    assert body["email_verified"] is False and body["mfa_enabled"] is False


def test_register_never_returns_the_password(client):
    body = register(client).get_data(as_text=True)
    assert PASSWORD not in body
    assert "password" not in body


def test_registered_user_can_log_in(client):
    register(client)
    assert login_status(client, "new@example.com", PASSWORD) == 200


def test_registered_email_logs_in_in_any_letter_case(client):
    register(client, email="Mixed.Case@Example.com")
    assert login_status(client, "mixed.case@EXAMPLE.COM", PASSWORD) == 200


@pytest.mark.parametrize("second", ["taken@example.com", "TAKEN@example.com",
                                    "Taken@Example.Com"])
def test_register_with_a_taken_email_is_409(client, second):
    assert register(client, email="taken@example.com").status_code == 201
    response = register(client, email=second)
    assert response.status_code == 409
    assert response.content_type == PROBLEM
    assert response.get_json()["code"] == "email_taken"


@pytest.mark.parametrize("extra", [{"roles": ["admin"]}, {"is_admin": True},
                                   {"email_verified": True}, {"id": "x"}])
def test_register_rejects_unknown_fields(client, extra):
    response = register(client, **extra)
    body = response.get_json()
    assert response.status_code == 422
    assert response.content_type == PROBLEM
    assert body["code"] == "validation_error"
    assert set(extra) <= set(body["errors"])


def test_register_with_roles_field_creates_nobody(client):
    register(client, roles=["admin"])
    assert login_status(client, "new@example.com", PASSWORD) == 401


@pytest.mark.parametrize("password", [
    "Sh0rt!x",          # 7 characters
    "x" * 1025,          # over the maximum
    "x" * 5000,          # far over the maximum
    "password123",       # common
    "iloveyou",          # common
    "PASSWORD123",       # common, in another case
    "",                  # empty
])
def test_register_refuses_a_weak_password(client, password):
    response = register(client, password=password)
    assert response.status_code == 422
    assert response.content_type == PROBLEM
    assert response.get_json()["code"] == "weak_password"


def test_register_accepts_an_eight_character_password(client):
    assert register(client, password="k9#Vq2!z").status_code == 201


def test_register_accepts_a_1024_character_password_that_then_logs_in(client):
    password = ("Zq7!" * 256)[:1024]
    assert register(client, password=password).status_code == 201
    assert login_status(client, "new@example.com", password) == 200


def test_passwords_sharing_the_first_72_bytes_are_different(client):
    password = "Lk3$" * 20  # 80 characters
    assert register(client, password=password).status_code == 201
    assert login_status(client, "new@example.com", password) == 200
    assert login_status(client, "new@example.com", password[:72] + "different") == 401


def test_multibyte_passwords_sharing_the_first_72_bytes_are_different(client):
    password = "ü" * 36 + "tail-one"  # 72 bytes of ü, then a distinct tail
    assert register(client, password=password).status_code == 201
    assert login_status(client, "new@example.com", "ü" * 36 + "tail-two") == 401


@pytest.mark.parametrize("body", [
    {"email": "not-an-email", "password": PASSWORD},
    {"email": "a@", "password": PASSWORD},
    {"email": "", "password": PASSWORD},
    {"email": "two@@example.com", "password": PASSWORD},
    {"email": "x" * 400 + "@example.com", "password": PASSWORD},
    {"password": PASSWORD},
    {"email": "new@example.com"},
])
def test_register_refuses_a_bad_or_missing_field(client, body):
    response = client.post("/auth/register", json=body)
    payload = response.get_json()
    assert response.status_code == 422
    assert response.content_type == PROBLEM
    assert payload["code"] == "validation_error"
    assert payload["errors"]
