"""The processes of one soak run, all private: PostgreSQL, Redis, two `authapi serve`, nginx.

Never the shared servers on 5432 and 6379: the soak stops its own database and Redis on
purpose, so it makes them on free loopback ports and deletes them at the end.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
DEPLOY_NGINX = ROOT / "deploy" / "nginx.conf"
AUTHAPI = str(Path(sys.executable).parent / "authapi")
PG_BINS = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
REDIS_SERVER = shutil.which("redis-server")
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def missing_tools() -> str | None:
    """Why this machine cannot run the soak, or None."""
    if not PG_BINS:
        return "no PostgreSQL server binaries (/usr/lib/postgresql/*/bin)"
    if REDIS_SERVER is None:
        return "no redis-server"
    if NGINX is None:
        return "no nginx (apt-get install nginx-light)"
    if not Path(AUTHAPI).exists():
        return f"no authapi console script at {AUTHAPI}"
    return None


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def answers(url: str, timeout: float = 2.0) -> int:
    """The status of GET url, 0 when nothing answers."""
    try:
        with NO_PROXY.open(url, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        exc.close()
        return exc.code
    except OSError:
        return 0


def wait_until(check: object, limit: float, what: str) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if callable(check) and check():
            return
        time.sleep(0.1)
    raise RuntimeError(f"{what} not ready within {limit:.0f} s")


class Postgres:
    """A throwaway cluster in a temp folder owned by `postgres` (initdb refuses root)."""

    def __init__(self) -> None:
        # Not under the run's 0700 work folder: the `postgres` user must reach it.
        self.folder = Path(tempfile.mkdtemp(prefix="authapi-soak-pg-"))
        shutil.chown(self.folder, "postgres")
        self.port = free_port()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"
        self.running = False
        self.options = (f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 "
                        "-c max_connections=100 -c shared_buffers=32MB")

    def create(self) -> None:
        self._run("initdb", "-D", f"{self.folder}/data", "-A", "trust", "-U", "postgres")

    def _run(self, tool: str, *args: str) -> None:
        user = [] if os.geteuid() else ["runuser", "-u", "postgres", "--"]
        subprocess.run([*user, f"{PG_BINS[-1]}/{tool}", *args], check=True,
                       capture_output=True, timeout=120)

    def start(self) -> None:
        self.running = True
        self._run("pg_ctl", "-D", f"{self.folder}/data", "-o", self.options, "-w",
                  "-l", f"{self.folder}/log", "start")

    def stop(self) -> None:
        self.running = False
        self._run("pg_ctl", "-D", f"{self.folder}/data", "-m", "fast", "-w", "stop")

    def psql(self, sql: str) -> str:
        done = subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                               "-d", "postgres", "-AtX", "-v", "ON_ERROR_STOP=1", "-c", sql],
                              check=True, capture_output=True, text=True, timeout=120)
        return done.stdout

    def remove(self) -> None:
        if self.running:
            try:
                self.stop()
            except (subprocess.SubprocessError, OSError):
                self._run("pg_ctl", "-D", f"{self.folder}/data", "-m", "immediate", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)


class Redis:
    """A redis-server child process on a free port, no persistence."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [str(REDIS_SERVER), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no"], stdout=subprocess.DEVNULL, start_new_session=True)
        wait_until(self._up, 10, "redis-server")

    def _up(self) -> bool:
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
            return True
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


class Instance:
    """One `authapi serve --workers 2` in its own process group (the master execs gunicorn)."""

    def __init__(self, name: str, env: dict[str, str], workdir: Path, workers: int = 2) -> None:
        self.name, self.env, self.workers = name, env, workers
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = workdir / f"serve-{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [AUTHAPI, "serve", "--port", str(self.port), "--workers", str(self.workers),
                 "--no-migrate"], env=self.env, stdout=out, stderr=subprocess.STDOUT,
                cwd=self.log.parent, start_new_session=True)
        wait_until(lambda: (self.proc is not None and self.proc.poll() is None
                            and answers(self.base + "/healthz") == 200
                            and len(self.worker_pids()) >= self.workers),
                   60, f"instance {self.name}")

    def worker_pids(self) -> list[int]:
        if self.proc is None or self.proc.poll() is not None:
            return []
        pid = self.proc.pid
        try:
            return sorted(int(c) for c in
                          Path(f"/proc/{pid}/task/{pid}/children").read_text().split())
        except OSError:
            return []

    def kill_worker(self) -> int:
        """SIGKILL the newest worker (so the oldest one lives through the run: RSS)."""
        pid = self.worker_pids()[-1]
        os.kill(pid, signal.SIGKILL)
        return pid

    def kill(self) -> None:
        """SIGKILL the master and its workers at once."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        """A graceful stop (SIGTERM: gunicorn finishes the requests in flight)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        os.kill(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill()
        # Workers that outlived their master (none should) go with the group.
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


MAIN_CONF = """daemon off;
{user}worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 512; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    include {tmp}/default.conf;
}}
"""


class Nginx:
    """Debian's nginx with deploy/nginx.conf, only its host:port names, `listen` lines and
    certificate folder rewritten (TLS with deploy/make-certs.sh when the file listens on
    443, as the deployment does; plain HTTP when it listens on 8080, as it used to)."""

    def __init__(self, workdir: Path, a: Instance, b: Instance, port: int) -> None:
        self.tmp = workdir / "nginx"
        self.tmp.mkdir()
        self.port = port
        conf = DEPLOY_NGINX.read_text()
        self.tls = "listen 443 ssl;" in conf
        self.base = f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"
        self.ca: str | bool = True
        rewrites = [("authapi-1:8000", f"127.0.0.1:{a.port}"),
                    ("authapi-2:8000", f"127.0.0.1:{b.port}"),
                    ("upstream:9000", f"127.0.0.1:{free_port()}")]
        if self.tls:
            certs = self.tmp / "certs"
            subprocess.run([str(DEPLOY_NGINX.parent / "make-certs.sh"), str(certs), "127.0.0.1"],
                           check=True, capture_output=True, timeout=60)
            self.ca = str(certs / "ca.pem")
            rewrites += [("listen 443 ssl;", f"listen 127.0.0.1:{self.port} ssl;"),
                         ("listen 80;", f"listen 127.0.0.1:{free_port()};"),
                         ("/etc/nginx/certs/", f"{certs}/")]
        else:
            rewrites.append(("listen 8080;", f"listen 127.0.0.1:{self.port};"))
        for old, new in rewrites:
            if old not in conf:
                raise RuntimeError(f"deploy/nginx.conf no longer has {old!r}")
            conf = conf.replace(old, new)
        conf = conf.replace("access_log /dev/stdout", f"access_log {self.tmp}/access.log")
        (self.tmp / "default.conf").write_text(conf)
        user = "user root;\n" if os.geteuid() == 0 else ""
        (self.tmp / "nginx.conf").write_text(MAIN_CONF.format(tmp=self.tmp, user=user))
        self.proc: subprocess.Popen[bytes] | None = None

    def _up(self) -> bool:
        try:
            return requests.get(self.base + "/", timeout=2, verify=self.ca).status_code == 404
        except requests.RequestException:
            return False

    def start(self) -> None:
        with (self.tmp / "nginx.out").open("wb") as out:
            self.proc = subprocess.Popen(
                [str(NGINX), "-p", str(self.tmp), "-e", str(self.tmp / "error.log"),
                 "-c", str(self.tmp / "nginx.conf")], stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True)
        wait_until(self._up, 20, "nginx")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)


def rss_kb(pid: int) -> int | None:
    """VmRSS of a process in KiB, None when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None
