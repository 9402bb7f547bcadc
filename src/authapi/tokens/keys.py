"""Signing keys: generate, encrypt at rest, rotate, publish, and cache per process."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session as OrmSession

from authapi import context
from authapi.db import utcnow
from authapi.models import SigningKey
from authapi.tokens import core, secretbox

JWK_CODECS: dict[str, Any] = {"RS256": RSAAlgorithm, "ES256": ECAlgorithm, "EdDSA": OKPAlgorithm}
RSA_BITS = 2048


def _generate(algorithm: str) -> Any:
    if algorithm == "RS256":
        return rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
    if algorithm == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    return ed25519.Ed25519PrivateKey.generate()


def _fernet(secret: str) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(secretbox.derive(secret, "signing keys")))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def thumbprint(jwk: dict[str, Any]) -> str:
    """The RFC 7638 JWK thumbprint, used as the kid."""
    required = {"RSA": ("e", "kty", "n"), "EC": ("crv", "kty", "x", "y"),
                "OKP": ("crv", "kty", "x")}
    members = {name: jwk[name] for name in required[jwk["kty"]]}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode()
    return _b64(hashlib.sha256(canonical).digest())


def hmac_kid(secret: str) -> str:
    """A kid for the HS256 secret that reveals nothing about it."""
    return "hs-" + _b64(hmac.new(secret.encode(), b"authapi kid", hashlib.sha256).digest())[:22]


def refresh_key(private_key: Any, kid: str) -> bytes:
    """The HS256 key of refresh tokens under `kid`: HKDF-SHA256 of the signing key's
    private bytes, bound to its kid (API.md "Tokens": only authapi verifies a refresh
    token, so one asymmetric signature per refresh is enough). Never published."""
    der = private_key.private_bytes(serialization.Encoding.DER,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=b"authapi refresh tokens v1 " + kid.encode()).derive(der)


def create(db_session: OrmSession, algorithm: str, secret: str) -> SigningKey:
    """Generate a key pair, store it encrypted, and return the new row (not committed)."""
    private_key = _generate(algorithm)
    jwk = JWK_CODECS[algorithm].to_jwk(private_key.public_key(), as_dict=True)
    kid = thumbprint(jwk)
    jwk.pop("key_ops", None)  # RFC 7517 §4.3: not together with "use"
    jwk.update({"kid": kid, "use": "sig", "alg": algorithm})
    pem = private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    row = SigningKey(kid=kid, algorithm=algorithm, public_jwk=jwk,
                     private_key=_fernet(secret).encrypt(pem).decode())
    db_session.add(row)
    db_session.flush()
    return row


def rotate(db_session: OrmSession, algorithm: str, secret: str) -> SigningKey:
    """Retire every signing key and create a new one; old ones still verify."""
    db_session.execute(update(SigningKey).where(SigningKey.retired_at.is_(None))
                       .values(retired_at=utcnow()))
    return create(db_session, algorithm, secret)


def kept_for(config: Any) -> timedelta:
    """How long a retired key stays published (and verifies): the longest token
    lifetime, plus the interval during which running instances still sign with it after
    `keys rotate` (they pick up the new key within AUTHAPI_KEY_REFRESH_INTERVAL)."""
    return timedelta(seconds=max(int(config["AUTHAPI_ACCESS_TTL"]),
                                 int(config["AUTHAPI_REFRESH_TTL"]))
                     + float(config["AUTHAPI_KEY_REFRESH_INTERVAL"]))


def published(db_session: OrmSession, keep_for: timedelta) -> list[dict[str, Any]]:
    """Public JWKs of active keys and of retired ones whose tokens may still be alive."""
    cutoff = utcnow() - keep_for
    rows = db_session.scalars(
        select(SigningKey)
        .where(or_(SigningKey.retired_at.is_(None), SigningKey.retired_at > cutoff))
        .order_by(SigningKey.created_at.desc())
    )
    return [dict(row.public_jwk) for row in rows]


def _private_key(row: SigningKey, secret: str) -> Any | None:
    """A stored key's private half; None if it is encrypted under another secret."""
    try:
        pem = _fernet(secret).decrypt(row.private_key.encode())
    except InvalidToken:
        return None
    return serialization.load_pem_private_key(pem, password=None)


@dataclass
class Keyring:
    """Parsed keys of one process: parse once, never per request."""

    verify_keys: dict[str, tuple[str, Any]] = field(default_factory=dict)
    refresh_keys: dict[str, bytes] = field(default_factory=dict)
    signing: tuple[str, Any] | None = None
    signing_loaded: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def signing_key(self, session_of: Callable[[], OrmSession]) -> tuple[str, Any]:
        """The (kid, key) to sign with, re-read from the database at most once a minute,
        in the session `session_of()` returns (asked for only then: a request that signs
        from the loaded key opens no database session for it)."""
        config = context.app().config
        algorithm, secret = config["AUTHAPI_JWT_ALGORITHM"], config["AUTHAPI_SECRET_KEY"]
        if algorithm == "HS256":
            return hmac_kid(secret), secret.encode()
        interval = config["AUTHAPI_KEY_REFRESH_INTERVAL"]
        if self.signing is None or time.monotonic() - self.signing_loaded > interval:
            with self.lock:
                self.signing = self._load_signing(session_of(), algorithm, secret)
                self.signing_loaded = time.monotonic()
        return self.signing

    def _load_signing(self, db_session: OrmSession, algorithm: str, secret: str) -> tuple[str, Any]:
        # A read only: never flush the request's pending writes from under self.lock (on
        # SQLite that waits for the write lock, which a request waiting for self.lock may
        # hold: a deadlock until the busy timeout).
        with db_session.no_autoflush:
            rows = list(db_session.scalars(
                select(SigningKey)
                .where(SigningKey.algorithm == algorithm, SigningKey.retired_at.is_(None))
                .order_by(SigningKey.created_at.desc())
            ))
        for row in rows:
            private_key = _private_key(row, secret)
            if private_key is not None:  # else under another secret: verify-only from now on
                return row.kid, private_key
        # No usable key: make one. Its own short transaction, so signing never waits
        # for the request's commit and a failed request does not lose the key.
        with current_app.extensions["authapi.sessionmaker"]() as own:
            row = create(own, algorithm, secret)
            own.commit()
            return row.kid, _private_key(row, secret)

    def refresh_signing_key(self, session_of: Callable[[], OrmSession]) -> tuple[str, bytes]:
        """(kid, HS256 key) for refresh tokens: derived from the current signing key."""
        kid, private_key = self.signing_key(session_of)
        derived = self.refresh_keys.get(kid)
        if derived is None:
            derived = self.refresh_keys[kid] = refresh_key(private_key, kid)
        return kid, derived

    def refresh_verification_key(self, kid: str) -> bytes | None:
        """The derived HS256 key of a refresh token's kid (current or retired), once per
        process; None for a kid with no private key this server can read: one of another
        algorithm, or one stored under another AUTHAPI_SECRET_KEY (a new secret ends the
        refresh tokens signed before it, as it always did under HS256)."""
        derived = self.refresh_keys.get(kid)
        if derived is None:
            private_key = self._load_private(kid)
            if private_key is None:
                return None
            derived = self.refresh_keys[kid] = refresh_key(private_key, kid)
        return derived

    def _load_private(self, kid: str) -> Any | None:
        if len(kid) > 64 or not kid.isprintable():
            return None
        config = current_app.config
        with current_app.extensions["authapi.sessionmaker"]() as own:
            row = own.get(SigningKey, kid)
            # A key of another algorithm than the configured one verifies nothing, as for
            # access tokens: switching algorithms ends the sessions signed before.
            if row is None or row.algorithm != config["AUTHAPI_JWT_ALGORITHM"]:
                return None
            return _private_key(row, config["AUTHAPI_SECRET_KEY"])

    def verification_key(self, kid: str, algorithm: str) -> Any | None:
        """The public key for a kid, looked up in the database once if not yet known."""
        config = current_app.config
        if algorithm == "HS256":
            secret = config["AUTHAPI_SECRET_KEY"]
            return secret.encode() if core.same_text(kid, hmac_kid(secret)) else None
        cached = self.verify_keys.get(kid)
        if cached is None:
            cached = self._load_public(kid)
            if cached is None:
                return None
        key_algorithm, key = cached
        return key if key_algorithm == algorithm else None

    def _load_public(self, kid: str) -> tuple[str, Any] | None:
        if len(kid) > 64 or not kid.isprintable():  # NUL: PostgreSQL refuses the query
            return None
        with current_app.extensions["authapi.sessionmaker"]() as own:
            row = own.get(SigningKey, kid)
            if row is None:
                return None
            entry = (row.algorithm, JWK_CODECS[row.algorithm].from_jwk(row.public_jwk))
        self.verify_keys[kid] = entry
        return entry


def keyring() -> Keyring:
    """The current app's keyring."""
    return context.app().extensions["authapi.keyring"]
