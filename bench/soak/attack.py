"""The attacker: forged tokens, reused refresh tokens, brute-force logins. Nothing of it
may ever be accepted."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import secrets
import time
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from .client import bearer, claims
from .workload import World, login

# deploy/nginx.conf routes /auth/ and guards /app/ and /admin-app/ with auth_request; the
# admin API is not routed there, so it is attacked on the instances directly.
PROTECTED = [("nginx", "/auth/check"), ("nginx", "/auth/me"), ("nginx", "/app/"),
             ("nginx", "/admin-app/"),
             *((i, p) for i in ("a", "b") for p in ("/auth/check", "/auth/me", "/admin/users"))]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unsigned(header: dict[str, Any], payload: dict[str, Any]) -> str:
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}"


def _public_pem(jwk: dict[str, Any]) -> bytes:
    def number(field: str) -> int:
        value = jwk[field]
        return int.from_bytes(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)), "big")
    key = rsa.RSAPublicNumbers(number("e"), number("n")).public_key()
    return key.public_bytes(serialization.Encoding.PEM,
                            serialization.PublicFormat.SubjectPublicKeyInfo)


def forgeries(w: World, real: dict[str, Any]) -> list[tuple[str, str]]:
    """(name, token) of tokens nobody issued, built from a real pair and the JWKS."""
    jwks = w.http.call("attacker", "GET", "/.well-known/jwks.json").data.get("keys", [])
    access = real["access_token"]
    body = {**claims(access), "roles": ["admin"], "scope": "users:read users:write",
            "exp": int(time.time()) + 3600}
    kid = jwt.get_unverified_header(access)["kid"]
    head, _payload, signature = access.split(".")
    own = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    out = [
        ("alg_none", _unsigned({"alg": "none", "typ": "JWT", "kid": kid}, body) + "."),
        ("own_key_real_kid", jwt.encode(body, own, algorithm="RS256", headers={"kid": kid})),
        ("tampered_payload", f"{head}.{_b64(json.dumps(body).encode())}.{signature}"),
        ("refresh_as_access", real["refresh_token"]),
        ("unknown_kid", jwt.encode(body, own, algorithm="RS256", headers={"kid": "soak-x"})),
    ]
    rsa_keys = [k for k in jwks if k.get("kty") == "RSA"]
    if rsa_keys:  # HS256 keyed with the public key (algorithm confusion)
        signing = _unsigned({"alg": "HS256", "typ": "JWT", "kid": kid}, body)
        mac = hmac.new(_public_pem(rsa_keys[0]), signing.encode(), hashlib.sha256).digest()
        out.append(("hs256_public_key", f"{signing}.{_b64(mac)}"))
    return out


def reuse(w: World, email: str) -> None:
    """Log in, rotate twice, present the first refresh token again: 401 `token_reused`,
    and the session's live access token is refused everywhere within 1 s."""
    pair = login(w, "attacker", email, limit=10)
    if pair is None:
        return
    sid = w.tracker.opened(email, pair)
    first = pair["refresh_token"]
    for _ in range(2):
        a = w.http.call("attacker", "POST", "/auth/refresh", headers=bearer(pair["refresh_token"]))
        if a.status != 200:
            w.tracker.unsure(sid)
            return
        pair = a.data
        w.tracker.rotated(pair)
    a = w.http.call("attacker", "POST", "/auth/refresh", headers=bearer(first))
    if a.status in (0, 502, 503, 504):
        w.tracker.unsure(sid)
        return
    w.log.check("forged_or_reused_refused", a.status == 401 and a.code == "token_reused",
                f"a reused refresh token answered {a.status} {a.code}")
    w.tracker.ended(sid)
    w.sampler.revoked("reuse", pair["access_token"])


def attacker(w: World) -> None:
    real = login(w, "attacker", w.attackers[0])
    if real is None:
        return
    w.tracker.opened(w.attackers[0], real)
    forged = forgeries(w, real)
    round_ = 0
    while not w.stop.is_set():
        round_ += 1
        name, token = random.choice(forged)
        target, path = random.choice(PROTECTED)
        a = w.http.call("attacker", "GET", path, target=target,
                        label=f"{path} (forged)", headers=bearer(token))
        if a.status != 0:
            w.log.check("forged_or_reused_refused", not 200 <= a.status < 300,
                        f"forged {name} on {path} via {target} answered {a.status}")
        wrong = secrets.token_urlsafe(12)
        a = w.http.call("attacker", "POST", "/auth/login", label="/auth/login (brute force)",
                        json={"email": w.brute_target, "password": wrong})
        if a.status != 0:
            w.log.check("forged_or_reused_refused", a.status != 200,
                        f"a brute-force guess logged in: {a.status}")
        if round_ % 8 == 0:
            reuse(w, random.choice(w.attackers))
        w.pause(random.uniform(0.2, 0.8))
