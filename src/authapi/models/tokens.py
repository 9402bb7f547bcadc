"""Token state: sessions (logins), revocations, signing keys, grace pairs, DPoP proofs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from authapi.db import Model, utcnow
from authapi.models.types import (
    BigId,
    UTCDateTime,
    new_id,
)


class UserSession(Model):
    """One login (the contract's "session", the `sid` claim): the head of its refresh
    chain and what revokes its access tokens."""

    __tablename__ = "sessions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # The jti of the one refresh token that may still be used; never the token itself.
    refresh_jti: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    user_agent: Mapped[str | None] = mapped_column(String(512))
    ip: Mapped[str | None] = mapped_column(String(45))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_reason: Mapped[str | None] = mapped_column(String(32))
    # Access tokens of this session minted before this instant (ms) are revoked.
    access_not_before: Mapped[int] = mapped_column(BigInteger, default=0)
    # RFC 9449: the JWK thumbprint its refresh token is bound to, if the login had a proof.
    dpop_jkt: Mapped[str | None] = mapped_column(String(64))
    # How the user last proved who they are in this session (tokens.SignIn): epoch
    # seconds, the `acr`, and the RFC 8176 `amr` names space-separated.
    auth_time: Mapped[int | None] = mapped_column(BigInteger)
    acr: Mapped[str | None] = mapped_column(String(8))
    amr: Mapped[str | None] = mapped_column(String(64))
    # A session an app opened through /oauth/authorize: the client, the scope the user
    # let it have, its audiences (RFC 8707), and the browser sign-in it came from.
    client_id: Mapped[str | None] = mapped_column(String(2048), index=True)
    scope: Mapped[str | None] = mapped_column(Text)
    audience: Mapped[list[str] | None] = mapped_column(JSON)
    sign_in_id: Mapped[str | None] = mapped_column(String(36), index=True)


class RevokedToken(Model):
    """A single token revoked by its jti, kept until it would have expired anyway."""

    __tablename__ = "revoked_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    revoked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RevocationEvent(Model):
    """The change feed that tells every process which cached revocation state is stale."""

    __tablename__ = "revocation_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    session_id: Mapped[str | None] = mapped_column(String(36))
    jti: Mapped[str | None] = mapped_column(String(64))


class SigningKey(Model):
    """A token signing key; the private half is encrypted with AUTHAPI_SECRET_KEY."""

    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    algorithm: Mapped[str] = mapped_column(String(16))
    private_key: Mapped[str] = mapped_column(Text)
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


# --- single-page apps: the refresh grace window ---


class RefreshGrace(Model):
    """The last rotation of a session's refresh chain, kept for AUTHAPI_REFRESH_GRACE.

    Presenting `previous_jti` again inside the window answers `successor`, the pair
    that rotation issued, byte for byte. `successor` is encrypted with a key derived
    from AUTHAPI_SECRET_KEY (grace.py): the table never holds a usable token in clear.
    """

    __tablename__ = "refresh_grace"

    session_id: Mapped[str] = mapped_column(
        ForeignKey("sessions.id", ondelete="CASCADE"), primary_key=True)
    previous_jti: Mapped[str] = mapped_column(String(64))
    successor_jti: Mapped[str] = mapped_column(String(64))
    rotated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    successor: Mapped[str] = mapped_column(Text)


# --- DPoP (RFC 9449) ---


class DpopProof(Model):
    """A DPoP proof already accepted (RFC 9449 §11.1), kept until its iat window closes."""

    __tablename__ = "dpop_proofs"

    # SHA-256 of the key thumbprint and the proof's jti, hex: bounded whatever is sent.
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
