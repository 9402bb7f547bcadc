"""deploy/ on loopback: nginx (Debian's) with TLS and auth_request in front of two
`authapi serve` replicas on one PostgreSQL database and Redis, guarding a sample upstream.

The same deploy/nginx.conf as compose.yaml mounts, with only its host:port names, its two
`listen` lines and its certificate folder rewritten; the certificate is made by
deploy/make-certs.sh, and the client trusts only that script's CA. The first admin is
made as compose's migration service makes it (AUTHAPI_BOOTSTRAP_ADMIN_*).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import certifi
import pytest
import redis
import requests

from conftest import PASSWORD
from fixtures.cli import AUTHAPI, _cli_env
from fixtures.databases import PG_URL, scratch_pg_database

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
REDIS_URL = "redis://127.0.0.1:6379/14"
OPENSSL = shutil.which("openssl")
ADMIN_EMAIL = "root@example.com"
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
MAIN_CONF = """daemon off;
{user}worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 128; }}
http {{
    access_log {tmp}/access.log;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    include {tmp}/default.conf;
}}
"""


def redis_up() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


pytestmark = [
    pytest.mark.skipif(NGINX is None, reason="nginx is not installed (apt-get install nginx)"),
    pytest.mark.skipif(OPENSSL is None, reason="deploy/make-certs.sh needs openssl"),
    pytest.mark.skipif(not PG_URL, reason="needs PostgreSQL: set AUTHAPI_TEST_DATABASE_URL"),
    pytest.mark.skipif(not redis_up(), reason="no Redis on 127.0.0.1:6379"),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(url: str, proc: subprocess.Popen[bytes], log: Path,
             http: requests.Session | None = None) -> None:
    """Until `url` answers at all (bounded), or fail with the process's log."""
    deadline, error = time.monotonic() + 30, None
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            (http or requests).get(url, timeout=5)
            return
        except requests.RequestException as exc:
            error = exc
            time.sleep(0.1)
    pytest.fail(f"{url} never answered (exit {proc.poll()}, {error!r}):\n{log.read_text()}")


class Upstream(BaseHTTPRequestHandler):
    """The sample app: records each request's headers and echoes its X-Auth-* ones."""

    seen: list[dict[str, str]] = []

    def do_GET(self) -> None:  # noqa: N802  (http.server's naming)
        headers = {k.lower(): v for k, v in self.headers.items()}
        Upstream.seen.append(headers)
        body = json.dumps({k: v for k, v in headers.items() if k.startswith("x-auth-")}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: Any) -> None:
        pass


class Topology:
    """Processes on loopback: nginx, replicas a and b, the upstream; and their logs."""

    def __init__(self, tmp: Path, database_url: str) -> None:
        self.tmp, self.database_url = tmp, database_url
        self.procs: list[subprocess.Popen[bytes]] = []
        self.ports = {name: free_port() for name in ("a", "b", "upstream", "nginx", "http")}
        self.http = requests.Session()  # trusts make-certs.sh's CA, and nothing else
        self.http.verify = str(tmp / "certs" / "ca.pem")
        self.http.trust_env = False  # else REQUESTS_CA_BUNDLE would replace `verify`
        self.upstream = ThreadingHTTPServer(("127.0.0.1", self.ports["upstream"]), Upstream)
        threading.Thread(target=self.upstream.serve_forever, daemon=True).start()

    def url(self, name: str) -> str:
        scheme = "https" if name == "nginx" else "http"
        return f"{scheme}://127.0.0.1:{self.ports[name]}"

    def env(self, name: str) -> dict[str, str]:
        (self.tmp / "admin_password").write_text(f"{PASSWORD}\n")
        return _cli_env(self.tmp, {
            "AUTHAPI_DATABASE_URL": self.database_url, "AUTHAPI_REDIS_URL": REDIS_URL,
            "AUTHAPI_INSTANCE_PATH": str(self.tmp / f"instance-{name}"),
            "AUTHAPI_PROXY_COUNT": "1", "AUTHAPI_BOOTSTRAP_ADMIN_EMAIL": ADMIN_EMAIL,
            "AUTHAPI_BOOTSTRAP_ADMIN_PASSWORD_FILE": str(self.tmp / "admin_password")})

    def spawn(self, argv: list[str], log: Path, env: dict[str, str] | None = None
              ) -> subprocess.Popen[bytes]:
        with log.open("wb") as out:
            proc = subprocess.Popen(argv, env=env, cwd=self.tmp, stdout=out,  # noqa: S603
                                    stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append(proc)
        return proc

    def start(self) -> Topology:
        for name, migrate in (("a", "--migrate"), ("b", "--no-migrate")):
            log = self.tmp / f"serve-{name}.log"
            proc = self.spawn([AUTHAPI, "serve", "--port", str(self.ports[name]), "--workers",
                               "2", migrate], log, self.env(name))
            wait_for(self.url(name) + "/healthz", proc, log)
        subprocess.run([str(DEPLOY / "make-certs.sh"), str(self.tmp / "certs"),  # noqa: S603
                        "localhost", "127.0.0.1"], check=True, capture_output=True, timeout=60)
        conf = (DEPLOY / "nginx.conf").read_text()
        for old, new in (("authapi-1:8000", self.ports["a"]), ("authapi-2:8000", self.ports["b"]),
                         ("upstream:9000", self.ports["upstream"]),
                         ("listen 443 ssl;", f"listen 127.0.0.1:{self.ports['nginx']} ssl;"),
                         ("listen 80;", f"listen 127.0.0.1:{self.ports['http']};"),
                         ("/etc/nginx/certs/", f"{self.tmp}/certs/")):
            assert old in conf
            conf = conf.replace(old, new if isinstance(new, str) else f"127.0.0.1:{new}")
        (self.tmp / "default.conf").write_text(conf)
        user = "user root;\n" if os.geteuid() == 0 else ""
        (self.tmp / "nginx.conf").write_text(MAIN_CONF.format(tmp=self.tmp, user=user))
        log = self.tmp / "nginx.out"
        proc = self.spawn([str(NGINX), "-p", str(self.tmp), "-e", str(self.tmp / "error.log"),
                           "-c", str(self.tmp / "nginx.conf")], log)
        wait_for(self.url("nginx") + "/", proc, log, self.http)
        return self

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)  # the process groups started above
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=5)
        self.upstream.shutdown()
        self.upstream.server_close()

    def login(self, email: str, roles: tuple[str, ...] = ("user",)) -> dict[str, Any]:
        """Create the user with the CLI, then log in through nginx: the token body."""
        subprocess.run([AUTHAPI, "users", "create", "--email", email,  # noqa: S603
                        *[arg for role in roles for arg in ("--role", role)], "--password-stdin"],
                       input=PASSWORD, text=True, env=self.env("a"), cwd=self.tmp, check=True,
                       capture_output=True, timeout=60)
        return self.sign_in(email)

    def sign_in(self, email: str) -> dict[str, Any]:
        """Log in through nginx over TLS: the token body."""
        response = self.http.post(self.url("nginx") + "/auth/login", timeout=10,
                                  json={"email": email, "password": PASSWORD})
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def topology(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Topology]:
    with scratch_pg_database("authapi_topology") as url:
        running = Topology(tmp_path_factory.mktemp("topology"), url)
        try:
            yield running.start()
        finally:
            running.stop()


def bearer(token: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **extra}


def test_nginx_refuses_a_request_without_a_token_before_the_upstream(topology):
    before = len(Upstream.seen)
    response = topology.http.get(topology.url("nginx") + "/app/report", timeout=10)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert len(Upstream.seen) == before


def test_an_authorised_request_reaches_the_upstream_with_its_identity(topology):
    token = topology.login("reader@example.com")["access_token"]
    me = topology.http.get(topology.url("nginx") + "/auth/me", headers=bearer(token), timeout=10)
    response = topology.http.get(topology.url("nginx") + "/app/report", timeout=10,
                            headers=bearer(token, **{"X-Auth-Subject": "forged-admin"}))
    assert response.status_code == 200
    # nginx sends no header whose value is empty: a user with no permissions has no scope.
    assert response.json() == {"x-auth-subject": me.json()["id"], "x-auth-roles": "user"}


@pytest.mark.parametrize(("roles", "status"), [(("user",), 403), (("admin",), 200)])
def test_the_admin_location_needs_the_admin_role(topology, roles, status):
    token = topology.login(f"{roles[0]}-{status}@example.com", roles)["access_token"]
    response = topology.http.get(topology.url("nginx") + "/admin-app/", headers=bearer(token),
                            timeout=10)
    assert response.status_code == status


def test_a_logout_through_one_replica_is_honoured_by_the_other_at_once(topology):
    token = topology.login("leaver@example.com")["access_token"]
    check_b = topology.url("b") + "/auth/check"
    assert requests.get(check_b, headers=bearer(token), timeout=10).status_code == 200
    logout = requests.post(topology.url("a") + "/auth/logout", headers=bearer(token), timeout=10)
    assert logout.status_code == 204
    started, status = time.monotonic(), 200
    while status == 200 and time.monotonic() - started < 1.0:  # the contract's bound
        status = requests.get(check_b, headers=bearer(token), timeout=10).status_code
    assert status == 401
    through_nginx = {topology.http.get(topology.url("nginx") + "/app/", headers=bearer(token),
                                  timeout=10).status_code for _ in range(6)}
    assert through_nginx == {401}


def test_the_replicas_logs_are_json_and_hold_no_password_or_token(topology):
    tokens = topology.login("logged@example.com")
    topology.http.get(topology.url("nginx") + "/app/", headers=bearer(tokens["access_token"]),
                 timeout=10)
    for name in ("a", "b"):
        text = (topology.tmp / f"serve-{name}.log").read_text()
        assert PASSWORD not in text
        assert tokens["access_token"] not in text and tokens["refresh_token"] not in text
    audit = [json.loads(line) for name in ("a", "b")  # every line is JSON
             for line in (topology.tmp / f"serve-{name}.log").read_text().splitlines()]
    assert any(entry.get("event") == "login" and entry.get("request_id") for entry in audit)
    assert {"gunicorn.error", "authapi.bootstrap"} <= {entry["logger"] for entry in audit}



def test_the_first_admin_reaches_the_admin_api_through_nginx_over_tls(topology):
    token = topology.sign_in(ADMIN_EMAIL)["access_token"]  # made by AUTHAPI_BOOTSTRAP_ADMIN_*
    response = topology.http.get(topology.url("nginx") + "/admin/users", headers=bearer(token),
                                 timeout=10)
    assert response.status_code == 200, response.text
    assert ADMIN_EMAIL in {user["email"] for user in response.json()["items"]}
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    assert response.headers["Cache-Control"] == "no-store"  # authapi's own headers pass


def test_the_api_reference_is_routed_and_metrics_are_not(topology):
    base = topology.url("nginx")
    document = topology.http.get(base + "/openapi.json", timeout=10)
    assert document.status_code == 200 and document.json()["openapi"].startswith("3.")
    page = topology.http.get(base + "/docs", timeout=10)
    assert page.status_code == 200 and "text/html" in page.headers["Content-Type"]
    assert topology.http.get(base + "/healthz", timeout=10).status_code == 200
    for path in ("/metrics", "/metrics/", "/auth/../metrics", "/readyz", "/elsewhere"):
        response = topology.http.get(base + path, timeout=10)
        assert response.status_code == 404, path
        assert "authapi_" not in response.text
    # The replicas, in development here, would answer /metrics: only nginx keeps it inside.
    assert requests.get(topology.url("a") + "/metrics", timeout=10).status_code == 200


def test_clear_text_is_redirected_to_https_and_answers_nothing_else(topology):
    response = requests.get(f"http://127.0.0.1:{topology.ports['http']}/auth/me?x=1",
                            allow_redirects=False, timeout=10)
    assert response.status_code == 301
    assert response.headers["Location"] == "https://127.0.0.1/auth/me?x=1"


def test_only_the_scripts_ca_is_trusted(topology):
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(topology.url("nginx") + "/healthz", timeout=10,
                     verify=certifi.where())  # the public CAs


def test_nginx_request_id_reaches_the_replica_and_its_logs(topology):
    topology.login("traced@example.com")
    response = topology.http.post(topology.url("nginx") + "/auth/login", timeout=10,
                                  json={"email": "traced@example.com", "password": PASSWORD},
                                  headers={"X-Request-ID": "forged-by-the-client"})
    rid = response.headers["X-Request-ID"]
    assert response.status_code == 200 and rid != "forged-by-the-client"
    deadline = time.monotonic() + 5  # nginx logs a request once it has answered it
    while rid not in (topology.tmp / "nginx.out").read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    access = [json.loads(line) for line in (topology.tmp / "nginx.out").read_text().splitlines()]
    assert any(line["request_id"] == rid and line["path"] == "/auth/login" for line in access)
    audit = [json.loads(line) for name in "ab"
             for line in (topology.tmp / f"serve-{name}.log").read_text().splitlines()]
    assert any(line.get("event") == "login" and line.get("request_id") == rid
               for line in audit)  # the same id in the replica's audit line
