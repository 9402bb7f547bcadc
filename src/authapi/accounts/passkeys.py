"""Passkeys (WebAuthn Level 3): registration and sign-in ceremonies, and management.

py_webauthn builds the options and verifies attestations and assertions; this
module decides which challenge, relying party, origins and credential apply, and
keeps the sign counter. Every refusal of a sign-in is the same InvalidCredentials,
but for a ceremony run on an origin the server does not expect: that one names both
origins (passkey_origins), as it tells nothing about any account.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from datetime import datetime
from typing import Any

from flask import current_app
from sqlalchemy import delete, exists, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import (
    base64url_to_bytes,
    bytes_to_base64url,
    parse_authentication_credential_json,
    parse_registration_credential_json,
)
from webauthn.helpers.cose import COSEAlgorithmIdentifier
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    CredentialDeviceType,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from authapi import audit, db
from authapi.accounts import addresses, challenges, notices, passkey_origins, users
from authapi.accounts.passkey_origins import WrongOrigin, origins, rp_id
from authapi.db import utcnow
from authapi.errors import (
    AccountDisabled,
    ApiError,
    Conflict,
    InvalidCredentials,
    NotFound,
    TokenInvalid,
)
from authapi.models import Passkey, User
from authapi.sessions.sessions import is_uuid
from authapi.tokens import core, jws
from authapi.tokens.tokens import SignIn

REGISTER, DISCOVER, ASSERT = "register", "discover", "assert"
DEFAULT_NAME = "Passkey"
SYNCED, DEVICE_BOUND = "swk", "hwk"  # RFC 8176: a software-held (synced) or a hardware key
ALGORITHMS = [COSEAlgorithmIdentifier.ECDSA_SHA_256, COSEAlgorithmIdentifier.EDDSA,
              COSEAlgorithmIdentifier.RSASSA_PKCS1_v1_5_SHA_256]
TRANSPORTS = {t.value: t for t in AuthenticatorTransport}
DECOY_LENGTHS = (16, 32, 64)  # bytes: credential ids as common authenticators make them
NO_USER = "00000000-0000-0000-0000-000000000000"  # no account has it: the same query runs
# What py_webauthn and the decoders under it raise for an unparsable or false credential.
REFUSED = (WebAuthnException, ValueError, TypeError, KeyError, IndexError, AttributeError)
# The base64url parts of a credential (WebAuthn §5.1 toJSON()): each must be canonical,
# so one assertion has one spelling (py_webauthn's decoder accepts stray bits).
ENCODED_PARTS = ("id", "rawId")
ENCODED_RESPONSE_PARTS = ("clientDataJSON", "authenticatorData", "signature", "userHandle",
                          "attestationObject")


def _canonical(credential: dict[str, Any]) -> None:
    """ValueError unless every base64url part of `credential` is canonical."""
    response = credential.get("response")
    values = [credential.get(name) for name in ENCODED_PARTS]
    if isinstance(response, dict):
        values += [response.get(name) for name in ENCODED_RESPONSE_PARTS]
    for value in values:
        if isinstance(value, str):
            try:
                jws.b64decode(value)
            except TokenInvalid:
                raise ValueError("not canonical base64url") from None
REFUSAL = "The passkey could not be verified."
MAX_CREDENTIAL_ID = 1023  # bytes


def user_handle(user_id: str) -> bytes:
    """The WebAuthn user handle: the user id's 16 bytes, random and free of personal data."""
    return uuid.UUID(user_id).bytes


def _descriptor(row: Passkey) -> PublicKeyCredentialDescriptor:
    transports = [TRANSPORTS[t] for t in row.transports or () if t in TRANSPORTS]
    return PublicKeyCredentialDescriptor(id=base64url_to_bytes(row.credential_id),
                                         transports=transports)


def _listed(row: Passkey) -> PublicKeyCredentialDescriptor:
    """A sign-in option's descriptor: the id alone. Transports are hints a browser can do
    without, and stored ones would tell a real credential from a decoy."""
    return PublicKeyCredentialDescriptor(id=base64url_to_bytes(row.credential_id))


def _decoy(email: str) -> PublicKeyCredentialDescriptor:
    """A credential id for an email without passkeys: stable per email, unguessable, and
    of a length real authenticators use (16, 32 or 64 bytes), chosen by the email."""
    key = str(current_app.config["AUTHAPI_SECRET_KEY"]).encode()
    digest = hmac.new(key, b"webauthn-decoy:" + users.normalize_email(email).encode(),
                      hashlib.sha512).digest()
    return PublicKeyCredentialDescriptor(id=digest[:DECOY_LENGTHS[digest[-1] % 3]])


def _own(user_id: str) -> list[Passkey]:
    return list(db.orm().scalars(select(Passkey).where(Passkey.user_id == user_id)
                                 .order_by(Passkey.created_at, Passkey.id)))


def _answer(challenge_id: str, options: Any) -> dict[str, Any]:
    return {"challenge_id": challenge_id, "publicKey": json.loads(options_to_json(options))}


def registration_options(user_id: str) -> dict[str, Any]:
    """PublicKeyCredentialCreationOptions for the caller, their passkeys excluded."""
    user = users.get(user_id)
    challenge_id, challenge = challenges.issue(REGISTER, user.id)
    options = generate_registration_options(
        rp_id=rp_id(), rp_name=str(current_app.config["AUTHAPI_WEBAUTHN_RP_NAME"]),
        user_id=user_handle(user.id), user_name=user.email,
        user_display_name=user.display_name or user.email, challenge=challenge,
        timeout=challenges.ttl() * 1000, supported_pub_key_algs=ALGORITHMS,
        exclude_credentials=[_descriptor(row) for row in _own(user.id)],
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED,
            user_verification=UserVerificationRequirement.REQUIRED))
    return _answer(challenge_id, options)


def register(user_id: str, challenge_id: str, credential: dict[str, Any],
             name: str | None) -> Passkey:
    """Verify a new credential's attestation for the caller and store it."""
    pending = challenges.consume(challenge_id, (REGISTER,))
    if pending.user_id != user_id:
        raise InvalidCredentials(REFUSAL)
    passkey_origins.check(credential, "registration")
    try:
        _canonical(credential)
        parsed = parse_registration_credential_json(credential)
        verified = verify_registration_response(
            credential=parsed, expected_challenge=pending.challenge,
            expected_rp_id=rp_id(), expected_origin=origins(),
            require_user_verification=True, supported_pub_key_algs=ALGORITHMS)
    except REFUSED:
        raise InvalidCredentials(REFUSAL) from None
    if len(verified.credential_id) > MAX_CREDENTIAL_ID:  # WebAuthn L3 §7.1 step 22
        raise InvalidCredentials(REFUSAL)
    credential_id = bytes_to_base64url(verified.credential_id)
    if db.orm().scalar(select(Passkey.id).where(Passkey.credential_id == credential_id)):
        raise Conflict("This passkey is already registered.")
    row = Passkey(user_id=user_id, credential_id=credential_id,
                  public_key=verified.credential_public_key, sign_count=verified.sign_count,
                  transports=[t.value for t in parsed.response.transports or ()],
                  backup_eligible=_synced(verified.credential_device_type),
                  name=name or DEFAULT_NAME)
    db.orm().add(row)
    try:
        db.orm().flush()
    except IntegrityError:  # a concurrent registration of the same credential won
        db.orm().rollback()
        raise Conflict("This passkey is already registered.") from None
    audit.record("passkey_added", user_id=user_id, detail={"passkey_id": row.id,
                                                            "name": row.name})
    notices.account_changed(users.get(user_id), notices.PASSKEY_ADDED, f' ("{row.name}")')
    return row


def login_options(email: str | None) -> dict[str, Any]:
    """PublicKeyCredentialRequestOptions: the email's passkeys, or any discoverable one.

    An unknown email, or one without passkeys, gets a decoy credential in the same
    shape, so the answer does not tell whether the account exists.
    """
    purpose, user_id, allowed = DISCOVER, None, []
    if email is not None:
        user = users.by_email(email)
        purpose, user_id = ASSERT, user.id if user else None
        # The same statements either way (no answer is quicker for an unknown email), and
        # a decoy shaped like a real credential for an account without passkeys.
        allowed = [_listed(row) for row in _own(user.id if user else NO_USER)]
        allowed = allowed or [_decoy(email)]
    challenge_id, challenge = challenges.issue(purpose, user_id)
    options = generate_authentication_options(
        rp_id=rp_id(), challenge=challenge, timeout=challenges.ttl() * 1000,
        allow_credentials=allowed, user_verification=UserVerificationRequirement.REQUIRED)
    return _answer(challenge_id, options)


def _refuse(reason: str, user_id: str | None = None) -> ApiError:
    audit.record("login_failed", user_id=user_id, detail={"reason": reason, "method": "passkey"})
    return InvalidCredentials(REFUSAL)


def authenticate(challenge_id: str, credential: dict[str, Any]) -> tuple[User, SignIn]:
    """The user whose passkey produced this assertion, verified with user verification,
    and the sign-in it makes (`phr`: a synced passkey is `swk`, a device-bound one
    `hwk`, and the verified user `user`, RFC 8176)."""
    try:
        pending = challenges.consume(challenge_id, (DISCOVER, ASSERT))
        _canonical(credential)
        parsed = parse_authentication_credential_json(credential)
    except InvalidCredentials:
        raise _refuse("challenge") from None
    except REFUSED:
        raise _refuse("malformed") from None
    try:
        passkey_origins.check(credential, "sign-in")
    except WrongOrigin as refusal:
        _refuse("origin")
        raise refusal from None
    row = db.orm().scalar(select(Passkey).where(
        Passkey.credential_id == bytes_to_base64url(parsed.raw_id)))
    if row is None:
        raise _refuse("unknown_credential")
    handle = parsed.response.user_handle
    # WebAuthn L3 §7.2 step 6: a sign-in that named no user needs the authenticator's
    # user handle, and any handle given must be the credential's owner's.
    if (pending.purpose == ASSERT and row.user_id != pending.user_id) or (
            handle is not None and handle != user_handle(row.user_id)) or (
            pending.purpose == DISCOVER and handle is None):
        raise _refuse("wrong_user", row.user_id)
    try:
        verified = verify_authentication_response(
            credential=parsed, expected_challenge=pending.challenge, expected_rp_id=rp_id(),
            expected_origin=origins(), credential_public_key=row.public_key,
            credential_current_sign_count=row.sign_count, require_user_verification=True)
    except REFUSED:
        raise _refuse("invalid_assertion", row.user_id) from None
    # WebAuthn L3 §7.2 step 19: the BE flag never changes after registration (a
    # device-bound passkey cannot sign in as a synced one, or the other way round).
    synced = _synced(verified.credential_device_type)
    if row.backup_eligible is not None and row.backup_eligible != synced:
        raise _refuse("backup_eligibility", row.user_id)
    # WebAuthn §6.1.1: the counter only moves forward; of two concurrent uses of one
    # count, only one wins this UPDATE.
    moved = db.affected(update(Passkey).where(Passkey.id == row.id,
                                              Passkey.sign_count == row.sign_count)
                        .values(sign_count=verified.new_sign_count, last_used_at=utcnow(),
                                backup_eligible=synced))
    if not moved:
        raise _refuse("sign_count", row.user_id)
    user = users.get(row.user_id)
    if user.disabled:
        audit.record("login_failed", user_id=user.id, detail={"reason": "disabled",
                                                              "method": "passkey"})
        raise AccountDisabled()
    addresses.require_verified(user, method="passkey")
    return user, SignIn.now((SYNCED if synced else DEVICE_BOUND, core.USER_VERIFIED))


def _synced(device_type: CredentialDeviceType) -> bool:
    """Whether the authenticator says the credential may be backed up (the BE flag)."""
    return device_type == CredentialDeviceType.MULTI_DEVICE


def reauthenticate(user_id: str, challenge_id: str, credential: dict[str, Any]) -> SignIn:
    """The signed-in user proves who they are again with one of their own passkeys."""
    user, sign_in = authenticate(challenge_id, credential)
    if user.id != user_id:
        raise _refuse("wrong_user", user_id)
    return sign_in


def undo_recent(user_id: str, since: datetime) -> list[str]:
    """Delete the passkeys added after `since` (a password reset undoes what a stolen
    session may just have added); their names."""
    rows = list(db.orm().scalars(select(Passkey).where(Passkey.user_id == user_id,
                                                       Passkey.created_at >= since)))
    for row in rows:
        db.orm().delete(row)
        audit.record("passkey_removed", user_id=user_id,
                     detail={"passkey_id": row.id, "reason": "password_reset"})
    return [row.name for row in rows]


def list_own(user_id: str, page: int, per_page: int) -> tuple[list[Passkey], int]:
    """One page of the user's passkeys, oldest first, and their total."""
    where = Passkey.user_id == user_id
    total = db.orm().scalar(select(func.count()).select_from(Passkey).where(where)) or 0
    rows = db.orm().scalars(select(Passkey).where(where).order_by(Passkey.created_at, Passkey.id)
                            .limit(per_page).offset((page - 1) * per_page))
    return list(rows), total


def remove(user_id: str, passkey_id: str) -> None:
    """Delete one of the user's passkeys, unless it is their last way to sign in."""
    if not is_uuid(passkey_id):
        raise NotFound("No such passkey.")
    # The user's row lock serialises removals, so two cannot each leave the other last.
    db.orm().execute(select(User.id).where(User.id == user_id).with_for_update())
    sibling = aliased(Passkey)  # not correlated with the row being deleted
    other = exists().where(sibling.user_id == user_id, sibling.id != passkey_id)
    password = exists().where(User.id == user_id, User.password_hash.is_not(None))
    removed = db.affected(delete(Passkey).where(Passkey.id == passkey_id,
                                                Passkey.user_id == user_id,
                                                or_(other, password)))
    if not removed:
        owned = db.orm().scalar(select(Passkey.id).where(Passkey.id == passkey_id,
                                                         Passkey.user_id == user_id))
        if owned:
            raise Conflict("This passkey is the account's last way to sign in.")
        raise NotFound("No such passkey.")
    audit.record("passkey_removed", user_id=user_id, detail={"passkey_id": passkey_id})
