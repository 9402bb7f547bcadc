"""The tables, by capability; every name importable from `authapi.models` as before."""

from __future__ import annotations

from authapi.models.accounts import (
    LinkToken,
    OidcIdentity,
    Passkey,
    RecoveryCode,
    ResetRequest,
    Role,
    TotpFactor,
    User,
    WebauthnChallenge,
)
from authapi.models.oauth import (
    AuthorizationRequest,
    Client,
    Consent,
    DeviceGrant,
    UsedAssertion,
)
from authapi.models.ops import AuditEvent, LoginFailure, OutboxMail, RateLimit
from authapi.models.tokens import (
    DpopProof,
    RefreshGrace,
    RevocationEvent,
    RevokedToken,
    SigningKey,
    UserSession,
)
from authapi.models.types import (
    ADMIN_ROLE,
    DEFAULT_ROLE,
    PERMISSIONS,
    BigId,
    UTCDateTime,
    new_id,
    role_scope,
    user_roles,
)

__all__ = [
    "ADMIN_ROLE", "AuditEvent", "AuthorizationRequest", "Consent", "BigId", "Client",
    "DEFAULT_ROLE", "DeviceGrant", "DpopProof", "LinkToken",
    "LoginFailure", "OidcIdentity", "OutboxMail", "PERMISSIONS", "Passkey", "RateLimit",
    "RecoveryCode", "RefreshGrace", "ResetRequest", "RevocationEvent", "RevokedToken", "Role",
    "SigningKey", "TotpFactor", "UTCDateTime", "UsedAssertion", "User", "UserSession",
    "WebauthnChallenge", "new_id", "role_scope", "user_roles",
]
