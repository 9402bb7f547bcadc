"""Configuration fails fast, naming the variable: validate(), create_app() and the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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


def test_production_starts_with_a_real_secret_and_smtp(settings):
    app = create_app({**settings, "AUTHAPI_ENV": "production", "AUTHAPI_SECRET_KEY": REAL_SECRET,
                      "AUTHAPI_MAIL_URL": "smtp://127.0.0.1:1"})
    assert app.config["AUTHAPI_ENV"] == "production"
    assert app.test_client().get("/healthz").status_code == 200
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


# --- the typed settings table (issue 19, item 5) ---
BOOLS = [s.name for s in config.SETTINGS if s.kind == "bool"]
SPELLINGS = {True: ["1", "true", "TRUE", "Yes", "on", " On ", True, 1],
             False: ["0", "false", "False", "NO", "off", "OFF", False, 0]}
DOC = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"
PRODUCTION = {"AUTHAPI_ENV": "production", "AUTHAPI_SECRET_KEY": REAL_SECRET}


@pytest.mark.parametrize("name", BOOLS)
@pytest.mark.parametrize(("expected", "spelling"),
                         [(value, word) for value, words in SPELLINGS.items() for word in words])
def test_every_boolean_parses_the_same_spellings(name, expected, spelling):
    assert config.resolve({name: spelling})[name] is expected


@pytest.mark.parametrize("name", BOOLS)
@pytest.mark.parametrize("value", ["2", "enabled", "", "truthy", 2])
def test_a_bad_boolean_is_refused_by_name(name, value):
    with pytest.raises(ConfigError, match=name):
        config.resolve({name: value})


def test_dpop_nonce_true_from_the_environment_is_on():
    values = config.resolve(config.from_environ({"AUTHAPI_DPOP_NONCE": "true"}))
    assert values["AUTHAPI_DPOP_NONCE"] is True


def test_the_flags_that_were_integers_are_booleans_now():
    assert set(BOOLS) >= {"AUTHAPI_DPOP_NONCE", "AUTHAPI_ACCESS_LOG"}


@pytest.mark.parametrize("name", [s.name for s in config.SETTINGS if s.kind == "rate"])
def test_a_bad_rate_is_refused_by_name(name):
    with pytest.raises(ConfigError, match=name):
        config.resolve({name: "often"})


def test_production_refuses_the_console_mailer(settings):
    message = refused(settings, **PRODUCTION)
    assert "AUTHAPI_MAIL_URL" in message
    assert "live links to the log" in message


def test_production_refuses_the_dev_secret_even_with_smtp(settings):
    message = refused(settings, **{**PRODUCTION, "AUTHAPI_SECRET_KEY": DEV_SECRET_KEY},
                      AUTHAPI_MAIL_URL="smtp://relay.example:25")
    assert "AUTHAPI_SECRET_KEY" in message


def test_docs_configuration_md_is_generated_from_the_table():
    assert DOC.read_text() == config.reference(), (
        "docs/configuration.md is stale: run "
        "`.venv/bin/python -m authapi.config > docs/configuration.md`")


def test_each_setting_is_declared_once_with_a_known_type():
    names = [s.name for s in config.SETTINGS]
    assert len(names) == len(set(names))
    assert {s.kind for s in config.SETTINGS} <= set(config.PARSERS)


def test_serve_in_production_without_a_mail_url_exits_naming_it(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTHAPI_")}
    env.update(AUTHAPI_ENV="production", AUTHAPI_SECRET_KEY=REAL_SECRET,
               AUTHAPI_INSTANCE_PATH=str(tmp_path / "instance"))
    authapi = str(Path(sys.executable).parent / "authapi")
    result = subprocess.run([authapi, "serve", "--port", "0"], env=env, cwd=tmp_path,  # noqa: S603
                            capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode != 0
    assert "AUTHAPI_MAIL_URL" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(("name", "value"), [
    ("AUTHAPI_DATABASE_URL", "foo"), ("AUTHAPI_DATABASE_URL", "nosuchdriver://x/y"),
    ("AUTHAPI_REDIS_URL", "foo"), ("AUTHAPI_REDIS_URL", "http://127.0.0.1:6379"),
    ("AUTHAPI_FRONTEND_URL", "not a url"), ("AUTHAPI_FRONTEND_URL", "ftp://files.example"),
    ("AUTHAPI_METRICS_PORT", 99999), ("AUTHAPI_METRICS_PORT", -1),
])
def test_a_url_or_port_that_cannot_work_is_refused_by_name(settings, name, value):
    """Found by a review: each started (or crashed later, with a traceback)."""
    assert name in refused(settings, **{name: value})


@pytest.mark.parametrize("name", ["AUTHAPI_ACCESS_TTL", "AUTHAPI_REFRESH_TTL"])
def test_production_refuses_a_negative_lifetime(settings, name):
    """Tokens born expired; outside production a negative TTL is how tests make them."""
    production = {**settings, "AUTHAPI_ENV": "production", "AUTHAPI_SECRET_KEY": REAL_SECRET,
                  "AUTHAPI_MAIL_URL": "smtp://127.0.0.1:25"}
    assert name in refused(production, **{name: -5})
    assert create_app({**settings, name: -5})


def test_a_secret_key_of_undecodable_bytes_is_refused_by_name(settings):
    assert "UTF-8" in refused(settings, AUTHAPI_SECRET_KEY="\udcff" * 40)


@pytest.mark.parametrize(("variable", "value"), [
    ("AUTHAPI_DATABASE_URL", "foo"), ("AUTHAPI_REDIS_URL", "foo"),
    ("AUTHAPI_INSTANCE_PATH", "/proc/authapi-cannot-be-here"),
])
def test_the_cli_names_a_setting_that_cannot_work(cli, tmp_path, variable, value):
    env = {"AUTHAPI_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}", variable: value}
    if variable == "AUTHAPI_INSTANCE_PATH":
        env["AUTHAPI_DATABASE_URL"] = ""  # the embedded database lives in the folder
    result = cli("db", "upgrade", env=env)
    assert result.returncode != 0
    assert variable in result.stderr
    assert "Traceback" not in result.stderr
