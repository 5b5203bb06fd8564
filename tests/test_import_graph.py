"""The static import graph of ``zakipost``: no cycles, and the sandbox imported only by the
composition root.

The graph is read from the source with ``ast``: every ``import`` and ``from ... import``,
at module level or inside functions, except those under ``if TYPE_CHECKING:`` (they never
run). ``from package import name`` counts as an import of ``package.name`` when that is a
module (Python then runs that module, not the package's ``__init__`` again), and of
``package`` otherwise. ``zakipost/sandbox/`` is out of scope for cycles: it is a separate
emulator with type-only back-references of its own.
"""

from __future__ import annotations

import ast
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import pytest

import zakipost

PACKAGE_DIR = Path(zakipost.__file__).parent
SANDBOX = "zakipost.sandbox"
COMPOSITION_ROOT = "zakipost.composition"


@dataclass(frozen=True)
class ImportEdge:
    importer: str
    imported: str
    line: int


def module_files(package_dir: Path, package: str) -> dict[str, Path]:
    """Every module of ``package`` by dotted name (a package by its ``__init__.py``)."""
    modules: dict[str, Path] = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = [package, *path.relative_to(package_dir).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    if isinstance(test, ast.Name):
        return test.id == "TYPE_CHECKING"
    return isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"


def _import_nodes(node: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    found: list[ast.Import | ast.ImportFrom] = []
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child.test):
            for other in child.orelse:
                if isinstance(other, ast.Import | ast.ImportFrom):
                    found.append(other)
                found.extend(_import_nodes(other))
            continue
        if isinstance(child, ast.Import | ast.ImportFrom):
            found.append(child)
        found.extend(_import_nodes(child))
    return found


def imports_of(module: str, path: Path, modules: dict[str, Path]) -> list[ImportEdge]:
    """The imports of one module that name modules of the package (itself excluded)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    edges: list[ImportEdge] = []
    for node in _import_nodes(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                source = ".".join([*base, node.module] if node.module else base)
            else:
                source = node.module or ""
            submodules = [
                f"{source}.{a.name}" for a in node.names if f"{source}.{a.name}" in modules
            ]
            targets = submodules
            if len(submodules) < len(node.names):
                targets = [source, *submodules]
        edges.extend(
            ImportEdge(module, target, node.lineno)
            for target in targets
            if target in modules and target != module
        )
    return edges


def import_graph(package_dir: Path, package: str) -> dict[str, list[ImportEdge]]:
    modules = module_files(package_dir, package)
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def strongly_connected(graph: dict[str, list[ImportEdge]]) -> list[frozenset[str]]:
    """The components with a cycle in them (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            node, position = work.pop()
            if position == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            targets = [edge.imported for edge in graph[node]]
            if position < len(targets):
                work.append((node, position + 1))
                target = targets[position]
                if target not in index:
                    work.append((target, 0))
                elif target in on_stack:
                    low[node] = min(low[node], index[target])
                continue
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(frozenset(component))
    return found


def a_cycle(component: frozenset[str], graph: dict[str, list[ImportEdge]]) -> list[ImportEdge]:
    """One cycle through the component's first module, edge by edge (shortest first)."""
    start = min(component)
    came_by: dict[str, ImportEdge] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for edge in graph[node]:
            if edge.imported not in component:
                continue
            if edge.imported == start:
                path = [edge]
                while path[0].importer != start:
                    path.insert(0, came_by[path[0].importer])
                return path
            if edge.imported not in came_by:
                came_by[edge.imported] = edge
                queue.append(edge.imported)
    raise AssertionError(f"no cycle through {start}")


def describe(component: frozenset[str], graph: dict[str, list[ImportEdge]]) -> str:
    steps = [
        f"    {e.importer} (line {e.line}) imports {e.imported}" for e in a_cycle(component, graph)
    ]
    return f"  {sorted(component)}:\n" + "\n".join(steps)


def gateway_graph() -> dict[str, list[ImportEdge]]:
    """The graph without the sandbox (out of scope for cycles)."""
    graph = import_graph(PACKAGE_DIR, "zakipost")

    def in_sandbox(name: str) -> bool:
        return name == SANDBOX or name.startswith(SANDBOX + ".")

    return {
        name: [edge for edge in edges if not in_sandbox(edge.imported)]
        for name, edges in graph.items()
        if not in_sandbox(name)
    }


class TestZakipostImports:
    def test_no_import_cycle(self) -> None:
        graph = gateway_graph()
        cycles = strongly_connected(graph)
        assert not cycles, "import cycles:\n" + "\n".join(describe(c, graph) for c in cycles)

    def test_only_the_composition_root_imports_the_sandbox(self) -> None:
        graph = import_graph(PACKAGE_DIR, "zakipost")
        importers = sorted(
            f"{edge.importer} (line {edge.line})"
            for name, edges in graph.items()
            if not (name == SANDBOX or name.startswith(SANDBOX + "."))
            for edge in edges
            if edge.imported == SANDBOX or edge.imported.startswith(SANDBOX + ".")
        )
        assert importers, "the composition root builds the embedded sandbox"
        assert all(i.startswith(COMPOSITION_ROOT + " ") for i in importers), importers


SERVER_ONLY = ("zakipost.models", "zakipost.db", "zakipost.main", "zakipost.sandbox")
LIGHT_ROOTS = ("zakipost.client", "zakipost.mcp_server")


def reachable(graph: dict[str, list[ImportEdge]], start: str) -> dict[str, list[str]]:
    """Every module ``start`` can end up importing, with the path that gets there."""
    paths = {start: [start]}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for edge in graph.get(node, []):
            if edge.imported not in paths:
                paths[edge.imported] = [*paths[node], f"{edge.imported} (line {edge.line})"]
                queue.append(edge.imported)
    return paths


class TestLightModules:
    """The API client (and the MCP server on it) reach no server module, even through an
    import inside a function: the API schemas they share with the server are kept free of
    the ORM and the web stack. (``tests/client/test_unit.py`` checks the third-party side.)"""

    @pytest.mark.parametrize("root", LIGHT_ROOTS)
    def test_the_client_reaches_no_server_module(self, root: str) -> None:
        graph = import_graph(PACKAGE_DIR, "zakipost")
        roots = [name for name in graph if name == root or name.startswith(root + ".")]
        assert roots
        bad = {
            target: path
            for name in roots
            for target, path in reachable(graph, name).items()
            if target.startswith(SERVER_ONLY)
        }
        assert not bad, "\n".join(" -> ".join(path) for path in bad.values())


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / "pkg" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root / "pkg"


class TestImportGraph:
    """The graph reader itself, on a package made for the test."""

    def test_reads_imports_inside_functions_and_relative_ones(self, tmp_path: Path) -> None:
        package = _write(
            tmp_path,
            {
                "__init__.py": "",
                "a.py": "def later():\n    from pkg import b\n",
                "b.py": "from . import c\n",
                "c.py": "from .a import later\n",
            },
        )
        graph = import_graph(package, "pkg")
        assert [e.imported for e in graph["pkg.a"]] == ["pkg.b"]
        assert [e.imported for e in graph["pkg.b"]] == ["pkg.c"]
        assert [e.imported for e in graph["pkg.c"]] == ["pkg.a"]
        [component] = strongly_connected(graph)
        assert component == {"pkg.a", "pkg.b", "pkg.c"}
        assert [e.importer for e in a_cycle(component, graph)] == ["pkg.a", "pkg.b", "pkg.c"]

    def test_type_checking_imports_do_not_count(self, tmp_path: Path) -> None:
        package = _write(
            tmp_path,
            {
                "__init__.py": "",
                "a.py": "import pkg.b\n",
                "b.py": (
                    "import typing\nfrom typing import TYPE_CHECKING\n"
                    "if TYPE_CHECKING:\n    from pkg import a\n"
                    "if typing.TYPE_CHECKING:\n    import pkg.a\nelse:\n    import pkg.c\n"
                ),
                "c.py": "",
            },
        )
        graph = import_graph(package, "pkg")
        assert [e.imported for e in graph["pkg.b"]] == ["pkg.c"]
        assert strongly_connected(graph) == []

    @pytest.mark.parametrize(
        ("statement", "imported"),
        [
            ("from pkg.sub import thing", ["pkg.sub"]),
            ("from pkg.sub import mod", ["pkg.sub.mod"]),
            ("from pkg.sub import mod, thing", ["pkg.sub", "pkg.sub.mod"]),
            ("import pkg.sub.mod", ["pkg.sub.mod"]),
        ],
    )
    def test_a_submodule_import_names_the_submodule(
        self, tmp_path: Path, statement: str, imported: list[str]
    ) -> None:
        package = _write(
            tmp_path,
            {
                "__init__.py": "",
                "user.py": statement + "\n",
                "sub/__init__.py": "thing = 1\n",
                "sub/mod.py": "",
            },
        )
        graph = import_graph(package, "pkg")
        assert sorted(e.imported for e in graph["pkg.user"]) == imported
