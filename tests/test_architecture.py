"""Structure that must not regress: no import cycle, no private names of other libraries."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import authapi

PACKAGE = Path(authapi.__file__).parent
PRIVATE_ATTRIBUTE = re.compile(r"(?<![\w.])(?!self\.|cls\.)([a-z_][\w]*)\._[a-z]\w*")


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every authapi module this file imports, at any depth of the file."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("authapi"))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            if not base.startswith("authapi"):
                continue
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.add(candidate if (PACKAGE.parent / candidate.replace(".", "/")).with_suffix(
                    ".py").exists() or (PACKAGE.parent / candidate.replace(".", "/")).is_dir()
                    else base)
    found.discard(name)
    return found


def _graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {name: {m for m in _imports(path) if m in modules} for name, path in modules.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        state[node] = 2
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_import_cycle_in_authapi():
    assert _cycle(_graph()) is None, " -> ".join(_cycle(_graph()) or [])


def test_the_cycle_finder_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


# The layer map: every module of authapi sits on one floor, and imports only from its
# own floor or lower ones (views -> the capability folders -> tokens -> base). A prefix
# names a folder or a module; the longest prefix that matches a module decides.
FLOORS: list[tuple[str, tuple[str, ...]]] = [
    ("entry points", ("authapi", "authapi.app", "authapi.cli", "authapi.wsgi",
                      "authapi.gunicorn_conf", "authapi.gunicorn_worker", "authapi.bootstrap",
                      "authapi.migrations", "authapi.resource", "authapi.instance")),
    ("views", ("authapi.views",)),
    ("the HTTP edge", ("authapi.web", "authapi.authz")),
    ("administration and OAuth", ("authapi.admin", "authapi.oauth")),
    ("the account lifecycle", ("authapi.accounts",)),
    ("sessions", ("authapi.sessions",)),
    ("account notices and links", ("authapi.accounts.notices", "authapi.accounts.links")),
    ("the user directory, limits and mail", ("authapi.accounts.users", "authapi.limits",
                                             "authapi.mail")),
    ("server token state", ("authapi.tokens",)),
    ("the pure token core", ("authapi.tokens.core", "authapi.tokens.proofs",
                             "authapi.tokens.jws")),
    ("audit and operations", ("authapi.audit", "authapi.ops", "authapi.outbound")),
    ("base", ("authapi.config", "authapi.context", "authapi.db", "authapi.prepared",
              "authapi.models", "authapi.errors")),
]
# The pure core (issue 19): no Flask, no database, no network, and of authapi only these.
PURE = {"authapi.tokens.core", "authapi.tokens.proofs", "authapi.tokens.jws"}
PURE_MAY_IMPORT = PURE | {"authapi.errors"}
IMPURE_LIBRARIES = ("flask", "werkzeug", "sqlalchemy", "redis", "authlib", "alembic",
                    "psycopg", "requests", "urllib.request", "http", "socket")


def floor(module: str) -> int | None:
    """The index in FLOORS of a module's floor (0 is the top), or None if unmapped."""
    best: tuple[int, int] | None = None
    for index, (_name, prefixes) in enumerate(FLOORS):
        for prefix in prefixes:
            matches = module == prefix or (prefix != "authapi" and module.startswith(prefix + "."))
            if matches and (best is None or len(prefix) > best[1]):
                best = (index, len(prefix))
    if best is None and module.startswith("authapi.migrations."):
        return 0
    return None if best is None else best[0]


def test_every_module_is_on_a_floor_of_the_layer_map():
    assert sorted(m for m in _graph() if floor(m) is None) == []


def test_no_module_imports_from_a_higher_floor():
    graph = _graph()
    upward = [f"{m} ({FLOORS[floor(m)][0]}) -> {d} ({FLOORS[floor(d)][0]})"
              for m, deps in sorted(graph.items()) for d in sorted(deps)
              if floor(d) is not None and floor(m) is not None and floor(d) < floor(m)]
    assert upward == []


def test_the_layer_map_sees_an_upward_import():
    assert floor("authapi.tokens.core") > floor("authapi.tokens.tokens") > floor(
        "authapi.sessions.sessions") > floor("authapi.views.auth")
    assert floor("authapi.nothing_here") is None


def _third_party(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            found.add(node.module)
    return found


def test_the_token_core_is_pure():
    graph = _graph()
    for module in sorted(PURE):
        assert graph[module] <= PURE_MAY_IMPORT, module
        path = PACKAGE.parent / (module.replace(".", "/") + ".py")
        impure = {name for name in _third_party(path)
                  if name.startswith(IMPURE_LIBRARIES) and not name.startswith("authapi")}
        assert impure == set(), module


def test_the_resource_verifier_imports_no_server_machinery():
    # Resource services verify tokens without authapi's database, Redis or OAuth client.
    code = ("import sys, authapi.resource; print(sorted({m.split('.')[0] for m in sys.modules}"
            " & {'sqlalchemy', 'redis', 'authlib', 'alembic', 'psycopg'}))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,  # noqa: S603
                            check=True, timeout=60)
    assert result.stdout.strip() == "[]"


def test_no_private_name_of_another_library_is_touched():
    hits = []
    for path in PACKAGE.rglob("*.py"):
        source = path.read_text()
        for number, line in enumerate(source.splitlines(), 1):
            for match in PRIVATE_ATTRIBUTE.finditer(line.split("#")[0]):
                hits.append(f"{path.name}:{number}: {match.group(0)}")
    assert hits == []
