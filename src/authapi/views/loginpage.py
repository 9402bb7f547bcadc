"""The built-in sign-in and consent page of the OpenID provider, and its signed-out page.

Static files from the package (authapi/web/loginpage/), served with a CSP that allows
this origin's own script and styles and nothing inline (web/headers.py). The page uses
the JSON API of views/provider.py; AUTHAPI_LOGIN_URL replaces it with a team's own.
"""

from __future__ import annotations

import functools
from pathlib import Path

from flask import Blueprint, Response

from authapi.errors import NotFound

PAGES = Path(__file__).resolve().parent.parent / "web" / "loginpage"
TYPES = {"login.html": "text/html", "signed-out.html": "text/html",
         "device.html": "text/html", "login.js": "text/javascript",
         "device.js": "text/javascript", "login.css": "text/css"}
ASSETS = ("login.js", "device.js", "login.css")


@functools.lru_cache(maxsize=len(TYPES))
def _file(name: str) -> bytes:
    return (PAGES / name).read_bytes()


def _serve(name: str, max_age: int = 0) -> Response:
    response = Response(_file(name), mimetype=TYPES[name])
    if max_age:
        response.headers["Cache-Control"] = f"public, max-age={max_age}"
    return response

bp = Blueprint("loginpage", __name__)


def _page(summary: str, parameters: list[dict[str, object]] | None = None) -> dict[str, object]:
    return {"get": {"summary": summary, "tags": ["pages"], "parameters": parameters or [],
                    "responses": {"200": {"description": "An HTML page (no outside scripts).",
                                          "content": {"text/html": {"schema": {
                                              "type": "string"}}}}}}}


# The browser pages of the contract, for the OpenAPI document (they are HTML, not JSON,
# so they sit outside the API blueprints: app.py adds these paths to its spec).
OPENAPI_PATHS = {
    "/oauth/login": _page("The built-in login and consent page.", [
        {"in": "query", "name": "request", "required": True, "schema": {"type": "string"},
         "description": "the pending authorization request's id"}]),
    "/oauth/device": _page("The page where a signed-in user enters and approves a device's "
                           "code (RFC 8628).", [
        {"in": "query", "name": "user_code", "required": False,
         "schema": {"type": "string"}, "description": "the code, prefilled"}]),
    "/oauth/signed-out": _page("Where RP-initiated logout ends without a redirect URI."),
}


@bp.get("/oauth/login")
def login_page() -> Response:
    """The page a browser signs in and consents on (`?request=<id>`)."""
    return _serve("login.html")


@bp.get("/oauth/device")
def device_page() -> Response:
    """Where a user signs in, types a device's code and approves it (RFC 8628)."""
    return _serve("device.html")


@bp.get("/oauth/signed-out")
def signed_out() -> Response:
    """Where RP-initiated logout ends without a post_logout_redirect_uri."""
    return _serve("signed-out.html")


@bp.get("/oauth/assets/<string:filename>")
def asset(filename: str) -> Response:
    """The page's own script and stylesheet."""
    if filename not in ASSETS:
        raise NotFound()
    return _serve(filename, max_age=3600)
