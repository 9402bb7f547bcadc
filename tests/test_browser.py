"""The demo page (examples/spa) in a real headless Chromium, against a real `authapi serve`.

The page is served from one loopback origin and the API from another, so CORS,
credentials and the SameSite=Strict cookies are the browser's own. Skipped, with the
reason, where Chromium or Playwright is missing or cannot start (.ci/run installs them).
"""

from __future__ import annotations

import functools
import json
import threading
import time
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from conftest import PASSWORD

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
SPA = Path(__file__).resolve().parents[1] / "examples" / "spa"
ACCESS_TTL = 3  # seconds: the page refreshes silently at 3/4 of it
EMAIL = "spa@example.com"
WAIT_MS = 15_000
SIGNED_IN, SIGNED_OUT = 'body[data-state="signed-in"]', 'body[data-state="signed-out"]'
# Two tabs start the same call at one agreed instant (the clock of this machine).
# "lock": the page's own refresh (Web Lock); "raw": one fetch with the cookie, no lock.
AT_ONCE = """([at, call, api]) => {
  const calls = {
    lock: () => demo.actions.refresh().then(() => "ok"),
    raw: () => fetch(api + "/auth/refresh", {method: "POST", credentials: "include",
        headers: {"X-CSRF-TOKEN": document.cookie.match(/csrf_refresh_token=([^;]+)/)[1]}})
      .then(async response => [response.status, await response.text()]),
  };
  window.__result = new Promise(r => setTimeout(r, at - Date.now())).then(calls[call])
    .catch(error => "error: " + error.message);
}"""
ME = "() => demo.actions.me().then(() => 'ok', e => e.message)"


class QuietHandler(SimpleHTTPRequestHandler):
    """Static files of the demo page, without a log line per request."""

    def log_message(self, format: str, *args: Any) -> None:
        """Say nothing."""


@pytest.fixture
def page_origin() -> Iterator[str]:
    """examples/spa served on its own loopback origin."""
    server = ThreadingHTTPServer(("127.0.0.1", 0),
                                 functools.partial(QuietHandler, directory=str(SPA)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def browser() -> Iterator[Any]:
    """Debian's headless Chromium driven by Playwright; a skip with the reason otherwise."""
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError as exc:
        pytest.skip(f"Playwright is not installed ({exc}); pip install -e '.[test]'")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no {CHROMIUM}: apt-get install chromium (.ci/run does)")
    with sync_playwright() as playwright:
        try:
            launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        except Error as exc:
            pytest.skip(f"Chromium does not start here: {exc.message.splitlines()[0]}")
        yield launched
        launched.close()


def open_tab(context: Any, page_origin: str, api: str) -> Any:
    tab = context.new_page()
    tab.goto(f"{page_origin}/?api={api}")
    return tab


def assert_refresh_token_hidden(context: Any, *tabs: Any) -> None:
    """document.cookie shows the CSRF cookie but never the refresh token."""
    stored = [c["value"] for c in context.cookies() if c["name"] == "refresh_token_cookie"]
    for tab in tabs:
        visible = tab.evaluate("() => document.cookie")
        assert "refresh_token_cookie" not in visible
        assert not any(value in visible for value in stored)
        assert ("csrf_refresh_token=" in visible) == bool(stored)  # the check can see cookies


def at_once(tabs: list[Any], call: str, api: str) -> list[Any]:
    """Run `call` (of AT_ONCE) in every tab at the same instant; each tab's result."""
    at = int(time.time() * 1000) + 500
    for tab in tabs:
        tab.evaluate(AT_ONCE, [at, call, api])
    return [tab.evaluate("() => window.__result") for tab in tabs]


def shows_me(tab: Any) -> None:
    tab.wait_for_function(f"() => document.getElementById('me').textContent.includes('{EMAIL}')")


def test_demo_page_in_a_real_browser(browser, page_origin, serve, empty_database_url):
    api = serve("--workers", "2", "--migrate", env={
        "AUTHAPI_DATABASE_URL": empty_database_url, "AUTHAPI_CORS_ORIGINS": page_origin,
        "AUTHAPI_ACCESS_TTL": str(ACCESS_TTL), "AUTHAPI_REFRESH_GRACE": "10"})
    assert api.request("POST", "/auth/register", {"email": EMAIL, "password": PASSWORD})[0] == 201
    context = browser.new_context()
    context.set_default_timeout(WAIT_MS)
    first = open_tab(context, page_origin, api.base_url)

    # Log in with cookies: the body has no refresh token; /auth/me answers.
    first.fill("#email", EMAIL)
    first.fill("#password", PASSWORD)
    with first.expect_response(f"{api.base_url}/auth/login") as answer:
        first.click("button[data-action=login]")
    login = answer.value.json()
    assert "refresh_token" not in login and login["expires_in"] == ACCESS_TTL
    first.wait_for_selector(SIGNED_IN)
    shows_me(first)
    assert_refresh_token_hidden(context, first)

    # Past the access token's lifetime: the page refreshed silently and still works.
    first.wait_for_function(f"() => Date.now() > {(time.time() + ACCESS_TTL + 0.5) * 1000}")
    assert api.request("GET", "/auth/me", token=login["access_token"])[1]["code"] == "token_expired"
    first.wait_for_function("() => Number(document.getElementById('refreshes').textContent) > 0")
    first.click("button[data-action=me]")
    shows_me(first)
    assert first.inner_text("#error") == ""

    # A second tab takes the session over from the cookie; both refresh at one instant.
    second = open_tab(context, page_origin, api.base_url)
    second.wait_for_selector(SIGNED_IN)
    tabs = [first, second]
    assert at_once(tabs, "lock", api.base_url) == ["ok", "ok"]  # serialised by a Web Lock
    raced = at_once(tabs, "raw", api.base_url)
    assert [status for status, _ in raced] == [200, 200]
    assert raced[0][1] == raced[1][1]  # the grace window: one successor, byte for byte
    latest = json.loads(raced[0][1])["access_token"]
    for tab in tabs:
        assert tab.evaluate(ME) == "ok"
    assert_refresh_token_hidden(context, first, second)

    # The session list ends another session (one logged in elsewhere).
    elsewhere = api.request("POST", "/auth/login", {"email": EMAIL, "password": PASSWORD})[1]
    first.click("button[data-action=sessions]")
    first.click("button[data-action=end-session]")
    first.wait_for_function("() => document.querySelectorAll('#sessions li').length === 1")
    assert api.request("GET", "/auth/me", token=elsewhere["access_token"])[0] == 401

    # Logging out in one tab signs the other out; the tokens stop working.
    first.click("button[data-action=logout]")
    first.wait_for_selector(SIGNED_OUT)
    second.wait_for_selector(SIGNED_OUT)
    assert api.request("GET", "/auth/me", token=latest)[0] == 401
    probe = api.request("POST", "/auth/login", {"email": EMAIL, "password": PASSWORD})[1]
    assert api.request("GET", "/auth/sessions", token=probe["access_token"])[1]["total"] == 1
    assert "401" in second.evaluate(ME)
    assert [c for c in context.cookies() if c["name"] == "refresh_token_cookie"] == []
    assert_refresh_token_hidden(context, first, second)
    context.close()
