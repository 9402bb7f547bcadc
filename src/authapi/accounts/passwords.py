"""Password hashing (libpass, bcrypt_sha256) and the password policy."""

from __future__ import annotations

import unicodedata
from functools import lru_cache

from flask import current_app
from passlib.context import CryptContext
from zxcvbn.frequency_lists import FREQUENCY_LISTS

from authapi.errors import WeakPassword

MIN_LENGTH = 8
MAX_LENGTH = 1024
# zxcvbn ships the 30,000 most common passwords of public leaks, ranked.
COMMON_PASSWORDS = frozenset(FREQUENCY_LISTS["passwords"])


@lru_cache(maxsize=8)
def context(rounds: int) -> CryptContext:
    """A hashing context: bcrypt_sha256 for new hashes; plain bcrypt still verifies."""
    # bcrypt_sha256 pre-hashes, so the 72-byte bcrypt limit never truncates a password,
    # and plain bcrypt hashes (imported from elsewhere) verify and are upgraded on login.
    return CryptContext(
        schemes=["bcrypt_sha256", "bcrypt"],
        deprecated=["bcrypt"],
        bcrypt_sha256__rounds=rounds,
        bcrypt__rounds=rounds,
    )


def _context() -> CryptContext:
    return context(int(current_app.config["AUTHAPI_BCRYPT_ROUNDS"]))


@lru_cache(maxsize=8)
def _dummy_hash(rounds: int) -> str:
    return str(context(rounds).hash("authapi-dummy-password"))


# Characters that show nothing: spaces (Z*), controls and format characters such as the
# zero-width space (Cc, Cf), lone combining marks (Mn, Me), and the blank letters and
# symbols Unicode keeps (Hangul fillers, the braille blank).
INVISIBLE_CATEGORIES = frozenset({"Zs", "Zl", "Zp", "Cc", "Cf", "Mn", "Me"})
BLANKS = frozenset("\u115f\u1160\u3164\uffa0\u2800")


def _invisible(char: str) -> bool:
    return char in BLANKS or unicodedata.category(char) in INVISIBLE_CATEGORIES


def check_policy(password: str) -> None:
    """Raise WeakPassword unless the password meets the contract's policy."""
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"The password must have at least {MIN_LENGTH} characters.")
    if len(password) > MAX_LENGTH:
        raise WeakPassword(f"The password must have at most {MAX_LENGTH} characters.")
    if all(_invisible(char) for char in password):
        raise WeakPassword("The password must not be only spaces or invisible characters.")
    if password.lower() in COMMON_PASSWORDS or _patterned(password.lower()):
        raise WeakPassword("This password is too common.")


MAX_UNIT = 4  # the longest unit a repeat-of-a-unit password is refused for
MAX_PATTERNED = 16  # longer patterned passwords are not among the common ones


def _patterned(password: str) -> bool:
    """The PIN-like passwords that leaked-password lists leave out because cracking tools
    make them by rule: digits that repeat a short unit (`00000000`, `12341234`,
    `123123123`) or run straight (`987654321`), up to MAX_PATTERNED characters. (Letters
    are left to the list: `xxxxxxxx` is not among the common passwords it names.)"""
    if len(password) > MAX_PATTERNED or not (password.isascii() and password.isdigit()):
        return False
    for size in range(1, len(password) // 2 + 1):
        unit = password[:size]
        if len(password) % size == 0 and password == unit * (len(password) // size) and (
                size <= MAX_UNIT or unit in COMMON_PASSWORDS):
            return True
    steps = {ord(b) - ord(a) for a, b in zip(password, password[1:], strict=False)}
    return steps in ({1}, {-1})


def hash_password(password: str) -> str:
    """Hash a password at the configured cost."""
    return str(_context().hash(password))


def verify(password: str, password_hash: str | None) -> tuple[bool, str | None]:
    """Check a password; return (ok, new hash if the stored one should be upgraded)."""
    if password_hash is None:
        verify_dummy(password)
        return False, None
    try:
        ok, new_hash = _context().verify_and_update(password, password_hash)
    except (ValueError, TypeError):  # an unreadable stored hash is a failed login, not a 500
        return False, None
    return bool(ok), new_hash


def verify_dummy(password: str) -> None:
    """Spend the time of a real verification, so unknown emails are not told apart."""
    rounds = int(current_app.config["AUTHAPI_BCRYPT_ROUNDS"])
    try:
        context(rounds).verify(password, _dummy_hash(rounds))
    except ValueError:  # passlib's PasswordSizeError (over 4 KiB): refused as verify does
        return
