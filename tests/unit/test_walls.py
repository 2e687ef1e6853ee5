"""The walls between the packages, read from the import statements (no code is run).

README "Architecture" promises them: the chain never imports ``app`` or ``ingest``; ``ingest``
never imports ``app``; ``rag_core`` imports neither of the others; ``app`` reaches the chain only
through what ``rag_chain/__init__.py`` exports; and ``app``'s modules import each other without a
cycle. A wall that only lives in a README is crossed by the next hurried change (one was:
``app/middleware/generation_scope.py`` imported ``rag_chain.generation_scope`` directly).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT

PACKAGES = {
    "app": ROOT / "app",
    "ingest": ROOT / "ingest",
    "rag_core": ROOT / "packages" / "rag-core" / "rag_core",
    "rag_chain": ROOT / "packages" / "rag-chain" / "rag_chain",
}
#: What each package must never import (directly or through a submodule).
FORBIDDEN = {
    "rag_core": ("rag_chain", "ingest", "app"),
    "rag_chain": ("ingest", "app"),
    "ingest": ("app",),
}


def _modules() -> dict[str, Path]:
    found = {}
    for package, root in PACKAGES.items():
        for path in root.rglob("*.py"):
            parts = [package, *path.relative_to(root).with_suffix("").parts]
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _import_nodes(path: Path, *, top_level_only: bool) -> Iterator[ast.Import | ast.ImportFrom]:
    """The import statements of a file (``top_level_only``: not those inside a function)."""

    def visit(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import | ast.ImportFrom):
                yield child
            elif not (top_level_only and isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)):
                yield from visit(child)

    yield from visit(ast.parse(path.read_text()))


def _imports(module: str, path: Path, *, top_level_only: bool) -> Iterator[str]:
    """Dotted names ``module`` imports (``from a import b`` gives ``a`` and ``a.b``)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in _import_nodes(path, top_level_only=top_level_only):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
            continue
        base = node.module or ""
        if node.level:
            parent = package.split(".")[: len(package.split(".")) - (node.level - 1)]
            base = ".".join([*parent, base] if base else parent)
        yield base
        yield from (f"{base}.{alias.name}" for alias in node.names)


def _exports(package: str) -> set[str]:
    tree = ast.parse((PACKAGES[package] / "__init__.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == "__all__" for target in node.targets
        ):
            return set(ast.literal_eval(node.value))
    return set()


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_lower_packages_never_import_higher_ones(package: str) -> None:
    crossings = sorted(
        (module, name)
        for module, path in MODULES.items()
        if module.split(".")[0] == package
        for name in _imports(module, path, top_level_only=False)
        if name.split(".")[0] in FORBIDDEN[package]
    )
    assert crossings == []


def test_app_reaches_the_chain_only_through_its_exports() -> None:
    exported = _exports("rag_chain")
    app_modules = {m: p for m, p in MODULES.items() if m.split(".")[0] == "app"}
    assert len(app_modules) > 40
    deep = []
    for module, path in sorted(app_modules.items()):
        for node in _import_nodes(path, top_level_only=False):
            if isinstance(node, ast.Import):
                deep += [(module, a.name) for a in node.names if a.name.startswith("rag_chain.")]
            elif (node.module or "").startswith("rag_chain."):
                deep.append((module, str(node.module)))
            elif node.module == "rag_chain":
                deep += [(module, a.name) for a in node.names if a.name not in exported]
    assert deep == []


def test_app_modules_import_each_other_without_a_cycle() -> None:
    """Module-level imports only: an import inside a function runs later and cannot deadlock."""
    app_modules = {m: p for m, p in MODULES.items() if m.split(".")[0] == "app"}
    graph = {
        module: set(_imports(module, path, top_level_only=True)) & set(app_modules) - {module}
        for module, path in app_modules.items()
    }
    assert sum(map(len, graph.values())) > 50, "the graph is read at all"
    done: set[str] = set()

    def cycle_from(module: str, path: list[str]) -> list[str] | None:
        if module in path:
            return [*path[path.index(module) :], module]
        if module in done:
            return None
        for name in sorted(graph[module]):
            found = cycle_from(name, [*path, module])
            if found:
                return found
        done.add(module)
        return None

    cycles = [found for module in sorted(graph) if (found := cycle_from(module, []))]
    assert cycles == []
