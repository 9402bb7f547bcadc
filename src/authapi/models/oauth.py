"""OAuth 2 clients and the client assertions they used."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from authapi.db import Model, utcnow
from authapi.models.types import (
    UTCDateTime,
    new_id,
)

# --- service clients (OAuth 2) ---


class Client(Model):
    """A service or an app that authenticates to /oauth/* with a secret, a registered key
    set, or nothing (a public app)."""

    __tablename__ = "clients"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    client_id: Mapped[str] = mapped_column(String(48), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    scope: Mapped[str] = mapped_column(Text, default="")
    # HMAC-SHA-256 of the secret under a key derived from AUTHAPI_SECRET_KEY, hex; never
    # the secret. NULL for a client that authenticates with private_key_jwt.
    secret_hash: Mapped[str | None] = mapped_column(String(64))
    jwks: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    jwks_url: Mapped[str | None] = mapped_column(String(2048))
    exchange: Mapped[bool] = mapped_column(Boolean, default=False)
    # RFC 8693: the audiences this client may exchange user tokens for; None: only the
    # configured audience.
    audiences: Mapped[list[str] | None] = mapped_column(JSON)
    # An app that signs users in (oauth/registration.py). None on clients registered
    # before these columns: they are services (client_credentials, + exchange).
    redirect_uris: Mapped[list[str] | None] = mapped_column(JSON)
    post_logout_redirect_uris: Mapped[list[str] | None] = mapped_column(JSON)
    grant_types: Mapped[list[str] | None] = mapped_column(JSON)
    token_endpoint_auth_method: Mapped[str | None] = mapped_column(String(32))
    first_party: Mapped[bool] = mapped_column(Boolean, default=False)
    resources: Mapped[list[str] | None] = mapped_column(JSON)
    require_par: Mapped[bool] = mapped_column(Boolean, default=False)
    require_dpop: Mapped[bool] = mapped_column(Boolean, default=False)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class UsedAssertion(Model):
    """A private_key_jwt assertion already accepted (RFC 7523 §3: a jti is used once)."""

    __tablename__ = "used_assertions"

    # SHA-256 of client_id and jti, hex: bounded length whatever the client sends.
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


# --- apps that sign users in (OAuth 2.1 / OpenID Connect provider) ---


class AuthorizationRequest(Model):
    """One /oauth/authorize request, from the browser that made it to its code's use.

    Pending for 10 minutes while the user signs in and consents; then it holds the
    code (hashed), good for 60 s and once. A second use of the code revokes the
    session its first use opened (`issued_session_id`).
    """

    __tablename__ = "oauth_requests"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    # SHA-256 of the value in the browser's request cookie: another browser's id is no use.
    binding: Mapped[str] = mapped_column(String(64))
    client_id: Mapped[str] = mapped_column(String(2048), index=True)
    redirect_uri: Mapped[str] = mapped_column(Text)
    # Whether the request named its redirect URI (RFC 6749 §4.1.3: then the token request
    # must repeat it); a client's one registered URI stands in when it did not.
    redirect_uri_sent: Mapped[bool] = mapped_column(Boolean, default=True)
    scope: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[str | None] = mapped_column(Text)
    nonce: Mapped[str | None] = mapped_column(Text)
    code_challenge: Mapped[str] = mapped_column(String(128))
    resources: Mapped[list[str] | None] = mapped_column(JSON)
    prompt: Mapped[str | None] = mapped_column(String(64))
    max_age: Mapped[int | None] = mapped_column(BigInteger)
    acr_values: Mapped[str | None] = mapped_column(String(64))
    login_hint: Mapped[str | None] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    # The sign-in (a session of the user) this request was completed with.
    user_id: Mapped[str | None] = mapped_column(String(36))
    sign_in_id: Mapped[str | None] = mapped_column(String(36))
    granted_scope: Mapped[str | None] = mapped_column(Text)
    code_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    code_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    code_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    issued_session_id: Mapped[str | None] = mapped_column(String(36))


class Consent(Model):
    """What a user let a client have: remembered per user, client and scopes."""

    __tablename__ = "consents"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                         primary_key=True)
    client_id: Mapped[str] = mapped_column(String(2048), primary_key=True)
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DeviceGrant(Model):
    """A device authorization (RFC 8628): from the device's request to the one delivery
    of its tokens. Codes are kept hashed; the user code is normalised (8 letters)."""

    __tablename__ = "device_grants"

    device_code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_code: Mapped[str] = mapped_column(String(8), unique=True)
    client_id: Mapped[str] = mapped_column(String(2048))
    scope: Mapped[str] = mapped_column(Text, default="")
    resources: Mapped[list[str] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    interval: Mapped[int] = mapped_column(BigInteger, default=5)
    last_polled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # pending, approved, denied, delivered
    status: Mapped[str] = mapped_column(String(16), default="pending")
    user_id: Mapped[str | None] = mapped_column(String(36))
    # The session the approval came from: once it ends (logout, logout-all, a password
    # change), the approval is void, as a code is when its sign-in ends.
    sign_in_id: Mapped[str | None] = mapped_column(String(36))
    granted_scope: Mapped[str | None] = mapped_column(Text)
    auth_time: Mapped[int | None] = mapped_column(BigInteger)
    acr: Mapped[str | None] = mapped_column(String(8))
    amr: Mapped[str | None] = mapped_column(String(64))
