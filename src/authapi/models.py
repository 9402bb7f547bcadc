"""Tables: users, roles, user sessions (logins), revocations, signing keys and audit events."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapped, mapped_column, relationship

from authapi.db import Model, utcnow

# Every permission the service knows; the built-in role `admin` holds them all.
PERMISSIONS = (
    "users:read",
    "users:write",
    "roles:read",
    "roles:write",
    "clients:read",
    "clients:write",
    "audit:read",
)
ADMIN_ROLE = "admin"
DEFAULT_ROLE = "user"

# SQLite only auto-increments an INTEGER PRIMARY KEY.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored as naive UTC and always returned timezone-aware."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Store naive UTC."""
        if value is None:
            return None
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Read back as aware UTC."""
        return None if value is None else value.replace(tzinfo=UTC)


def new_id() -> str:
    """A random identifier for rows whose ids are shown to clients."""
    return str(uuid.uuid4())


user_roles = Table(
    "user_roles",
    Model.metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("role_id", ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True),
)


def role_scope(name: str, permissions: list[str] | None) -> list[str]:
    """The permissions a role grants: `admin` every one, any other its own list."""
    return list(PERMISSIONS) if name == ADMIN_ROLE else list(permissions or ())


class Role(Model):
    """A named set of permissions."""

    __tablename__ = "roles"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    permissions: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def scope(self) -> list[str]:
        """The permissions this role grants; `admin` grants every one."""
        return role_scope(self.name, self.permissions)


class User(Model):
    """An account that logs in with an email and a password."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    # Stored lower-cased, so the unique constraint is case-insensitive.
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    display_name: Mapped[str | None] = mapped_column(String(100))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    email_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    mfa_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    roles: Mapped[list[Role]] = relationship(secondary=user_roles, lazy="selectin")

    def role_names(self) -> list[str]:
        """The user's role names, sorted."""
        return sorted(role.name for role in self.roles)

    def scope(self) -> str:
        """The union of the user's permissions, space-separated (RFC 9068 §2.2.3)."""
        return " ".join(sorted({p for role in self.roles for p in role.scope()}))


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


class AuditEvent(Model):
    """Something security-relevant that happened, kept even when its user is deleted."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    event: Mapped[str] = mapped_column(String(64), index=True)
    user_id: Mapped[str | None] = mapped_column(String(36), index=True)
    client_id: Mapped[str | None] = mapped_column(String(64))
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(512))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


# --- passkeys ---


class Passkey(Model):
    """A WebAuthn public-key credential (passkey) a user signs in with."""

    __tablename__ = "passkeys"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # base64url of the authenticator's credential id (at most 1023 bytes, WebAuthn §5.8.3)
    credential_id: Mapped[str] = mapped_column(String(1400), unique=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)  # COSE_Key, as registered
    sign_count: Mapped[int] = mapped_column(BigInteger, default=0)
    transports: Mapped[list[str]] = mapped_column(JSON, default=list)
    name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WebauthnChallenge(Model):
    """A ceremony's challenge, kept server-side by id, single-use, short-lived."""

    __tablename__ = "webauthn_challenges"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    purpose: Mapped[str] = mapped_column(String(16))  # register, discover or assert
    user_id: Mapped[str | None] = mapped_column(String(36))
    challenge: Mapped[str] = mapped_column(String(128))  # base64url
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


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


# --- OpenID Connect login (issue 12) ---


class OidcIdentity(Model):
    """An account at an OpenID Connect provider linked to a user: (provider, sub) is unique."""

    __tablename__ = "oidc_identities"
    __table_args__ = (UniqueConstraint("provider", "subject"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    provider: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# --- DPoP (RFC 9449) ---


class DpopProof(Model):
    """A DPoP proof already accepted (RFC 9449 §11.1), kept until its iat window closes."""

    __tablename__ = "dpop_proofs"

    # SHA-256 of the key thumbprint and the proof's jti, hex: bounded whatever is sent.
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


# --- service clients (OAuth 2) ---


class Client(Model):
    """A service that authenticates to /oauth/* with a secret or a registered key set."""

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
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class UsedAssertion(Model):
    """A private_key_jwt assertion already accepted (RFC 7523 §3: a jti is used once)."""

    __tablename__ = "used_assertions"

    # SHA-256 of client_id and jti, hex: bounded length whatever the client sends.
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


# --- account lifecycle: mail outbox, one-time links, TOTP MFA ---


class OutboxMail(Model):
    """A mail queued in the request's transaction and sent after commit, with retries.

    The bodies are encrypted (they may hold a one-time link) and blanked once sent.
    """

    __tablename__ = "mail_outbox"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    recipient: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(200))


class ResetRequest(Model):
    """A password reset asked for: the same row for any email, decided after commit.

    The request only records the address; whether an account has it, and whether it
    gets a link, is decided by the outbox worker (recovery.handle_request), so the
    answer's time cannot tell. The origin is kept for the audit event written then.
    """

    __tablename__ = "reset_requests"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    # Normalised (NFKC can lengthen the 320 characters the schema allows), so Text.
    email: Mapped[str] = mapped_column(Text)
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(512))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)


class LinkToken(Model):
    """A single-use token mailed as a link (password reset, email verification or change);
    only its SHA-256 is stored."""

    __tablename__ = "link_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(32))
    # The address the link was sent to: verification and change apply only to it.
    email: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class TotpFactor(Model):
    """A user's TOTP secret (Fernet-encrypted), pending until enabled with a valid code."""

    __tablename__ = "mfa_totp"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                         primary_key=True)
    secret: Mapped[str] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    # The last time step whose code was accepted: a code is accepted once.
    last_step: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RecoveryCode(Model):
    """A one-time MFA recovery code, stored as a keyed hash."""

    __tablename__ = "mfa_recovery_codes"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


# --- hardening: shared rate-limit counters and the login back-off ---


class RateLimit(Model):
    """A rate-limit counter (a `limits` fixed window) shared by every worker and
    instance on the database when there is no Redis; the key is a SHA-256 of the limit's."""

    __tablename__ = "rate_limits"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    hits: Mapped[int] = mapped_column(Integer, default=0)
    expires_at: Mapped[float] = mapped_column(Float, index=True)  # epoch seconds


class LoginFailure(Model):
    """Consecutive failed logins of one account (SHA-256 of its normalized email, which
    need not exist), the source of its back-off."""

    __tablename__ = "login_failures"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    first_at: Mapped[float] = mapped_column(Float)  # epoch seconds
    last_at: Mapped[float] = mapped_column(Float, index=True)
