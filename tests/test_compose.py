"""deploy/compose.yaml is valid where `docker compose` exists (it does not on these machines)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"


def compose_available() -> bool:
    docker = shutil.which("docker")
    return docker is not None and subprocess.run(  # noqa: S603
        [docker, "compose", "version"], capture_output=True, check=False).returncode == 0


@pytest.mark.skipif(not compose_available(), reason="no `docker compose` on this machine")
def test_compose_file_is_valid():
    argv = [str(shutil.which("docker")), "compose", "-f", str(DEPLOY / "compose.yaml"),
            "config", "--quiet"]
    result = subprocess.run(argv, capture_output=True, text=True, check=False,  # noqa: S603
                            env={**os.environ, "AUTHAPI_SECRET_KEY": "x" * 64})
    assert result.returncode == 0, result.stderr
