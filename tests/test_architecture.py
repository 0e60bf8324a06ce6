"""The house plan: layers import only lower layers, no import circles, no module over 450 lines.

Every ``import`` statement of every module under sim/ (module level or inside a function)
is read with ``ast``; the imports between sim modules form a graph that must be acyclic,
and a module may import only modules of its own layer package or of a lower layer.
"""
from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import pytest

from helpers import REPO_ROOT

PACKAGE = REPO_ROOT / "sim"
MAX_LINES = 450
# rank of each layer, lowest first; layers of the same rank may not import each other
LAYERS = {"core": 0, "engines": 1, "outputs": 2, "simulation": 3, "fitting": 4, "experiments": 4, "api": 5,
          "app": 6, "cli": 7, "": 8}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO_ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def imports_of(name: str) -> set[str]:
    """The sim modules that module ``name`` imports (explicitly, anywhere in its text)."""
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    here = name if is_package(name) else name.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(here.split(".")[: len(here.split(".")) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
            else:
                base = node.module or ""
            found.add(base)
            found |= {f"{base}.{a.name}" for a in node.names}
    return {m for m in found if m in MODULES and m != name}


GRAPH = {name: imports_of(name) for name in MODULES}


def layer(name: str) -> str:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_the_layers_are_the_package_folders():
    assert {layer(m) for m in MODULES} == set(LAYERS)


def test_no_import_circles():
    try:
        order = list(graphlib.TopologicalSorter(GRAPH).static_order())
    except graphlib.CycleError as exc:
        pytest.fail(f"import circle: {' -> '.join(exc.args[1])}")
    assert set(order) == set(MODULES)


def test_each_layer_imports_only_lower_layers():
    wrong = [f"{a} imports {b}" for a, targets in GRAPH.items() for b in sorted(targets)
             if layer(a) != layer(b) and not LAYERS[layer(a)] > LAYERS[layer(b)]]
    assert not wrong, "\n".join(wrong)


def test_core_and_engines_import_nothing_above_them():
    """The model itself (core, engines) stands alone: the check above, spelled out for the two that matter most."""
    for name, targets in GRAPH.items():
        if layer(name) == "core":
            assert all(layer(t) == "core" for t in targets), name
        if layer(name) == "engines":
            assert all(layer(t) in ("core", "engines") for t in targets), name
    assert not any(t.startswith("sim.engines.vector") for t in GRAPH["sim.engines.mesa.agents"]
                   | GRAPH["sim.engines.mesa.model"]), "the Mesa engine shares state.py, not the vector engine"


def test_the_import_reader_sees_imports():
    """The graph is not vacuous: known imports are found, relative and inside functions."""
    assert "sim.core.rules" in GRAPH["sim.core.inputs"]                      # from . import rules
    assert "sim.engines.state" in GRAPH["sim.engines.vector.pools"]          # from ..state import ...
    assert "sim.engines.mesa" in GRAPH["sim.simulation"]                     # inside run()
    assert "sim.app" in GRAPH["sim.cli.run"]                                 # inside cmd_app()


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_module_over_450_lines(name):
    lines = len(MODULES[name].read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{MODULES[name]} has {lines} lines"


def test_the_package_exports_the_api():
    """``sim.<name>`` is ``sim.api.<name>`` for every public name."""
    import sim.api

    assert set(sim.__all__) == set(sim.api.__all__)
    for name in sim.api.__all__:
        assert getattr(sim, name) is getattr(sim.api, name), name


def test_no_file_holds_a_merge_conflict_marker():
    """Text files of the project (code, docs, scenarios, data notes) hold no leftover conflict markers."""
    skipped = {".git", ".venv", ".ci-venv", "results", "node_modules", "__pycache__"}
    markers = ("<<<<<<< ", ">>>>>>> ")
    found = []
    for path in REPO_ROOT.rglob("*"):
        if path.suffix not in {".py", ".md", ".yaml", ".yml", ".toml", ".cfg", ".txt"} or not path.is_file():
            continue
        if skipped & set(path.relative_to(REPO_ROOT).parts):
            continue
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if line.startswith(markers) or line == "=======":
                found.append(f"{path.relative_to(REPO_ROOT)}:{number}")
    assert found == []
