"""A DPoP client key that signs proofs (RFC 9449 §4.2), for bench/dpop.py and bench/run.py."""

from __future__ import annotations

import time
import uuid
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from authapi.tokens import proofs

# A proof names authapi's public URL (the origin of AUTHAPI_ISSUER, dpop.public_origin),
# never the Host header: the default issuer, which bench servers keep.
HOST = "http://localhost:8000"


class Prover:
    """An ES256 client key that signs proofs."""

    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.jwk = ECAlgorithm.to_jwk(self.key.public_key(), as_dict=True)

    def proof(self, method: str, path: str, token: str | None = None) -> str:
        """A fresh proof with its own jti (and `ath` for `token`)."""
        claims: dict[str, Any] = {"jti": str(uuid.uuid4()), "htm": method, "htu": HOST + path,
                                  "iat": int(time.time())}
        if token:
            claims["ath"] = proofs.token_hash(token)
        return jwt.encode(claims, self.key, algorithm="ES256",
                          headers={"typ": "dpop+jwt", "jwk": self.jwk})
