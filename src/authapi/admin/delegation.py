"""Nobody grants what they do not hold: the one rule for roles, permissions and client scopes.

An administrator reaching the API with `users:write`, `roles:write` or `clients:write`
may hand out, or take away, only what their own token grants:

- giving or taking a role needs every permission of that role;
- the built-in `admin` role is given or taken only by a caller holding every permission;
- adding a permission to a role needs that permission (and so does deleting a role,
  which takes it from every holder);
- a client's scope must be a subset of the caller's permissions.

Otherwise 403 `insufficient_scope`, raised before anything is written. The command line
is the operator's and passes no grantor (`None`): it is not bound by this.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from authapi import db
from authapi.errors import InsufficientScope
from authapi.models import ADMIN_ROLE, PERMISSIONS, Role


@dataclass(frozen=True)
class Grantor:
    """Who asks for a change over HTTP, by what their verified token grants.

    A holder of the `admin` role holds every permission, the service's own and any
    `resource:action` a role names; anyone else holds their token's `scope`.
    """

    permissions: frozenset[str]
    admin: bool = False

    @classmethod
    def of_claims(cls, claims: dict[str, Any]) -> Grantor:
        """From a verified access token's `scope` and `roles`.

        Only the user's own sign-in speaks with the `admin` role's full weight. An app's
        token for that user (`client_id`: a code, device or exchanged token) carries the
        user's roles but only the scope the app was given, and grants that scope alone."""
        roles = claims.get("roles")
        own = "client_id" not in claims
        return cls(frozenset(str(claims.get("scope", "")).split()),
                   admin=own and isinstance(roles, list) and ADMIN_ROLE in roles)

    def lacks(self, permissions: Iterable[str]) -> set[str]:
        """The ones of `permissions` this grantor does not hold."""
        return set() if self.admin else set(permissions) - self.permissions

    def holds_every_permission(self) -> bool:
        """Every permission that exists: the service's and every one a role grants."""
        if self.admin:
            return True
        named = db.orm().scalars(select(Role.permissions)).all()
        return not self.lacks({*PERMISSIONS, *(p for ps in named for p in ps or ())})


def check_permissions(grantor: Grantor | None, permissions: Iterable[str], what: str) -> None:
    """Refuse unless the grantor holds every one of `permissions` (None: the operator)."""
    if grantor is None:
        return
    missing = sorted(grantor.lacks(permissions))
    if missing:
        raise InsufficientScope(
            f"You cannot grant {what} you do not hold: {', '.join(missing[:10])}.")


def check_role(grantor: Grantor | None, role: Role) -> None:
    """Refuse unless the grantor may give or take `role`."""
    if grantor is None:
        return
    if role.name == ADMIN_ROLE and not grantor.holds_every_permission():
        raise InsufficientScope("Only a caller holding every permission may give or take "
                                "the admin role.")
    check_permissions(grantor, role.scope(), f"the role {role.name!r}, whose permissions")
