"""The device authorization grant (RFC 8628): a CLI or a TV without a browser of its own
shows a short code; the user approves it on another device; the device polls for its
tokens, which it gets once.

Device codes are kept hashed. User codes are 8 letters from an alphabet without vowels
or look-alikes (RFC 8628 §6.1), about 34 bits, so wrong guesses are rate limited
(limits.guess_limits) and a code lives 10 minutes.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from authapi import audit, db
from authapi.audit import ClientMeta
from authapi.db import utcnow
from authapi.errors import (
    AccessDenied,
    AuthorizationPending,
    ExpiredToken,
    InvalidGrant,
    InvalidScope,
    InvalidTarget,
    NotFound,
    SlowDown,
    UnauthorizedClient,
)
from authapi.models import Client, DeviceGrant, User, UserSession
from authapi.oauth import authorize, code_grant, registration
from authapi.oauth.client_auth import issuer
from authapi.oauth.clients import Caller
from authapi.tokens.tokens import SignIn

ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"
USER_CODE_LENGTH = 8
LIFETIME = timedelta(minutes=10)
INTERVAL = 5  # seconds between polls
SLOW_DOWN_STEP = 5
PENDING, APPROVED, DENIED, DELIVERED = "pending", "approved", "denied", "delivered"


def normalize(user_code: str) -> str | None:
    """A user code as typed (any case, dashes and spaces ignored), or None if it cannot
    be one."""
    letters = "".join(c for c in user_code.upper() if c not in "- ")
    if len(letters) != USER_CODE_LENGTH or any(c not in ALPHABET for c in letters):
        return None
    return letters


def shown(user_code: str) -> str:
    """XXXX-XXXX, as the device displays it."""
    return f"{user_code[:4]}-{user_code[4:]}"


def start(client: Caller, form: Mapping[str, str], resources: list[str]) -> dict[str, Any]:
    """RFC 8628 §3.1-3.2: a device code, a user code and where to enter it."""
    if registration.DEVICE_CODE not in client.grant_types:
        raise UnauthorizedClient("This client may not use the device grant.")
    app = authorize.app(client.client_id)
    allowed = set(app.scope) if app else set()
    scopes = (form.get("scope") or "").split()
    unknown = [s for s in scopes if s not in authorize.OPENID_SCOPES and s not in allowed]
    if unknown:
        raise InvalidScope(f"Not offered to this client: {' '.join(unknown)}.")
    if any(r not in (app.resources if app else ()) for r in resources):
        raise InvalidTarget("resource is not one this client may ask for.")
    device_code = secrets.token_urlsafe(32)
    for _ in range(5):  # a collision of user codes is rare; try again, never share one
        user_code = "".join(secrets.choice(ALPHABET) for _ in range(USER_CODE_LENGTH))
        row = DeviceGrant(device_code_hash=authorize.hashed(device_code), user_code=user_code,
                          client_id=client.client_id, scope=" ".join(dict.fromkeys(scopes)),
                          resources=resources or None, expires_at=utcnow() + LIFETIME,
                          interval=INTERVAL, status=PENDING)
        db.orm().add(row)
        try:
            db.orm().flush()
            break
        except IntegrityError:
            db.orm().rollback()
    else:  # pragma: no cover  (five collisions in 20^8)
        raise InvalidGrant("No user code could be made; try again.")
    page = issuer() + "/oauth/device"
    return {"device_code": device_code, "user_code": shown(user_code),
            "verification_uri": page,
            "verification_uri_complete": f"{page}?user_code={shown(user_code)}",
            "expires_in": int(LIFETIME.total_seconds()), "interval": INTERVAL}


def pending(user_code: str) -> DeviceGrant:
    """The live, unanswered grant of a user code; 404 otherwise (a guess counts)."""
    code = normalize(user_code) if len(user_code) <= 32 else None
    row = db.orm().scalar(select(DeviceGrant).where(DeviceGrant.user_code == code)) \
        if code else None
    if row is None or row.status != PENDING or row.expires_at <= utcnow():
        raise NotFound("No such code, or it expired.")
    return row


def describe(row: DeviceGrant) -> dict[str, Any]:
    """Who asks, for what: for the page where the user approves."""
    name = db.orm().scalar(select(Client.name).where(Client.client_id == row.client_id))
    return {"client": {"client_id": row.client_id, "name": name or row.client_id},
            "scopes": row.scope.split()}


def answer(row: DeviceGrant, claims: dict[str, Any], approve: bool, held: str) -> None:
    """The user's answer; an approval grants the asked permissions they hold (`held`, the
    user's own) and the approving token carries too: nobody grants what they do not
    hold, and a first-party app's token holds what was consented, not all of the
    user's. It carries their sign-in (`auth_time`, `acr`, `amr`) into the device's
    tokens."""
    row.user_id, row.sign_in_id = claims["sub"], claims.get("sid")
    if not approve:
        row.status = DENIED
        audit.record("device_denied", user_id=claims["sub"], client_id=row.client_id)
        return
    have = set(held.split()) & set(str(claims.get("scope") or "").split())
    row.granted_scope = " ".join(s for s in row.scope.split()
                                 if s in authorize.OPENID_SCOPES or s in have)
    row.status = APPROVED
    row.auth_time, row.acr = claims.get("auth_time"), claims.get("acr")
    row.amr = " ".join(claims.get("amr") or [])
    authorize.remember(claims["sub"], row.client_id, row.granted_scope)  # listed, withdrawable
    audit.record("authorization_granted", user_id=claims["sub"], client_id=row.client_id,
                 detail={"scope": row.granted_scope, "grant": "device_code"})


def poll(client: Caller, device_code: str, meta: ClientMeta, jkt: str | None,
         resources: Sequence[str] = ()) -> dict[str, Any]:
    """RFC 8628 §3.4-3.5: the device's tokens once approved; until then what to do.
    `resources` (RFC 8707 §2.2) narrow the access token to some of those authorized."""
    if registration.DEVICE_CODE not in client.grant_types:
        raise UnauthorizedClient("This client may not use the device grant.")
    row = (db.orm().get(DeviceGrant, authorize.hashed(device_code))
           if len(device_code) <= 128 else None)
    if row is None or row.client_id != client.client_id or row.status == DELIVERED:
        raise InvalidGrant("Unknown device code, another client's, or already delivered.")
    now = utcnow()
    if row.expires_at <= now:
        raise ExpiredToken()
    if row.status == DENIED:
        raise AccessDenied()
    if row.status == PENDING:
        too_soon = (row.last_polled_at is not None
                    and (now - row.last_polled_at).total_seconds() < row.interval)
        if too_soon:
            row.interval += SLOW_DOWN_STEP
        row.last_polled_at = now
        db.orm().commit()  # the interval and the poll outlive the answer below
        raise SlowDown() if too_soon else AuthorizationPending()
    delivered = db.affected(update(DeviceGrant).where(
        DeviceGrant.device_code_hash == row.device_code_hash, DeviceGrant.status == APPROVED)
        .values(status=DELIVERED))
    user = db.orm().get(User, row.user_id) if row.user_id else None
    if not delivered or user is None or user.disabled:
        raise InvalidGrant("The device code was already delivered.")
    if row.sign_in_id is not None:
        approver = db.orm().get(UserSession, row.sign_in_id)
        if approver is None or approver.revoked_at is not None:
            db.orm().commit()  # delivered: the approval is spent, whatever the device does
            raise InvalidGrant("The sign-in that approved this device has ended.")
    return _tokens(client, row, user, meta, jkt, resources)


def _tokens(client: Caller, row: DeviceGrant, user: User, meta: ClientMeta,
            jkt: str | None, resources: Sequence[str]) -> dict[str, Any]:
    scope = row.granted_scope or ""
    sign_in = SignIn.stored(row.auth_time, row.acr, row.amr) or SignIn.now(("pwd",))
    # The device's session descends from the sign-in that approved it (sign_in_id):
    # reuse detection on that session reaches it (sessions._refuse).
    pair, session_id = code_grant.app_tokens(client, user, scope, row.resources, sign_in,
                                             meta, jkt, sign_in_id=row.sign_in_id,
                                             requested=resources)
    audit.record("device_code_exchanged", user_id=user.id, client_id=client.client_id,
                 detail={"session_id": session_id})
    return pair
