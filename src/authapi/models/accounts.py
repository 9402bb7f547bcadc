"""Accounts: users, roles, passkeys, provider identities, one-time links, MFA."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from authapi.db import Model, utcnow
from authapi.models.types import (
    BigId,
    UTCDateTime,
    new_id,
    role_scope,
    user_roles,
)


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
    # WebAuthn L3 §6.1 BE flag, as registered: whether it may be synced (None: registered
    # before it was kept; the next sign-in records it).
    backup_eligible: Mapped[bool | None] = mapped_column(Boolean)
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
    # When a code turned it on: a password reset undoes factors added just before it.
    enabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RecoveryCode(Model):
    """A one-time MFA recovery code, stored as a keyed hash."""

    __tablename__ = "mfa_recovery_codes"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
