"""What a client registers to sign users in (OAuth 2.1, OpenID Connect, RFC 8252), and
how a presented redirect URI matches a registered one.

Pure rules on plain values: `clients` stores what `settle` returns, the authorization
endpoint asks `redirect_matches`. Every refusal is a 422 naming the field.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from authapi.errors import ApiError, ValidationError

AUTHORIZATION_CODE = "authorization_code"
REFRESH_TOKEN = "refresh_token"  # noqa: S105  (a grant type's name, not a secret)
CLIENT_CREDENTIALS = "client_credentials"
DEVICE_CODE = "urn:ietf:params:oauth:grant-type:device_code"
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"  # noqa: S105
GRANT_TYPES = (AUTHORIZATION_CODE, REFRESH_TOKEN, CLIENT_CREDENTIALS, DEVICE_CODE,
               TOKEN_EXCHANGE)
# Grants only a client that can keep a secret (or a key) may use.
CONFIDENTIAL_GRANTS = (CLIENT_CREDENTIALS, TOKEN_EXCHANGE)
NONE, SECRET_BASIC, SECRET_POST, PRIVATE_KEY_JWT = (
    "none", "client_secret_basic", "client_secret_post", "private_key_jwt")
AUTH_METHODS = (NONE, SECRET_BASIC, SECRET_POST, PRIVATE_KEY_JWT)
LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")
LOOPBACK_LITERALS = ("127.0.0.1", "::1")  # RFC 8252 §7.3: any port matches
# RFC 8252 §7.1: a private-use scheme is a reverse domain name (com.example.app).
PRIVATE_USE_SCHEME = re.compile(r"^[a-z][a-z0-9+\-]*(\.[a-z0-9+\-]+)+$")
MAX_URIS = 20
MAX_URI_LENGTH = 2048


@dataclass(frozen=True)
class Registration:
    """The provider fields of a client, as sent; None: not sent (a default applies)."""

    redirect_uris: tuple[str, ...] | None = None
    post_logout_redirect_uris: tuple[str, ...] | None = None
    grant_types: tuple[str, ...] | None = None
    token_endpoint_auth_method: str | None = None
    first_party: bool | None = None
    resources: tuple[str, ...] | None = None
    require_par: bool | None = None
    require_dpop: bool | None = None


def _refuse(field: str, message: str) -> ApiError:
    return ValidationError(errors={field: [message]})


def _text_uri(uri: Any, field: str) -> str:
    if (not isinstance(uri, str) or not uri or len(uri) > MAX_URI_LENGTH
            or not uri.isprintable() or any(c.isspace() for c in uri)):
        raise _refuse(field, f"Each URI is 1 to {MAX_URI_LENGTH} printable characters.")
    return uri


def check_redirect_uri(uri: Any, field: str = "redirect_uris") -> str:
    """A redirect URI a client may register (OAuth 2.1 §2.3.1, RFC 8252 §7).

    https; http only on a loopback host (native apps and local development); or a
    private-use scheme named by a reverse domain (native apps). Never a fragment,
    never user information.
    """
    uri = _text_uri(uri, field)
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018  (raises on a malformed port)
    except ValueError:
        raise _refuse(field, f"Not a URI: {uri}") from None
    if parts.fragment or "#" in uri:
        raise _refuse(field, "A redirect URI has no fragment.")
    if parts.username is not None or parts.password is not None:
        raise _refuse(field, "A redirect URI has no user information.")
    scheme = parts.scheme.lower()
    if scheme == "https" and parts.hostname:
        return uri
    if scheme == "http" and parts.hostname in LOOPBACK_HOSTS:
        return uri
    if PRIVATE_USE_SCHEME.match(scheme) and not parts.netloc:
        return uri
    raise _refuse(field, "Use https, http on a loopback address (127.0.0.1, [::1], "
                         "localhost), or a private-use scheme such as com.example.app:/cb.")


def check_web_redirect_uri(uri: Any) -> str:
    """A redirect URI a client may register by itself (RFC 7591, the contract): https, or
    http on a loopback host; a private-use scheme only through an operator."""
    uri = check_redirect_uri(uri)
    if urlsplit(uri).scheme.lower() not in ("https", "http"):
        raise _refuse("redirect_uris", "A registered client's redirect URIs use https, or "
                                       "http on a loopback address.")
    return uri


def check_resource(uri: Any) -> str:
    """An RFC 8707 resource: an absolute URI without a fragment."""
    uri = _text_uri(uri, "resources")
    parts = urlsplit(uri)
    if not parts.scheme or not parts.netloc or parts.fragment or "#" in uri:
        raise _refuse("resources", "A resource is an absolute URI without a fragment.")
    return uri


def _uris(values: Sequence[Any] | None, field: str, check: Any) -> list[str]:
    if not values:
        return []
    if len(values) > MAX_URIS:
        raise _refuse(field, f"At most {MAX_URIS}.")
    return list(dict.fromkeys(check(value) for value in values))


def default_grants(redirects: bool, exchange: bool) -> list[str]:
    """The grants of a client that named none: an app signs users in and refreshes, a
    service uses its own credentials (and exchanges tokens when allowed to)."""
    grants = [AUTHORIZATION_CODE, REFRESH_TOKEN] if redirects else [CLIENT_CREDENTIALS]
    return grants + ([TOKEN_EXCHANGE] if exchange else [])


def settle(sent: Registration, *, has_keys: bool, exchange: bool,
           current: dict[str, Any] | None = None) -> dict[str, Any]:
    """The client's provider columns: `sent` over `current` (a PATCH) or the defaults.

    Raises ValidationError (422) for a combination no server should accept.
    """
    now = dict(current or {})

    def pick(name: str, default: Any) -> Any:
        value = getattr(sent, name)
        return value if value is not None else now.get(name, default)

    redirects = _uris(pick("redirect_uris", []), "redirect_uris", check_redirect_uri)
    logouts = _uris(pick("post_logout_redirect_uris", []), "post_logout_redirect_uris",
                    lambda uri: check_redirect_uri(uri, "post_logout_redirect_uris"))
    resources = _uris(pick("resources", []), "resources", check_resource)
    grants = list(dict.fromkeys(pick("grant_types", None)
                                or default_grants(bool(redirects), exchange)))
    unknown = [g for g in grants if g not in GRANT_TYPES]
    if unknown:
        raise _refuse("grant_types", f"Unknown: {', '.join(unknown)}; one of "
                                     f"{', '.join(GRANT_TYPES)}.")
    method = pick("token_endpoint_auth_method", PRIVATE_KEY_JWT if has_keys else SECRET_BASIC)
    if method not in AUTH_METHODS:
        raise _refuse("token_endpoint_auth_method", f"One of {', '.join(AUTH_METHODS)}.")
    if (method == PRIVATE_KEY_JWT) != has_keys:
        raise _refuse("token_endpoint_auth_method",
                      "private_key_jwt goes with jwks or jwks_url, and they with it.")
    if method == NONE and any(g in CONFIDENTIAL_GRANTS for g in grants):
        raise _refuse("grant_types", "A public client (none) cannot use client_credentials "
                                     "or token exchange.")
    if (AUTHORIZATION_CODE in grants) != bool(redirects):
        raise _refuse("redirect_uris", "authorization_code needs at least one redirect URI, "
                                       "and redirect URIs need authorization_code.")
    if REFRESH_TOKEN in grants and not {AUTHORIZATION_CODE, DEVICE_CODE} & set(grants):
        raise _refuse("grant_types", "refresh_token goes with authorization_code or the "
                                     "device grant.")
    return {"redirect_uris": redirects, "post_logout_redirect_uris": logouts,
            "grant_types": grants, "token_endpoint_auth_method": method,
            "first_party": bool(pick("first_party", False)), "resources": resources,
            "require_par": bool(pick("require_par", False)),
            "require_dpop": bool(pick("require_dpop", False)),
            "exchange": TOKEN_EXCHANGE in grants}


def redirect_matches(registered: Sequence[str], presented: str) -> bool:
    """Whether `presented` is one of `registered`: exact, character for character, except
    that a loopback IP literal's port is free (RFC 8252 §7.3)."""
    if presented in registered:
        return True
    try:
        shown = urlsplit(presented)
        shown.port  # noqa: B018
    except ValueError:
        return False
    if shown.scheme != "http" or shown.hostname not in LOOPBACK_LITERALS:
        return False
    for uri in registered:
        kept = urlsplit(uri)
        if (kept.scheme, kept.hostname, kept.path, kept.query) == (
                shown.scheme, shown.hostname, shown.path, shown.query) and not shown.fragment:
            return True
    return False
