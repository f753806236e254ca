"""Item 1 of issue 12: the package's import graph, built from its source (every import
statement, at module level or inside a function, ``TYPE_CHECKING`` blocks included),
has no cycle, and the layers import only downwards:

    core (threat model, running attacks, scoring)  <-  batch, defences  <-  api  <-  cli

``report`` renders documents and imports none of the front ends; nothing below the CLI
imports it. A new cycle or an upward import fails CI here.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "tabinv"


def _modules() -> dict[str, Path]:
    found = {}
    for path in ROOT.rglob("*.py"):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _targets(module: str, path: Path, node: ast.AST) -> list[str]:
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name.split(".")[0] == "tabinv"]
    if not isinstance(node, ast.ImportFrom):
        return []
    if node.level:
        base = module.split(".")
        if path.name != "__init__.py":
            base = base[:-1]
        base = base[:len(base) - (node.level - 1)]
        source = ".".join([*base, *([node.module] if node.module else [])])
    else:
        source = node.module or ""
    if source.split(".")[0] != "tabinv":
        return []
    return [f"{source}.{a.name}" if f"{source}.{a.name}" in MODULES else source
            for a in node.names]


@functools.cache
def _graph() -> tuple[tuple[str, frozenset[str]], ...]:
    graph = []
    for module, path in MODULES.items():
        edges = set()
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            for target in _targets(module, path, node):
                while target and target not in MODULES:
                    target = target.rpartition(".")[0]
                if target and target != module:
                    edges.add(target)
        graph.append((module, frozenset(edges)))
    return tuple(graph)


def import_graph() -> dict[str, set[str]]:
    """Module -> the tabinv modules it imports (a name imported from a package counts as
    the package unless it is a submodule)."""
    return {module: set(edges) for module, edges in _graph()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (iterative Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "tabinv"


def test_the_cycle_finder_finds_cycles() -> None:
    """The check can fail: a planted cycle and a self-contained chain."""
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_import_graph_is_built_from_every_module() -> None:
    graph = import_graph()
    assert {"tabinv.core.run", "tabinv.api", "tabinv.cli.assess"} <= set(graph)
    assert "tabinv.core.threat" in graph["tabinv.core.run"]  # a relative import
    assert "tabinv.report.files" in graph["tabinv.batch.task"]  # inside a function


def test_no_import_cycle() -> None:
    assert cycles(import_graph()) == []


# layer -> layers it must never import (directly; with no cycle, never indirectly either
# through a layer that obeys the same rule)
FORBIDDEN = {
    "core": {"api", "cli", "batch", "defences", "report"},
    "report": {"api", "cli", "batch", "defences", "core"},
    "batch": {"api", "cli"},
    "defences": {"api", "cli"},
    "api": {"cli"},
    **{low: {"api", "cli", "core", "batch", "defences", "report"}
       for low in ("exceptions", "utils", "text", "processes", "_version", "data",
                   "models", "attacks", "evaluation", "membership")},
}


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layers_import_only_downwards(layer: str) -> None:
    graph = import_graph()
    upward = sorted(f"{module} -> {target}" for module, targets in graph.items()
                    if _layer(module) == layer for target in targets
                    if _layer(target) in FORBIDDEN[layer])
    assert upward == []


def test_the_core_is_used_by_every_front_end() -> None:
    """api, cli, batch and defences all run assessments through tabinv.core."""
    graph = import_graph()
    users = {_layer(m) for m, targets in graph.items()
             if any(_layer(t) == "core" for t in targets) and _layer(m) != "core"}
    assert {"api", "cli", "batch", "defences"} <= users
