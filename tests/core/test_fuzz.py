"""Fuzzing the loaders: mutated shipped files load, or fail with the project's own ScenarioError.

Hypothesis mutates the shipped scenario, sweep and study files (delete, rename, retype and
move keys and values; edit the text itself) and loads each mutant. Loading must either
succeed or raise ``ScenarioError``; any other exception is a crash of the loader. Only
loading is exercised here (no simulation). The examples are derandomized so that CI
sees the same ones every time; set MIGSIM_FUZZ_EXAMPLES=5000 to search longer, at random.
"""
from __future__ import annotations

import copy
import io
import math
import os
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

import sim
from sim.core.errors import ScenarioError
from sim.core.yamlio import read_yaml
from sim.experiments.comparisons.study import is_study, load_study
from sim.experiments.sweeps.design import build_design
from sim.experiments.sweeps.spec import design_size, load_sweep

from helpers import SCENARIOS

LONG = os.environ.get("MIGSIM_FUZZ_EXAMPLES")
EXAMPLES = int(LONG) if LONG else None
MAX_DESIGN_RUNS = 2_000                 # draw (and check) a mutated sweep's design only when it is small


def fuzz_settings(examples: int):
    return settings(max_examples=EXAMPLES or examples, deadline=None, derandomize=not LONG, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                           HealthCheck.data_too_large])


def shipped(kind: str) -> list[str]:
    out = []
    for path in sorted(SCENARIOS.glob("*.yaml")):
        data = read_yaml(path).data
        is_sweep = "sweep" in data
        if (kind == "study") == is_study(data) and (kind == "sweep") == is_sweep:
            out.append(path.name)
    return out


PLAIN, SWEEPS, STUDIES = shipped("plain"), shipped("sweep"), shipped("study")


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """A copy of scenarios/ (mutants are written beside the files they extend)."""
    target = tmp_path_factory.mktemp("fuzz") / "scenarios"
    shutil.copytree(SCENARIOS, target)
    return target


# ---------------------------------------------------------------- mutations of the data

WORDS = ["VEN", "MEX", "ALL", "COL_NECOCLI->PAN_DARIEN", "A->B", "2023-07", "2023-13", "2014-01", "grid", "sobol",
         "containment", "aid", "../../etc", "", " ", "baseline.yaml", "mutant.yaml", "nope.yaml", "kind", "null"]
SCALARS = st.one_of(
    st.none(), st.booleans(),
    st.integers(min_value=-2**70, max_value=2**70), st.sampled_from([0, 1, -1, 11, 10**12, 2**63]),
    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0.0, -0.0, 1.0, 1.5, 1e-300, 1e308]),
    st.sampled_from(WORDS), st.text(max_size=12),
)
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(st.sampled_from(WORDS + ["x", "kind", "start"]),
                                                                       inner, max_size=4)),
                      max_leaves=8)


def paths_of(node, prefix=()) -> list[tuple]:
    """Every key path of plain data (maps and lists), the root excluded."""
    out = []
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
    for key, value in items:
        out.append(prefix + (key,))
        out += paths_of(value, prefix + (key,))
    return out


def parent_of(data, path: tuple):
    node = data
    for key in path[:-1]:
        node = node[key]
    return node


def typo(word: str, draw) -> str:
    if not word:
        return "x"
    i = draw(st.integers(0, len(word) - 1))
    how = draw(st.sampled_from(["drop", "double", "swap", "case", "other"]))
    if how == "drop":
        return word[:i] + word[i + 1:] or "x"
    if how == "double":
        return word[:i] + word[i] + word[i:]
    if how == "swap" and i + 1 < len(word):
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    if how == "case":
        return word.upper() if word != word.upper() else word.lower()
    return draw(st.sampled_from(WORDS + ["behavior", "polices", "agnets", "origin", "edge"]))


def mutate(data: dict, draw) -> dict:
    """Apply one random structural change to a copy of ``data``."""
    data = copy.deepcopy(data)
    paths = paths_of(data)
    if not paths:
        return data
    path = draw(st.sampled_from(paths))
    parent, key = parent_of(data, path), path[-1]
    how = draw(st.sampled_from(["delete", "rename", "replace", "retype", "move", "wrap", "unwrap", "empty"]))
    if how == "delete":
        del parent[key]
    elif how == "rename" and isinstance(parent, dict):
        parent[typo(str(key), draw)] = parent.pop(key)
    elif how == "replace":
        parent[key] = draw(VALUES)
    elif how == "retype":
        value = parent[key]
        parent[key] = (str(value) if not isinstance(value, str) else
                       (float(value) if value.replace(".", "", 1).isdigit() else [value]))
    elif how == "move":
        other = draw(st.sampled_from(paths))
        target, target_key = parent_of(data, other), other[-1]
        try:
            target[target_key] = copy.deepcopy(parent[key])
        except (KeyError, IndexError, TypeError):
            pass
    elif how == "wrap":
        parent[key] = [parent[key]]
    elif how == "unwrap":
        value = parent[key]
        parent[key] = value[0] if isinstance(value, list) and value else next(iter(value.values()), None) \
            if isinstance(value, dict) else value
    elif how == "empty":
        value = parent[key]
        parent[key] = type(value)() if isinstance(value, (dict, list, str)) else None
    return data


def dump(data) -> str:
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    buffer = io.StringIO()
    yaml.dump(data, buffer)
    return buffer.getvalue()


def mutated_file(folder: Path, name: str, draw) -> Path:
    data = read_yaml(folder / name).data
    for _ in range(draw(st.integers(1, 4))):
        data = mutate(data, draw)
    path = folder / f"mutant-{name}"
    path.write_text(dump(data), encoding="utf-8")
    return path


def loads_or_refuses(load, path: Path):
    """Call ``load(path)``: a result, or None when it raised ScenarioError with located problems."""
    try:
        return load(path)
    except ScenarioError as exc:
        assert exc.problems and all(p.message for p in exc.problems)
        return None


# ---------------------------------------------------------------- the tests

@fuzz_settings(60)
@given(data=st.data())
def test_mutated_scenario_files_load_or_raise_scenario_error(folder, data):
    name = data.draw(st.sampled_from(PLAIN))
    scenario = loads_or_refuses(sim.load_scenario, mutated_file(folder, name, data.draw))
    if scenario is not None:
        assert isinstance(scenario, sim.Scenario)
        assert all(math.isfinite(v) for v in scenario.behaviour.hazard.intercept.values())


@fuzz_settings(25)
@given(data=st.data())
def test_mutated_sweep_files_load_or_raise_scenario_error(folder, data):
    name = data.draw(st.sampled_from(SWEEPS))
    sweep = loads_or_refuses(load_sweep, mutated_file(folder, name, data.draw))
    if sweep is None:
        return
    points = 1
    for _, group in sweep.groups():
        points *= design_size(group)
    if points * sweep.replications <= MAX_DESIGN_RUNS:
        loads_or_refuses(lambda _: build_design(sweep), None)


@fuzz_settings(10)
@given(data=st.data())
def test_mutated_study_files_load_or_raise_scenario_error(folder, data):
    name = data.draw(st.sampled_from(STUDIES))
    loads_or_refuses(load_study, mutated_file(folder, name, data.draw))


# ---------------------------------------------------------------- mutations of the text

YAML_CHARS = st.sampled_from(list(":-[]{}&*!|>'\"#%@`,?\t\n ") + ["  ", "\n  ", ": ", "- ", "<<: ", "*a", "&a ",
                                                                   "!!python/name:os.system ", "!x ", "~", "\ufeff"])


@fuzz_settings(40)
@given(data=st.data())
def test_edited_text_loads_or_raises_scenario_error(folder, data):
    name = data.draw(st.sampled_from(PLAIN + SWEEPS))
    text = (folder / name).read_text(encoding="utf-8")
    for _ in range(data.draw(st.integers(1, 5))):
        lines = text.split("\n")
        how = data.draw(st.sampled_from(["insert", "delete_line", "duplicate_line", "indent", "dedent", "cut"]))
        i = data.draw(st.integers(0, max(len(lines) - 1, 0)))
        if how == "insert":
            at = data.draw(st.integers(0, len(text)))
            text = text[:at] + data.draw(YAML_CHARS) + text[at:]
            continue
        if how == "delete_line" and lines:
            del lines[i]
        elif how == "duplicate_line" and lines:
            lines.insert(i, lines[i])
        elif how == "indent" and lines:
            lines[i] = "  " + lines[i]
        elif how == "dedent" and lines:
            lines[i] = lines[i][1:]
        elif how == "cut":
            lines = lines[:i]
        text = "\n".join(lines)
    path = folder / f"edited-{name}"
    path.write_text(text, encoding="utf-8")
    load = load_sweep if name in SWEEPS else sim.load_scenario
    loads_or_refuses(load, path)


def test_every_kind_of_shipped_file_is_fuzzed():
    assert len(PLAIN) >= 5 and SWEEPS and STUDIES
    for name in PLAIN:
        assert isinstance(sim.load_scenario(SCENARIOS / name), sim.Scenario), name
