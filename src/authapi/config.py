"""Configuration: one table of defaults, AUTHAPI_* overrides, and a fail-fast check."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

DEV_SECRET_KEY = "authapi-development-secret-key-do-not-use-in-production"  # noqa: S105
ALGORITHMS = ("RS256", "ES256", "EdDSA", "HS256")
MAX_REFRESH_GRACE = 300  # a grace window is for racing tabs, not a second refresh lifetime
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")

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
    "AUTHAPI_REFRESH_GRACE": 0,  # seconds; 0: strict rotation (see grace.py)
    # Beyond the contract's table: tunables with the contract's defaults.
    "AUTHAPI_LOGIN_MAX_FAILURES": 10,
    "AUTHAPI_LOGIN_FAILURE_WINDOW": 900,
    "AUTHAPI_LOGIN_RATE_PER_ADDRESS": "100 per minute",
    "AUTHAPI_KEY_REFRESH_INTERVAL": 60,
    "AUTHAPI_REVOCATION_POLL_INTERVAL": 0.2,
    "AUTHAPI_PROXY_COUNT": 0,  # trusted reverse proxies in front: X-Forwarded-For hops
    "AUTHAPI_INSTANCE_PATH": "",  # empty: ./instance
    # Passkeys (WebAuthn): the relying party, and how long a ceremony's challenge lives.
    "AUTHAPI_WEBAUTHN_RP_ID": "",  # empty: the host of AUTHAPI_FRONTEND_URL
    "AUTHAPI_WEBAUTHN_ORIGINS": "",  # empty: AUTHAPI_FRONTEND_URL; else comma-separated
    "AUTHAPI_WEBAUTHN_RP_NAME": "authapi",
    "AUTHAPI_WEBAUTHN_CHALLENGE_TTL": 300,
    # --- operations (metrics, logs, OIDC) ---
    "AUTHAPI_LOG_LEVEL": "INFO",
    "AUTHAPI_ACCESS_LOG": 0,  # 1: one JSON line per request (costs throughput)
    # DPoP (RFC 9449): 1 makes proofs carry a server nonce, valid for one to two periods.
    "AUTHAPI_DPOP_NONCE": 0,
    "AUTHAPI_DPOP_NONCE_PERIOD": 300,
    # Service clients (OAuth 2): failed /oauth/token requests per address, and how long
    # verifiers may cache the JWKS (Cache-Control: max-age).
    "AUTHAPI_TOKEN_FAILURE_RATE": "100 per minute",
    "AUTHAPI_JWKS_MAX_AGE": 300,
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

INTEGER_KEYS: tuple[str, ...] = (
    "AUTHAPI_ACCESS_TTL",
    "AUTHAPI_REFRESH_TTL",
    "AUTHAPI_BCRYPT_ROUNDS",
    "AUTHAPI_LOGIN_MAX_FAILURES",
    "AUTHAPI_LOGIN_FAILURE_WINDOW",
    "AUTHAPI_KEY_REFRESH_INTERVAL",
    "AUTHAPI_PROXY_COUNT",
    "AUTHAPI_WEBAUTHN_CHALLENGE_TTL",
    "AUTHAPI_REFRESH_GRACE",
    "AUTHAPI_ACCESS_LOG",
    "AUTHAPI_DPOP_NONCE",
    "AUTHAPI_DPOP_NONCE_PERIOD",
    "AUTHAPI_JWKS_MAX_AGE",
    "AUTHAPI_LOGIN_BACKOFF_AFTER",
    "AUTHAPI_AUDIT_RETENTION_DAYS",
)
FLOAT_KEYS: tuple[str, ...] = (
    "AUTHAPI_REVOCATION_POLL_INTERVAL", "AUTHAPI_OUTAGE_GRACE", "AUTHAPI_LOGIN_BACKOFF_BASE",
    "AUTHAPI_LOGIN_LOCKOUT_CAP", "AUTHAPI_REVOCATION_SAFETY_POLL",
)

# --- account lifecycle (mail outbox, one-time links, MFA): beyond the contract's table ---
DEFAULTS.update({
    "AUTHAPI_MAIL_FROM": "authapi <noreply@localhost>",
    "AUTHAPI_MAIL_WORKER": True,  # drain the outbox in a background thread of each process
    "AUTHAPI_MAIL_RETRY_BASE": 2.0,  # seconds before the first retry; doubles each attempt
    "AUTHAPI_MAIL_RETRY_MAX": 900.0,  # the back-off never waits longer than this
    "AUTHAPI_MAIL_MAX_ATTEMPTS": 10,  # then the mail is marked failed
    "AUTHAPI_MAIL_POLL_INTERVAL": 30.0,  # how often an idle worker looks for due mail
    "AUTHAPI_MAIL_TIMEOUT": 10.0,  # seconds per SMTP connection
    "AUTHAPI_PASSWORD_RESET_TTL": 3600,
    "AUTHAPI_VERIFY_EMAIL_TTL": 86400,
    "AUTHAPI_EMAIL_CHANGE_TTL": 3600,
    "AUTHAPI_REQUIRE_VERIFIED_EMAIL": False,
})
INTEGER_KEYS += ("AUTHAPI_MAIL_MAX_ATTEMPTS", "AUTHAPI_PASSWORD_RESET_TTL",
                 "AUTHAPI_VERIFY_EMAIL_TTL", "AUTHAPI_EMAIL_CHANGE_TTL")
FLOAT_KEYS += ("AUTHAPI_MAIL_RETRY_BASE", "AUTHAPI_MAIL_RETRY_MAX", "AUTHAPI_MAIL_POLL_INTERVAL",
               "AUTHAPI_MAIL_TIMEOUT")
BOOL_KEYS = ("AUTHAPI_MAIL_WORKER", "AUTHAPI_REQUIRE_VERIFIED_EMAIL")
MAIL_SCHEMES = ("smtp", "smtps")


def coerce_flags(values: dict[str, Any]) -> None:
    """Turn on/off settings given as text (1/0, true/false, yes/no, on/off) into booleans."""
    for key in BOOL_KEYS:
        value = values[key]
        if isinstance(value, str):
            word = value.strip().lower()
            if word not in ("1", "0", "true", "false", "yes", "no", "on", "off", ""):
                raise ConfigError(f"{key} must be true or false, got {value!r}")
            values[key] = word in ("1", "true", "yes", "on")


def validate_mail(values: Mapping[str, Any]) -> None:
    """AUTHAPI_MAIL_URL is `console`, smtp://host[:port] or smtps://[user:pass@]host[:port]."""
    url = str(values["AUTHAPI_MAIL_URL"])
    if url == "console":
        return
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018  (raises on a bad port)
    except ValueError:
        raise ConfigError("AUTHAPI_MAIL_URL has a bad port") from None
    if parts.scheme not in MAIL_SCHEMES or not parts.hostname:
        raise ConfigError("AUTHAPI_MAIL_URL must be console, smtp://host:port or "
                          "smtps://user:pass@host:port")


class ConfigError(ValueError):
    """A configuration value that the server refuses to start with."""


# --- OpenID Connect providers (issue 12) ---
# AUTHAPI_OIDC_<NAME>_ISSUER / _CLIENT_ID / _CLIENT_SECRET: one provider per NAME.
OIDC_VARIABLE = re.compile(r"AUTHAPI_OIDC_([A-Z0-9]+)_(ISSUER|CLIENT_ID|CLIENT_SECRET)")
OIDC_FIELDS = ("ISSUER", "CLIENT_ID", "CLIENT_SECRET")


def oidc_providers(values: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """{lower-cased NAME: {issuer, client_id, client_secret}} of the configured providers."""
    names = {m.group(1) for key in values if (m := OIDC_VARIABLE.fullmatch(key))}
    return {name.lower(): {field.lower(): str(values.get(f"AUTHAPI_OIDC_{name}_{field}", ""))
                           for field in OIDC_FIELDS} for name in sorted(names)}


def _validate_oidc(values: Mapping[str, Any]) -> None:
    for name, provider in oidc_providers(values).items():
        for field, value in provider.items():
            if not value:
                raise ConfigError(f"AUTHAPI_OIDC_{name.upper()}_{field.upper()} must be set")
        if not provider["issuer"].startswith(("https://", "http://")):
            raise ConfigError(f"AUTHAPI_OIDC_{name.upper()}_ISSUER must be an http(s) URL")


def from_environ(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The AUTHAPI_* variables of the environment that name a known setting."""
    environ = os.environ if environ is None else environ
    return {key: value for key, value in environ.items()
            if key in DEFAULTS or OIDC_VARIABLE.fullmatch(key)}


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
    coerce_flags(values)


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
    if not 0 <= values["AUTHAPI_REFRESH_GRACE"] <= MAX_REFRESH_GRACE:
        raise ConfigError(
            f"AUTHAPI_REFRESH_GRACE must be between 0 and {MAX_REFRESH_GRACE} seconds")
    if not 4 <= values["AUTHAPI_BCRYPT_ROUNDS"] <= 31:
        raise ConfigError("AUTHAPI_BCRYPT_ROUNDS must be between 4 and 31")
    if values["AUTHAPI_DPOP_NONCE_PERIOD"] <= 0:
        raise ConfigError("AUTHAPI_DPOP_NONCE_PERIOD must be a positive number of seconds")
    if not values["AUTHAPI_ISSUER"] or not values["AUTHAPI_AUDIENCE"]:
        raise ConfigError("AUTHAPI_ISSUER and AUTHAPI_AUDIENCE must not be empty")
    if str(values["AUTHAPI_LOG_LEVEL"]).upper() not in LOG_LEVELS:
        raise ConfigError(f"AUTHAPI_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}")
    _validate_oidc(values)
    validate_mail(values)
