"""The passkeys demo page in headless Chromium, with a CDP virtual authenticator.

Registers a passkey, logs out, signs in with it, removes it, and fails to sign
in with it afterwards. The page and the API are distinct origins on `localhost`
(a secure context, so WebAuthn works over plain HTTP).
"""

from __future__ import annotations

import functools
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from conftest import PASSWORD

CHROMIUM = Path("/usr/bin/chromium")
PAGE_DIR = Path(__file__).resolve().parents[1] / "examples" / "passkeys"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
AUTHENTICATOR = {"protocol": "ctap2", "transport": "internal", "hasResidentKey": True,
                 "hasUserVerification": True, "isUserVerified": True,
                 "automaticPresenceSimulation": True}

sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is missing")
if not CHROMIUM.exists():
    pytest.skip("Debian's chromium is not installed (/usr/bin/chromium)", allow_module_level=True)


class QuietHandler(SimpleHTTPRequestHandler):
    """Serves the example folder without logging each request."""

    def log_message(self, format, *args):  # noqa: A002  (the base class's name)
        pass


@pytest.fixture
def page_origin():
    """The demo page's folder over HTTP on loopback; yields its origin."""
    handler = functools.partial(QuietHandler, directory=str(PAGE_DIR))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://localhost:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def browser_page():
    """A fresh Chromium page with a virtual platform authenticator (UV, resident keys)."""
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                             args=CHROMIUM_ARGS)
        page = browser.new_context().new_page()
        cdp = page.context.new_cdp_session(page)
        cdp.send("WebAuthn.enable")
        cdp.send("WebAuthn.addVirtualAuthenticator", {"options": AUTHENTICATOR})
        yield page
        browser.close()


def test_a_passkey_signs_in_until_it_is_removed(serve, page_origin, browser_page):
    api = serve("--workers", "1", env={"AUTHAPI_FRONTEND_URL": page_origin,
                                       "AUTHAPI_CORS_ORIGINS": page_origin,
                                       "AUTHAPI_WEBAUTHN_RP_ID": "localhost"})
    page, status = browser_page, browser_page.locator("#status")
    page.goto(f"{page_origin}/index.html?api={api.base_url.replace('127.0.0.1', 'localhost')}")
    page.fill("#email", "ada@example.com")
    page.fill("#password", PASSWORD)
    for button, outcome in (("#register", "registered"),
                            ("#login", "signed in as ada@example.com"),
                            ("#passkey-add", "passkey added"), ("#logout", "signed out")):
        page.click(button)
        sync_api.expect(status).to_have_text(outcome)
    page.fill("#email", "")  # a discoverable credential: no email
    page.click("#passkey-login")
    sync_api.expect(status).to_have_text("signed in as ada@example.com")
    page.click("#passkeys li button.remove")
    sync_api.expect(status).to_have_text("passkey removed")
    page.click("#logout")
    sync_api.expect(status).to_have_text("signed out")
    page.click("#passkey-login")
    sync_api.expect(status).to_have_text("error: invalid_credentials")
