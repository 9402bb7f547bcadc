"""Rate limits (Flask-Limiter): login attempts per address and failures per account."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, current_app, request
from flask_limiter import Limiter, RequestLimit
from flask_limiter.util import get_remote_address

from . import metrics
from .errors import AccountLocked, MfaRequired
from .users import normalize_email

limiter = Limiter(key_func=get_remote_address, headers_enabled=True)


def _account_key() -> str:
    try:
        body = request.get_json(silent=True)
    except RecursionError:  # absurdly nested JSON: the view answers 400 for it
        body = None
    email = body.get("email") if isinstance(body, dict) else None
    if not isinstance(email, str):
        return f"addr:{get_remote_address()}"
    # Keyed on the email whether or not it exists, so a lock reveals nothing.
    return "acct:" + normalize_email(email[:320])


def _failed(response: Response) -> bool:
    # A right password without its second factor is a step of the login, not a failure.
    if response.status_code != 401:
        return False
    body = response.get_json(silent=True)
    return not (isinstance(body, dict) and body.get("code") == MfaRequired.code)


def _per_address() -> str:
    return str(current_app.config["AUTHAPI_LOGIN_RATE_PER_ADDRESS"])


def _per_account() -> str:
    config = current_app.config
    window = int(config["AUTHAPI_LOGIN_FAILURE_WINDOW"])
    return f"{int(config['AUTHAPI_LOGIN_MAX_FAILURES'])} per {window} seconds"


def _locked(limit: RequestLimit) -> None:
    # Flask-Limiter's breach hook: this limit is a lockout, not a request rate.
    retry_after = max(1, math.ceil(limit.reset_at - time.time()))
    metrics.RATE_LIMIT_HITS.labels("login-account").inc()
    metrics.LOGINS.labels("password", "account_locked").inc()
    raise AccountLocked(headers={"Retry-After": str(retry_after)})


def login_limits(view: Callable[..., Any]) -> Callable[..., Any]:
    """At most N login attempts per address, and M failures per account, in their windows."""
    view = limiter.limit(_per_account, key_func=_account_key, deduct_when=_failed,
                         on_breach=_locked, scope="login-account")(view)
    return limiter.limit(_per_address, scope="login-address", on_breach=_throttled)(view)


def _throttled(_limit: RequestLimit) -> None:
    # Flask-Limiter's breach hook; returning None keeps its 429 (rendered as rate_limited).
    metrics.RATE_LIMIT_HITS.labels("login-address").inc()
    metrics.LOGINS.labels("password", "rate_limited").inc()


def init_app(app: Flask) -> None:
    """Shared counters in Redis when AUTHAPI_REDIS_URL is set, else in process memory."""
    app.config["RATELIMIT_STORAGE_URI"] = app.config["AUTHAPI_REDIS_URL"] or "memory://"
    app.config.setdefault("RATELIMIT_ENABLED", True)
    limiter.init_app(app)


def _token_failures() -> str:
    return str(current_app.config["AUTHAPI_TOKEN_FAILURE_RATE"])


def token_limits(view: Callable[..., Any]) -> Callable[..., Any]:
    """At most N failed /oauth/token requests per address in a window: no secret guessing."""
    return limiter.limit(_token_failures, scope="oauth-token",
                         deduct_when=lambda response: response.status_code in (400, 401))(view)
