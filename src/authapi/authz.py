"""Route guards: a valid access token, and the roles, scopes or permissions a route demands.

Apps that mount authapi use these on their own routes:

    @app.get("/reports")
    @permissions_required("reports:read")
    def reports(): ...

A guard trusts only what it verified itself in this request, kept in its own slot
with the token type and the exact token text; no other decorator (Flask-JWT-Extended's
or the host app's), before or after it, can change its answer. Views read the claims
with `current_claims()`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import current_app

from authapi import context
from authapi.errors import TokenInvalid
from authapi.oauth import clients
from authapi.tokens import core, dpop, tokens
from authapi.tokens.core import check_roles, check_scopes
from authapi.web.transport import access_credentials

F = TypeVar("F", bound=Callable[..., Any])
SLOT = "authapi_verified_access"
# Guarded views carry what they require, in words, under this attribute.
REQUIRES = "authapi_requires"
ANY_TOKEN = "a valid access token"  # noqa: S105  (words, not a secret)


# authapi's own account and admin routes: an app a user let in never reaches them.
OWN_PREFIXES = ("/auth/", "/admin/")
OWN_EXEMPT = ("/auth/check",)  # forward-auth answers for the resources behind the proxy


def authenticate(forwarded: bool = False, any_audience: bool = False) -> dict[str, Any]:
    """The claims of the request's access token, verified once per request.

    A Bearer token must not be DPoP-bound (one dict look-up); a DPoP one needs a proof
    by its key for this request, or with `forwarded` for the one a trusted proxy names.
    `any_audience` is for /oauth/userinfo, which an app's token reaches whatever
    resource it names.
    """
    scheme, token = access_credentials()
    globals_ = context.g()
    verified = globals_.get(SLOT)
    if verified is not None and verified[0] == tokens.ACCESS and verified[1] == token:
        return cast(dict[str, Any], verified[2])
    if scheme == dpop.SCHEME:
        claims = dpop.check_use(token, forwarded, any_audience)
    else:
        claims = tokens.decode(token, tokens.ACCESS, any_audience=any_audience)
        core.check_scheme(claims, by_dpop=False)  # RFC 9449 §7.1: a bound token is no bearer
    tokens.check_first_hand(claims)
    check_place(claims)
    setattr(globals_, SLOT, (tokens.ACCESS, token, claims))
    return claims


def check_place(claims: dict[str, Any]) -> None:
    """An app's token for a user is not accepted under /auth/* and /admin/* (but at
    forward-auth), unless the app is first-party: whichever guard, authapi's or
    Flask-JWT-Extended's on a host route (web/hostjwt.py), checks it."""
    if "client_id" in claims and "sid" in claims:  # an app's token for a user
        path = context.request().path
        if path.startswith(OWN_PREFIXES) and path not in OWN_EXEMPT:
            check_users_own(claims)


def check_users_own(claims: dict[str, Any]) -> None:
    """401 unless these are a user's own claims: a sign-in of theirs, or a first-party
    app's. An app a user let in works at the resources it names and at userinfo, never
    on authapi's own /auth/* and /admin/*, nor where devices are approved."""
    if "sid" not in claims or ("client_id" in claims
                               and not clients.first_party(str(claims["client_id"]))):
        raise TokenInvalid("A token issued to an app is not accepted here.")


def current_claims() -> dict[str, Any]:
    """The verified claims of the current request's access token."""
    return authenticate()


def _guard(check: Callable[[dict[str, Any]], None], requires: str) -> Callable[[F], F]:
    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            check(authenticate())
            return view(*args, **kwargs)

        setattr(wrapper, REQUIRES, requires)  # for the OpenAPI document (views.SecurityDocs)
        return cast(F, wrapper)

    return decorator


def _listed(kind: str, names: tuple[str, ...], joiner: str = " and ") -> str:
    return f"{kind}{'s' if len(names) > 1 else ''} " + joiner.join(f"`{n}`" for n in names)


def access_required(view: F) -> F:
    """Any valid access token."""
    return _guard(lambda _claims: None, ANY_TOKEN)(view)


def roles_required(*roles: str) -> Callable[[F], F]:
    """A valid access token holding all of `roles`."""
    return _guard(lambda claims: check_roles(claims, required=roles), _listed("role", roles))


def roles_accepted(*roles: str) -> Callable[[F], F]:
    """A valid access token holding at least one of `roles`."""
    return _guard(lambda claims: check_roles(claims, accepted=roles),
                  "one of the " + _listed("role", roles, " or "))


def scopes_required(*scopes: str) -> Callable[[F], F]:
    """A valid access token granting all of `scopes`."""
    return _guard(lambda claims: check_scopes(claims, scopes), _listed("scope", scopes))


def auth_required(acr: str | None = None, max_age: int | None = None) -> Callable[[F], F]:
    """RFC 9470 step-up: a valid access token whose sign-in is at least `acr` (`pwd` <
    `mfa` < `phr`) and at most `max_age` seconds old; else 401
    `insufficient_user_authentication` naming what is missing."""
    if acr is not None and acr not in core.ACR_LEVELS:
        raise ValueError(f"acr must be one of {', '.join(core.ACR_LEVELS)}")
    if max_age is not None and (isinstance(max_age, bool) or not isinstance(max_age, int)
                                or max_age < 0):
        raise ValueError("max_age must be a whole number of seconds, 0 or more")
    words = " and ".join(w for w in (acr and f"a sign-in of level `{acr}`",
                                     max_age is not None and f"at most {max_age} s old") if w)
    return _guard(lambda claims: core.check_sign_in(claims, time.time(), acr, max_age),
                  f"{ANY_TOKEN} with {words or 'any sign-in'}")


def check_sign_in(claims: dict[str, Any], acr: str | None = None,
                  max_age: int | None = None) -> None:
    """RFC 9470: 401 `insufficient_user_authentication` unless the token's sign-in is at
    least `acr` and at most `max_age` seconds old (/auth/check's `acr`, `max_age`)."""
    core.check_sign_in(claims, time.time(), acr, max_age)


def check_recent_sign_in(claims: dict[str, Any]) -> None:
    """A sensitive change needs a sign-in within AUTHAPI_RECENT_AUTH seconds."""
    core.check_sign_in(claims, time.time(),
                       max_age=int(current_app.config["AUTHAPI_RECENT_AUTH"]))


def recent_sign_in_required(view: F) -> F:
    """A valid access token from a sign-in within AUTHAPI_RECENT_AUTH seconds (adding a
    passkey, TOTP on or off, a new email); else 401 `insufficient_user_authentication`
    with `max_age`, and the client calls POST /auth/reauthenticate."""
    return _guard(check_recent_sign_in, f"{ANY_TOKEN} from a recent sign-in")(view)


def permissions_required(*permissions: str) -> Callable[[F], F]:
    """A valid access token whose scope holds all of `permissions` (`resource:action`)."""
    return _guard(lambda claims: check_scopes(claims, permissions),
                  _listed("permission", permissions))
