"""Pushed authorization requests (RFC 9126): the client sends the authorize parameters
to /oauth/par first, then the browser comes with only `client_id` and the `request_uri`.
A pushed request lives 60 s and is taken by one browser once."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import timedelta

from sqlalchemy import update

from authapi import db
from authapi.db import utcnow
from authapi.models import AuthorizationRequest
from authapi.oauth.authorize import REQUEST_TTL, App, Unredirectable, check_params, hashed

PAR_PREFIX = "urn:ietf:params:oauth:request_uri:"
PAR_TTL = timedelta(seconds=60)
UNTAKEN = ""  # the binding of a pushed request no browser has taken yet


def push(client: App, redirect_uri: str, params: Mapping[str, list[str]]) -> tuple[str, int]:
    """RFC 9126: keep a request the client pushed; its request_uri and lifetime (60 s).

    A refusal is the same as at the authorization endpoint, answered to the client.
    """
    checked = check_params(client, params, pushed=True)
    row = AuthorizationRequest(id=secrets.token_urlsafe(24), binding=UNTAKEN,
                               client_id=client.client_id, redirect_uri=redirect_uri,
                               expires_at=utcnow() + PAR_TTL, **checked)
    db.orm().add(row)
    db.orm().flush()
    return PAR_PREFIX + row.id, int(PAR_TTL.total_seconds())


def take_pushed(client: App, request_uri: str, binding: str) -> AuthorizationRequest:
    """The pushed request `request_uri` names, taken once by this browser (RFC 9126 §4);
    its parameters, not the query's, are the request. Unredirectable otherwise."""
    request_id = request_uri.removeprefix(PAR_PREFIX) if request_uri.startswith(
        PAR_PREFIX) else ""
    row = db.orm().get(AuthorizationRequest, request_id) if 0 < len(request_id) <= 64 else None
    if (row is None or row.client_id != client.client_id or row.binding != UNTAKEN
            or row.expires_at <= utcnow()):
        raise Unredirectable("request_uri is unknown, used, expired or another client's.")
    taken = db.affected(update(AuthorizationRequest).where(
        AuthorizationRequest.id == row.id, AuthorizationRequest.binding == UNTAKEN)
        .values(binding=hashed(binding), expires_at=utcnow() + REQUEST_TTL))
    if not taken:
        raise Unredirectable("request_uri was already used.")
    db.orm().refresh(row)
    return row


