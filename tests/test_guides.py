"""The guides' code runs as written (docs/guides/): each fenced Python block is the
program a reader would copy, run here against a live `authapi serve`."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from conftest import PASSWORD

GUIDES = Path(__file__).resolve().parents[1] / "docs" / "guides"
BLOCK = re.compile(r"```python( title=\"[^\"]+\")?\n(.*?)```", re.DOTALL)
EMAIL = "cli-user@example.com"


def python_block(guide: str, title: str | None = None) -> str:
    """The guide's one Python block, or the one titled `title` (MkDocs Material's
    ```python title="server.py")."""
    found = [code for named, code in BLOCK.findall((GUIDES / guide).read_text())
             if title is None or named == f' title="{title}"']
    assert len(found) == 1, f"{guide} has {len(found)} Python blocks named {title}"
    return str(found[0])


def test_sign_in_from_a_cli(serve, cli, tmp_path):
    server = serve("--workers", "1", public_host="127.0.0.1")
    assert cli("users", "create", "--email", EMAIL, "--password-stdin",
               stdin=PASSWORD + "\n").returncode == 0
    created = cli("clients", "create", "--name", "My CLI", "--public", "--grant",
                  "urn:ietf:params:oauth:grant-type:device_code", "--grant", "refresh_token")
    assert created.returncode == 0, created.stderr
    client_id = json.loads(created.stdout)["client_id"]
    script = tmp_path / "tool.py"
    script.write_text(python_block("cli-sign-in.md"))
    tool = subprocess.Popen([sys.executable, str(script), server.base_url, client_id],  # noqa: S603
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert tool.stdout is not None
        shown = tool.stdout.readline()
        user_code = re.search(r"enter ([A-Z]{4}-[A-Z]{4})", shown).group(1)  # type: ignore[union-attr]
        token = server.request("POST", "/auth/login", {"email": EMAIL,
                                                       "password": PASSWORD})[1]["access_token"]
        status, _, _ = server.exchange("POST", "/oauth/device/approve", token=token,
                                       body={"user_code": user_code, "approve": True})
        assert status == 204
        out, err = tool.communicate(timeout=30)
        assert tool.returncode == 0, err
        assert "signed in; access token expires in 900 s" in out
    finally:
        if tool.poll() is None:
            tool.kill()
            tool.wait()
