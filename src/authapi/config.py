"""Configuration: one table of defaults, AUTHAPI_* overrides, and a fail-fast check."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

DEV_SECRET_KEY = "authapi-development-secret-key-do-not-use-in-production"  # noqa: S105
ALGORITHMS = ("RS256", "ES256", "EdDSA", "HS256")

# The one place defaults live. Keys are the contract's variable names.
DEFAULTS: dict[str, Any] = {
    "AUTHAPI_ENV": "development",
    "AUTHAPI_SECRET_KEY": DEV_SECRET_KEY,
    "AUTHAPI_DATABASE_URL": "",  # empty: SQLite in the instance folder
    "AUTHAPI_REDIS_URL": "",
    "AUTHAPI_ISSUER": "http://localhost:8000",
    "AUTHAPI_AUDIENCE": "http://localhost:8000",
    "AUTHAPI_JWT_ALGORITHM": "RS256",
    "AUTHAPI_ACCESS_TTL": 900,
    "AUTHAPI_REFRESH_TTL": 1_209_600,
    "AUTHAPI_BCRYPT_ROUNDS": 12,
    "AUTHAPI_MAIL_URL": "console",
    "AUTHAPI_FRONTEND_URL": "http://localhost:5173",
    "AUTHAPI_CORS_ORIGINS": "",
    # Beyond the contract's table: tunables with the contract's defaults.
    "AUTHAPI_LOGIN_MAX_FAILURES": 10,
    "AUTHAPI_LOGIN_FAILURE_WINDOW": 900,
    "AUTHAPI_LOGIN_RATE_PER_ADDRESS": "100 per minute",
    "AUTHAPI_KEY_REFRESH_INTERVAL": 60,
    "AUTHAPI_REVOCATION_POLL_INTERVAL": 0.2,
    "AUTHAPI_PROXY_COUNT": 0,  # trusted reverse proxies in front: X-Forwarded-For hops
    "AUTHAPI_INSTANCE_PATH": "",  # empty: ./instance
    # --- hardening ---
    # While the database is down, /auth/check answers from cached session state this long.
    "AUTHAPI_OUTAGE_GRACE": 60.0,
    # Login back-off (lockout.py): free failures, first wait, and the longest lock.
    "AUTHAPI_LOGIN_BACKOFF_AFTER": 5,
    "AUTHAPI_LOGIN_BACKOFF_BASE": 1.0,
    "AUTHAPI_LOGIN_LOCKOUT_CAP": 900.0,
    "AUTHAPI_REGISTER_RATE_PER_ADDRESS": "20 per hour",
    # Feed polls while Redis nudges arrive: a safety net, not the signal.
    "AUTHAPI_REVOCATION_SAFETY_POLL": 5.0,
    "AUTHAPI_AUDIT_RETENTION_DAYS": 365,  # `authapi purge` drops older audit events; 0 keeps all
}

INTEGER_KEYS = (
    "AUTHAPI_ACCESS_TTL",
    "AUTHAPI_REFRESH_TTL",
    "AUTHAPI_BCRYPT_ROUNDS",
    "AUTHAPI_LOGIN_MAX_FAILURES",
    "AUTHAPI_LOGIN_FAILURE_WINDOW",
    "AUTHAPI_KEY_REFRESH_INTERVAL",
    "AUTHAPI_PROXY_COUNT",
    "AUTHAPI_LOGIN_BACKOFF_AFTER",
    "AUTHAPI_AUDIT_RETENTION_DAYS",
)
FLOAT_KEYS = ("AUTHAPI_REVOCATION_POLL_INTERVAL", "AUTHAPI_OUTAGE_GRACE",
              "AUTHAPI_LOGIN_BACKOFF_BASE", "AUTHAPI_LOGIN_LOCKOUT_CAP",
              "AUTHAPI_REVOCATION_SAFETY_POLL")


class ConfigError(ValueError):
    """A configuration value that the server refuses to start with."""


def from_environ(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The AUTHAPI_* variables of the environment that name a known setting."""
    environ = os.environ if environ is None else environ
    return {key: environ[key] for key in DEFAULTS if key in environ}


def resolve(config: Mapping[str, Any] | None) -> dict[str, Any]:
    """The defaults, overridden by `config` if given, else by the environment; checked.

    Never both: a test passes its mapping and no variable of the caller's shell leaks in.
    """
    values = dict(DEFAULTS)
    values.update(from_environ() if config is None else config)
    coerce(values)
    validate(values)
    return values


def coerce(values: dict[str, Any]) -> None:
    """Turn numeric settings given as strings into numbers, naming any bad one."""
    for keys, kind in ((INTEGER_KEYS, int), (FLOAT_KEYS, float)):
        for key in keys:
            try:
                values[key] = kind(values[key])
            except (TypeError, ValueError):
                raise ConfigError(f"{key} must be a number, got {values[key]!r}") from None


def validate(values: Mapping[str, Any]) -> None:
    """Refuse a configuration that is unsafe or unusable, naming the variable."""
    env = values["AUTHAPI_ENV"]
    if env not in ("development", "production", "testing"):
        raise ConfigError("AUTHAPI_ENV must be development, testing or production")
    secret = values["AUTHAPI_SECRET_KEY"]
    if env == "production" and (not secret or secret == DEV_SECRET_KEY):
        raise ConfigError("AUTHAPI_SECRET_KEY must be set to a real secret in production")
    if len(secret.encode()) < 32:
        raise ConfigError("AUTHAPI_SECRET_KEY must be at least 32 bytes long")
    if values["AUTHAPI_JWT_ALGORITHM"] not in ALGORITHMS:
        raise ConfigError(f"AUTHAPI_JWT_ALGORITHM must be one of {', '.join(ALGORITHMS)}")
    for key in ("AUTHAPI_ACCESS_TTL", "AUTHAPI_REFRESH_TTL"):
        if values[key] == 0:
            raise ConfigError(f"{key} must not be zero")
    if not 4 <= values["AUTHAPI_BCRYPT_ROUNDS"] <= 31:
        raise ConfigError("AUTHAPI_BCRYPT_ROUNDS must be between 4 and 31")
    if not values["AUTHAPI_ISSUER"] or not values["AUTHAPI_AUDIENCE"]:
        raise ConfigError("AUTHAPI_ISSUER and AUTHAPI_AUDIENCE must not be empty")
