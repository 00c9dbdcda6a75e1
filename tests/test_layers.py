"""Layers import downward only, without cycles, and ``wirehouse.connect()`` leaves a notebook's process alone.

From the bottom: core (errors, plain helpers) <- tasks (pure stages) <- warehouse (storage, the only
duckdb importer) <- pipeline (Prefect tasks that touch storage) <- flows (wiring) <- wirehouse (the CLI).
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ("core", "tasks", "warehouse", "pipeline", "flows", "wirehouse")
RANK = {name: rank for rank, name in enumerate(LAYERS)}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_modules() -> dict[str, Path]:
    return {
        module_name(path): path
        for layer in LAYERS
        for path in sorted((ROOT / layer).rglob("*.py"))
        if "sample_newsroom" not in path.parts
    }


def imported_modules(name: str, path: Path, known: set[str], *, external: bool = False) -> set[str]:
    """Project modules ``name`` imports anywhere in its file (top, function level, TYPE_CHECKING).

    With ``external``: every imported module, the project's and others' (``duckdb``, ``prefect``).
    """
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(
                    [*package.split(".")[: len(package.split(".")) - node.level + 1], base]
                ).strip(".")
            # `from a import b` imports the module a.b when there is one, else a name of a.
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names
            ]
        else:
            continue
        found.update(t for t in targets if (external or t.split(".")[0] in RANK) and t != name)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = project_modules()
    return {name: imported_modules(name, path, set(modules)) for name, path in modules.items()}


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    return sorted(
        f"{name} imports {target}"
        for name, targets in graph.items()
        for target in targets
        if RANK[target.split(".")[0]] > RANK[name.split(".")[0]]
    )


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in graph:
                continue
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return cycles


def test_every_layer_is_a_package_the_check_reads():
    graph = import_graph()
    assert {name.split(".")[0] for name in graph} == set(LAYERS)
    assert "warehouse.connection" in graph["pipeline.load"]  # the parser sees ordinary imports


def test_no_module_imports_a_higher_layer():
    assert upward_imports(import_graph()) == []


def test_no_import_cycles_among_project_modules():
    assert import_cycles(import_graph()) == []


def test_only_warehouse_imports_duckdb():
    modules = project_modules()
    importers = sorted(
        name
        for name, path in modules.items()
        if any(t.split(".")[0] == "duckdb" for t in imported_modules(name, path, set(modules), external=True))
    )
    assert importers and {name.split(".")[0] for name in importers} == {"warehouse"}, importers


def test_the_checks_catch_what_they_are_for():
    graph = {"core.a": {"tasks.b"}, "tasks.b": {"tasks.c"}, "tasks.c": {"tasks.b"}}
    assert upward_imports(graph) == ["core.a imports tasks.b"]
    assert import_cycles(graph) == [["tasks.b", "tasks.c"]]


# Run in a fresh interpreter: what `import wirehouse; wirehouse.connect(lake)` changes in its process.
PROBE = """
import json, os, sys
before = dict(os.environ)
import wirehouse
con = wirehouse.connect(sys.argv[1])
count = con.sql("select count(*) from articles").fetchone()[0]
con.close()
changed = sorted(k for k in set(before) | set(os.environ) if before.get(k) != os.environ.get(k))
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("prefect", "trafilatura"))
print(json.dumps({"count": count, "changed": changed, "heavy": heavy[:5]}))
"""


def test_connect_leaves_the_environment_alone_and_imports_no_orchestrator(tmp_path):
    from warehouse.connection import open_warehouse

    lake = tmp_path / "news.sqlite"
    with open_warehouse(lake, migrate=True):
        pass  # a lake with its tables and views, and no articles
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "ARROW_"))}
    env.pop("DO_NOT_TRACK", None)
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(lake)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report == {"count": 0, "changed": [], "heavy": []}
