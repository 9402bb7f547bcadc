"""Secrets kept at rest: Fernet encryption and keyed hashes, with keys derived per purpose.

Each purpose gets its own key, derived from AUTHAPI_SECRET_KEY with HKDF as keys.py
derives the key that encrypts signing keys, so no two uses share a key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from functools import lru_cache

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app


@lru_cache(maxsize=32)
def derive(secret: str, purpose: str) -> bytes:
    """32 bytes for one purpose, derived from the secret key."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=f"authapi {purpose}".encode()).derive(secret.encode())


def _key(purpose: str) -> bytes:
    return derive(str(current_app.config["AUTHAPI_SECRET_KEY"]), purpose)


def seal(text: str, purpose: str) -> str:
    """Encrypt and authenticate text (Fernet)."""
    return Fernet(base64.urlsafe_b64encode(_key(purpose))).encrypt(text.encode()).decode()


def unseal(token: str, purpose: str) -> str:
    """Decrypt what `seal` made; cryptography.fernet.InvalidToken if it was tampered with."""
    return Fernet(base64.urlsafe_b64encode(_key(purpose))).decrypt(token.encode()).decode()


def keyed_hash(value: str, purpose: str) -> str:
    """HMAC-SHA256 of a value, hex: a stolen table alone cannot be brute-forced."""
    return hmac.new(_key(purpose), value.encode(), hashlib.sha256).hexdigest()
