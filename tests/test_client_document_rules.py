"""Client ID metadata documents, the rules of the fetch: a malformed document is an
unknown client, private addresses stay refused in development (loopback alone is the
exception), and a document is cached as its Cache-Control says (review of 2026-12-05)."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import assert_problem
from test_provider import pkce

CALLBACK = "https://agent.example/callback"


class DocHost:
    """A real HTTP server serving one JSON document (IPv4 or IPv6)."""

    def __init__(self, address="127.0.0.1"):
        self.body, self.headers, self.hits = b"{}", {}, 0
        host = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                host.hits += 1
                self.send_response(200)
                for k, v in host.headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(host.body)))
                self.end_headers()
                self.wfile.write(host.body)

            def log_message(self, *a):
                pass

        class Server(ThreadingHTTPServer):
            address_family = socket.AF_INET6 if ":" in address else socket.AF_INET

        try:
            self.server = Server((address, 0), Handler)
        except OSError as exc:
            pytest.skip(f"this machine has no address {address} to serve from ({exc})")
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        shown = f"[{address}]" if ":" in address else address
        self.client_id = f"http://{shown}:{self.server.server_port}/client.json"

    def set(self, headers=None, **fields):
        self.headers = headers or {}
        self.body = json.dumps({"client_id": self.client_id, "redirect_uris": [CALLBACK],
                                **fields}).encode()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def authorize(client, client_id):
    _, challenge = pkce()
    return client.get("/oauth/authorize", query_string={
        "response_type": "code", "client_id": client_id, "redirect_uri": CALLBACK,
        "scope": "openid", "state": "s", "code_challenge": challenge,
        "code_challenge_method": "S256"})


@pytest.mark.parametrize("bend", [{"redirect_uris": 5}, {"grant_types": [{"a": 1}]}])
def test_a_malformed_metadata_document_is_an_unknown_client_not_a_500(make_app, bend):
    """Contract: 'No input, however malformed, produces a 5xx.' A document whose
    redirect_uris is not a list (or whose grant_types hold objects) is just not a valid
    document: an unknown client (400 invalid_request at authorize, invalid_client at
    the token endpoint)."""
    host = DocHost()
    try:
        host.set(**bend)
        client = make_app(AUTHAPI_ENV="development",
                          AUTHAPI_CLIENT_METADATA_DOCUMENTS=True).test_client()
        response = authorize(client, host.client_id)
        assert response.status_code == 400, (response.status_code, response.get_data(as_text=True))
        assert_problem(response, 400, "invalid_request")
        token = client.post("/oauth/token", data={
            "grant_type": "authorization_code", "client_id": host.client_id, "code": "x",
            "code_verifier": "y" * 43, "redirect_uri": CALLBACK})
        assert token.status_code == 401, (token.status_code, token.get_data(as_text=True))
    finally:
        host.close()


def test_in_development_a_document_on_a_private_address_is_refused(make_app):
    """Contract: 'Addresses in private, loopback or link-local ranges are refused, except
    loopback http in AUTHAPI_ENV=development.' fd00::/8 is a private (unique local)
    range, not loopback: even in development it must never be fetched."""
    host = DocHost("fd00::2")
    try:
        host.set()
        client = make_app(AUTHAPI_ENV="development",
                          AUTHAPI_CLIENT_METADATA_DOCUMENTS=True).test_client()
        response = authorize(client, host.client_id)
        assert host.hits == 0, f"fetched from a private address ({response.status_code})"
        assert_problem(response, 400, "invalid_request")
    finally:
        host.close()


def test_a_no_store_document_is_not_cached(make_app):
    """Contract: 'cached as its Cache-Control says and at most 24 h'. A document served
    with Cache-Control: no-store is fetched again for the next request."""
    host = DocHost()
    try:
        host.set(headers={"Cache-Control": "no-store"})
        client = make_app(AUTHAPI_ENV="development",
                          AUTHAPI_CLIENT_METADATA_DOCUMENTS=True).test_client()
        assert authorize(client, host.client_id).status_code == 302
        assert authorize(client, host.client_id).status_code == 302
        assert host.hits == 2, f"hits={host.hits}: a no-store document was cached"
    finally:
        host.close()


@pytest.mark.parametrize(("url", "documents_ok", "key_sets_ok"), [
    ("http://127.0.0.1:9/c.json", True, True),
    ("https://[::1]:9/c.json", True, True),
    ("http://localhost:9/c.json", True, True),
    ("http://10.0.0.7/c.json", False, True),
    ("https://192.168.1.2/c.json", False, True),
    ("http://169.254.169.254/latest", False, True),
    ("https://[fd00::2]/c.json", False, True),
    ("http://93.184.216.34/c.json", False, True),  # plain http, not loopback
    ("https://93.184.216.34/c.json", True, True),
])
def test_what_development_allows_each_kind_of_fetch(url, documents_ok, key_sets_ok):
    """In development a document may come from loopback (http or https) besides the
    global hosts; a client's key set from any host (the contract's two rules)."""
    from authapi import outbound
    from authapi.oauth import documents

    development = {"AUTHAPI_ENV": "development"}
    for kind, expected in ((documents.KIND, documents_ok), (outbound.KEY_SETS, key_sets_ok)):
        policy = outbound.policy_for(development, kind)
        try:
            _, host, _ = outbound.check_url(url, policy)
            allowed = all(outbound.permitted(a[4][0], url.split(":")[0], policy)
                          for a in socket.getaddrinfo(host, 9, type=socket.SOCK_STREAM))
        except outbound.FetchFailed:
            allowed = False
        assert allowed is expected, (url, kind)
