"""Edges a probe found: security headers, chunked bodies, gunicorn's own answers."""

from __future__ import annotations

import ast
import http.client
import json
import logging
import re
import socket
from pathlib import Path
from ssl import SSLError
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest
from gunicorn.http import errors as refused
from gunicorn.workers.base import Worker

import authapi
from authapi.gunicorn_worker import ProblemWorker
from conftest import PASSWORD, PROBLEM, assert_problem

VERSION = re.compile(r"\d")  # a `Server` header that names a version has a digit in it

PATHS = ["/healthz", "/readyz", "/auth/me", "/auth/login", "/no/such/path", "/openapi.json",
         "/docs", "/.well-known/jwks.json"]


@pytest.mark.parametrize("path", PATHS)
def test_every_response_has_the_security_headers(client, path):
    response = client.get(path)
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert "Server" not in response.headers


@pytest.mark.parametrize("path", ["/healthz", "/auth/me", "/auth/login", "/openapi.json"])
def test_outside_docs_the_csp_allows_nothing(client, path):
    csp = client.get(path).headers["Content-Security-Policy"]
    assert csp.startswith("default-src 'none';")
    assert "script-src" not in csp


def test_docs_csp_allows_only_its_own_assets(client):
    csp = client.get("/docs").headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "http" not in csp  # no CDN


@pytest.mark.parametrize(("method", "path"), [("POST", "/auth/login"), ("GET", "/auth/me"),
                                              ("POST", "/auth/register"), ("GET", "/readyz")])
def test_token_and_personal_responses_are_not_stored(client, method, path):
    assert client.open(path, method=method).headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("password", [" " * 8, " " * 40, "\t" * 9, "\u3000" * 10])
def test_password_of_only_spaces_is_weak(client, password):
    response = client.post("/auth/register", json={"email": "s@example.com",
                                                     "password": password})
    assert_problem(response, 422, "weak_password")


def _raw(server, method: str, path: str, body: bytes | None = None, chunked: bool = False,
         headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """One request over a fresh connection; a chunked body goes in 4 KiB pieces."""
    url = urlsplit(server.base_url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    payload = (body[i:i + 4096] for i in range(0, len(body), 4096)) if chunked and body else body
    conn.request(method, path, body=payload, headers={"Content-Type": "application/json",
                                                      **(headers or {})},
                 encode_chunked=chunked)
    response = conn.getresponse()
    result = response.status, dict(response.getheaders()), response.read()
    conn.close()
    return result


@pytest.fixture
def live(serve):
    return serve("--workers", "1")


def test_chunked_body_over_64_kib_is_413_and_stores_nothing(live):
    body = json.dumps({"email": "big@example.com", "password": PASSWORD}).encode()
    status, headers, raw = _raw(live, "POST", "/auth/register", body + b" " * 100_000, True)
    assert (status, headers["Content-Type"]) == (413, PROBLEM)
    assert json.loads(raw)["code"] == "payload_too_large"
    login = {"email": "big@example.com", "password": PASSWORD}
    assert live.request("POST", "/auth/login", login)[0] == 401


def test_chunked_body_within_the_limit_is_read_whole(live):
    body = json.dumps({"email": "small@example.com", "password": PASSWORD}).encode()
    status, _, _ = _raw(live, "POST", "/auth/register", body + b" " * 60_000, True)
    assert status == 201


@pytest.mark.parametrize(("path", "headers", "status", "code"), [
    ("/healthz", {"X-Big": "a" * 9000}, 431, "headers_too_large"),
    ("/healthz", {f"X-H{i}": "v" for i in range(120)}, 431, "headers_too_large"),
    ("/healthz?" + "a" * 5000, {}, 414, "uri_too_long"),
])
def test_what_gunicorn_refuses_is_still_problem_json(live, path, headers, status, code):
    got, response_headers, raw = _raw(live, "GET", path, headers=headers)
    assert (got, response_headers["Content-Type"]) == (status, PROBLEM)
    assert json.loads(raw)["code"] == code
    assert response_headers["X-Content-Type-Options"] == "nosniff"
    assert not VERSION.search(response_headers.get("Server", ""))


def test_the_live_server_names_no_version(live):
    _, headers, _ = _raw(live, "GET", "/healthz")
    assert headers["Server"] and not VERSION.search(headers["Server"])  # "gunicorn", no version
    assert headers["Referrer-Policy"] == "no-referrer"


# What gunicorn's own Worker.handle_error answers, against authapi's worker, error by error.
GUNICORN_ERRORS = [
    refused.InvalidRequestLine("GARBAGE"), refused.InvalidRequestMethod("G E T"),
    refused.InvalidHTTPVersion("HTTP/9"), refused.InvalidHeader("X"),
    refused.InvalidHeaderName("Bad Header"), refused.ObsoleteFolding("X"),
    refused.LimitRequestLine(5000, 4094),
    refused.LimitRequestHeaders("limit request headers fields"),
    refused.InvalidProxyLine("PROXY ?"), refused.InvalidProxyHeader("proxy"),
    refused.ForbiddenProxyRequest("10.0.0.1"), refused.InvalidSchemeHeaders(),
    refused.UnsupportedTransferCoding("gzip"), refused.ConfigurationProblem("x"),
    refused.ExpectationFailed("100-foo"), refused.InvalidH2CPreface(b"PRI"),
    refused.InvalidChunkSize(b"zz"), refused.ChunkMissingTerminator(b"x"),
    refused.InvalidChunkExtension("x"), refused.InvalidResponseHeader("X"),
    refused.InvalidResponseHeaderName("X"), SSLError("handshake"), ValueError("a bug"),
]


def _answer(handle_error, exc: BaseException) -> bytes:
    """What a worker's handle_error writes to the client for `exc` (no request read)."""
    worker = SimpleNamespace(log=logging.getLogger("test.gunicorn"), cfg=None)
    ours, theirs = socket.socketpair()
    with ours, theirs:
        handle_error(worker, None, ours, ("127.0.0.1", 1), exc)
        ours.shutdown(socket.SHUT_WR)
        return b"".join(iter(lambda: theirs.recv(65536), b""))


def test_every_gunicorn_error_class_is_covered():
    classes = {c for c in vars(refused).values()
               if isinstance(c, type) and issubclass(c, refused.ParseException)}
    assert classes - {refused.ParseException} <= {type(e) for e in GUNICORN_ERRORS}


@pytest.mark.parametrize("exc", GUNICORN_ERRORS, ids=lambda e: type(e).__name__)
def test_the_worker_answers_gunicorns_status_as_a_problem(exc):
    theirs = _answer(Worker.handle_error, exc)
    ours = _answer(ProblemWorker.handle_error, exc)
    head, _, body = ours.partition(b"\r\n\r\n")
    assert head.split()[1] == theirs.split()[1]  # the same status as gunicorn's
    assert b"Content-Type: application/problem+json" in head
    assert b"X-Content-Type-Options: nosniff" in head
    problem = json.loads(body)
    assert problem["status"] == int(head.split()[1])
    assert str(exc) not in body.decode()  # never the request's text


def _gunicorn_attribute_writes(source: str) -> list[str]:
    """Assignments (or setattr/delattr) to an attribute of anything imported from gunicorn."""
    tree = ast.parse(source)
    names = {(alias.asname or alias.name).split(".")[0]
             for node in ast.walk(tree) if isinstance(node, ast.Import | ast.ImportFrom)
             for alias in node.names
             if (node.module if isinstance(node, ast.ImportFrom) else alias.name) and
             ((node.module or "") if isinstance(node, ast.ImportFrom) else alias.name
              ).split(".")[0] == "gunicorn"}

    def root(node: ast.AST) -> str | None:
        while isinstance(node, ast.Attribute | ast.Subscript):
            node = node.value
        return node.id if isinstance(node, ast.Name) else None

    hits = []
    for node in ast.walk(tree):
        targets: list[ast.AST] = []
        if isinstance(node, ast.Assign | ast.Delete):
            targets = list(node.targets)
        elif isinstance(node, ast.AugAssign | ast.AnnAssign):
            targets = [node.target]
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
              and node.func.id in {"setattr", "delattr"} and node.args):
            targets = [ast.Attribute(value=node.args[0], attr="?")]
        hits += [ast.unparse(t) for t in targets
                 if isinstance(t, ast.Attribute | ast.Subscript) and root(t) in names]
    return hits


def test_no_module_of_authapi_patches_gunicorn():
    package = Path(authapi.__file__).parent
    hits = {str(path.relative_to(package)): found for path in package.rglob("*.py")
            if (found := _gunicorn_attribute_writes(path.read_text()))}
    assert hits == {}


@pytest.mark.parametrize("patch", [
    "import gunicorn.http.wsgi\ngunicorn.http.wsgi.SERVER = 'x'",
    "from gunicorn import util\nutil.write_error = print",
    "from gunicorn.http import wsgi as w\nsetattr(w, 'SERVER', 'x')",
])
def test_the_patch_finder_finds_a_patch(patch):
    assert _gunicorn_attribute_writes(patch)


def test_a_worker_freezes_what_it_loaded_out_of_the_garbage_collectors_walks():
    """gunicorn calls post_worker_init once the worker has imported the app: from then on
    the app's long-lived objects are not walked by every full collection."""
    import gc

    from authapi import gunicorn_conf

    assert gc.get_freeze_count() == 0
    try:
        gunicorn_conf.post_worker_init(SimpleNamespace())
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


def test_the_apps_ensure_sync_returns_plain_functions_and_leaves_the_rest_to_flask(app):
    """authapi's App answers `ensure_sync` from the code flags; whatever it does not
    decide (an `async def`, a partial, a callable object) gets Flask's own answer."""
    import functools

    from flask import Flask

    def plain() -> None:
        return None

    async def coroutine() -> None:
        return None

    class Callable:
        def __call__(self) -> None:
            return None

        def method(self) -> None:
            return None

    obj = Callable()
    for func in (plain, obj.method, functools.partial(plain), obj):
        assert app.ensure_sync(func) is func
    try:
        expected: object = Flask.ensure_sync(app, coroutine)
    except RuntimeError as flask_refused:  # Flask without its async extra
        with pytest.raises(RuntimeError, match=str(flask_refused)[:30]):
            app.ensure_sync(coroutine)
    else:
        assert app.ensure_sync(coroutine) is not coroutine
        assert type(app.ensure_sync(coroutine)) is type(expected)
