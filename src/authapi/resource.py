"""Verify authapi's access tokens in another Flask service, without authapi's database.

    verifier = Verifier(issuer="https://auth.example.com", audience="https://orders.example",
                        jwks_url="https://auth.example.com/.well-known/jwks.json")
    verifier.init_app(app)            # its 401/403 answers are problem+json

    @app.get("/orders")
    @verifier.scopes_required("orders:read")
    def orders(): return {"for": verifier.current_claims()["sub"]}

Offline (the default), it verifies the signature with the published keys and checks
`typ`, issuer, audience, expiry and `type` locally. The key set is cached for the
server's `Cache-Control: max-age` (at most `jwks_max_age`) and fetched again at once
for an unknown `kid`, but no more often than every `min_refetch_interval` seconds, so
garbage kids cannot make it hammer the server. Offline checks cannot see a revocation
before the token expires (15 minutes by default); with `introspection_url` and a
client's credentials it asks the server instead (RFC 7662) and caches each answer for
at most `introspection_ttl` seconds (and never past the token's `exp`).

A DPoP-bound token (`cnf.jkt`, RFC 9449) is accepted only as `Authorization: DPoP`
with a proof by its key for this very request (method and URL, `ath`, `iat` within
60 s); the verifier remembers the proofs it has seen for two minutes, so a replayed
proof is refused. The proof names the URL the client used: give it as `public_url`
(else the request's Host header is trusted, or, behind a proxy, what werkzeug's
ProxyFix took from it).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from functools import wraps
from typing import Any, TypeVar, cast

from cachetools import LRUCache, TTLCache
from flask import Flask, g, request
from jwt import PyJWK
from jwt.exceptions import PyJWKError, PyJWTError

from authapi.errors import (
    DPOP_INVALID_TOKEN,
    ApiError,
    InvalidDpopProof,
    TokenInvalid,
    Unavailable,
    problem,
)
from authapi.tokens import core, proofs
from authapi.tokens.core import check_roles, check_scopes
from authapi.web.transport import bearer_token

F = TypeVar("F", bound=Callable[..., Any])
MAX_AGE = re.compile(r"max-age=(\d+)")
SLOT = "authapi_resource_verified"
PROOF_HEADER = "DPoP"
PROOF_KEY_CACHE_SIZE = 10_000
UNREACHABLE = "The authorization server is not answering."


class Verifier:
    """Checks authapi access tokens for one resource service (issuer and audience)."""

    def __init__(self, issuer: str, audience: str, *, jwks_url: str | None = None,
                 algorithms: Sequence[str] = ("RS256", "ES256", "EdDSA"),
                 jwks_max_age: float = 300, min_refetch_interval: float = 10,
                 introspection_url: str | None = None, client_id: str | None = None,
                 client_secret: str | None = None, introspection_ttl: float = 10,
                 timeout: float = 5, scopes: Sequence[str] = (),
                 public_url: str | None = None) -> None:
        if not jwks_url and not introspection_url:
            raise ValueError("give jwks_url, or introspection_url with client credentials")
        for url in (jwks_url, introspection_url, public_url):
            if url and urllib.parse.urlsplit(url).scheme not in ("http", "https"):
                raise ValueError(f"not an http(s) URL: {url}")
        self.issuer, self.audience = issuer, audience
        # This verifier's own per-request slot: another one in the same request (another
        # audience) must verify the token itself, not take these claims.
        self.slot = f"{SLOT}_{id(self):x}"
        self.scopes = tuple(scopes)  # what the service's metadata lists (RFC 9728)
        # The scheme and host clients call the service at, which a DPoP proof's htu names;
        # None: the request's own (its Host header, or what ProxyFix took from a proxy).
        self.origin = None
        if public_url:
            parts = urllib.parse.urlsplit(public_url)
            self.origin = f"{parts.scheme}://{parts.netloc}"
        self.jwks_url, self.algorithms = jwks_url, tuple(algorithms)
        self.rules = core.Rules(issuer=issuer, audience=audience, algorithms=self.algorithms)
        self.jwks_max_age, self.min_refetch_interval = jwks_max_age, min_refetch_interval
        self.introspection_url, self.timeout = introspection_url, timeout
        self.credentials = (client_id or "", client_secret or "")
        self.introspection_ttl = introspection_ttl
        self.keys: dict[str, PyJWK] = {}
        self.fetched_at = -1e9  # monotonic time of the last fetch attempt
        self.keys_expire = -1e9
        self.fetches = 0
        self.lock = threading.Lock()
        self.answers: TTLCache[str, dict[str, Any] | None] = TTLCache(
            maxsize=10_000, ttl=max(introspection_ttl, 0.001))
        # DPoP (RFC 9449 §11.1): the proofs this service has seen, for as long as an iat
        # stays acceptable, and the parsed proof keys.
        self.seen_proofs: TTLCache[str, bool] = TTLCache(maxsize=100_000,
                                                         ttl=2 * proofs.PROOF_MAX_AGE + 1)
        self.proof_keys: LRUCache[str, Any] = LRUCache(maxsize=PROOF_KEY_CACHE_SIZE)

    # --- HTTP ----------------------------------------------------------------------------

    def _http(self, request: urllib.request.Request) -> tuple[dict[str, Any], str]:
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:  # noqa: S310
                return json.loads(answer.read()), answer.headers.get("Cache-Control", "")
        except (OSError, ValueError):
            raise Unavailable(UNREACHABLE) from None

    def refresh_keys(self) -> None:
        """Fetch the key set now, honouring the server's max-age up to `jwks_max_age`."""
        self.fetches += 1
        self.fetched_at = time.monotonic()
        request = urllib.request.Request(str(self.jwks_url))  # noqa: S310  (http(s), checked)
        body, cache_control = self._http(request)
        found = MAX_AGE.search(cache_control)
        max_age = min(float(found.group(1)), self.jwks_max_age) if found else self.jwks_max_age
        keys: dict[str, PyJWK] = {}
        for jwk in body.get("keys", []) if isinstance(body, dict) else []:
            try:
                if isinstance(jwk, dict) and jwk.get("alg") in self.algorithms:
                    keys[str(jwk["kid"])] = PyJWK(jwk)
            except (PyJWKError, PyJWTError, KeyError):
                continue  # a key this verifier cannot use
        self.keys, self.keys_expire = keys, self.fetched_at + max_age

    def _key(self, kid: str) -> PyJWK | None:
        looked = time.monotonic()
        stale = looked >= self.keys_expire
        if stale or (kid not in self.keys
                     and looked - self.fetched_at >= self.min_refetch_interval):
            with self.lock:
                if self.fetched_at < looked:  # no other thread fetched in the meantime
                    try:
                        self.refresh_keys()
                    except ApiError:
                        if not self.keys:
                            raise
                        # Keep verifying with the keys we have; retry at the bounded rate.
                        self.keys_expire = looked + self.min_refetch_interval
        return self.keys.get(kid)

    # --- verification --------------------------------------------------------------------

    def _lookup(self, kid: str, algorithm: str) -> Any:
        """core.KeyLookup over the published key set."""
        key = self._key(kid)
        return key.key if key is not None and key.algorithm_name == algorithm else None

    def _introspect(self, token: str) -> dict[str, Any]:
        digest = hashlib.sha256(token.encode()).hexdigest()
        if digest in self.answers:
            answer = self.answers[digest]
        else:
            raw = base64.b64encode(":".join(
                urllib.parse.quote_plus(part) for part in self.credentials).encode()).decode()
            request = urllib.request.Request(  # noqa: S310  (http(s), checked in __init__)
                str(self.introspection_url), method="POST",
                data=urllib.parse.urlencode({"token": token}).encode(),
                headers={"Authorization": f"Basic {raw}",
                         "Content-Type": "application/x-www-form-urlencoded"})
            body, _ = self._http(request)
            answer = body if isinstance(body, dict) and body.get("active") is True else None
            self.answers[digest] = answer  # check_live still looks at `exp` on every use
        if answer is None:
            raise TokenInvalid()
        return answer

    def verify(self, token: str, *, acr: str | None = None,
               max_age: int | None = None) -> dict[str, Any]:
        """The claims of a valid access token for this service; else a 401 ApiError.

        The rules are authapi's own (`core`); offline the signature is checked with the
        published keys, with introspection the server has checked it and revocation.
        With `acr` or `max_age`, the sign-in must be at least that level and that recent
        (RFC 9470), else 401 `insufficient_user_authentication`. Framework-free: an
        ASGI service (an MCP server, say) calls it and answers with `challenge`.
        """
        if len(token) > core.MAX_TOKEN_LENGTH:
            raise TokenInvalid()
        if self.introspection_url:
            claims = dict(self._introspect(token))
            if claims.get("iss") != self.issuer:
                raise TokenInvalid()
        else:
            claims = core.verify_signed(token, core.ACCESS, self.rules, self._lookup)
        now = time.time()
        core.check_live(claims, core.ACCESS, self.rules, now)
        if acr is not None or max_age is not None:
            core.check_sign_in(claims, now, acr, max_age)
        return claims

    # --- Flask ---------------------------------------------------------------------------

    def init_app(self, app: Flask) -> None:
        """Answer this verifier's errors as problem+json with WWW-Authenticate, and, when
        the audience is an http(s) URL, serve its RFC 9728 metadata and name it in every
        401 challenge (`resource_metadata`), so a client finds its authorization server."""
        metadata_url = self.metadata_url()
        if metadata_url is not None:
            app.add_url_rule(urllib.parse.urlsplit(metadata_url).path,
                             "authapi_protected_resource", self.metadata)
        app.register_error_handler(ApiError, self._problem)

    def metadata_url(self) -> str | None:
        """RFC 9728 §3.1: the well-known URL of this resource's metadata, or None when the
        audience is not an http(s) URL."""
        parts = urllib.parse.urlsplit(self.audience)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            return None
        return (f"{parts.scheme}://{parts.netloc}/.well-known/oauth-protected-resource"
                f"{parts.path.rstrip('/')}")

    def metadata(self) -> dict[str, Any]:
        """RFC 9728 §2: this resource, its authorization server, scopes and token forms."""
        return {"resource": self.audience, "authorization_servers": [self.issuer],
                "scopes_supported": list(self.scopes), "bearer_methods_supported": ["header"],
                "dpop_signing_alg_values_supported": list(proofs.PROOF_ALGORITHMS)}

    def challenge(self, error: ApiError) -> tuple[int, dict[str, str], bytes]:
        """The HTTP answer to one of this verifier's errors, for any framework: status,
        headers (the 401 challenge names this resource's metadata, RFC 9728 §5.1) and
        the problem+json body."""
        self._name_metadata(error)
        response = problem(error)
        return response.status_code, dict(response.headers), response.get_data()

    def _name_metadata(self, error: ApiError) -> None:
        metadata_url = self.metadata_url()
        if error.status == 401 and metadata_url is not None:
            challenge = error.headers.get("WWW-Authenticate", "Bearer")
            joiner = ", " if " " in challenge else " "
            error.headers["WWW-Authenticate"] = (
                f'{challenge}{joiner}resource_metadata="{metadata_url}"')

    def _problem(self, error: ApiError) -> Any:
        self._name_metadata(error)
        return problem(error)

    def current_claims(self) -> dict[str, Any]:
        """The verified claims of this request's token, verified once per request.

        A bearer token as `Authorization: Bearer`; a DPoP-bound one (`cnf.jkt`) only as
        `Authorization: DPoP` with a fresh proof by its key (RFC 9449 §7).
        """
        scheme, _, rest = request.headers.get("Authorization", "").partition(" ")
        by_dpop = scheme.lower() == "dpop"
        token = rest.strip() if by_dpop else bearer_token()
        verified = g.get(self.slot)
        if verified is not None and verified[0] == token:
            return cast(dict[str, Any], verified[1])
        try:
            claims = self.verify(token)
        except ApiError as exc:
            if by_dpop:  # RFC 9449 §7.1: challenge with the scheme the client used
                exc.headers["WWW-Authenticate"] = DPOP_INVALID_TOKEN
            raise
        self._check_binding(claims, token, by_dpop)
        setattr(g, self.slot, (token, claims))
        return claims

    def _check_binding(self, claims: dict[str, Any], token: str, by_dpop: bool) -> None:
        bound = core.check_scheme(claims, by_dpop)
        if bound is None:
            return
        proof = request.headers.get(PROOF_HEADER)
        if not proof:
            raise InvalidDpopProof("A DPoP-bound token needs a DPoP proof header.")
        url = (self.origin + request.script_root + request.path if self.origin
               else request.base_url)
        target = proofs.Target(request.method, proofs.normalize_url(url))
        checked = proofs.check_proof(proof.strip(), target, token, self.proof_keys, time.time())
        proofs.check_proven(checked.jkt, bound)
        with self.lock:
            if checked.replay_key() in self.seen_proofs:
                raise InvalidDpopProof("This proof was already used.")
            self.seen_proofs[checked.replay_key()] = True

    def _guard(self, check: Callable[[dict[str, Any]], None]) -> Callable[[F], F]:
        def decorator(view: F) -> F:
            @wraps(view)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                check(self.current_claims())
                return view(*args, **kwargs)

            return cast(F, wrapper)

        return decorator

    def access_required(self, view: F) -> F:
        """Any valid access token for this service."""
        return self._guard(lambda _claims: None)(view)

    def roles_required(self, *roles: str) -> Callable[[F], F]:
        """A valid token holding all of `roles`."""
        return self._guard(lambda claims: check_roles(claims, required=roles))

    def scopes_required(self, *scopes: str) -> Callable[[F], F]:
        """A valid token granting all of `scopes`."""
        return self._guard(lambda claims: check_scopes(claims, scopes))

    def auth_required(self, acr: str | None = None, max_age: int | None = None
                      ) -> Callable[[F], F]:
        """RFC 9470 step-up: a valid token whose sign-in is at least `acr` and at most
        `max_age` seconds old; else 401 `insufficient_user_authentication`."""
        return self._guard(lambda claims: core.check_sign_in(claims, time.time(), acr, max_age))
