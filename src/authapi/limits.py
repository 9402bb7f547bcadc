"""Rate limits and lockout, shared by every worker and instance.

Flask-Limiter counts requests per address, in Redis when AUTHAPI_REDIS_URL is set
and otherwise in the database (limitstore.py): never in process memory, so
`--workers 4` does not make a limit four times looser. Per-account lockout is
lockout.py's back-off. The decorators here are what other endpoints apply:
`login_limits` (register, login; /oauth/token), `address_limits(setting, scope)`
for any per-address rate, `email_limits(setting, scope)` for a rate per email
(password reset). Every breach is 429 with Retry-After; X-Forwarded-For counts
only behind AUTHAPI_PROXY_COUNT trusted proxies (ProxyFix in create_app).
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable
from typing import Any

from flask import Flask, current_app, request
from flask_limiter import Limiter, RequestLimit
from flask_limiter.util import get_remote_address

from . import limitstore, lockout
from .errors import InvalidCredentials, RateLimited

F = Callable[..., Any]


def _breached(limit: RequestLimit) -> None:
    # Our own 429, so Retry-After is this limit's; Flask-Limiter's rate headers stay off:
    # they would stamp every answer, the lockout's 429 included, with the address window.
    retry_after = max(1, math.ceil(limit.reset_at - time.time()))
    raise RateLimited(headers={"Retry-After": str(retry_after)})


limiter = Limiter(key_func=get_remote_address, headers_enabled=False, on_breach=_breached)


def _body_email() -> str | None:
    try:
        body = request.get_json(silent=True)
    except RecursionError:  # absurdly nested JSON: the view answers 400 for it
        body = None
    email = body.get("email") if isinstance(body, dict) else None
    return email if isinstance(email, str) else None


def _email_key() -> str:
    email = _body_email()
    return f"email:{lockout.key(email)}" if email else f"addr:{get_remote_address()}"


def _setting(name: str) -> Callable[[], str]:
    return lambda: str(current_app.config[name])


def address_limits(setting: str, scope: str) -> Callable[[F], F]:
    """At most the rate in config `setting` ("N per minute") per client address."""
    return limiter.limit(_setting(setting), scope=scope)


def email_limits(setting: str, scope: str) -> Callable[[F], F]:
    """At most the rate in config `setting` per email in the JSON body, known or not."""
    return limiter.limit(_setting(setting), key_func=_email_key, scope=scope)


def with_lockout(view: F) -> F:
    """Refuse a locked account before its password is looked at; count judged failures.

    The count is written on its own connection: a view must have committed (or rolled
    back) before it raises InvalidCredentials, or SQLite would make the two wait.
    """

    @functools.wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        email = _body_email()
        account = lockout.key(email) if email is not None else None
        if account is not None:
            lockout.check(account)
        try:
            result = view(*args, **kwargs)
        except InvalidCredentials:
            if account is not None:
                lockout.failed(account)
            raise
        if account is not None:
            lockout.succeeded(account)
        return result

    return guarded


def login_limits(view: F) -> F:
    """Login: the account back-off (lockout.py) and N attempts per address."""
    return address_limits("AUTHAPI_LOGIN_RATE_PER_ADDRESS", "login-address")(with_lockout(view))


def register_limits(view: F) -> F:
    """Registration: N attempts per address, so accounts cannot be minted in bulk."""
    return address_limits("AUTHAPI_REGISTER_RATE_PER_ADDRESS", "register-address")(view)


def init_app(app: Flask) -> None:
    """Counters in Redis when AUTHAPI_REDIS_URL is set, else in the app's database."""
    scheme = limitstore.SqlStorage.STORAGE_SCHEME[0]
    app.config["RATELIMIT_STORAGE_URI"] = app.config["AUTHAPI_REDIS_URL"] or f"{scheme}://"
    app.config.setdefault("RATELIMIT_ENABLED", True)
    limiter.init_app(app)
