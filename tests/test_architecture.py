"""The house rules of docs/architecture.md, checked on the code's own imports.

Every ``import`` and ``from … import`` in kiosk/, sync/, hailong/ and assets/
is read with ``ast`` (imports inside functions too: an import circle dodged
by a function-level import is still a circle), resolved to the project's
modules, and held against the rules: no circle anywhere, and each room
imports only the rooms below it.
"""
from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("kiosk", "sync", "hailong", "assets")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts and "versions" in path.parts:
                continue
            found[_module_name(path)] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """Every name this module imports (absolute, dotted), relative imports resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            out.add(mod)
            out.update(f"{mod}.{alias.name}" for alias in node.names)   # `from pkg import module`
    return out


def _project_target(imported: str) -> str | None:
    """The project module an imported name lands in (the longest module prefix), if any."""
    parts = imported.split(".")
    for n in range(len(parts), 0, -1):
        candidate = ".".join(parts[:n])
        if candidate in MODULES:
            return candidate
    return None


GRAPH = {name: {t for imp in _imports(name, path) if (t := _project_target(imp)) and t != name}
         for name, path in MODULES.items()}
RAW = {name: _imports(name, path) for name, path in MODULES.items()}


def _is_package_init(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def test_the_reader_sees_the_project():
    assert {"sync.protocol", "sync.agent", "kiosk.store", "sync.server.app", "sync.server.core.ingest"} <= set(MODULES)
    assert "sync.server.core.db" in GRAPH["sync.server.core.ingest"]


def test_no_import_circle():
    # Tarjan's strongly connected components; a package's __init__ that re-exports one of its
    # modules is an edge like any other
    index, low, stack, on_stack, circles = {}, {}, [], set(), []
    counter = [0]
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in GRAPH[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                circles.append(sorted(comp))
    for v in GRAPH:
        if v not in index:
            visit(v)
    assert not circles, f"import circles: {circles}"


def _importers(prefix: str) -> list[str]:
    return [m for m in MODULES if m == prefix or m.startswith(prefix + ".")]


def _imports_any(module: str, prefixes: tuple[str, ...]) -> list[str]:
    return sorted(i for i in RAW[module] if any(i == p or i.startswith(p + ".") for p in prefixes))


# (room, what it must never import, why)
RULES = [
    ("kiosk", ("sync.server", "fastapi", "sqlalchemy", "hailong"), "the kiosk never imports the server"),
    ("sync", ("kiosk", "kivy", "hailong"), "sync/ runs without the kiosk's code and never imports the UI"),
    ("sync.server", ("kivy", "kiosk", "sync.agent"), "the server never imports Kivy or the kiosk"),
    ("sync.server.core", ("sync.server.api", "sync.server.web", "sync.server.reports", "sync.server.app",
                          "fastapi", "starlette", "jinja2"), "core is storage and operations, no HTTP"),
    ("sync.server.reports", ("sync.server.api", "sync.server.web", "sync.server.app", "fastapi", "starlette"),
     "reports read and compute; they do not know HTTP"),
    ("sync.server.api", ("sync.server.web", "sync.server.app"), "the JSON API does not use the pages"),
    ("sync.server.web", ("sync.server.api", "sync.server.app"), "the pages do not use the JSON API's modules"),
]


@pytest.mark.parametrize("room,forbidden,why", RULES, ids=[r[0] for r in RULES])
def test_rooms_import_only_what_is_below_them(room, forbidden, why):
    bad = {m: _imports_any(m, forbidden) for m in _importers(room)}
    bad = {m: i for m, i in bad.items() if i}
    assert not bad, f"{why}: {bad}"


def test_protocol_is_stdlib_only():
    stdlib = sys.stdlib_module_names
    outside = sorted(i for i in RAW["sync.protocol"] if i.split(".")[0] not in stdlib and i != "__future__"
                     and not i.startswith("__future__."))
    assert not outside, f"sync/protocol.py is the wire contract both ends import; stdlib only: {outside}"


def test_the_command_line_language_is_stdlib_only():
    """sync/cli_i18n.py is imported by the kiosk's commands, `hailong pull` and the server's: stdlib and assets."""
    stdlib = sys.stdlib_module_names
    outside = sorted(i for i in RAW["sync.cli_i18n"] if i.split(".")[0] not in stdlib
                     and i.split(".")[0] not in ("__future__", "assets"))
    assert not outside, f"sync/cli_i18n.py: stdlib only (and where the catalogue is): {outside}"


def test_pages_and_routes_are_not_loaded_by_name():
    """Routes are included where the app is built, visibly: no __import__ / import_module in the server."""
    for name in _importers("sync.server"):
        text = MODULES[name].read_text(encoding="utf-8")
        assert "__import__(" not in text and "import_module(" not in text, name


def test_the_pull_client_and_its_columns_do_not_import_the_server():
    """sync/columns.py holds the headers both exports write: stdlib and sync.protocol only, so `hailong pull`
    (a client on an admin's PC) writes the web export's columns without the server's code."""
    for name in ("sync.pull", "sync.columns", "sync.cells"):
        assert not _imports_any(name, ("sync.server",)), name
    stdlib = sys.stdlib_module_names
    outside = sorted(i for i in RAW["sync.columns"] if i.split(".")[0] not in stdlib
                     and i.split(".")[0] != "__future__" and i not in ("sync", "sync.protocol"))
    assert not outside, f"sync/columns.py: stdlib and sync.protocol only: {outside}"
