"""Client ID metadata documents (the OAuth draft MCP clients use): with
AUTHAPI_CLIENT_METADATA_DOCUMENTS=1, a `client_id` that is an https URL names a public
client whose metadata authapi fetches from that very URL (outbound.py: 5 s, 5 KiB,
cached as its Cache-Control says and at most 24 hours, never from a private, loopback
or link-local address except loopback (http or https) in development).

The document's `client_id` must be the URL, and its `redirect_uris` are the only ones
allowed. Such a client is never first-party; its name is the URL's host.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import current_app

from authapi import outbound
from authapi.errors import ApiError
from authapi.oauth import registration

# `no-store`, `no-cache` and `max-age=0` are not cached; no Cache-Control at all, a minute.
KIND = outbound.Policy(timeout=5.0, max_bytes=5 * 1024, min_ttl=0, max_ttl=86_400,
                       default_ttl=60, retry_after=60.0, loopback_only_in_development=True)
GRANTS = (registration.AUTHORIZATION_CODE, registration.REFRESH_TOKEN)


def names_a_document(client_id: str) -> bool:
    """Whether documents are on and `client_id` is a URL that may name one."""
    if not current_app.config["AUTHAPI_CLIENT_METADATA_DOCUMENTS"]:
        return False
    scheme = urlsplit(client_id).scheme if len(client_id) <= 2048 else ""
    development = current_app.config["AUTHAPI_ENV"] == "development"
    return scheme == "https" or (development and scheme == "http")


def metadata(client_id: str) -> dict[str, Any] | None:
    """The checked metadata of the client this URL names, or None (not a document id,
    not fetchable, or not a valid document: an unknown client either way)."""
    if not names_a_document(client_id):
        return None
    try:
        document = outbound.cache(current_app, "client-metadata", KIND).get(client_id)
    except outbound.FetchFailed:
        return None
    if not isinstance(document, dict) or document.get("client_id") != client_id:
        return None
    listed, grants = document.get("redirect_uris"), document.get("grant_types") or list(GRANTS)
    if not _strings(listed) or not _strings(grants) or not set(grants) <= set(GRANTS) \
            or document.get("token_endpoint_auth_method", registration.NONE) != registration.NONE:
        return None
    try:
        redirects = [registration.check_redirect_uri(uri) for uri in listed or ()]
    except ApiError:
        return None
    redirects = redirects[:registration.MAX_URIS]
    return {"client_id": client_id, "name": urlsplit(client_id).hostname or client_id,
            "redirect_uris": redirects, "grant_types": grants}


def _strings(value: Any) -> bool:
    """A non-empty JSON array of strings (what a document's lists must be)."""
    return isinstance(value, list) and bool(value) and all(isinstance(v, str) for v in value)
