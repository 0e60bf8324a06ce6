"""Shared fixtures: the repository root, shipped scenarios, small scenarios and YAML writers."""
from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest

import sim
from sim.engine import Batch, initial_state, step_month
from sim.inputs import compile_inputs
from sim.world import build_world

REPO_ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = REPO_ROOT / "scenarios"
BASELINE = SCENARIOS / "baseline.yaml"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def baseline_path() -> Path:
    return BASELINE


@pytest.fixture(scope="session")
def baseline() -> sim.Scenario:
    """The shipped baseline scenario, as written (full size: shrink with ``with_overrides``)."""
    return sim.load_scenario(BASELINE)


def shipped_scenario_files() -> list[Path]:
    """Every YAML file shipped in scenarios/ (scenarios, and sweep or calibration files built on one)."""
    return sorted(SCENARIOS.glob("*.yaml"))


def load_base_scenario(path) -> sim.Scenario:
    """The scenario a shipped file describes, without blocks that other commands read (sweep, calibration)."""
    from sim.scenario import validate_located
    from sim.yamlio import load_with_extends

    located = load_with_extends(path)
    if isinstance(located.data, dict):
        for block in ("sweep", "calibration"):
            located.data.pop(block, None)
    return validate_located(located)


def small(**fields) -> sim.Scenario:
    """A small validated scenario built from scratch (no extends); fields override the defaults."""
    base = dict(schema_version=1, name="t", agents=5_000, months=6, warmup_months=2, replications=1,
                start="2023-01", seed=7)
    base.update(fields)
    return sim.Scenario(**base)


@pytest.fixture
def make_scenario():
    """Factory of small scenarios: ``make_scenario(months=4, policies={...})``."""
    return small


@pytest.fixture
def write_yaml(tmp_path):
    """Write dedented YAML text to ``tmp_path/name`` and return the path."""

    def write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    return write


class Stepper:
    """Runs the engine month by month (as ``sim.engine.simulate`` does), keeping the state."""

    def __init__(self, scenario_or_world, inputs=None, seeds=(1,)):
        if inputs is None:
            scenario = scenario_or_world
            self.world = build_world(scenario)
            inputs = [compile_inputs(scenario, self.world)] * len(seeds)
        else:
            self.world = scenario_or_world
        self.inputs = list(inputs)
        self.seeds = [int(s) for s in seeds]
        self.batch = Batch(self.world, self.inputs, self.seeds)
        self.state = initial_state(self.world, self.inputs, self.seeds)
        self.diaspora = np.tile(self.world.diaspora, (self.batch.B, 1))
        self.step = 0

    @property
    def months(self) -> int:
        return self.batch.T

    def advance(self) -> dict[str, np.ndarray]:
        counts = step_month(self.batch, self.state, self.step, self.diaspora)
        self.step += 1
        return counts

    def run(self) -> list[dict[str, np.ndarray]]:
        return [self.advance() for _ in range(self.months - self.step)]


@pytest.fixture
def stepper():
    return Stepper
