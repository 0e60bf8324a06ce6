"""Shared fixtures: the repository root, shipped scenarios, small scenarios and YAML writers."""
from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import numpy as np
import pytest

import sim
from sim.engine import Batch, initial_state, step_month
from sim.home_pools import HomePools
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


TINY_SWEEP_BASE = """\
schema_version: 1
name: tiny
agents: 300
months: 3
warmup_months: 1
replications: 1
seed: 3
origins: [GTM, HND, VEN]
policies:
  us: {kind: enforcement, start: 2023-01, apprehension_probability: 0.8}
"""
"""A tiny base scenario for sweep files (3 origins, 300 agents, 3 months)."""


def shipped_scenario_files() -> list[Path]:
    """Every scenario shipped in scenarios/ (plain, or sweep and calibration files built on one; not studies)."""
    from sim.compare.study import is_study
    from sim.yamlio import read_yaml

    return sorted(p for p in SCENARIOS.glob("*.yaml") if not is_study(read_yaml(p).data))


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

    def __init__(self, scenario_or_world, inputs=None, seeds=(1,), grouped: bool = False):
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
        self.pools = HomePools(self.batch, self.state) if grouped else None
        self.step = 0

    @property
    def months(self) -> int:
        return self.batch.T

    def advance(self) -> dict[str, np.ndarray]:
        counts = step_month(self.batch, self.state, self.step, self.diaspora, self.pools)
        self.step += 1
        return counts

    def run(self) -> list[dict[str, np.ndarray]]:
        return [self.advance() for _ in range(self.months - self.step)]


@pytest.fixture
def stepper():
    return Stepper


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
needs_browser = pytest.mark.skipif(not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()),
                                   reason="Debian packages chromium and chromium-driver are not installed "
                                   "(.ci/run installs them)")


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """Headless Chromium driven by Selenium (Debian's chromium and chromedriver; nothing downloaded)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1500,1000", f"--user-data-dir={tmp_path_factory.mktemp('chromium')}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()
