"""Route guards: a valid access token, and the roles or scopes a route demands.

Apps that mount authapi use these on their own routes:

    @app.get("/reports")
    @roles_required("admin")
    def reports(): ...
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import g, request

from . import tokens
from .errors import InsufficientRole, InsufficientScope, TokenInvalid, TokenMissing

F = TypeVar("F", bound=Callable[..., Any])


def bearer_token() -> str:
    """The token of an `Authorization: Bearer` header (RFC 6750 §2.1)."""
    header = request.headers.get("Authorization")
    if not header:
        raise TokenMissing()
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer":
        # RFC 6750 §3.1: another scheme means no bearer credentials, so no error code.
        raise TokenMissing()
    token = token.strip()
    if not token or " " in token:
        raise TokenInvalid()
    return token


def authenticate() -> dict[str, Any]:
    """Verify the request's access token once per request and remember its claims."""
    claims = g.get("_jwt_extended_jwt")
    if claims is None:
        claims = tokens.verify_access(bearer_token())
        # Where Flask-JWT-Extended keeps them, so its get_jwt() works in our views too.
        g._jwt_extended_jwt = claims
        g._jwt_extended_jwt_header = {}
        g._jwt_extended_jwt_user = {"loaded_user": None}
    return cast(dict[str, Any], claims)


def current_claims() -> dict[str, Any]:
    """The verified claims of the current request's access token."""
    return authenticate()


def granted_scopes(claims: dict[str, Any]) -> set[str]:
    """The token's scope as a set."""
    return set(str(claims.get("scope", "")).split())


def check_roles(claims: dict[str, Any], required: tuple[str, ...] = (),
                accepted: tuple[str, ...] = ()) -> None:
    """Raise InsufficientRole unless the token has every `required` and any `accepted` role."""
    held = set(claims.get("roles", ()))
    if not held.issuperset(required) or (accepted and held.isdisjoint(accepted)):
        raise InsufficientRole()


def check_scopes(claims: dict[str, Any], required: tuple[str, ...]) -> None:
    """Raise InsufficientScope unless the token grants every scope in `required`."""
    if not granted_scopes(claims).issuperset(required):
        raise InsufficientScope()


def _guard(check: Callable[[dict[str, Any]], None]) -> Callable[[F], F]:
    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            check(authenticate())
            return view(*args, **kwargs)

        return cast(F, wrapper)

    return decorator


def access_required(view: F) -> F:
    """Any valid access token."""
    return _guard(lambda _claims: None)(view)


def roles_required(*roles: str) -> Callable[[F], F]:
    """A valid access token holding all of `roles`."""
    return _guard(lambda claims: check_roles(claims, required=roles))


def roles_accepted(*roles: str) -> Callable[[F], F]:
    """A valid access token holding at least one of `roles`."""
    return _guard(lambda claims: check_roles(claims, accepted=roles))


def scopes_required(*scopes: str) -> Callable[[F], F]:
    """A valid access token granting all of `scopes`."""
    return _guard(lambda claims: check_scopes(claims, scopes))
