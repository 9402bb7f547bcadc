"""The demo page (examples/spa) in a real headless Chromium, against a real `authapi serve`.

The page is served from one `localhost` port and the API from another: the same site,
so the SameSite=Strict cookies go along, and a secure context, so WebCrypto (the DPoP
key) and WebAuthn (passkeys, with a CDP virtual authenticator) work over plain HTTP.
CORS, credentials and cookies are the browser's own. Skipped, with the reason, where
Chromium or Playwright is missing or cannot start (.ci/run installs them).
"""

from __future__ import annotations

import base64
import functools
import json
import os
import threading
import time
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from conftest import PASSWORD
from fixtures.dpop import DpopClient

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
SPA = Path(__file__).resolve().parents[1] / "examples" / "spa"
ACCESS_TTL = 3  # seconds: the page refreshes silently at 3/4 of it
EMAIL = "spa@example.com"
WAIT_MS = 15_000
SIGNED_IN, SIGNED_OUT = 'body[data-state="signed-in"]', 'body[data-state="signed-out"]'
# A platform authenticator with user verification and resident keys (a passkey).
AUTHENTICATOR = {"protocol": "ctap2", "transport": "internal", "hasResidentKey": True,
                 "hasUserVerification": True, "isUserVerified": True,
                 "automaticPresenceSimulation": True}
# Two tabs start the same call at one agreed instant (the clock of this machine).
# "lock": the page's own refresh (Web Lock); "raw": one fetch with the cookie, no lock.
AT_ONCE = """([at, call, api]) => {
  const calls = {
    lock: () => demo.actions.refresh().then(() => "ok"),
    raw: async () => fetch(api + "/auth/refresh", {method: "POST", credentials: "include",
        headers: {"X-CSRF-TOKEN": document.cookie.match(/csrf_refresh_token=([^;]+)/)[1],
                  "DPoP": await demo.proof("POST", api + "/auth/refresh")}})
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
    """examples/spa served on its own `localhost` origin."""
    server = ThreadingHTTPServer(("127.0.0.1", 0),
                                 functools.partial(QuietHandler, directory=str(SPA)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://localhost:{server.server_address[1]}"
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


def start_api(serve: Any, page_origin: str, *args: str, **env: str) -> tuple[Any, str]:
    """`authapi serve` for the page; (the server, its URL as the page calls it)."""
    api = serve(*args, env={"AUTHAPI_CORS_ORIGINS": page_origin, **env}, public_host="localhost")
    return api, api.base_url.replace("127.0.0.1", "localhost")


def claims_of(token: str) -> dict[str, Any]:
    """A JWT's payload, unverified (the test only reads what the server put there)."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))  # type: ignore[no-any-return]


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


def copied_token_fails_elsewhere(api: Any, access_token: str) -> None:
    """The page's access token, used from here (another client): as Bearer, or proven
    by this client's own DPoP key, it is refused."""
    status, headers, problem = api.exchange("GET", "/auth/me", token=access_token)
    assert (status, problem["code"]) == (401, "token_invalid")
    assert headers["WWW-Authenticate"].startswith("DPoP")
    thief = DpopClient()
    url = f"{api.base_url}/auth/me"
    status, _, problem = api.exchange("GET", "/auth/me", headers={
        "Authorization": f"DPoP {access_token}", "DPoP": thief.proof("GET", url, access_token)})
    assert (status, problem["code"]) == (401, "invalid_dpop_proof")


def copied_cookie_fails_elsewhere(api: Any, context: Any) -> None:
    """The refresh cookie and the CSRF value, taken out of the browser's store: a refresh
    without a proof, or with a proof by another key, is refused (and spends nothing)."""
    jar = {c["name"]: c["value"] for c in context.cookies()}
    stolen = {"Cookie": f"refresh_token_cookie={jar['refresh_token_cookie']}; "
                        f"csrf_refresh_token={jar['csrf_refresh_token']}",
              "X-CSRF-TOKEN": jar["csrf_refresh_token"]}
    assert api.exchange("POST", "/auth/refresh", headers=stolen)[0] == 401
    proof = DpopClient().proof("POST", f"{api.base_url}/auth/refresh")
    assert api.exchange("POST", "/auth/refresh", headers={**stolen, "DPoP": proof})[0] == 401


def test_demo_page_in_a_real_browser(browser, page_origin, serve, empty_database_url):
    api, api_url = start_api(serve, page_origin, "--workers", "2", "--migrate",
                             AUTHAPI_DATABASE_URL=empty_database_url,
                             AUTHAPI_ACCESS_TTL=str(ACCESS_TTL), AUTHAPI_REFRESH_GRACE="10")
    assert api.request("POST", "/auth/register", {"email": EMAIL, "password": PASSWORD})[0] == 201
    context = browser.new_context()
    context.set_default_timeout(WAIT_MS)
    first = open_tab(context, page_origin, api_url)

    # Log in with cookies: the body has no refresh token; /auth/me answers.
    first.fill("#email", EMAIL)
    first.fill("#password", PASSWORD)
    with first.expect_response(f"{api_url}/auth/login") as answer:
        first.click("button[data-action=login]")
    login = answer.value.json()
    assert "refresh_token" not in login and login["expires_in"] == ACCESS_TTL
    first.wait_for_selector(SIGNED_IN)
    shows_me(first)
    assert_refresh_token_hidden(context, first)

    # DPoP: the pair is bound to a P-256 key that WebCrypto will not export, and a token
    # or cookie copied out of the page is refused from any other client.
    key = first.evaluate("() => demo.key()")
    assert key["extractable"] is False and key["algorithm"] == "ECDSA P-256"
    assert login["token_type"] == "DPoP" and first.inner_text("#scheme") == "DPoP"
    assert claims_of(login["access_token"])["cnf"] == {"jkt": key["thumbprint"]}
    copied_token_fails_elsewhere(api, login["access_token"])
    copied_cookie_fails_elsewhere(api, context)
    first.click("button[data-action=me]")  # the page itself carries on
    shows_me(first)

    # Past the access token's lifetime: the page refreshed silently and still works.
    first.wait_for_function(f"() => Date.now() > {(time.time() + ACCESS_TTL + 0.5) * 1000}")
    assert api.request("GET", "/auth/me", token=login["access_token"])[0] == 401
    first.wait_for_function("() => Number(document.getElementById('refreshes').textContent) > 0")
    first.click("button[data-action=me]")
    shows_me(first)
    assert first.inner_text("#error") == ""

    # A second tab takes the session over from the cookie, with the key from IndexedDB;
    # both refresh at one instant.
    second = open_tab(context, page_origin, api_url)
    second.wait_for_selector(SIGNED_IN)
    assert second.evaluate("() => demo.key()") == key
    tabs = [first, second]
    assert at_once(tabs, "lock", api_url) == ["ok", "ok"]  # serialised by a Web Lock
    raced = at_once(tabs, "raw", api_url)
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

    # Logging out in one tab signs the other out; the tokens stop working; the key is
    # gone, so the next sign-in gets a new one.
    first.click("button[data-action=logout]")
    first.wait_for_selector(SIGNED_OUT)
    second.wait_for_selector(SIGNED_OUT)
    assert claims_of(latest)["cnf"] == {"jkt": key["thumbprint"]}
    assert api.request("GET", "/auth/me", token=latest)[0] == 401
    probe = api.request("POST", "/auth/login", {"email": EMAIL, "password": PASSWORD})[1]
    assert api.request("GET", "/auth/sessions", token=probe["access_token"])[1]["total"] == 1
    assert "401" in second.evaluate(ME)
    assert [c for c in context.cookies() if c["name"] == "refresh_token_cookie"] == []
    assert_refresh_token_hidden(context, first, second)
    assert first.evaluate("() => demo.key()")["thumbprint"] != key["thumbprint"]
    context.close()


def test_passkeys_on_the_demo_page(browser, page_origin, serve):
    """Add a passkey, sign out, sign in with it (no email: a discoverable credential),
    remove it, and fail to sign in with it afterwards."""
    api, api_url = start_api(serve, page_origin, "--workers", "1",
                             AUTHAPI_FRONTEND_URL=page_origin, AUTHAPI_WEBAUTHN_RP_ID="localhost",
                             AUTHAPI_DPOP_NONCE="1")  # the page retries with the nonce
    assert api.request("POST", "/auth/register", {"email": EMAIL, "password": PASSWORD})[0] == 201
    context = browser.new_context()
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send("WebAuthn.addVirtualAuthenticator", {"options": AUTHENTICATOR})
    asked_for_nonce = []  # the page's first proof has no nonce: authapi asks for one
    page.on("response", lambda r: "use_dpop_nonce" in r.headers.get("www-authenticate", "")
            and asked_for_nonce.append(r.url))
    page.goto(f"{page_origin}/?api={api_url}")
    notice, error = page.locator("#notice"), page.locator("#error")

    page.fill("#email", EMAIL)
    page.fill("#password", PASSWORD)
    page.click("button[data-action=login]")
    page.wait_for_selector(SIGNED_IN)
    page.fill("#passkey-name", "Laptop")
    page.click("button[data-action=passkey-add]")
    sync_expect(notice).to_have_text('passkey "Laptop" added')
    assert page.locator("#passkeys li").count() == 1
    page.click("button[data-action=logout]")
    page.wait_for_selector(SIGNED_OUT)

    page.fill("#email", "")
    verified = f"{api_url}/auth/passkeys/login/verify"
    with page.expect_response(lambda r: r.url == verified and r.status == 200) as answer:
        page.click("button[data-action=passkey-login]")
    assert answer.value.json()["token_type"] == "DPoP"
    page.wait_for_selector(SIGNED_IN)
    shows_me(page)
    page.click("button[data-action=passkeys]")
    sync_expect(page.locator("#passkeys li")).to_contain_text("Laptop · last used")
    page.click("button[data-action=passkey-remove]")
    sync_expect(notice).to_have_text("passkey removed")
    assert page.locator("#passkeys li").count() == 0
    page.click("button[data-action=logout]")
    page.wait_for_selector(SIGNED_OUT)

    page.click("button[data-action=passkey-login]")  # the authenticator still offers it
    sync_expect(error).to_contain_text("401 invalid_credentials")
    assert page.evaluate("() => demo.signedIn()") is False
    assert asked_for_nonce == [f"{api_url}/auth/login"]  # then the page kept it up to date
    context.close()


def sync_expect(locator: Any) -> Any:
    """Playwright's auto-waiting assertions (imported late: the module may be missing)."""
    from playwright.sync_api import expect

    return expect(locator)


# --- an app of another team signs its users in through authapi (issue 21) ----------------

INTEROP = Path(__file__).resolve().parent / "interop"
OIDC_CLIENT_TS = INTEROP / "node_modules" / "oidc-client-ts" / "dist" / "browser"
SHOTS = os.environ.get("AUTHAPI_SCREENSHOTS")  # a folder: the pages, light and dark


@pytest.fixture
def rp_origin() -> Iterator[str]:
    """tests/interop (the app's page and oidc-client-ts) on its own `localhost` origin."""
    if not (OIDC_CLIENT_TS / "oidc-client-ts.min.js").exists():
        pytest.skip("no tests/interop/node_modules: run `npm ci --prefix tests/interop`")
    server = ThreadingHTTPServer(("127.0.0.1", 0),
                                 functools.partial(QuietHandler, directory=str(INTEROP)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://localhost:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def shoot(tab: Any, name: str) -> None:
    """With AUTHAPI_SCREENSHOTS set, the page in light and in dark."""
    if not SHOTS:
        return
    for scheme in ("light", "dark"):
        tab.emulate_media(color_scheme=scheme)
        tab.screenshot(path=str(Path(SHOTS) / f"provider-{name}-{scheme}.png"))
    tab.emulate_media(color_scheme="light")


def test_an_app_signs_in_with_oidc_client_ts_through_the_built_in_page(browser, rp_origin,
                                                                        serve, cli):
    api = serve("--workers", "1", env={"AUTHAPI_CORS_ORIGINS": rp_origin},
                public_host="localhost")
    issuer = api.base_url.replace("127.0.0.1", "localhost")
    assert cli("users", "create", "--email", EMAIL, "--password-stdin",
               stdin=PASSWORD + "\n").returncode == 0
    created = cli("clients", "create", "--name", "Team Shop", "--public", "--redirect-uri",
                  f"{rp_origin}/rp/index.html")
    assert created.returncode == 0, created.stderr
    client_id = json.loads(created.stdout)["client_id"]
    context = browser.new_context()
    context.set_default_timeout(WAIT_MS)
    tab = context.new_page()
    tab.goto(f"{rp_origin}/rp/index.html?authority={issuer}&client_id={client_id}")
    tab.wait_for_function("() => document.body.dataset.state === 'ready'")
    tab.evaluate("() => { rp.signIn(); }")  # it navigates away: nothing to wait for
    # authapi's own page: its CSP lets it run, and nothing else.
    tab.wait_for_selector("#login:not([hidden])")
    assert tab.url.startswith(f"{issuer}/oauth/login?request=")
    shoot(tab, "login")
    tab.fill("#email", EMAIL)
    tab.fill("#password", PASSWORD)
    tab.click("#password-form button[type=submit]")
    tab.wait_for_selector("#consent:not([hidden])")
    assert "Team Shop" in tab.inner_text("#consent h1")
    assert "email" in tab.inner_text("#scopes")
    shoot(tab, "consent")
    tab.click("#approve")
    tab.wait_for_url(f"{rp_origin}/rp/**")
    tab.wait_for_function("() => ['signed-in', 'error'].includes(document.body.dataset.state)")
    assert tab.evaluate("() => document.body.dataset.state") == "signed-in", tab.inner_text(
        "#who")
    user = tab.evaluate("() => rp.user()")
    assert user["email"] == EMAIL and user["has_refresh"] is True
    claims = claims_of(user["access_token"])
    assert claims["client_id"] == client_id and claims["acr"] == "pwd"
    renewed = tab.evaluate("() => rp.renew()")
    assert renewed["access_token"] != user["access_token"]
    context.close()
