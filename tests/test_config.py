"""Configuration fails fast, naming the variable: validate(), create_app() and the CLI."""

from __future__ import annotations

import pytest

from authapi import config, create_app, db
from authapi.config import DEV_SECRET_KEY, ConfigError

REAL_SECRET = "a-real-production-secret-of-more-than-32-bytes"


def refused(settings: dict, **overrides) -> str:
    """The message of the ConfigError that create_app raises for these overrides."""
    with pytest.raises(ConfigError) as error:
        create_app({**settings, **overrides})
    return str(error.value)


@pytest.mark.parametrize("secret", [None, DEV_SECRET_KEY, ""])
def test_production_refuses_a_missing_or_dev_secret(settings, secret):
    overrides = {"AUTHAPI_ENV": "production"}
    if secret is not None:
        overrides["AUTHAPI_SECRET_KEY"] = secret
    assert "AUTHAPI_SECRET_KEY" in refused(settings, **overrides)


def test_production_starts_with_a_real_secret(settings):
    app = create_app({**settings, "AUTHAPI_ENV": "production", "AUTHAPI_SECRET_KEY": REAL_SECRET})
    assert app.config["AUTHAPI_ENV"] == "production"
    assert app.config["JWT_COOKIE_SECURE"] is True
    db.dispose(app)


@pytest.mark.parametrize("env", ["development", "testing", "production"])
def test_short_secret_is_refused(settings, env):
    assert "AUTHAPI_SECRET_KEY" in refused(settings, AUTHAPI_ENV=env, AUTHAPI_SECRET_KEY="s" * 31)


@pytest.mark.parametrize("algorithm", ["none", "HS512", "RS512", "PS256", "rs256", ""])
def test_unknown_algorithm_is_refused(settings, algorithm):
    assert "AUTHAPI_JWT_ALGORITHM" in refused(settings, AUTHAPI_JWT_ALGORITHM=algorithm)


@pytest.mark.parametrize("name", [
    "AUTHAPI_ACCESS_TTL", "AUTHAPI_REFRESH_TTL", "AUTHAPI_BCRYPT_ROUNDS",
    "AUTHAPI_KEY_REFRESH_INTERVAL", "AUTHAPI_REVOCATION_POLL_INTERVAL",
])
@pytest.mark.parametrize("value", ["fifteen", "", "9O0"])
def test_non_numeric_setting_is_refused_by_name(settings, name, value):
    assert name in refused(settings, **{name: value})


def test_unknown_environment_is_refused(settings):
    assert "AUTHAPI_ENV" in refused(settings, AUTHAPI_ENV="prod")


def test_numbers_from_the_environment_are_coerced():
    environ = {"AUTHAPI_ACCESS_TTL": "60", "AUTHAPI_REVOCATION_POLL_INTERVAL": "0.5"}
    values = config.resolve(config.from_environ(environ))
    assert (values["AUTHAPI_ACCESS_TTL"], values["AUTHAPI_REVOCATION_POLL_INTERVAL"]) == (60, 0.5)


def test_validate_accepts_the_defaults():
    values = dict(config.DEFAULTS)
    config.validate(values)  # the development defaults must start
    assert values["AUTHAPI_JWT_ALGORITHM"] == "RS256"


@pytest.mark.parametrize("secret", [None, DEV_SECRET_KEY])
def test_cli_refuses_production_without_a_secret(cli, empty_database_url, secret):
    env = {"AUTHAPI_ENV": "production", "AUTHAPI_DATABASE_URL": empty_database_url,
           "AUTHAPI_SECRET_KEY": secret}
    result = cli("db", "upgrade", env=env)
    assert result.returncode != 0
    assert "AUTHAPI_SECRET_KEY" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_names_a_non_numeric_ttl(cli, empty_database_url):
    result = cli("db", "upgrade", env={"AUTHAPI_DATABASE_URL": empty_database_url,
                                       "AUTHAPI_ACCESS_TTL": "15m"})
    assert result.returncode != 0
    assert "AUTHAPI_ACCESS_TTL" in result.stderr
    assert "Traceback" not in result.stderr


def test_create_app_with_a_mapping_ignores_the_environment(settings, monkeypatch):
    monkeypatch.setenv("AUTHAPI_ACCESS_TTL", "5")
    monkeypatch.setenv("AUTHAPI_ISSUER", "https://leaked.example")
    app = create_app(settings)
    assert app.config["AUTHAPI_ACCESS_TTL"] == 900
    assert app.config["AUTHAPI_ISSUER"] == config.DEFAULTS["AUTHAPI_ISSUER"]
    db.dispose(app)


def test_create_app_without_a_mapping_reads_the_environment(settings, monkeypatch):
    for key, value in settings.items():
        monkeypatch.setenv(key, str(value))
    monkeypatch.setenv("AUTHAPI_ACCESS_TTL", "5")
    app = create_app()
    assert app.config["AUTHAPI_ACCESS_TTL"] == 5
    db.dispose(app)
