"""Whom a passkey ceremony is for: the relying party id, the origins it may come from,
and a refusal that says so when a browser ran the ceremony on another origin.

A page on a port the server does not expect is the commonest passkey failure in
development; py_webauthn would refuse it like a forged assertion. The origin is
checked here first: the server logs the expected and the received origins, and the
401 `invalid_credentials` names them, so the page can show the reason.
"""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import urlsplit

from flask import current_app

from authapi.errors import InvalidCredentials
from authapi.tokens import jws

log = logging.getLogger(__name__)
MAX_SHOWN = 200  # characters of a received origin put in a log line or an answer


class WrongOrigin(InvalidCredentials):  # type: ignore[valid-type,misc]
    """A ceremony from an origin that is not one of origins(): 401 invalid_credentials."""


def rp_id() -> str:
    """The relying party id: AUTHAPI_WEBAUTHN_RP_ID, else the host of the frontend."""
    config = current_app.config
    return str(config["AUTHAPI_WEBAUTHN_RP_ID"] or urlsplit(config["AUTHAPI_FRONTEND_URL"]).hostname
               or "localhost")


def origins() -> list[str]:
    """The origins a ceremony may come from: AUTHAPI_WEBAUTHN_ORIGINS, else the frontend's."""
    config = current_app.config
    listed = [o.strip().rstrip("/") for o in str(config["AUTHAPI_WEBAUTHN_ORIGINS"]).split(",")]
    frontend = urlsplit(config["AUTHAPI_FRONTEND_URL"])
    return [o for o in listed if o] or [f"{frontend.scheme}://{frontend.netloc}"]


def client_data(credential: dict[str, Any]) -> dict[str, Any] | None:
    """The credential's decoded client data; None when there is none to read (the
    verification proper then refuses the credential as malformed)."""
    response = credential.get("response")
    encoded = response.get("clientDataJSON") if isinstance(response, dict) else None
    if not isinstance(encoded, str):
        return None
    try:
        data = json.loads(jws.b64decode(encoded))
    except (ValueError, jws.TokenInvalid):
        return None
    return data if isinstance(data, dict) else None


def check(credential: dict[str, Any], ceremony: str) -> None:
    """WrongOrigin, logged with both values, unless the ceremony came from origins().

    A ceremony run in a frame whose top-level page is on another origin (client data
    `crossOrigin: true`, `topOrigin`: WebAuthn L3 §7.1 step 9, §7.2 step 13) counts only
    when that top-level origin is one of origins() too: a site the relying party does
    not list must not run its passkeys in a frame. A cross-origin frame that does not
    name its top-level origin cannot be told apart from such a site, and is refused.
    """
    data, expected = client_data(credential) or {}, origins()
    origin, top = data.get("origin"), data.get("topOrigin")
    if not isinstance(origin, str):
        return
    framed_elsewhere = (top is not None and top not in expected) or (
        top is None and data.get("crossOrigin") is True)
    if origin in expected and not framed_elsewhere:
        return
    shown = (f"{origin} in a frame of {top or 'an unnamed site'}" if framed_elsewhere
             else origin)[:MAX_SHOWN]
    log.warning("passkey %s from an unexpected origin", ceremony, extra={"fields": {
        "event": "webauthn_origin_mismatch", "ceremony": ceremony,
        "expected_origins": expected, "received_origin": shown}})
    raise WrongOrigin(
        f"The passkey {ceremony} ran on {shown}, but this server accepts passkeys from "
        f"{', '.join(expected)} only: serve the page there, or set AUTHAPI_WEBAUTHN_ORIGINS "
        "(default: the origin of AUTHAPI_FRONTEND_URL).")
