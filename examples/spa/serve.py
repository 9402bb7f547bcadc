"""The demo page and, beside it, the API: `./dev demo` runs this.

    python examples/spa/serve.py [--demo-port 5173] [--port 8000] [authapi serve options]

The page is served on http://localhost:<demo-port>, the API (`authapi serve`) on
http://localhost:<port>: two ports of one host are one *site*, so the API's SameSite
cookie goes along, and `localhost` is a secure context with a host name, as WebCrypto
(DPoP) and WebAuthn (passkeys) want over plain HTTP.

In development, every setting that depends on where the two run follows the ports
given here unless the environment sets it: AUTHAPI_ISSUER and AUTHAPI_AUDIENCE (the
API's URL: DPoP proofs name it), AUTHAPI_FRONTEND_URL (the page: links in mails, and
the passkey relying party id and origin), AUTHAPI_CORS_ORIGINS (the page). A setting
given explicitly always wins, and with AUTHAPI_ENV=production nothing is filled in.

The page finds the API in /config.json (written here), or in `?api=` of its URL. Paths
the mails link to (/reset-password, /verify-email, /confirm-email) answer index.html,
which shows the matching step. `--no-api` serves only the page (for an API that runs
elsewhere: name it with --api).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PAGE_ROUTES = ("/reset-password", "/verify-email", "/confirm-email")  # links in mails
STATIC = {".html", ".js", ".css", ".png", ".svg", ".ico"}
LOOPBACK = {"127.0.0.1", "0.0.0.0", "::", "::1", "localhost", ""}  # noqa: S104


def public_host(bind: str) -> str:
    """The host name a browser on this machine uses for a server bound to `bind`."""
    return "localhost" if bind in LOOPBACK else bind


class DemoHandler(SimpleHTTPRequestHandler):
    """The demo's files, /config.json, and index.html for the pages mails link to."""

    def __init__(self, *args: Any, api: str = "", **kwargs: Any) -> None:
        self.api = api
        super().__init__(*args, directory=str(HERE), **kwargs)

    def do_GET(self) -> None:  # noqa: N802  (http.server's spelling)
        """Route, then serve the file."""
        if self.path.split("?", 1)[0] == "/config.json":
            self._json({"api": self.api})
        elif self._routed():
            super().do_GET()

    def do_HEAD(self) -> None:  # noqa: N802
        """Route, then the file's headers."""
        if self._routed():
            super().do_HEAD()

    def _routed(self) -> bool:
        """Point self.path at the file to serve; False (and a 404) for anything else."""
        path = self.path.split("?", 1)[0]
        if path in PAGE_ROUTES or path == "/":
            self.path = "/index.html"
        elif Path(path).suffix not in STATIC or "/." in path:
            self.send_error(404)
            return False
        return True

    def end_headers(self) -> None:
        """No caching: an edited file shows on the next reload."""
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def _json(self, body: dict[str, str]) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """Quiet: the API logs what matters."""


def dev_defaults(api: str, page: str, environ: dict[str, str]) -> dict[str, str]:
    """The environment for `authapi serve`: the settings that depend on the two ports,
    filled in only where not set, and only in development."""
    env = dict(environ)
    if env.get("AUTHAPI_ENV", "development") != "development":
        return env
    for name, value in (("AUTHAPI_ISSUER", api), ("AUTHAPI_AUDIENCE", api),
                        ("AUTHAPI_FRONTEND_URL", page), ("AUTHAPI_CORS_ORIGINS", page),
                        ("AUTHAPI_REFRESH_GRACE", "10")):  # tabs of the page may race
        env.setdefault(name, value)
    return env


def _stop_with(child: subprocess.Popen[bytes], server: ThreadingHTTPServer) -> None:
    """The page without its API is of no use: when the API stops, so does the page."""
    child.wait()
    server.shutdown()


def main(argv: list[str]) -> int:
    """Serve the page (and start the API unless --no-api) until interrupted."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--demo-port", type=int, default=5173)
    parser.add_argument("--port", type=int, default=8000, help="the API's port")
    parser.add_argument("--host", default="127.0.0.1", help="where both listen")
    parser.add_argument("--api", help="the API's URL (default: http://localhost:<port>)")
    parser.add_argument("--no-api", action="store_true", help="serve only the page")
    args, serve_args = parser.parse_known_args(argv)
    name = public_host(args.host)
    page = f"http://{name}:{args.demo_port}"
    api = (args.api or f"http://{name}:{args.port}").rstrip("/")
    server = ThreadingHTTPServer((args.host, args.demo_port), partial(DemoHandler, api=api))
    child = None
    if not args.no_api:
        authapi = Path(sys.executable).with_name("authapi")
        child = subprocess.Popen(  # noqa: S603  (our own console script)
            [str(authapi), "serve", "--host", args.host, "--port", str(args.port), *serve_args],
            env=dev_defaults(api, page, dict(os.environ)))
        threading.Thread(target=_stop_with, args=(child, server), daemon=True).start()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"demo: open {page}/  (API {api})", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        if child is not None and child.poll() is None:
            child.terminate()
            child.wait(timeout=15)
    return (child.returncode or 0) if child is not None else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
