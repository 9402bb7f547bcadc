"""Client ID metadata documents (the OAuth draft MCP clients use): with
AUTHAPI_CLIENT_METADATA_DOCUMENTS=1, a `client_id` that is an https URL names a public
client whose metadata authapi fetches from that very URL (outbound.py: 5 s, 5 KiB,
cached as its Cache-Control says within 1 minute and 24 hours, never from a private,
loopback or link-local address except loopback http in development).

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

KIND = outbound.Policy(timeout=5.0, max_bytes=5 * 1024, min_ttl=60, max_ttl=86_400,
                       retry_after=60.0)
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
    try:
        redirects = [registration.check_redirect_uri(uri) for uri in
                     document.get("redirect_uris") or []][:registration.MAX_URIS]
    except ApiError:
        return None
    grants = document.get("grant_types") or list(GRANTS)
    method = document.get("token_endpoint_auth_method", registration.NONE)
    if not redirects or not isinstance(grants, list) or not set(grants) <= set(GRANTS) \
            or method != registration.NONE:
        return None
    return {"client_id": client_id, "name": urlsplit(client_id).hostname or client_id,
            "redirect_uris": redirects, "grant_types": grants}
