"""deploy/ on loopback: nginx (Debian's) with auth_request in front of two `authapi serve`
replicas on one PostgreSQL database and Redis, guarding a sample upstream.

The same deploy/nginx.conf as compose.yaml mounts, with only its host:port names
rewritten to loopback ports.
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

import pytest
import redis
import requests

from conftest import PASSWORD
from fixtures.cli import AUTHAPI, _cli_env
from fixtures.databases import PG_URL, scratch_pg_database

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
REDIS_URL = "redis://127.0.0.1:6379/14"
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
    pytest.mark.skipif(not PG_URL, reason="needs PostgreSQL: set AUTHAPI_TEST_DATABASE_URL"),
    pytest.mark.skipif(not redis_up(), reason="no Redis on 127.0.0.1:6379"),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    """Until `url` answers at all (bounded), or fail with the process's log."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            requests.get(url, timeout=5)
            return
        except requests.RequestException:
            time.sleep(0.1)
    pytest.fail(f"{url} never answered:\n{log.read_text()}")


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
        self.ports = {name: free_port() for name in ("a", "b", "upstream", "nginx")}
        self.upstream = ThreadingHTTPServer(("127.0.0.1", self.ports["upstream"]), Upstream)
        threading.Thread(target=self.upstream.serve_forever, daemon=True).start()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def env(self, name: str) -> dict[str, str]:
        return _cli_env(self.tmp, {
            "AUTHAPI_DATABASE_URL": self.database_url, "AUTHAPI_REDIS_URL": REDIS_URL,
            "AUTHAPI_INSTANCE_PATH": str(self.tmp / f"instance-{name}"),
            "AUTHAPI_PROXY_COUNT": "1"})

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
        conf = (DEPLOY / "nginx.conf").read_text()
        for old, new in (("authapi-1:8000", self.ports["a"]), ("authapi-2:8000", self.ports["b"]),
                         ("upstream:9000", self.ports["upstream"]),
                         ("listen 8080;", f"listen 127.0.0.1:{self.ports['nginx']};")):
            assert old in conf
            conf = conf.replace(old, new if isinstance(new, str) else f"127.0.0.1:{new}")
        (self.tmp / "default.conf").write_text(conf)
        user = "user root;\n" if os.geteuid() == 0 else ""
        (self.tmp / "nginx.conf").write_text(MAIN_CONF.format(tmp=self.tmp, user=user))
        log = self.tmp / "nginx.out"
        proc = self.spawn([str(NGINX), "-p", str(self.tmp), "-e", str(self.tmp / "error.log"),
                           "-c", str(self.tmp / "nginx.conf")], log)
        wait_for(self.url("nginx") + "/", proc, log)
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
        response = requests.post(self.url("nginx") + "/auth/login", timeout=10,
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
    response = requests.get(topology.url("nginx") + "/app/report", timeout=10)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert len(Upstream.seen) == before


def test_an_authorised_request_reaches_the_upstream_with_its_identity(topology):
    token = topology.login("reader@example.com")["access_token"]
    me = requests.get(topology.url("nginx") + "/auth/me", headers=bearer(token), timeout=10)
    response = requests.get(topology.url("nginx") + "/app/report", timeout=10,
                            headers=bearer(token, **{"X-Auth-Subject": "forged-admin"}))
    assert response.status_code == 200
    # nginx sends no header whose value is empty: a user with no permissions has no scope.
    assert response.json() == {"x-auth-subject": me.json()["id"], "x-auth-roles": "user"}


@pytest.mark.parametrize(("roles", "status"), [(("user",), 403), (("admin",), 200)])
def test_the_admin_location_needs_the_admin_role(topology, roles, status):
    token = topology.login(f"{roles[0]}-{status}@example.com", roles)["access_token"]
    response = requests.get(topology.url("nginx") + "/admin-app/", headers=bearer(token),
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
    through_nginx = {requests.get(topology.url("nginx") + "/app/", headers=bearer(token),
                                  timeout=10).status_code for _ in range(6)}
    assert through_nginx == {401}


def test_the_replicas_logs_are_json_and_hold_no_password_or_token(topology):
    tokens = topology.login("logged@example.com")
    requests.get(topology.url("nginx") + "/app/", headers=bearer(tokens["access_token"]),
                 timeout=10)
    for name in ("a", "b"):
        text = (topology.tmp / f"serve-{name}.log").read_text()
        assert PASSWORD not in text
        assert tokens["access_token"] not in text and tokens["refresh_token"] not in text
    audit = [json.loads(line) for name in ("a", "b")
             for line in (topology.tmp / f"serve-{name}.log").read_text().splitlines()
             if line.startswith("{")]
    assert any(entry.get("event") == "login" and entry.get("request_id") for entry in audit)

