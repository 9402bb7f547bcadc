"""The documentation runs as written: every shell and Python block of README.md and
docs/*.md, in order, against a live `authapi serve` (one per page, on a fresh database:
SQLite, or PostgreSQL in the suite's PostgreSQL pass).

How a page is run:
- One bash process per page (`set -euo pipefail`), in a scratch folder that stands for
  the checkout: links to its `.venv`, `deploy/`, `examples/` and the like, and
  `serve.log`, the live server's output (what a reader sees in the `./dev serve`
  terminal). Shell variables and functions carry from block to block.
- bash, sh, shell and console blocks (of a console block, its `$ ` lines) are sourced
  in that shell; an untitled python block runs as `.venv/bin/python <block>` in it (so
  it sees exported variables); a titled one (```` ```python title="myapp.py" ````) is
  written to that file for later blocks to run.
- `http://localhost:8000` and `http://127.0.0.1:8000`, the address of `./dev serve`, are
  rewritten to the live server's, whose issuer and audience are that URL.
- A block preceded, on the line directly above its fence, by `<!-- not-run: <reason> -->`
  is skipped. `<!-- docs-server: AUTHAPI_X=1 ... -->` anywhere on a page adds settings to
  that page's server (the page shows the reader the same settings).

docs/guides/ is not run here: tests/test_guides.py and tests/test_guide_mcp.py run its
programs. `mkdocs build --strict` is a test too.
"""

from __future__ import annotations

import os
import re
import selectors
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from fixtures import servers
from fixtures.cli import _cli_env

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>[^`\n]*)$")
NOT_RUN = re.compile(r"^\s*<!--\s*not-run:\s*(?P<reason>\S.*?)\s*-->\s*$")
SERVER_SETTINGS = re.compile(r"<!--\s*docs-server:(?P<settings>[^>]*)-->")
TITLE = re.compile(r'title="(?P<title>[^"]+)"')
RUNNABLE = {"bash", "sh", "shell", "console", "python"}
LISTINGS = {"", "text", "json", "yaml", "yml", "nginx", "js", "javascript", "toml", "ini",
            "http", "dockerfile", "sql", "html", "css", "mermaid", "diff", "caddy", "conf",
            "env", "dotenv", "promql", "xml", "csv", "log", "pem"}
# The checkout's folders a reader's commands may name (`deploy/make-certs.sh`), linked
# into each page's scratch folder, which stands for the checkout.
CHECKOUT = ("deploy", "examples", "bench", "src", "docs", "alembic", "alembic.ini",
            "Dockerfile", "pyproject.toml")
DEV_URLS = ("http://localhost:8000", "http://127.0.0.1:8000")
BLOCK_TIMEOUT = 120


@dataclass
class Block:
    """One fenced block of a page."""

    page: str
    line: int  # of the opening fence, 1-based
    lang: str
    title: str | None
    code: str
    not_run: str | None  # the reason, when marked

    @property
    def runs(self) -> bool:
        return self.lang in RUNNABLE and self.not_run is None

    def where(self) -> str:
        return f"{self.page}:{self.line} (```{self.lang} block)"


def blocks(path: Path) -> list[Block]:
    """Every fenced block of a Markdown page, with its language, title and marker."""
    lines = path.read_text().splitlines()
    page = str(path.relative_to(ROOT))
    found: list[Block] = []
    i = 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        indent, fence, info = opening["indent"], opening["fence"], opening["info"].strip()
        body: list[str] = []
        j = i + 1
        while j < len(lines) and not (lines[j].strip().startswith(fence)
                                      and lines[j].strip().strip(fence[0]) == ""):
            body.append(lines[j][len(indent):] if lines[j].startswith(indent) else lines[j])
            j += 1
        assert j < len(lines), f"{page}:{i + 1}: this code block is never closed"
        marker = NOT_RUN.match(lines[i - 1]) if i > 0 else None
        title = TITLE.search(info)
        found.append(Block(page, i + 1, (info.split() or [""])[0].lower().lstrip("{."),
                           title["title"] if title else None, "\n".join(body) + "\n",
                           marker["reason"] if marker else None))
        i = j + 1
    return found


def pages() -> list[Path]:
    """README.md and every page of the site but the guides (tests/test_guides.py runs those)."""
    docs = sorted(p for p in (ROOT / "docs").rglob("*.md") if "guides" not in p.parts)
    return [ROOT / "README.md", *docs]


def runnable_pages() -> list[Path]:
    return [p for p in pages() if any(b.runs for b in blocks(p))]


def console_commands(code: str) -> str:
    """The commands of a ```console block: its `$ ` lines and their continuations."""
    commands: list[str] = []
    going_on = False
    for line in code.splitlines():
        if line.startswith("$ ") or going_on:
            commands.append(line[2:] if line.startswith("$ ") and not going_on else line)
            going_on = line.rstrip().endswith("\\")
    return "\n".join(commands) + "\n"


class Shell:
    """A bash process that runs one page's blocks in order, sharing its state."""

    def __init__(self, work: Path, env: dict[str, str]) -> None:
        self.work = work
        self.proc = subprocess.Popen(  # noqa: S603
            ["/bin/bash", "--noprofile", "--norc"], cwd=work, env=env, text=True,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            start_new_session=True)
        self.count = 0
        self.send("set -euo pipefail\n")

    def send(self, text: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(text)
        self.proc.stdin.flush()

    def run(self, command: str) -> tuple[int | None, str]:
        """(exit status, or None on a timeout; the command's output)."""
        self.count += 1
        out = self.work / ".docs" / f"out-{self.count}.txt"
        marker = f"__docs_block_{self.count}_done__"
        self.send(f"{command} > {out} 2>&1 < /dev/null; echo {marker} $?\n")
        status = self._wait(marker)
        return status, out.read_text() if out.exists() else ""

    def _wait(self, marker: str) -> int | None:
        assert self.proc.stdout is not None
        selector = selectors.DefaultSelector()
        selector.register(self.proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + BLOCK_TIMEOUT
        try:
            while time.monotonic() < deadline:
                if not selector.select(timeout=deadline - time.monotonic()):
                    continue
                line = self.proc.stdout.readline()
                if not line:  # `set -e` ended the shell: a command failed
                    return self.proc.wait(timeout=10)
                if line.startswith(marker):
                    return int(line.split()[1])
            return None
        finally:
            selector.close()

    def close(self) -> None:
        """End the shell and whatever the blocks left running (its own process group)."""
        for signal_ in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(self.proc.pid, signal_)
            except ProcessLookupError:
                break
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                continue
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                stream.close()


def rewrite(code: str, base_url: str) -> str:
    for url in DEV_URLS:
        code = code.replace(url, base_url)
    return code


def server_settings(text: str) -> dict[str, str]:
    settings: dict[str, str] = {}
    for found in SERVER_SETTINGS.finditer(text):
        for pair in found["settings"].split():
            name, _, value = pair.partition("=")
            settings[name] = value
    return settings


@pytest.mark.parametrize("page", runnable_pages(), ids=lambda p: str(p.relative_to(ROOT)))
def test_page_runs_as_written(page: Path, serve, empty_database_url: str, tmp_path: Path,
                              monkeypatch) -> None:
    port = servers._free_port()
    monkeypatch.setattr(servers, "_free_port", lambda: port)  # the issuer names the port
    base_url = f"http://localhost:{port}"
    env = {"AUTHAPI_AUDIENCE": base_url, "AUTHAPI_DATABASE_URL": empty_database_url,
           **server_settings(page.read_text())}
    server = serve("--workers", "1", "--migrate", public_host="localhost", env=env)
    assert server.base_url.endswith(f":{port}")
    work = tmp_path / "page"
    (work / ".docs").mkdir(parents=True)
    (work / ".venv").symlink_to(VENV_BIN.parent)
    for name in CHECKOUT:
        if (ROOT / name).exists():
            (work / name).symlink_to(ROOT / name)
    server_log = tmp_path / f"serve-{port}.log"
    (work / "serve.log").symlink_to(server_log)
    shell_env = _cli_env(tmp_path, {"AUTHAPI_ISSUER": base_url, **env})
    shell = Shell(work, shell_env)
    try:
        for number, block in enumerate(b for b in blocks(page) if b.runs):
            code = rewrite(block.code, base_url)
            if block.lang == "python" and block.title:
                target = work / block.title
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(code)
                continue
            if block.lang == "python":
                script = work / ".docs" / f"block-{number}.py"
                script.write_text(code)
                command = f".venv/bin/python {script}"
            else:
                script = work / ".docs" / f"block-{number}.sh"
                script.write_text(console_commands(code) if block.lang == "console" else code)
                command = f"source {script}"
            status, output = shell.run(command)
            if os.environ.get("DOCS_VERBOSE"):  # `DOCS_VERBOSE=1 pytest -s` shows every output
                print(f"\n===== {block.where()}\n{output}")
            if status != 0:
                log = server_log.read_text(errors="replace")[-3000:]
                pytest.fail(
                    f"{block.where()} "
                    f"{'timed out' if status is None else f'failed (exit {status})'}\n"
                    f"--- the block, as run ---\n{code}--- its output ---\n{output}"
                    f"--- the server's log (end) ---\n{log}", pytrace=False)
    finally:
        shell.close()


def test_every_block_is_run_or_says_why_not() -> None:
    """A fence's language is known (a typo would hide a block), and a not-run marker
    sits directly above a block that would otherwise run."""
    problems = []
    for page in [*pages(), *sorted((ROOT / "docs" / "guides").glob("*.md"))]:
        for block in blocks(page):
            if block.lang not in RUNNABLE | LISTINGS:
                problems.append(f"{block.where()}: unknown language; use one of "
                                f"{sorted(RUNNABLE)} or a listing ({sorted(LISTINGS)[1:]})")
            if block.not_run and block.lang not in RUNNABLE:
                problems.append(f"{block.where()}: a not-run marker on a block that never runs")
    assert not problems, "\n".join(problems)


def test_the_site_builds_strictly(tmp_path: Path) -> None:
    """`mkdocs build --strict`: every page in the nav, no broken link or anchor."""
    mkdocs = VENV_BIN / "mkdocs"
    if not mkdocs.exists():
        pytest.fail("mkdocs is missing from .venv: the `docs` extra (mkdocs-material) is "
                    "installed with `test` by ./dev install")
    built = subprocess.run(  # noqa: S603
        [str(mkdocs), "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert built.returncode == 0, built.stdout + built.stderr
    assert (tmp_path / "site" / "index.html").exists()


def test_readme_is_short() -> None:
    """The README is a front door (under 250 lines); the rest lives in docs/."""
    lines = (ROOT / "README.md").read_text().count("\n")
    assert lines < 250, f"README.md has {lines} lines"
