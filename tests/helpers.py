"""Helpers shared by the tests (importable as ``helpers``: pytest puts tests/ on the path).

Paths of the repository and its scenarios, small scenarios, an engine stepper that keeps
the state between months, the invariants every month must keep, and the headless browser.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

import sim
from sim.core.inputs import compile_inputs
from sim.core.world import build_world
from sim.engines.state import NO_ROUTE, Status
from sim.engines.vector import Batch, make_home, step_month

REPO_ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = REPO_ROOT / "scenarios"
BASELINE = SCENARIOS / "baseline.yaml"
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


def tiny_sweep(samples: int, design: str = "lhs", base: str = "base.yaml", name: str = "tiny_sweep") -> str:
    """A sweep file on ``base``: two apprehension probabilities crossed with ``samples`` futures of the network
    effect (``design``: lhs, sobol, morris), two replications."""
    return f"""\
schema_version: 1
extends: {base}
name: {name}
sweep:
  replications: 2
  levers:
    parameters:
      policies.us.apprehension_probability: [0.6, 0.9]
  uncertainties:
    design: {design}
    samples: {samples}
    parameters:
      behaviour.hazard.network: {{distribution: uniform, low: 0.1, high: 0.6}}
"""
SMALL_RUN = """\
schema_version: 1
name: small
agents: 300
months: 2
warmup_months: 1
replications: 1
seed: 11
origins: [GTM, HND, VEN]
behaviour:
  hazard:
    intercept: {GTM: -4.0, HND: -4.0, VEN: -4.0}
policies:
  us: {kind: enforcement, start: 2023-01, apprehension_probability: 0.8}
"""
"""A small run that moves (3 origins with high leave odds, 300 agents, 2 months) for tests that stop or break it."""


def shipped_scenario_files() -> list[Path]:
    """Every scenario shipped in scenarios/ (plain, or sweep and calibration files built on one; not studies)."""
    from sim.core.yamlio import read_yaml
    from sim.experiments.comparisons.study import is_study

    return sorted(p for p in SCENARIOS.glob("*.yaml") if not is_study(read_yaml(p).data))


def load_base_scenario(path) -> sim.Scenario:
    """The scenario a shipped file describes, without blocks that other commands read (sweep, calibration)."""
    from sim.core.scenario import validate_located
    from sim.core.yamlio import load_with_extends

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


class Stepper:
    """Runs the vector engine month by month (as ``simulate`` does), keeping the state."""

    def __init__(self, scenario_or_world, inputs=None, seeds=(1,), grouped: bool = False):
        if inputs is None:
            scenario = scenario_or_world
            self.world = build_world(scenario)
            inputs = [compile_inputs(scenario, self.world)] * len(seeds)
        else:
            self.world = scenario_or_world
        self.inputs = list(inputs)
        self.seeds = [int(s) for s in seeds]
        self.batch = Batch(self.world, self.inputs, self.seeds, grouped)
        self.state, self.home = make_home(self.batch, self.inputs)    # HomePools when grouped
        self.diaspora = np.tile(self.world.diaspora, (self.batch.B, 1))
        self.recent = np.zeros_like(self.diaspora)
        self.step = 0

    @property
    def months(self) -> int:
        return self.batch.T

    def advance(self) -> dict[str, np.ndarray]:
        counts = step_month(self.batch, self.state, self.step, self.diaspora, self.home, self.recent)
        self.step += 1
        return counts

    def run(self) -> list[dict[str, np.ndarray]]:
        return [self.advance() for _ in range(self.months - self.step)]


VALID = {int(s) for s in Status}


def check_month(st: Stepper, counts: dict, before: np.ndarray, cumulative: dict) -> None:
    """Every invariant that must hold after each month."""
    world, state, B, n = st.world, st.state, st.batch.B, st.batch.n
    status = state.status
    # every agent in exactly one valid state
    assert status.shape == (B * n,)
    assert set(np.unique(status).tolist()) <= VALID
    run = np.arange(B * n) // n
    by_status = np.bincount(run * len(Status) + status, minlength=B * len(Status)).reshape(B, len(Status))
    assert np.all(by_status.sum(axis=1) == n)
    # persons conserved by pool: agents x persons per agent == population
    origin = world.agent_pool
    ppa = world.persons_per_agent
    for b in range(B):
        part = status[b * n: (b + 1) * n]
        per = np.zeros((len(Status), len(world.pools)), np.int64)
        np.add.at(per, (part.astype(np.intp), origin.astype(np.intp)), 1)
        assert np.allclose((per * ppa[None, :]).sum(axis=0), world.population, rtol=1e-9)
    # absorbing states stay put
    for absorbing in (Status.DEAD, Status.ENTERED_IRREGULAR, Status.ENTERED_LEGAL):
        was = before == absorbing
        assert np.all(status[was] == absorbing), absorbing.name
    # event counts are non-negative and consistent with the states
    for name, value in counts.items():
        assert np.all(value >= 0), name
        cumulative[name] = cumulative.get(name, 0) + value
    agents_in = lambda s: np.stack([np.bincount(origin[status[b * n:(b + 1) * n] == s], minlength=len(world.pools))  # noqa: E731
                                    for b in range(B)])
    assert np.array_equal(cumulative["entries_irregular"], agents_in(Status.ENTERED_IRREGULAR))
    assert np.array_equal(cumulative["entries_legal"], agents_in(Status.ENTERED_LEGAL))
    # deaths are expectations: anyone who died was exposed, so their origin has expected deaths
    assert np.all(cumulative["deaths"].sum(axis=2)[agents_in(Status.DEAD) > 0] > 0)
    moving = agents_in(Status.TRANSIT) + agents_in(Status.BORDER)
    assert np.array_equal(counts["in_transit"].sum(axis=2), moving)
    # deportations in transit are a subset of that node's interceptions (the USA node holds removals)
    transit_nodes = np.arange(len(world.node_ids)) != world.node_ids.index("USA")
    assert np.all(counts["deported"][:, :, transit_nodes] <= counts["intercepted"][:, :, transit_nodes])
    assert np.all(counts["expelled"] <= counts["encounters"])
    # only people of pools abroad wait at home for a month (their arrival in the host)
    waiting = (status == Status.HOME) & (state.blocked_until > 0)
    assert not world.pool_home[state.pool[waiting]].any()
    # people on the way hold a route of their own pool, and a position on it
    on_way = np.flatnonzero((status == Status.TRANSIT) | (status == Status.BORDER))
    route = state.route[on_way].astype(np.intp)
    assert np.all(route != NO_ROUTE)
    assert np.all(world.route_pool[route] == state.pool[on_way])
    assert np.all(state.leg[on_way] < world.route_length[route])
    at_border = np.flatnonzero(status == Status.BORDER)
    assert np.all(world.route_nodes[state.route[at_border], state.leg[at_border]] == world.border)
    assert np.all(state.savings >= 0)


def run_checked(st: Stepper) -> list[dict]:
    cumulative: dict = {}
    out = []
    for _ in range(st.months):
        before = st.state.status.copy()
        counts = st.advance()
        check_month(st, counts, before, cumulative)
        out.append(counts)
    return out


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
needs_browser = pytest.mark.skipif(not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()),
                                   reason="Debian packages chromium and chromium-driver are not installed "
                                   "(.ci/run installs them)")


def figure_text_problems(fig, min_size: float = 8.0) -> list[str]:
    """What makes a figure hard to read at 100 % zoom, drawn with its renderer: tick labels of one axis that
    overlap each other or the axis label, or read the same, texts that stick out of the figure, fonts under
    ``min_size`` points, numbers written with an exponent (1e+07). An empty list when there is none."""
    from matplotlib.text import Text

    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    problems = []

    def shown(texts):
        return [t for t in texts if t.get_visible() and t.get_text().strip()]

    def drawn(axis, labels):
        """Tick labels within the axis' span (matplotlib also keeps labels of ticks beyond it, not drawn)."""
        span = axis.axes.get_window_extent(renderer)
        low, high = (span.x0, span.x1) if axis.axis_name == "x" else (span.y0, span.y1)
        middle = [(b.x0 + b.x1) / 2 if axis.axis_name == "x" else (b.y0 + b.y1) / 2
                  for b in (t.get_window_extent(renderer) for t in labels)]
        return [t for t, m in zip(labels, middle) if low - 1 <= m <= high + 1]

    hidden = {id(t) for ax in fig.axes if not ax.get_visible() for t in ax.findobj(Text)}    # panels left empty
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            every = shown(axis.get_ticklabels(which="both"))
            hidden |= set(map(id, every)) - set(map(id, drawn(axis, every)))
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        for axis in (ax.xaxis, ax.yaxis):
            labels = drawn(axis, shown(axis.get_ticklabels(which="both")))
            written = [t.get_text() for t in labels]
            problems += [f"tick label {text!r} written twice on one axis" for text in sorted(set(written))
                         if written.count(text) > 1]
            boxes = [t.get_window_extent(renderer).expanded(0.98, 0.98) for t in labels]
            for i in range(len(labels)):
                for j in range(i + 1, len(labels)):
                    if boxes[i].overlaps(boxes[j]):
                        problems.append(f"tick labels overlap: {labels[i].get_text()!r} and {labels[j].get_text()!r}")
            title = axis.label
            if title.get_visible() and title.get_text():
                box = title.get_window_extent(renderer)
                problems += [f"tick label {t.get_text()!r} overlaps the axis label {title.get_text()!r}"
                             for t, b in zip(labels, boxes) if b.overlaps(box)]
    width, height = fig.bbox.width, fig.bbox.height
    for text in shown(fig.findobj(Text)):
        if id(text) in hidden or (text.axes is not None and not text.axes.get_visible()):
            continue
        box = text.get_window_extent(renderer)
        if box.x0 < -2 or box.y0 < -2 or box.x1 > width + 2 or box.y1 > height + 2:
            problems.append(f"text outside the figure: {text.get_text()!r}")
        if text.get_fontsize() < min_size:
            problems.append(f"font of {text.get_fontsize():g} pt: {text.get_text()!r}")
        if "e+" in text.get_text() or "e-0" in text.get_text() or "×10" in text.get_text():
            problems.append(f"a number with an exponent: {text.get_text()!r}")
    return problems


def tick_texts(axis) -> list[str]:
    """The texts of an axis' major tick labels that are drawn (within the axis' span)."""
    axis.figure.canvas.draw()
    renderer = axis.figure.canvas.get_renderer()
    span = axis.axes.get_window_extent(renderer)
    low, high = (span.x0, span.x1) if axis.axis_name == "x" else (span.y0, span.y1)
    out = []
    for t in axis.get_ticklabels():
        box = t.get_window_extent(renderer)
        middle = (box.x0 + box.x1) / 2 if axis.axis_name == "x" else (box.y0 + box.y1) / 2
        if t.get_visible() and t.get_text() and low - 1 <= middle <= high + 1:
            out.append(t.get_text())
    return out
