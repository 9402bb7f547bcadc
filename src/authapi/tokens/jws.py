"""Compact JWS on the per-request path: verification (RFC 7515 §5.2, RFC 8725) and signing.

Access tokens, checked on every protected request, come through `verify`: PyJWT 2.15
re-validates each base64 character in Python and parses the header twice, which
costs more than the signature itself. This module does the same checks with C-level
base64 and one parse, and delegates the signature to PyJWT's own algorithm objects.

`sign` writes what `jwt.encode` writes, byte for byte (tests/test_jws.py): the same
sorted, compact header and compact payload, signed by the same algorithm objects,
without `jwt.encode`'s per-call key preparation and option handling (about 40 µs of
each token issued; a refresh issues two).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from typing import Any

from jwt.algorithms import get_default_algorithms

from authapi.errors import TokenInvalid

ALGORITHMS = get_default_algorithms()
_URLSAFE = bytes.maketrans(b"-_", b"+/")
_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
# The last character of a segment of length 4n+2 (4n+3) carries 4 (2) bits that encode
# nothing; a canonical encoder writes them as zero (RFC 4648 §3.5).
_CANONICAL_LAST = {2: frozenset(c for i, c in enumerate(_ALPHABET) if i & 0b1111 == 0),
                   3: frozenset(c for i, c in enumerate(_ALPHABET) if i & 0b11 == 0)}


def b64decode(segment: str) -> bytes:
    """Strict, canonical unpadded base64url (RFC 7515 §2, RFC 4648 §3.5): one spelling per
    value, so a token with a flipped unused bit is not a second valid copy of itself."""
    # Checked on the text: `bytes in bytes` first tries its operand as an int, and that
    # failed attempt costs more than the search (three per segment, three segments).
    if "+" in segment or "/" in segment or "=" in segment or len(segment) % 4 == 1:
        raise TokenInvalid()
    try:
        data = segment.encode("ascii")
    except UnicodeEncodeError:
        raise TokenInvalid() from None
    tail = len(data) % 4
    if tail and data[-1] not in _CANONICAL_LAST[tail]:
        raise TokenInvalid()
    try:
        return binascii.a2b_base64(data.translate(_URLSAFE) + b"=" * (-len(data) % 4),
                                   strict_mode=True)
    except binascii.Error:
        raise TokenInvalid() from None


def check_canonical(token: str) -> None:
    """TokenInvalid unless `token` is three canonical base64url segments: for tokens that
    a library verifies (PyJWT takes a padded segment as a second spelling of a token)."""
    for segment in _parts(token):
        b64decode(segment)


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        raise TokenInvalid() from None
    if not isinstance(value, dict):
        raise TokenInvalid()
    return value


def verify(token: str, key_for: Callable[[dict[str, Any]], tuple[Any, str]]
           ) -> dict[str, Any]:
    """The payload of a token whose signature checks out with the key `key_for(header)`."""
    parts = _parts(token)
    header = _json_object(b64decode(parts[0]))
    # RFC 7515 §4.1.11: we understand no critical extensions, so none may be demanded.
    if "crit" in header:
        raise TokenInvalid()
    key, algorithm = key_for(header)
    return _payload(parts, key, algorithm)


def verify_known(token: str, key: Any, algorithm: str) -> dict[str, Any]:
    """`verify` for a token whose header segment is, character for character, one that
    `verify` accepted before and `key_for` mapped to (`key`, `algorithm`): the header is
    not parsed again (a DPoP client sends the same header with every proof)."""
    return _payload(_parts(token), key, algorithm)


def _parts(token: str) -> list[str]:
    parts = token.split(".")
    if len(parts) != 3:
        raise TokenInvalid()
    return parts


def _payload(parts: list[str], key: Any, algorithm: str) -> dict[str, Any]:
    """The payload, once the signature over the first two segments checks out."""
    try:
        signing_input = f"{parts[0]}.{parts[1]}".encode("ascii")
    except UnicodeEncodeError:  # no base64url segment holds anything but ASCII
        raise TokenInvalid() from None
    try:
        valid = ALGORITHMS[algorithm].verify(signing_input, key, b64decode(parts[2]))
    except (ValueError, TypeError):
        valid = False
    if not valid:
        raise TokenInvalid()
    return _json_object(b64decode(parts[1]))


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def sign(claims: dict[str, Any], key: Any, algorithm: str, header: dict[str, str]) -> str:
    """A compact JWS of `claims` with `header` (plus `alg`), signed with `key`: a private
    key object of `algorithm`, or the secret's bytes for HS256 (as the keyring holds them)."""
    head = json.dumps({"alg": algorithm, **header}, separators=(",", ":"), sort_keys=True)
    payload = json.dumps(claims, separators=(",", ":"))
    signing_input = f"{_b64encode(head.encode())}.{_b64encode(payload.encode())}"
    signature = ALGORITHMS[algorithm].sign(signing_input.encode("ascii"), key)
    return f"{signing_input}.{_b64encode(signature)}"
