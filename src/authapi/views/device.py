"""/oauth/device: where a user approves a device that signs in with the device grant
(RFC 8628). The device's own endpoints (device_authorization, the token poll) answer
RFC 6749 errors in views/oauth.py; these answer problems."""

from __future__ import annotations

from typing import Any

from authapi import authz, db
from authapi.accounts import users
from authapi.limits import limits
from authapi.oauth import device
from authapi.views import Blueprint
from authapi.web.schemas import DeviceAnswerSchema, DeviceRequestSchema, UserCodeSchema

bp = Blueprint("device", __name__, url_prefix="/oauth",
               description="Devices: approve a device's sign-in (RFC 8628).")


def _user_claims() -> dict[str, Any]:
    """A user's own token: an app a user let in cannot approve devices."""
    claims = authz.current_claims()
    authz.check_users_own(claims)
    return claims


@bp.post("/device/verify")
@authz.access_required
@limits.guess_limits
@bp.arguments(UserCodeSchema)
@bp.response(200, DeviceRequestSchema)
def device_verify(body: dict[str, Any]) -> Any:
    """Which app a user code belongs to and what it asks for (case and dash ignored)."""
    _user_claims()
    return device.describe(device.pending(body["user_code"]))


@bp.post("/device/approve")
@authz.access_required
@limits.guess_limits
@bp.arguments(DeviceAnswerSchema)
@bp.response(204)
def device_approve(body: dict[str, Any]) -> None:
    """Let the device in (`approve: true`) or not; it learns on its next poll."""
    claims = _user_claims()
    row = device.pending(body["user_code"])
    device.answer(row, claims, body["approve"], users.profile(claims["sub"])["scope"])
    db.orm().commit()
