"""Rate limits and lockout, shared by every worker and instance, paid only where they apply.

Counters live in Redis when AUTHAPI_REDIS_URL is set and otherwise in the app's
database (limitstore.py), never in process memory, so `--workers 4` does not make a
limit four times looser. Per-account lockout is lockout.py's back-off.

Built on `limits`, the engine under Flask-Limiter, called from the decorators of
the routes that carry a limit. Flask-Limiter's extension installs a before-request,
an after-request and a teardown hook on every route of the app; on authapi's
/healthz they cost 67 + 9 + 4 µs of CPU, more than a whole bare Flask request
(bench/RESULTS.md, "Hook split"). Here a route without a limit pays nothing.

The decorators other modules apply: `login_limits` (login, passkey sign-in),
`register_limits`, `reset_limits`, `token_limits` (failed /oauth/token requests),
`address_limits(setting, scope)` for any per-address rate, and
`email_limits(setting, scope)` for a rate per email (password reset). Every breach
is 429 with Retry-After; X-Forwarded-For counts only behind AUTHAPI_PROXY_COUNT
trusted proxies (ProxyFix in create_app).
"""

from __future__ import annotations

import functools
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask, request
from limits import RateLimitItem, parse
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter

from authapi import context, db
from authapi.errors import AccountLocked, ApiError, InvalidCredentials, RateLimited
from authapi.limits import limitstore, lockout
from authapi.ops import metrics

F = Callable[..., Any]
log = logging.getLogger(__name__)
_warned = [0.0]  # when the Redis outage was last logged (once per 10 s, not per request)


@dataclass(frozen=True)
class Limiter:
    """The app's counters: one `limits` strategy over the shared storage.

    With Redis, `fallback` counts in the database while Redis cannot be reached, so a
    Redis outage neither fails the limited routes (it was a 500 on login, found by
    bench/soak) nor lifts the limits; the counts start afresh in the database.
    """

    strategy: FixedWindowRateLimiter
    fallback: FixedWindowRateLimiter | None = None

    def _call(self, method: str, *args: Any) -> Any:
        try:
            return getattr(self.strategy, method)(*args)
        except Exception as exc:
            # Redis's own errors (the storage names them: no import of redis here, which
            # loads only when AUTHAPI_REDIS_URL is set).
            if self.fallback is None or not isinstance(exc, self.strategy.storage.base_exceptions):
                raise
            if time.monotonic() - _warned[0] > 10:
                _warned[0] = time.monotonic()
                log.warning("rate-limit counters unreachable in Redis, counting in the "
                            "database: %s", exc)
            return getattr(self.fallback, method)(*args)

    def count(self, rule: RateLimitItem, scope: str, key: str) -> bool:
        """Count one request; False once over the rate."""
        return bool(self._call("hit", rule, scope, key))

    def rule(self, setting: str) -> RateLimitItem:
        """The rate in config `setting` ("N per minute"), parsed once per distinct text."""
        return _parse(str(context.app().config[setting]))

    def hit(self, setting: str, scope: str, key: str) -> None:
        """Count one request; raise RateLimited (with Retry-After) once over the rate."""
        rule = self.rule(setting)
        if not self.count(rule, scope, key):
            self.refuse(rule, scope, key)

    def test(self, setting: str, scope: str, key: str) -> None:
        """Raise RateLimited if the rate is used up, without counting this request."""
        rule = self.rule(setting)
        if not self._call("test", rule, scope, key):
            self.refuse(rule, scope, key)

    def refuse(self, rule: RateLimitItem, scope: str, key: str) -> None:
        """429 with the seconds until the window resets."""
        reset_at, _remaining = self._call("get_window_stats", rule, scope, key)
        metrics.RATE_LIMIT_HITS.labels(scope).inc()
        retry_after = max(1, math.ceil(reset_at - time.time()))
        raise RateLimited(headers={"Retry-After": str(retry_after)})


@functools.lru_cache(maxsize=64)
def _parse(rate: str) -> RateLimitItem:
    return parse(rate)  # `limits` parses afresh on every call (~16 µs)


def limiter() -> Limiter:
    """The current app's limiter."""
    return context.app().extensions["authapi.limiter"]


def client_address() -> str:
    """The caller's address (the proxy-corrected one behind AUTHAPI_PROXY_COUNT)."""
    return context.request().remote_addr or "unknown"


def _body_email() -> str | None:
    try:
        body = request.get_json(silent=True)
    except RecursionError:  # absurdly nested JSON: the view answers 400 for it
        body = None
    email = body.get("email") if isinstance(body, dict) else None
    return email if isinstance(email, str) else None


def _email_key() -> str:
    email = _body_email()
    return f"email:{lockout.key(email)}" if email else f"addr:{client_address()}"


def _limited(setting: str, scope: str, key: Callable[[], str]) -> Callable[[F], F]:
    def decorator(view: F) -> F:
        @functools.wraps(view)
        def limited(*args: Any, **kwargs: Any) -> Any:
            limiter().hit(setting, scope, key())
            return view(*args, **kwargs)

        return limited

    return decorator


def address_limits(setting: str, scope: str) -> Callable[[F], F]:
    """At most the rate in config `setting` ("N per minute") per client address."""
    return _limited(setting, scope, client_address)


def email_limits(setting: str, scope: str) -> Callable[[F], F]:
    """At most the rate in config `setting` per email in the JSON body, known or not."""
    return _limited(setting, scope, _email_key)


def with_lockout(view: F, account_of: Callable[[], str] | None = None) -> F:
    """Refuse a locked account before its password is looked at; count judged failures.

    The account is the body's email (a sign-in), or `account_of()` (the signed-in
    caller's email, for a password check on an account page): one counter either way.
    The count is written on its own connection: a view must have committed (or rolled
    back) before it raises InvalidCredentials, or SQLite would make the two wait. A
    right password that still needs its second factor (mfa_required) is not a failure.
    """

    @functools.wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        # A sign-in that names no account (a discoverable passkey) backs off per address.
        named = account_of() if account_of is not None else _body_email()
        account = lockout.key(named or f"addr:{client_address()}")
        try:
            lockout.check(account)
        except AccountLocked:
            metrics.RATE_LIMIT_HITS.labels("login-account").inc()
            metrics.LOGINS.labels("password", "account_locked").inc()
            raise
        try:
            result = view(*args, **kwargs)
        except InvalidCredentials:
            lockout.failed(account)
            raise
        lockout.succeeded(account)
        return result

    return guarded


def password_check_limits(account_of: Callable[[], str]) -> Callable[[F], F]:
    """A password checked on an account page (change, MFA off, email change) is a login:
    the same per-address limit, and the same account lockout as /auth/login."""

    def decorator(view: F) -> F:
        return address_limits("AUTHAPI_LOGIN_RATE_PER_ADDRESS", "login-address")(
            with_lockout(view, account_of))

    return decorator


def login_limits(view: F) -> F:
    """Login: N attempts per address, then the account back-off (lockout.py)."""
    return address_limits("AUTHAPI_LOGIN_RATE_PER_ADDRESS", "login-address")(with_lockout(view))


def register_limits(view: F) -> F:
    """Registration: N attempts per address, so accounts cannot be minted in bulk."""
    return address_limits("AUTHAPI_REGISTER_RATE_PER_ADDRESS", "register-address")(view)


def reset_limits(view: F) -> F:
    """Password-reset requests: N per address, known email or not (the same work for both)."""
    return address_limits("AUTHAPI_RESET_RATE_PER_ADDRESS", "reset-address")(view)


POLLING = ("authorization_pending", "slow_down")  # RFC 8628: the device waits, as told


def failure_limits(setting: str, scope: str, counts: Callable[[ApiError], bool]
                   ) -> Callable[[F], F]:
    """At most the rate in config `setting` of failures per address: a request whose
    error `counts` is one; a good request never is. Over the rate, 429 before the view."""

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def limited(*args: Any, **kwargs: Any) -> Any:
            address = client_address()
            limiter().test(setting, scope, address)
            try:
                return view(*args, **kwargs)
            except ApiError as error:
                if counts(error):
                    # End the request's transaction first (teardown would roll it back
                    # anyway): on SQLite the counter's own connection would otherwise
                    # wait for its lock.
                    db.orm().rollback()
                    limiter().count(limiter().rule(setting), scope, address)
                raise

        return limited

    return decorator


# At most N wrong device user codes per address (RFC 8628 §5.1: user codes are short,
# so guessing them must be slow).
guess_limits = failure_limits("AUTHAPI_DEVICE_CODE_FAILURE_RATE", "device-code",
                              lambda error: error.status == 404)
# At most N failed /oauth/token requests per address: no secret guessing. A device's
# polling is no failure.
token_limits = failure_limits("AUTHAPI_TOKEN_FAILURE_RATE", "oauth-token",
                              lambda error: error.status in (400, 401)
                              and error.code not in POLLING)


def init_app(app: Flask) -> None:
    """Counters in Redis when AUTHAPI_REDIS_URL is set, else in the app's database."""
    sql = f"{limitstore.SqlStorage.STORAGE_SCHEME[0]}://"
    uri = app.config["AUTHAPI_REDIS_URL"] or sql
    fallback = FixedWindowRateLimiter(storage_from_string(sql)) if uri != sql else None
    app.extensions["authapi.limiter"] = Limiter(FixedWindowRateLimiter(storage_from_string(uri)),
                                                fallback)
