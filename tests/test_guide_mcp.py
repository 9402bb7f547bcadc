"""docs/guides/mcp-server.md, run as written: the official MCP Python SDK's own OAuth
client against an MCP server guarded by authapi.resource and a live `authapi serve`.

Discovery (RFC 9728, then RFC 8414), registration (RFC 7591, then a client ID
metadata document fetched over TLS), the code grant with PKCE and `resource`, the
login through the login page's JSON API, a tool call, and a tool that demands
`acr=mfa` so that the client steps up (RFC 9470) and authapi asks only for the
missing factor.
"""

from __future__ import annotations

import json
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest
import requests

from conftest import PASSWORD
from fixtures.smtp import free_port
from fixtures.tls import self_signed
from test_guides import python_block

pytest.importorskip("mcp", reason="the MCP SDK is in the test extras (pip install -e '.[test]')")

GUIDE = "mcp-server.md"
EMAIL = "ada@example.com"


class Browser:
    """The user's browser: authapi's sign-in cookies, and the login page's JSON API."""

    def __init__(self, issuer: str) -> None:
        self.issuer, self.http = issuer, requests.Session()
        self.otp_secret: str | None = None

    def sign_in(self, url: str) -> tuple[str, list[str]]:
        """Follow an authorization URL through what authapi asks for: the redirect to
        the app, and the `needs` met on the way."""
        answer = self.http.get(url, allow_redirects=False, timeout=10)
        assert answer.status_code == 302, answer.text
        location, seen = answer.headers["Location"], []
        while location.startswith(self.issuer + "/oauth/login"):
            request_id = parse_qs(urlsplit(location).query)["request"][0]
            pending = f"{self.issuer}/oauth/requests/{request_id}"
            needs = self.http.get(pending, timeout=10).json()["needs"]
            seen.append(needs)
            if needs in ("login", "mfa"):
                body = {"email": EMAIL, "password": PASSWORD}
                if self.otp_secret:  # the next step's code: enabling used this one
                    body["otp"] = pyotp.TOTP(self.otp_secret).at(time.time() + 30)
                answer = self.http.post(f"{pending}/login", json=body, timeout=10)
            else:
                assert needs == "consent", needs
                answer = self.http.post(f"{pending}/consent", json={"approve": True}, timeout=10)
            assert answer.status_code == 200, answer.text
            location = answer.json()["redirect_to"]
        return location, seen


class Agent:
    """agent.py, run as its own process; its printed lines, one at a time."""

    def __init__(self, script: Path, *args: str) -> None:
        self.proc = subprocess.Popen(  # noqa: S603
            [sys.executable, str(script), *args], stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True)

    def line(self) -> str:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        if not line:
            self.proc.wait(timeout=10)
            assert self.proc.stderr is not None
            pytest.fail(f"agent.py stopped: {self.proc.stderr.read()[-6000:]}")
        return line

    def url(self) -> str:
        line = self.line()
        assert line.startswith("Open "), line
        return line.removeprefix("Open ")

    def finish(self) -> None:
        assert self.proc.wait(timeout=30) == 0

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.communicate()  # and closes its pipes


def wait_for_port(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and proc.poll() is None:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    pytest.fail("server.py did not start")


@pytest.fixture
def document_host(tmp_path: Path) -> Iterator[Callable[[str, dict[str, Any]], str]]:
    """An https host on 127.0.0.1 (its certificate in SSL_CERT_FILE for authapi) that
    serves JSON documents at the paths given."""
    cert, key = self_signed(tmp_path)
    documents: dict[str, bytes] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            body = documents.get(self.path)
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body or b"{}")

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()

    def publish(path: str, document: dict[str, Any]) -> str:
        documents[path] = json.dumps(document).encode()
        return f"https://127.0.0.1:{httpd.server_port}{path}"

    yield publish
    httpd.shutdown()
    httpd.server_close()


def test_the_mcp_sdk_signs_in_and_steps_up(serve, cli, tmp_path, document_host):
    cert = tmp_path / "cert.pem"
    doc_url = document_host("/notes-agent.json", {})  # the certificate exists from here
    authapi = serve("--workers", "1", public_host="127.0.0.1", env={
        "AUTHAPI_REGISTRATION": "open", "AUTHAPI_CLIENT_METADATA_DOCUMENTS": "1",
        "SSL_CERT_FILE": str(cert)})
    issuer = authapi.base_url
    for command in (("roles", "create", "--name", "notes", "--permission", "notes:read"),
                    ("users", "create", "--email", EMAIL, "--role", "notes", "--role", "user",
                     "--password-stdin")):
        done = cli(*command, stdin=PASSWORD + "\n")
        assert done.returncode == 0, done.stderr
    for name in ("server.py", "agent.py"):
        (tmp_path / name).write_text(python_block(GUIDE, name))
    port = free_port()
    mcp_server = subprocess.Popen(  # noqa: S603
        [sys.executable, str(tmp_path / "server.py"), issuer, str(port)])
    browser = Browser(issuer)
    agents: list[Agent] = []
    try:
        wait_for_port(port, mcp_server)
        mcp_url = f"http://127.0.0.1:{port}/mcp"

        # 1. RFC 7591: the SDK registers itself, the user signs in with a password.
        agent = Agent(tmp_path / "agent.py", mcp_url)
        agents.append(agent)
        first = agent.url()
        assert "resource=" in first and "code_challenge_method=S256" in first
        callback, seen = browser.sign_in(first)
        assert seen == ["login", "consent"], callback
        client_id = parse_qs(urlsplit(first).query)["client_id"][0]
        assert client_id.startswith("dyn_")
        # The user turns a second factor on before the agent gets its token, so the
        # token's sign-in (a password alone) is weaker than the one delete_notes wants.
        browser.otp_secret = enable_totp(authapi)
        assert requests.get(callback, timeout=10).status_code == 200
        whoami = agent.line()
        assert whoami.startswith("whoami: ") and whoami.endswith("signed in with pwd")

        # 2. RFC 9470: delete_notes answers insufficient_user_authentication; the SDK
        # authorizes again with the challenge's acr_values and max_age, and authapi
        # asks for the second factor, not a new sign-in. (The SDK asks for
        # offline_access with prompt=consent, OIDC Core §11, so the consent comes again.)
        second = agent.url()
        again = parse_qs(urlsplit(second).query)
        assert again["acr_values"] == ["mfa"] and again["max_age"] == ["300"]
        assert again["client_id"] == [client_id]
        callback, seen = browser.sign_in(second)
        assert "prompt=consent" in second
        assert seen == ["mfa", "consent"], second
        assert requests.get(callback, timeout=10).status_code == 200
        assert agent.line() == "delete_notes: deleted, for mfa"
        agent.finish()

        # 3. A client ID metadata document: no registration; authapi fetches the
        # document over TLS, and the user (already signed in with mfa) only consents.
        doc_url = document_host("/notes-agent.json", {
            "client_id": doc_url, "client_name": "Notes agent",
            "redirect_uris": ["http://127.0.0.1/callback"], "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"]})
        agent = Agent(tmp_path / "agent.py", mcp_url, doc_url)
        agents.append(agent)
        url = agent.url()
        assert parse_qs(urlsplit(url).query)["client_id"] == [doc_url]
        callback, seen = browser.sign_in(url)
        assert seen == ["consent"]
        assert requests.get(callback, timeout=10).status_code == 200
        assert agent.line().endswith("signed in with mfa")
        assert agent.line() == "delete_notes: deleted, for mfa"
        agent.finish()
    finally:
        for agent in agents:
            agent.kill()
        mcp_server.terminate()  # uvicorn waits for open streams: then it is killed
        try:
            mcp_server.wait(timeout=5)
        except subprocess.TimeoutExpired:
            mcp_server.kill()
            mcp_server.wait()


def enable_totp(authapi: Any) -> str:
    """Turn TOTP on for the user over the API; the secret, for the browser's codes."""
    token = authapi.request("POST", "/auth/login", {"email": EMAIL, "password": PASSWORD})[1][
        "access_token"]
    status, setup = authapi.request("POST", "/auth/mfa/totp/setup", {}, token=token)
    assert status == 200, setup
    status, _ = authapi.request("POST", "/auth/mfa/totp/enable",
                                {"otp": pyotp.TOTP(setup["secret"]).now()}, token=token)
    assert status == 200
    return str(setup["secret"])
