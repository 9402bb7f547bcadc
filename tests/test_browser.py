"""The demo page (examples/spa) in a real headless Chromium, against a real `authapi serve`.

The page is served from one `localhost` port and the API from another: the same site,
so the SameSite=Strict cookies go along, and a secure context, so WebCrypto (the DPoP
key) and WebAuthn (passkeys, with a CDP virtual authenticator) work over plain HTTP.
CORS, credentials and cookies are the browser's own. The finished demo runs as
`./dev demo` runs it (examples/spa/serve.py), on ports other than the defaults and with
no setting about them. Skipped, with the reason, where Chromium or Playwright is
missing or cannot start (.ci/run installs them).
"""

from __future__ import annotations

import base64
import functools
import importlib.util
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pyotp
import pytest

from conftest import PASSWORD
from fixtures.cli import _cli_env
from fixtures.dpop import DpopClient
from fixtures.servers import LiveServer, _free_port
from fixtures.smtp import text_of

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
# Each call is prepared first (a raw refresh signs its DPoP proof), then started at `at`,
# so nothing is awaited between reading the CSRF cookie and sending the request.
AT_ONCE = """([at, call, api]) => {
  const calls = {
    lock: async () => () => demo.actions.refresh().then(() => "ok"),
    raw: async () => {
      const proof = await demo.proof("POST", api + "/auth/refresh");
      return () => fetch(api + "/auth/refresh", {method: "POST", credentials: "include",
          headers: {"X-CSRF-TOKEN": document.cookie.match(/csrf_refresh_token=([^;]+)/)[1],
                    "DPoP": proof}})
        .then(async response => [response.status, await response.text()]);
    },
  };
  window.__result = calls[call]()
    .then(start => new Promise(r => setTimeout(r, at - Date.now())).then(start))
    .catch(error => "error: " + error.message);
}"""
# Answers reach the page this much later than the server sends them (DevTools network
# emulation): two requests started at one instant both leave with the cookie of that
# instant, whichever answer the server sends first (otherwise, on a loaded machine, one
# tab's timer can fire after the other's answer has already rotated the cookie).
RACE_LATENCY_MS = 400
ME = "() => demo.actions.me().then(() => 'ok', e => `${e.status} ${e.code}`)"
SPA_SERVER = SPA / "serve.py"
SCREENSHOT = os.environ.get("AUTHAPI_SPA_SCREENSHOT")  # a path: the finished demo, as PNG


def _demo_server_module() -> Any:
    """examples/spa/serve.py (not a package: loaded from its file)."""
    spec = importlib.util.spec_from_file_location("spa_serve", SPA_SERVER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class QuietHandler(SimpleHTTPRequestHandler):
    """Static files of the demo page, without a log line per request."""

    def log_message(self, format: str, *args: Any) -> None:
        """Say nothing."""


@pytest.fixture
def page_origin() -> Iterator[str]:
    """examples/spa served on its own `localhost` origin (by the demo's own handler, with
    no API named: the tests give it as ?api=)."""
    handler = _demo_server_module().DemoHandler
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, api=""))
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
                             AUTHAPI_ACCESS_TTL=str(ACCESS_TTL), AUTHAPI_REFRESH_GRACE="10",
                             AUTHAPI_RECENT_AUTH="2")
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

    # Adding a passkey now (the sign-in is older than AUTHAPI_RECENT_AUTH) asks to
    # confirm it is you; the page re-authenticates in the same session and tries again.
    # This page's origin is not the one the server expects (AUTHAPI_FRONTEND_URL's
    # default): the page then shows the server's reason, and no second error.
    cdp = context.new_cdp_session(first)
    cdp.send("WebAuthn.enable")
    cdp.send("WebAuthn.addVirtualAuthenticator", {"options": AUTHENTICATOR})
    first.click("button[data-action=passkey-add]")
    first.wait_for_selector("#reauth:not([hidden])")
    assert first.inner_text("#error") == ""
    first.fill("#reauth-password", PASSWORD)
    with first.expect_response(f"{api_url}/auth/reauthenticate") as renewed:
        first.click("button[data-action=reauth]")
    assert renewed.value.status == 200
    sync_expect(first.locator("#error")).to_contain_text(
        f"The passkey registration ran on {page_origin}, but this server accepts passkeys "
        "from http://localhost:5173 only")
    assert first.locator("#error").get_attribute("data-code") == "invalid_credentials"
    assert first.locator("#reauth").is_hidden()

    # A second tab takes the session over from the cookie, with the key from IndexedDB;
    # both refresh at one instant.
    second = open_tab(context, page_origin, api_url)
    second.wait_for_selector(SIGNED_IN)
    assert second.evaluate("() => demo.key()") == key
    tabs = [first, second]
    assert at_once(tabs, "lock", api_url) == ["ok", "ok"]  # serialised by a Web Lock
    networks = [context.new_cdp_session(tab) for tab in tabs]
    for network in networks:
        network.send("Network.enable")
        network.send("Network.emulateNetworkConditions", {
            "offline": False, "latency": RACE_LATENCY_MS,
            "downloadThroughput": -1, "uploadThroughput": -1})
    raced = at_once(tabs, "raw", api_url)
    for network in networks:
        network.send("Network.emulateNetworkConditions", {
            "offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})
        network.detach()
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


@pytest.fixture
def demo(tmp_path: Path, smtp_server: Any) -> Iterator[dict[str, Any]]:
    """The demo as `./dev demo --demo-port P --port Q` starts it (examples/spa/serve.py:
    the page and `authapi serve`), on two free ports that are not the defaults, with no
    setting about ports or origins; its mail goes to an aiosmtpd inbox."""
    inbox, mail_url = smtp_server()
    page_port, api_port = _free_port(), _free_port()
    assert not {page_port, api_port} & {5173, 8000}
    log_path = tmp_path / "demo.log"
    env = _cli_env(tmp_path, {"AUTHAPI_MAIL_URL": mail_url, "AUTHAPI_MAIL_POLL_INTERVAL": "0.2",
                              "AUTHAPI_DPOP_NONCE": "1"})  # the page retries with the nonce
    with log_path.open("wb") as log:
        proc = subprocess.Popen(  # noqa: S603
            [sys.executable, str(SPA_SERVER), "--demo-port", str(page_port),
             "--port", str(api_port), "--workers", "1"],
            env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    api = LiveServer(f"http://127.0.0.1:{api_port}")
    page = f"http://localhost:{page_port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if api.request("GET", "/healthz")[0] == 200:
                with urllib.request.urlopen(f"{page}/config.json", timeout=5) as answer:  # noqa: S310
                    config = json.load(answer)
                break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"the demo did not start:\n{log_path.read_text()}")
        time.sleep(0.1)
    yield {"page": page, "api": api, "api_url": config["api"], "inbox": inbox, "log": log_path}
    os.killpg(proc.pid, signal.SIGTERM)  # the process group this fixture started
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


def link_in_mail(inbox: Any, path: str) -> str:
    """The link to `path` of the next mail that has one (notices may come between)."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        found = re.search(rf"http://\S+{path}\?token=[A-Za-z0-9_-]+",
                          text_of(inbox.next(timeout=deadline - time.monotonic())))
        if found:
            return found.group(0)
    raise AssertionError(f"no mail with a {path} link")


def test_the_finished_demo_on_ports_of_its_own(browser, demo):
    """Through the page only: register, a password reset by the mailed link, two-step
    verification turned on and a sign-in with the code, the verify-email link, a
    passkey added, signed in with, removed and then refused, with the demo on
    non-default ports and no configuration."""
    page_origin, api_url, inbox = demo["page"], demo["api_url"], demo["inbox"]
    assert api_url == f"http://localhost:{demo['api'].base_url.rsplit(':', 1)[1]}"
    context = browser.new_context()
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    asked_for_nonce = []  # the page's first proof has no nonce: authapi asks for one
    page.on("response", lambda r: "use_dpop_nonce" in r.headers.get("www-authenticate", "")
            and asked_for_nonce.append(r.url))
    page.goto(f"{page_origin}/")  # no ?api=: the page asks its server (config.json)
    notice, error = page.locator("#notice"), page.locator("#error")

    # Register through the page: signed in at once, as the new account.
    page.click("text=Create an account")
    page.fill("#register-email", EMAIL)
    page.fill("#register-name", "Ada")
    page.fill("#register-password", PASSWORD)
    page.click("button[data-action=register]")
    page.wait_for_selector(SIGNED_IN)
    sync_expect(page.locator("#who")).to_have_text("Ada")
    shows_me(page)
    page.click("button[data-action=logout]")
    page.wait_for_selector(SIGNED_OUT)

    # Forgot the password: the mail links to the demo's own port, the page sets a new one.
    page.click("text=Forgot your password?")
    page.fill("#forgot-email", EMAIL)
    page.click("button[data-action=forgot]")
    sync_expect(notice).to_contain_text("a link to reset its password is on its way")
    link = link_in_mail(inbox, "/reset-password")
    assert link.startswith(f"{page_origin}/reset-password?token=")
    page.goto(link)
    page.wait_for_selector('body[data-ready][data-view="reset"]')
    assert page.url == f"{page_origin}/reset-password"  # the token is out of the address bar
    new_password = PASSWORD + "-renewed"
    page.fill("#new-password", new_password)
    page.click("button[data-action=reset]")
    sync_expect(notice).to_contain_text("Your password is changed")
    page.fill("#email", EMAIL)
    page.fill("#password", PASSWORD)  # the old one no longer works; the page says why
    page.click("button[data-action=login]")
    sync_expect(error).to_have_text("The email or password is wrong.")
    page.fill("#password", new_password)
    page.click("button[data-action=login]")
    page.wait_for_selector(SIGNED_IN)

    # Two-step verification on, then a sign-in that asks for the code.
    page.click("button[data-action=totp-setup]")
    sync_expect(page.locator("#totp-secret")).not_to_be_empty()
    totp = pyotp.TOTP(page.inner_text("#totp-secret").replace(" ", ""))
    page.fill("#totp-code", totp.now())
    page.click("button[data-action=totp-enable]")
    sync_expect(page.locator("#recovery-codes li")).to_have_count(10)
    page.click("button[data-action=logout]")
    page.wait_for_selector(SIGNED_OUT)
    page.fill("#email", EMAIL)
    page.fill("#password", new_password)
    page.click("button[data-action=login]")
    page.wait_for_selector('body[data-view="mfa"]')
    assert error.inner_text() == ""  # mfa_required is a step, not an error
    page.fill("#otp", totp.at(time.time() + 30))  # the next step's code: each is used once
    with page.expect_response(f"{api_url}/auth/login") as answer:
        page.click("button[data-action=login-otp]")
    assert claims_of(answer.value.json()["access_token"])["acr"] == "mfa"
    page.wait_for_selector(SIGNED_IN)

    # The verify-email link, opened in the page.
    page.click("button[data-action=send-verification]")
    page.goto(link_in_mail(inbox, "/verify-email"))
    sync_expect(page.locator("#confirm-title")).to_have_text("Your email address is verified.")
    page.click("text=Continue")
    page.wait_for_selector(SIGNED_IN)
    sync_expect(page.locator("#badges")).to_contain_text("verified")

    # Passkeys on this port with no setting: add one, sign out, sign in with it.
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send("WebAuthn.addVirtualAuthenticator", {"options": AUTHENTICATOR})
    page.fill("#passkey-name", "Laptop")
    page.click("button[data-action=passkey-add]")
    sync_expect(notice).to_have_text('Passkey "Laptop" added.')
    sync_expect(page.locator("#passkeys li")).to_have_count(1)
    if SCREENSHOT:
        page.emulate_media(color_scheme="light")
        page.set_viewport_size({"width": 900, "height": 1000})
        page.screenshot(path=SCREENSHOT, full_page=True)
    page.click("button[data-action=logout]")
    page.wait_for_selector(SIGNED_OUT)
    page.fill("#email", "")
    verified = f"{api_url}/auth/passkeys/login/verify"
    with page.expect_response(lambda r: r.url == verified and r.status == 200) as answer:
        page.click("button[data-action=passkey-login]")
    assert answer.value.json()["token_type"] == "DPoP"
    page.wait_for_selector(SIGNED_IN)
    sync_expect(page.locator("#passkeys li")).to_contain_text("Laptop · last used")
    page.click("button[data-action=passkey-remove]")
    sync_expect(notice).to_have_text("Passkey removed.")
    sync_expect(page.locator("#passkeys li")).to_have_count(0)
    page.click("button[data-action=logout]")
    page.wait_for_selector(SIGNED_OUT)
    page.click("button[data-action=passkey-login]")  # the authenticator still offers it
    sync_expect(error).to_have_text("The passkey could not be verified.")
    assert page.evaluate("() => demo.signedIn()") is False
    # authapi asked for a DPoP nonce once per page load (the three loads: the page, the
    # reset link, the verify link), at the first proof of each; then the page kept it.
    assert asked_for_nonce == [f"{api_url}/auth/{path}" for path in ("login", "login", "refresh")]
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
