"""The package's layout: no import cycles (at module level or inside functions), and lower stages never
import higher ones. A module is as long as its one job needs: there is no line-count rule."""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import pytest

import reorder

PACKAGE = Path(reorder.__file__).parent

# The data flow, lowest stage first: a module may import only modules of earlier (or its own) stages.
STAGES = [
    {"reorder._version", "reorder.errors"},
    {"reorder.validation"},
    {"reorder.document", "reorder.corpus", "reorder.metrics", "reorder.files"},
    {"reorder.encoder"},
    {"reorder.embedding"},
    {"reorder.features"},
    {"reorder.coherence", "reorder.headline"},
    {"reorder.finetuned"},
    {"reorder.objective"},
    {"reorder.search"},  # and every module inside the package
    {"reorder.evaluation", "reorder.training", "reorder.assessment", "reorder.explanation"},
    {"reorder.pipeline"},
    {"reorder.report"},
    {"reorder.partitions"},
    {"reorder.distributed"},
    {"reorder.batch"},
    {"reorder.server"},
    {"reorder.cli", "reorder.__main__"},
]


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(name: str) -> set[str]:
    """The reorder modules that module ``name`` imports, anywhere in its code."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("reorder"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            if not target.startswith("reorder"):
                continue
            submodules = {f"{target}.{alias.name}" for alias in node.names} & MODULES.keys()
            found.update(submodules or {target})
    return {m for m in found if m in MODULES and m != name}


GRAPH = {name: _imports(name) for name in MODULES}


def _stage(name: str) -> int:
    for k, stage in enumerate(STAGES):
        if name in stage or any(name.startswith(f"{m}.") for m in stage):
            return k
    raise AssertionError(f"{name} has no stage in tests/test_layout.py: add it where it belongs in the flow")


def test_no_import_cycles():
    graph = {name: deps for name, deps in GRAPH.items() if name != "reorder"}
    try:
        tuple(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as exc:
        pytest.fail(f"import cycle: {' -> '.join(exc.args[1])}")


def test_no_module_imports_the_package_root():
    assert [name for name, deps in GRAPH.items() if "reorder" in deps] == []


@pytest.mark.parametrize("name", sorted(set(MODULES) - {"reorder"}))
def test_lower_stages_never_import_higher_ones(name):
    higher = sorted(dep for dep in GRAPH[name] if _stage(dep) > _stage(name))
    assert higher == [], f"{name} imports {higher}, which come later in the flow"


def test_the_public_api_is_the_package_root():
    assert set(reorder.__all__) <= set(dir(reorder))
    for name in ("Reorderer", "Constraints", "OrderResult", "Assessment", "kendall_tau", "read_corpus",
                 "ReorderError", "InvalidInputError", "__version__"):
        assert name in reorder.__all__
