"""AUTHAPI_BOOTSTRAP_ADMIN_*: `authapi db upgrade` creates the first admin, once, safely."""

from __future__ import annotations

import json

import pytest

from authapi import config

PASSWORD = "a long enough admin passphrase"


@pytest.fixture
def bootstrap_env(tmp_path):
    secret = tmp_path / "admin_password"
    secret.write_text(PASSWORD + "\n")
    return {"AUTHAPI_BOOTSTRAP_ADMIN_EMAIL": "root@example.com",
            "AUTHAPI_BOOTSTRAP_ADMIN_PASSWORD_FILE": str(secret)}


def roles_of(cli, email):
    listed = json.loads(cli("users", "list", "--q", email).stdout)
    return [user["roles"] for user in listed["items"] if user["email"] == email]


def test_the_first_admin_is_created_once_and_the_password_never_printed(cli, bootstrap_env):
    first = cli("db", "upgrade", env=bootstrap_env)
    assert first.returncode == 0, first.stderr
    (line,) = [json.loads(line) for line in first.stderr.splitlines()]  # a JSON log line
    assert line["message"] == "created the first admin" and line["email"] == "root@example.com"
    assert roles_of(cli, "root@example.com") == [["admin"]]
    again = cli("db", "upgrade", env=bootstrap_env)
    assert again.returncode == 0, again.stderr
    assert "an admin exists" in again.stderr
    assert roles_of(cli, "root@example.com") == [["admin"]]
    for result in (first, again):
        assert PASSWORD not in result.stdout + result.stderr


def test_an_existing_admin_means_nothing_is_read_or_created(cli, bootstrap_env, tmp_path):
    assert cli("db", "upgrade").returncode == 0
    made = cli("users", "create", "--email", "boss@example.com", "--role", "admin",
               "--password-stdin", stdin=PASSWORD + "\n")
    assert made.returncode == 0, made.stderr
    missing = {**bootstrap_env, "AUTHAPI_BOOTSTRAP_ADMIN_PASSWORD_FILE": str(tmp_path / "gone")}
    result = cli("db", "upgrade", env=missing)
    assert result.returncode == 0, result.stderr
    assert roles_of(cli, "root@example.com") == []


def test_an_account_that_signed_up_with_the_address_is_never_promoted(cli, bootstrap_env):
    assert cli("db", "upgrade").returncode == 0
    made = cli("users", "create", "--email", "root@example.com", "--password-stdin",
               stdin="the squatter's own passphrase\n")
    assert made.returncode == 0, made.stderr
    result = cli("db", "upgrade", env=bootstrap_env)
    assert result.returncode != 0
    assert "not promoted" in result.stderr
    assert roles_of(cli, "root@example.com") == [["user"]]


@pytest.mark.parametrize(("content", "expected"), [
    (None, "cannot be read"), ("", "is empty"), ("short\n", "AUTHAPI_BOOTSTRAP_ADMIN_*"),
])
def test_an_unusable_password_file_fails_the_upgrade_by_name(cli, tmp_path, content, expected):
    path = tmp_path / "pw"
    if content is not None:
        path.write_text(content)
    result = cli("db", "upgrade", env={"AUTHAPI_BOOTSTRAP_ADMIN_EMAIL": "root@example.com",
                                       "AUTHAPI_BOOTSTRAP_ADMIN_PASSWORD_FILE": str(path)})
    assert result.returncode != 0
    assert expected in result.stderr
    assert "short" not in result.stderr
    assert roles_of(cli, "root@example.com") == []


def test_an_email_needs_a_password_file_and_a_file_alone_does_nothing(cli, tmp_path):
    with pytest.raises(config.ConfigError, match="needs AUTHAPI_BOOTSTRAP_ADMIN_PASSWORD_FILE"):
        config.resolve({"AUTHAPI_BOOTSTRAP_ADMIN_EMAIL": "a@example.com"})
    alone = {"AUTHAPI_BOOTSTRAP_ADMIN_PASSWORD_FILE": str(tmp_path / "not-read")}
    assert cli("db", "upgrade", env=alone).returncode == 0  # e.g. the email's Secret deleted
