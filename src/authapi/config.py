"""Configuration: one typed table of settings, AUTHAPI_* overrides, and a fail-fast check.

`python -m authapi.config > docs/configuration.md` regenerates the reference from the table.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import limits

DEV_SECRET_KEY = "authapi-development-secret-key-do-not-use-in-production"  # noqa: S105
ALGORITHMS = ("RS256", "ES256", "EdDSA", "HS256")
MAX_REFRESH_GRACE = 300  # a grace window is for racing tabs, not a second refresh lifetime
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
MAIL_SCHEMES = ("smtp", "smtps")
TRUE, FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


class ConfigError(ValueError):
    """A configuration value that the server refuses to start with."""


@dataclass(frozen=True)
class Setting:
    """One AUTHAPI_* variable: its type (a key of PARSERS), default and one-line meaning."""

    name: str
    kind: str
    default: Any
    meaning: str
    shown: str = ""  # the default as the reference shows it, when the value itself would not do


# The one place settings live: the contract's table first, then authapi's extensions.
SETTINGS: tuple[Setting, ...] = tuple(Setting(*row) for row in (
    ("AUTHAPI_ENV", "str", "development", "`development`, `testing` or `production`: refuses "
     "the development secret and the `console` mailer, and sets `Secure` cookies"),
    ("AUTHAPI_SECRET_KEY", "str", DEV_SECRET_KEY, "at least 32 bytes; encrypts stored "
     "private keys, signs HS256 and CSRF", "a development value"),
    ("AUTHAPI_DATABASE_URL", "str", "", "any SQLAlchemy URL; PostgreSQL "
     "(`postgresql+psycopg://`) in production", "SQLite in the instance folder"),
    ("AUTHAPI_REDIS_URL", "str", "", "shared rate-limit counters and revocation nudges"),
    ("AUTHAPI_ISSUER", "str", "http://localhost:8000", "the `iss` claim",
     "`http://localhost:8000` (`./dev serve --port N` and `./dev demo --port N`: port N)"),
    ("AUTHAPI_AUDIENCE", "str", "http://localhost:8000", "the `aud` claim",
     "`http://localhost:8000` (`./dev serve --port N` and `./dev demo --port N`: port N)"),
    ("AUTHAPI_JWT_ALGORITHM", "str", "RS256", "`RS256`, `ES256`, `EdDSA` or `HS256`"),
    ("AUTHAPI_ACCESS_TTL", "int", 900, "access token lifetime, seconds"),
    ("AUTHAPI_REFRESH_TTL", "int", 1_209_600, "refresh token (and session) lifetime, seconds"),
    ("AUTHAPI_BCRYPT_ROUNDS", "int", 12, "password hashing cost (4 to 31)"),
    ("AUTHAPI_MAIL_URL", "str", "console", "`console` logs each mail (not in production); "
     "`smtp://host:port` or `smtps://user:pass@host:port` sends it"),
    ("AUTHAPI_FRONTEND_URL", "str", "http://localhost:5173",
     "where links in mails and OIDC callbacks lead",
     "`http://localhost:5173` (`./dev demo --demo-port P`: port P)"),
    ("AUTHAPI_REGISTER_RATE_PER_ADDRESS", "rate", "20 per hour",
     "registrations allowed from one address"),
    ("AUTHAPI_RESET_RATE_PER_ADDRESS", "rate", "20 per hour",
     "password-reset requests allowed from one address"),
    ("AUTHAPI_RECENT_AUTH", "int", 300, "seconds after a sign-in during which sensitive "
     "changes (a passkey added, TOTP on or off, a new email) need no re-authentication"),
    ("AUTHAPI_LOGIN_URL", "str", "", "where `/oauth/authorize` sends a browser to sign in "
     "(`?request=<id>` is appended)", "the built-in `/oauth/login`"),
    ("AUTHAPI_REQUIRE_PAR", "bool", False,
     "every authorize request must come through `/oauth/par`"),
    ("AUTHAPI_REGISTRATION", "str", "off",
     "`open`: RFC 7591 dynamic client registration at `/oauth/register`"),
    ("AUTHAPI_DEVICE_CODE_FAILURE_RATE", "rate", "10 per minute",
     "wrong device user codes allowed from one address (RFC 8628 §5.1)"),
    ("AUTHAPI_CLIENT_METADATA_DOCUMENTS", "bool", False,
     "an `https` URL as `client_id` names a public client by its metadata document"),
    ("AUTHAPI_METRICS_PORT", "int", 9464,
     "in production, `/metrics` is served only on this second listener (404 on the API port)"),
    ("AUTHAPI_CORS_ORIGINS", "str", "", "comma-separated origins allowed with credentials",
     "empty (`./dev demo`: the page's origin)"),
    ("AUTHAPI_REFRESH_GRACE", "int", 0, "seconds (0 to 300) in which the refresh token just "
     "rotated answers the same successor pair instead of `token_reused`"),
    ("AUTHAPI_LOGIN_MAX_FAILURES", "int", 10,
     "failed logins per account in the window below before 429 `account_locked`"),
    ("AUTHAPI_LOGIN_FAILURE_WINDOW", "int", 900, "that window, seconds"),
    ("AUTHAPI_LOGIN_RATE_PER_ADDRESS", "rate", "100 per minute",
     "login attempts per client address before 429 `rate_limited`"),
    ("AUTHAPI_LOGIN_BACKOFF_AFTER", "int", 5,
     "failures per account that cost nothing before the back-off starts"),
    ("AUTHAPI_LOGIN_BACKOFF_BASE", "float", 1.0,
     "the back-off's first wait, seconds; doubles with each failure"),
    ("AUTHAPI_LOGIN_LOCKOUT_CAP", "float", 900.0, "the longest any lock lasts, seconds"),
    ("AUTHAPI_TOKEN_FAILURE_RATE", "rate", "100 per minute",
     "failed `/oauth/token` requests per client address"),
    ("AUTHAPI_JWKS_MAX_AGE", "int", 300,
     "seconds verifiers may cache the JWKS (`Cache-Control: max-age`)"),
    ("AUTHAPI_KEY_REFRESH_INTERVAL", "int", 60,
     "seconds before a running process picks up a signing key made by `authapi keys rotate`"),
    ("AUTHAPI_REVOCATION_POLL_INTERVAL", "float", 0.2,
     "seconds between polls of the revocation feed by each host's watcher, without Redis"),
    ("AUTHAPI_REVOCATION_SAFETY_POLL", "float", 5.0,
     "seconds between feed polls while Redis nudges arrive: a safety net, not the signal"),
    ("AUTHAPI_OUTAGE_GRACE", "float", 60.0,
     "seconds `/auth/check` answers from cached session state while the database is down"),
    ("AUTHAPI_PROXY_COUNT", "int", 0,
     "trusted reverse proxies in front; only then does `X-Forwarded-For` name the client"),
    ("AUTHAPI_INSTANCE_PATH", "str", "",
     "the folder of the SQLite database and the workers' shared state", "`./instance`"),
    ("AUTHAPI_AUDIT_RETENTION_DAYS", "int", 365,
     "`authapi purge` drops older audit events; `0` keeps them all"),
    ("AUTHAPI_WEBAUTHN_RP_ID", "str", "", "the passkey relying party id",
     "the host of `AUTHAPI_FRONTEND_URL`"),
    ("AUTHAPI_WEBAUTHN_ORIGINS", "str", "",
     "comma-separated origins passkey ceremonies may come from", "`AUTHAPI_FRONTEND_URL`"),
    ("AUTHAPI_WEBAUTHN_RP_NAME", "str", "authapi", "the relying party name the browser shows"),
    ("AUTHAPI_WEBAUTHN_CHALLENGE_TTL", "int", 300, "seconds a passkey ceremony's challenge lives"),
    ("AUTHAPI_LOG_LEVEL", "str", "INFO", "`DEBUG`, `INFO`, `WARNING` or `ERROR`"),
    ("AUTHAPI_ACCESS_LOG", "bool", False, "one JSON line per request (costs throughput)"),
    ("AUTHAPI_DPOP_NONCE", "bool", False,
     "DPoP proofs must carry the server's nonce (RFC 9449 §8)"),
    ("AUTHAPI_DPOP_NONCE_PERIOD", "int", 300,
     "seconds per DPoP nonce; one is accepted in its own period and the next"),
    ("AUTHAPI_MAIL_FROM", "str", "authapi <noreply@localhost>", "the `From` of every mail"),
    ("AUTHAPI_MAIL_WORKER", "bool", True,
     "send mail from a background thread of each process; off, mail stays queued"),
    ("AUTHAPI_MAIL_RETRY_BASE", "float", 2.0,
     "seconds before the first retry of a mail; doubles each attempt"),
    ("AUTHAPI_MAIL_RETRY_MAX", "float", 900.0, "the longest wait between retries, seconds"),
    ("AUTHAPI_MAIL_MAX_ATTEMPTS", "int", 10, "attempts before a mail is marked failed"),
    ("AUTHAPI_MAIL_POLL_INTERVAL", "float", 30.0,
     "how often an idle worker looks for due mail, seconds"),
    ("AUTHAPI_MAIL_TIMEOUT", "float", 10.0, "seconds per SMTP connection"),
    ("AUTHAPI_PASSWORD_RESET_TTL", "int", 3600, "password reset link lifetime, seconds"),
    ("AUTHAPI_VERIFY_EMAIL_TTL", "int", 86400, "address verification link lifetime, seconds"),
    ("AUTHAPI_EMAIL_CHANGE_TTL", "int", 3600, "address change link lifetime, seconds"),
    ("AUTHAPI_REQUIRE_VERIFIED_EMAIL", "bool", False,
     "refuse login, by password or passkey (403 `email_unverified`), until the address is "
     "verified"),
    ("AUTHAPI_BOOTSTRAP_ADMIN_EMAIL", "str", "", "`authapi db upgrade` creates this user with "
     "the `admin` role while no user holds that role (docs/deployment.md)"),
    ("AUTHAPI_BOOTSTRAP_ADMIN_PASSWORD_FILE", "str", "", "a file whose first line is that "
     "admin's password; read only when the admin is created, never logged"),
))
DEFAULTS: dict[str, Any] = {setting.name: setting.default for setting in SETTINGS}


def parse_bool(name: str, value: Any) -> bool:
    """1/0, true/false, yes/no, on/off in any case (or a bool, or the int 0 or 1)."""
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word in TRUE or word in FALSE:
        return word in TRUE
    raise ConfigError(f"{name} must be one of 1/0, true/false, yes/no, on/off, got {value!r}")


def _number(kind: type[int] | type[float]) -> Callable[[str, Any], Any]:
    def parse(name: str, value: Any) -> Any:
        try:
            return kind(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{name} must be a number, got {value!r}") from None
    return parse


def parse_rate(name: str, value: Any) -> str:
    """A `limits` rate such as `20 per hour`, kept as text (limits.py parses it once)."""
    try:
        limits.parse(str(value))
    except ValueError:
        raise ConfigError(f"{name} must be a rate such as '20 per hour', got {value!r}") from None
    return str(value)


PARSERS: dict[str, Callable[[str, Any], Any]] = {
    "str": lambda _name, value: value, "int": _number(int), "float": _number(float),
    "bool": parse_bool, "rate": parse_rate,
}


# --- OpenID Connect providers (issue 12) ---
# AUTHAPI_OIDC_<NAME>_ISSUER / _CLIENT_ID / _CLIENT_SECRET: one provider per NAME.
# NAME may hold underscores (AUTHAPI_OIDC_MY_IDP_ISSUER: the provider `my_idp`).
OIDC_VARIABLE = re.compile(r"AUTHAPI_OIDC_([A-Z0-9][A-Z0-9_]*?)_(ISSUER|CLIENT_ID|CLIENT_SECRET)")
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
    """Parse every setting by its type in the table, naming any bad one."""
    for setting in SETTINGS:
        values[setting.name] = PARSERS[setting.kind](setting.name, values[setting.name])


def validate_mail(values: Mapping[str, Any]) -> None:
    """AUTHAPI_MAIL_URL is `console`, smtp://host[:port] or smtps://[user:pass@]host[:port]."""
    url = str(values["AUTHAPI_MAIL_URL"])
    if url == "console":
        if values["AUTHAPI_ENV"] == "production":
            raise ConfigError("AUTHAPI_MAIL_URL must be an smtp:// or smtps:// URL in production: "
                              "the console mailer would write live links to the log")
        return
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018  (raises on a bad port)
    except ValueError:
        raise ConfigError("AUTHAPI_MAIL_URL has a bad port") from None
    if parts.scheme not in MAIL_SCHEMES or not parts.hostname:
        raise ConfigError("AUTHAPI_MAIL_URL must be console, smtp://host:port or "
                          "smtps://user:pass@host:port")


def validate(values: Mapping[str, Any]) -> None:
    """Refuse a configuration that is unsafe or unusable, naming the variable."""
    env = values["AUTHAPI_ENV"]
    if env not in ("development", "production", "testing"):
        raise ConfigError("AUTHAPI_ENV must be development, testing or production")
    secret = values["AUTHAPI_SECRET_KEY"]
    if env == "production" and (not secret or secret == DEV_SECRET_KEY):
        raise ConfigError("AUTHAPI_SECRET_KEY must be set to a real secret in production")
    try:
        secret_bytes = secret.encode()
    except UnicodeEncodeError:  # bytes the environment could not decode
        raise ConfigError("AUTHAPI_SECRET_KEY must be UTF-8 text") from None
    if len(secret_bytes) < 32:
        raise ConfigError("AUTHAPI_SECRET_KEY must be at least 32 bytes long")
    if values["AUTHAPI_JWT_ALGORITHM"] not in ALGORITHMS:
        raise ConfigError(f"AUTHAPI_JWT_ALGORITHM must be one of {', '.join(ALGORITHMS)}")
    for key in ("AUTHAPI_ACCESS_TTL", "AUTHAPI_REFRESH_TTL"):
        if values[key] == 0:
            raise ConfigError(f"{key} must not be zero")
        # A negative lifetime mints tokens that are born expired: outside production it
        # is how tests make expired tokens without waiting; in production, a typo.
        if values[key] < 0 and env == "production":
            raise ConfigError(f"{key} must be a positive number of seconds in production")
    if not 0 <= values["AUTHAPI_REFRESH_GRACE"] <= MAX_REFRESH_GRACE:
        raise ConfigError(
            f"AUTHAPI_REFRESH_GRACE must be between 0 and {MAX_REFRESH_GRACE} seconds")
    if not 4 <= values["AUTHAPI_BCRYPT_ROUNDS"] <= 31:
        raise ConfigError("AUTHAPI_BCRYPT_ROUNDS must be between 4 and 31")
    if values["AUTHAPI_REGISTRATION"] not in ("off", "open"):
        raise ConfigError("AUTHAPI_REGISTRATION must be off or open")
    if values["AUTHAPI_RECENT_AUTH"] < 0:
        raise ConfigError("AUTHAPI_RECENT_AUTH must be zero or a positive number of seconds")
    if values["AUTHAPI_DPOP_NONCE_PERIOD"] <= 0:
        raise ConfigError("AUTHAPI_DPOP_NONCE_PERIOD must be a positive number of seconds")
    if not values["AUTHAPI_ISSUER"] or not values["AUTHAPI_AUDIENCE"]:
        raise ConfigError("AUTHAPI_ISSUER and AUTHAPI_AUDIENCE must not be empty")
    if str(values["AUTHAPI_LOG_LEVEL"]).upper() not in LOG_LEVELS:
        raise ConfigError(f"AUTHAPI_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}")
    if values["AUTHAPI_BOOTSTRAP_ADMIN_EMAIL"] and not values[
            "AUTHAPI_BOOTSTRAP_ADMIN_PASSWORD_FILE"]:
        raise ConfigError("AUTHAPI_BOOTSTRAP_ADMIN_EMAIL needs "
                          "AUTHAPI_BOOTSTRAP_ADMIN_PASSWORD_FILE (the admin's password)")
    _validate_urls(values)
    _validate_oidc(values)
    validate_mail(values)


def _validate_urls(values: Mapping[str, Any]) -> None:
    """The database, Redis and front-end URLs, and the metrics port, as they will be used."""
    database = str(values["AUTHAPI_DATABASE_URL"] or "")
    if database:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError, NoSuchModuleError

        try:  # a URL SQLAlchemy parses, with its driver installed
            make_url(database).get_dialect()
        except (ArgumentError, NoSuchModuleError, ValueError) as exc:
            raise ConfigError(f"AUTHAPI_DATABASE_URL is not a usable SQLAlchemy URL "
                              f"({type(exc).__name__})") from None
    redis = urlsplit(str(values["AUTHAPI_REDIS_URL"] or ""))
    if values["AUTHAPI_REDIS_URL"] and (redis.scheme not in ("redis", "rediss")
                                        or not redis.hostname):
        raise ConfigError("AUTHAPI_REDIS_URL must be redis://host[:port][/db] or rediss://…")
    frontend = urlsplit(str(values["AUTHAPI_FRONTEND_URL"]))
    if values["AUTHAPI_FRONTEND_URL"] and (frontend.scheme not in ("http", "https")
                                           or not frontend.hostname):
        raise ConfigError("AUTHAPI_FRONTEND_URL must be an http(s) URL: mail links and "
                          "passkey origins are made from it")
    if not 0 <= values["AUTHAPI_METRICS_PORT"] <= 65535:
        raise ConfigError("AUTHAPI_METRICS_PORT must be a port number (0 to 65535)")


REFERENCE_HEAD = """# Configuration

Generated from the table in `src/authapi/config.py`: edit it there, then run
`python -m authapi.config > docs/configuration.md`. Booleans accept `1`/`0`, `true`/`false`,
`yes`/`no` and `on`/`off` in any case; a rate is `limits` syntax (`20 per hour`).

| variable | type | default | meaning |
|---|---|---|---|
"""
OIDC_ROW = ("| `AUTHAPI_OIDC_<NAME>_ISSUER`, `_CLIENT_ID`, `_CLIENT_SECRET` | str | unset | "
            "one OpenID Connect provider per NAME, by discovery |\n")


def reference() -> str:
    """The settings table as Markdown (name, type, default, meaning): docs/configuration.md."""
    def shown(s: Setting) -> str:
        default = str(s.default).lower() if isinstance(s.default, bool) else s.default
        return s.shown or (f"`{default}`" if default != "" else "empty")
    rows = "".join(f"| `{s.name}` | {s.kind} | {shown(s)} | {s.meaning} |\n" for s in SETTINGS)
    return REFERENCE_HEAD + rows + OIDC_ROW


if __name__ == "__main__":
    print(reference(), end="")
