"""What a user let apps have: list the grants, withdraw one (and every token behind it)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from authapi import audit, db
from authapi.db import utcnow
from authapi.errors import NotFound
from authapi.models import AuthorizationRequest, Client, Consent, DeviceGrant, UserSession
from authapi.oauth import device
from authapi.sessions import sessions


def list_own(user_id: str, page: int, per_page: int) -> tuple[list[dict[str, Any]], int]:
    """One page of the user's grants, newest first, with each client's name."""
    rows = db.orm().execute(
        select(Consent, Client.name).join(Client, Client.client_id == Consent.client_id,
                                          isouter=True)
        .where(Consent.user_id == user_id)
        .order_by(Consent.granted_at.desc(), Consent.client_id)).all()
    items = [{"client_id": consent.client_id, "name": name or consent.client_id,
              "scopes": consent.scopes, "granted_at": consent.granted_at}
             for consent, name in rows]
    return items[(page - 1) * per_page:page * per_page], len(items)


def withdraw(user_id: str, client_id: str) -> None:
    """Forget the grant; every session the client holds for this user is revoked, and
    what would open one later (a code not yet exchanged, a device approved but not yet
    polled) is void."""
    row = db.orm().get(Consent, (user_id, client_id)) if len(client_id) <= 2048 else None
    if row is None:
        raise NotFound("This app was not let in.")
    db.orm().delete(row)
    now = utcnow()
    db.affected(update(AuthorizationRequest).where(
        AuthorizationRequest.user_id == user_id, AuthorizationRequest.client_id == client_id,
        AuthorizationRequest.code_used_at.is_(None), AuthorizationRequest.code_expires_at > now)
        .values(code_expires_at=now))
    db.affected(update(DeviceGrant).where(
        DeviceGrant.user_id == user_id, DeviceGrant.client_id == client_id,
        DeviceGrant.status == device.APPROVED).values(status=device.DENIED))
    held = db.orm().scalars(select(UserSession.id).where(
        UserSession.user_id == user_id, UserSession.client_id == client_id,
        UserSession.revoked_at.is_(None)))
    for session_id in list(held):
        sessions.revoke(session_id, "consent_withdrawn")
    audit.record("consent_withdrawn", user_id=user_id, client_id=client_id)
