"""panva's openid-client, in Node, signs a user in against a live `authapi serve`
(issue 21, item 5): discovery, PAR, code + PKCE, DPoP-bound tokens, the ID token checks
of an OpenID-certified relying party, userinfo and refresh (tests/interop/)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import PASSWORD

INTEROP = Path(__file__).parent / "interop"
EMAIL = "node@example.com"


def _ready() -> str | None:
    if shutil.which("node") is None:
        return "no node on this machine"
    if not (INTEROP / "node_modules" / "openid-client").is_dir():
        return "tests/interop has no node_modules: run `npm ci --prefix tests/interop`"
    return None


@pytest.mark.skipif(_ready() is not None, reason=str(_ready()))
def test_openid_client_signs_in_with_par_pkce_and_dpop(serve, cli):
    server = serve("--workers", "1", public_host="127.0.0.1")
    assert cli("users", "create", "--email", EMAIL, "--password-stdin",
               stdin=PASSWORD + "\n").returncode == 0
    callback = server.base_url + "/cb"
    created = cli("clients", "create", "--name", "Node app", "--redirect-uri", callback,
                  "--require-par", "--require-dpop")
    assert created.returncode == 0, created.stderr
    app = json.loads(created.stdout)
    result = subprocess.run(  # noqa: S603
        ["node", "openid_client.mjs", server.base_url, app["client_id"], app["client_secret"],  # noqa: S607
         callback, EMAIL, PASSWORD], cwd=INTEROP, capture_output=True, text=True, timeout=60,
        check=False)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["token_type"].lower() == "dpop" and seen["refreshed_type"].lower() == "dpop"
    assert seen["email"] == EMAIL and seen["acr"] == "pwd" and seen["amr"] == ["pwd"]
    assert seen["consented"] is True and seen["refreshed"] is True
    assert set(seen["scope"].split()) == {"openid", "email", "profile", "offline_access"}
