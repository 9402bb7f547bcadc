"""Structure that must not regress: no import cycle, no private names of other libraries."""

from __future__ import annotations

import ast
import re
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


def test_views_are_imported_by_no_domain_module():
    graph = _graph()
    offenders = {m for m, deps in graph.items() if not m.startswith("authapi.views")
                 and m != "authapi" and any(d.startswith("authapi.views") for d in deps)}
    assert offenders == set()


def test_no_private_name_of_another_library_is_touched():
    hits = []
    for path in PACKAGE.rglob("*.py"):
        source = path.read_text()
        for number, line in enumerate(source.splitlines(), 1):
            for match in PRIVATE_ATTRIBUTE.finditer(line.split("#")[0]):
                hits.append(f"{path.name}:{number}: {match.group(0)}")
    assert hits == []
