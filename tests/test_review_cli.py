"""The command line refuses what the API refuses, with a one-line `Error: ...` and nothing
stored: a client name the API would refuse, both `--jwks-file` and `--jwks-url`; and
`authapi serve` refuses a port that cannot exist, no workers, and in production an API
port that is the metrics listener's, before gunicorn starts.

The cases came from the review of 2026-12-05 (second session).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from fixtures.cli import AUTHAPI
from fixtures.databases import query

REAL_SECRET = "a-real-production-secret-of-more-than-32-bytes"
SERVE_TIMEOUT = 30  # refusing takes a second or two; a started gunicorn would never return


def serve(tmp_path: Path, *args: str, **variables: str) -> subprocess.CompletedProcess[str]:
    """`authapi serve` with a clean environment plus `variables`; a server that starts
    instead of refusing is a failure (stopped after SERVE_TIMEOUT seconds)."""
    env = {name: value for name, value in os.environ.items()
           if not name.startswith("AUTHAPI_")}
    env.update(AUTHAPI_BCRYPT_ROUNDS="4", AUTHAPI_INSTANCE_PATH=str(tmp_path / "cli-instance"),
               **variables)
    try:
        return subprocess.run(  # noqa: S603
            [AUTHAPI, "serve", *args], env=env, cwd=tmp_path, capture_output=True, text=True,
            timeout=SERVE_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        pytest.fail(f"`authapi serve {' '.join(args)}` started a server instead of refusing")


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("Error:")]


# --- clients create -----------------------------------------------------------------------

@pytest.mark.parametrize("name", ["", "x" * 150], ids=["empty", "150-chars"])
def test_clients_create_refuses_a_name_the_api_refuses(cli, upgraded, name):
    """API.md, Command line: `authapi clients create --name N --scope "a b"` makes what
    POST /admin/clients `{name, scope}` makes, and the API takes a name of 1 to 100
    characters (the column is VARCHAR(100)). The command skipped that check: on SQLite it
    stored an empty or 150-character name, on PostgreSQL it died with a DataError
    traceback. A mistake is a one-line error, and nothing is stored."""
    result = cli("clients", "create", "--name", name, "--scope", "users:read",
                 env={"AUTHAPI_DATABASE_URL": upgraded})
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr, result.stderr[-400:]
    assert result.stderr.startswith("Error:") and len(result.stderr.splitlines()) == 1, (
        result.stderr)
    assert "name" in result.stderr
    assert query(upgraded, "SELECT COUNT(*) FROM clients") == [(0,)]


def test_clients_create_refuses_both_a_key_file_and_a_key_url(cli, upgraded, keypair,
                                                             tmp_path):
    """API.md, Command line: `[--jwks-file F | --jwks-url U]`, one or the other. Both were
    accepted and stored, and which key set authenticated the client was left to chance."""
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(keypair.jwks))
    result = cli("clients", "create", "--name", "svc", "--scope", "users:read",
                 "--jwks-file", str(path), "--jwks-url", "https://keys.example.com/jwks",
                 env={"AUTHAPI_DATABASE_URL": upgraded})
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr, result.stderr[-400:]
    assert result.stderr.startswith("Error:") and len(result.stderr.splitlines()) == 1, (
        result.stderr)
    assert "jwks" in result.stderr.lower()
    assert query(upgraded, "SELECT COUNT(*) FROM clients") == [(0,)]


# --- serve --------------------------------------------------------------------------------

@pytest.mark.parametrize(("args", "option"), [
    (("--port", "99999"), "--port"),
    (("--port", "-1"), "--port"),
    (("--workers", "0", "--port", "0"), "--workers"),
], ids=["port-99999", "port-negative", "workers-0"])
def test_serve_with_an_option_that_cannot_work_is_a_one_line_error(tmp_path, upgraded, args,
                                                                   option):
    """API.md, Command line: `authapi serve [--host 127.0.0.1] [--port 8000] [--workers
    N]`. A port that cannot exist died in gunicorn with `OverflowError: bind(): port must
    be 0-65535` and a traceback; `--workers 0` started a gunicorn master with no worker,
    which answers nothing, forever. Both are usage errors: one `Error:` line naming the
    option (after click's usage lines), exit status 2, no traceback."""
    result = serve(tmp_path, *args, AUTHAPI_DATABASE_URL=upgraded)
    assert result.returncode == 2, (result.returncode, result.stderr[-400:])
    assert "Traceback" not in result.stderr, result.stderr[-400:]
    errors = error_lines(result.stderr)
    assert len(errors) == 1 and option in errors[0], result.stderr


def test_serve_in_production_on_the_metrics_port_exits_naming_it(tmp_path):
    """API.md, Operations: in production /metrics "is served only on
    `AUTHAPI_METRICS_PORT` (a second listener, default 9464), never on the API port (404
    there)". `authapi serve --port 9464` in production bound one listener for both, so
    /metrics was served on the API port; it must exit non-zero with a one-line error
    naming AUTHAPI_METRICS_PORT, before anything listens."""
    result = serve(tmp_path, "--port", "9464", AUTHAPI_ENV="production",
                   AUTHAPI_SECRET_KEY=REAL_SECRET, AUTHAPI_MAIL_URL="smtp://127.0.0.1:1")
    assert result.returncode != 0
    assert "Traceback" not in result.stderr, result.stderr[-400:]
    assert result.stderr.startswith("Error:") and len(result.stderr.splitlines()) == 1, (
        result.stderr)
    assert "AUTHAPI_METRICS_PORT" in result.stderr
