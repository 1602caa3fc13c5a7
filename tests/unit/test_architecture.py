"""The layout keeps its promises: the pipeline runs one way, the store owns the SQL, and nothing imports in a circle.

Each rule is a function over source text, so each is also shown to catch what it forbids.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.paths import ROOT

# Lower layers never import higher ones: sources → store → engine → planner → targets, with the shells on top.
LAYERS: list[tuple[str, ...]] = [
    ("syncd.errors", "syncd.paths", "syncd.sample"),
    ("syncd.config", "syncd.tokens"),
    ("syncd.accounts", "syncd.store"),
    ("syncd.engine",),
    ("syncd.plan", "syncd.pull"),
    ("syncd.pipeline",),
    ("syncd.service", "syncd.cli"),
]
# Statements as this project writes them (keywords in capitals), not words like "delete" or "replace".
SQL = re.compile(
    r"\b(SELECT\b.*\bFROM|INSERT (OR \w+ )?INTO|UPDATE \w+ SET|DELETE FROM|CREATE (TEMP |UNIQUE )?(TABLE|INDEX|VIEW|TRIGGER)"
    r"|DROP (TABLE|INDEX)|ALTER TABLE|PRAGMA \w+|BEGIN IMMEDIATE)\b"
)


def modules(package: str) -> dict[str, Path]:
    """Module name → file, for every module of ``package`` (``syncd`` or ``connectors``)."""
    found = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imported(name: str, source: str) -> Iterator[str]:
    """Every module ``source`` imports, at the top or inside functions (a late import is still an import).

    ``name`` is the importing module's (for relative imports, which resolve against its package).
    """
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolved against the importing module's package
                base = ".".join([*name.split(".")[: -node.level], *([base] if base else [])])
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def sql_in(source: str) -> list[str]:
    """What in ``source`` runs SQL or reaches past a store into its connection."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [alias.name for alias in node.names] + ([node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            found += [f"imports {n}" for n in names if n == "sqlite3"]
        elif isinstance(node, ast.Attribute) and node.attr == "db":
            found.append(f"line {node.lineno}: reaches a store's connection (.db)")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in (
            "execute", "executemany", "executescript"
        ) and node.args and isinstance(node.args[0], ast.Constant | ast.JoinedStr | ast.BinOp):
            found.append(f"line {node.lineno}: .{node.func.attr}() of a statement")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL.search(node.value):
            found.append(f"line {node.lineno}: SQL text {node.value[:30]!r}")
    return found


def graph(package: str) -> dict[str, set[str]]:
    """Module → the modules of the same package it imports (a package's ``__init__`` counts as a module)."""
    names = modules(package)
    edges: dict[str, set[str]] = {}
    for name, path in names.items():
        targets = set()
        for target in imported(name, path.read_text(encoding="utf-8")):
            # Importing a.b.c runs a/__init__ and a/b/__init__ too, except the importer's own packages.
            parts = target.split(".")
            for end in range(1, len(parts) + 1):
                candidate = ".".join(parts[:end])
                if candidate in names and candidate != name and not name.startswith(candidate + "."):
                    targets.add(candidate)
        edges[name] = targets
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(edges.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def layer_of(name: str) -> int | None:
    for number, members in enumerate(LAYERS):
        if any(name == m or name.startswith(m + ".") for m in members):
            return number
    return None


# ---- the rules, on the tree ------------------------------------------------------------------------------


def test_connectors_import_nothing_from_syncd() -> None:
    offenders = {
        name: sorted(t for t in imported(name, path.read_text(encoding="utf-8")) if t.split(".")[0] == "syncd")
        for name, path in modules("connectors").items()
    }
    assert {name: found for name, found in offenders.items() if found} == {}


def test_only_the_store_runs_sql() -> None:
    found = {
        name: sql_in(path.read_text(encoding="utf-8"))
        for package in ("syncd", "connectors") for name, path in modules(package).items()
        if not name.startswith("syncd.store")
    }
    assert {name: where for name, where in found.items() if where} == {}


@pytest.mark.parametrize("package", ["syncd", "connectors"])
def test_no_import_cycles(package: str) -> None:
    assert cycles(graph(package)) == []


def test_every_syncd_module_has_a_layer_and_imports_none_above_it() -> None:
    edges = graph("syncd")
    unplaced = sorted(name for name in edges if name != "syncd" and layer_of(name) is None)
    assert unplaced == [], "place these modules in LAYERS"
    upward = sorted(
        f"{name} → {target}" for name, targets in edges.items() for target in targets
        if name != "syncd" and target != "syncd" and (layer_of(target) or 0) > (layer_of(name) or 0)
    )
    assert upward == []


# ---- each rule catches what it forbids ------------------------------------------------------------------------


def test_the_sql_rule_catches_statements_connections_and_sqlite() -> None:
    assert sql_in("store.db.execute('SELECT 1')") != []
    assert sql_in("import sqlite3") == ["imports sqlite3"]
    assert sql_in("q = 'DELETE FROM followups'") != []
    assert sql_in("request.execute()") == []  # a Google API request is no SQL
    assert sql_in("store.followups.save(records)") == []


def test_the_cycle_rule_catches_a_circle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_imports_are_found_at_the_top_and_inside_functions() -> None:
    source = "import os\nfrom syncd.store import Store\ndef f():\n    from syncd.engine import refresh\n"
    assert set(imported("connectors.x", source)) >= {"os", "syncd.store", "syncd.engine", "syncd.engine.refresh"}
