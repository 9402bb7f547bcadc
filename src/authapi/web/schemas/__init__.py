"""Request schemas (unknown fields are an error) and response schemas, by area.

Every name is importable from `authapi.web.schemas` as before.
"""

from __future__ import annotations

from authapi.web.schemas.account import (
    AcceptedSchema,
    EmailChangeSchema,
    LinkTokenSchema,
    OtpSchema,
    PasswordResetConfirmSchema,
    PasswordResetSchema,
    PasswordSchema,
    RecoveryCodesSchema,
    TotpSetupSchema,
)
from authapi.web.schemas.admin import (
    AdminUserPageSchema,
    AdminUserSchema,
    AuditEventSchema,
    AuditPageSchema,
    AuditQuerySchema,
    ClientCreateSchema,
    ClientPageSchema,
    ClientPatchSchema,
    ClientSchema,
    RoleCreateSchema,
    RolePageSchema,
    RolePatchSchema,
    RoleSchema,
    UserPatchSchema,
    UserQuerySchema,
    UserRolesSchema,
)
from authapi.web.schemas.auth import (
    IdentityPageSchema,
    IdentitySchema,
    LoginSchema,
    PasskeyLoginOptionsSchema,
    PasskeyLoginSchema,
    PasskeyOptionsSchema,
    PasskeyPageSchema,
    PasskeyRegisterSchema,
    PasskeySchema,
    PasswordChangeSchema,
    ReauthenticateSchema,
    RefreshSchema,
    RegisterSchema,
    SessionPageSchema,
    SessionSchema,
    TokenPairSchema,
    UserSchema,
)
from authapi.web.schemas.base import (
    EmailText,
    HealthSchema,
    OAuthErrorSchema,
    PageArgsSchema,
    ProblemSchema,
    StrictSchema,
    Text,
    page_of,
    storable,
    utc_convertible,
)
from authapi.web.schemas.provider import (
    AuthorizationRequestSchema,
    ClientMetadataSchema,
    ConsentGrantSchema,
    ConsentPageSchema,
    ConsentSchema,
    DeviceAnswerSchema,
    DeviceRequestSchema,
    RedirectSchema,
    RequestLoginSchema,
    RequestPasskeySchema,
    UserCodeSchema,
    UserInfoSchema,
)

__all__ = [
    "AuthorizationRequestSchema", "ClientMetadataSchema", "ConsentGrantSchema",
    "ConsentPageSchema", "ConsentSchema",
    "DeviceAnswerSchema", "DeviceRequestSchema", "RedirectSchema", "UserCodeSchema",
    "RequestLoginSchema", "RequestPasskeySchema", "UserInfoSchema",
    "AdminUserPageSchema", "AuditPageSchema", "RolePageSchema",
    "AcceptedSchema", "AdminUserSchema", "AuditEventSchema", "AuditQuerySchema",
    "ClientCreateSchema", "ClientPageSchema", "ClientPatchSchema", "ClientSchema",
    "EmailChangeSchema", "EmailText",
    "HealthSchema", "IdentityPageSchema", "IdentitySchema", "LinkTokenSchema", "LoginSchema",
    "OAuthErrorSchema", "OtpSchema", "PageArgsSchema", "PasskeyLoginOptionsSchema",
    "PasskeyLoginSchema", "PasskeyOptionsSchema", "PasskeyPageSchema", "PasskeyRegisterSchema",
    "PasskeySchema", "PasswordChangeSchema", "ReauthenticateSchema", "PasswordResetConfirmSchema",
    "PasswordResetSchema", "PasswordSchema", "ProblemSchema", "RecoveryCodesSchema",
    "RefreshSchema", "RegisterSchema", "RoleCreateSchema", "RolePatchSchema", "RoleSchema",
    "SessionPageSchema", "SessionSchema", "StrictSchema", "Text", "TokenPairSchema",
    "TotpSetupSchema", "UserPatchSchema", "UserQuerySchema", "UserRolesSchema", "UserSchema",
    "page_of", "storable", "utc_convertible",
]
