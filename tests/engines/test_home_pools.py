"""Grouped home decisions: the same distribution as per-agent draws, exact bookkeeping, reproducible."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import sim
from sim.core.countries import ORIGINS
from sim.core.inputs import compile_inputs
from sim.core.random import replicate_seed
from sim.core.world import build_world
from sim.engines.state import Status
from sim.engines.vector import simulate
from sim.engines.vector.pools import _distinct_live, _float32_at_least

from helpers import Stepper, run_checked, small

BUSY = {"hazard": {"intercept": {o: -3.0 for o in ORIGINS}}}


def test_distinct_live_positions_are_a_uniform_subset():
    rng = np.random.Generator(np.random.Philox(key=7))
    first, end, k = np.array([0, 20]), np.array([10, 26]), np.array([3, 5])
    dead = np.array([2, 5, 21])
    seen = np.zeros(26)
    for _ in range(4000):
        picked = _distinct_live(rng, first, end, k, dead)
        assert picked.size == 8 and np.unique(picked).size == 8
        assert not np.isin(picked, dead).any()
        assert ((picked[:3] >= 0) & (picked[:3] < 10)).all() and ((picked[3:] >= 20) & (picked[3:] < 26)).all()
        seen[picked] += 1
    live = np.setdiff1d(np.arange(10), dead)
    _, p = stats.chisquare(seen[live])                     # each live position equally likely
    assert p > 1e-3
    assert seen[live].sum() == 3 * 4000
    assert (seen[np.setdiff1d(np.arange(20, 26), dead)] == 4000).all()     # 5 of 5 live: all taken


def test_float32_threshold_matches_the_float64_comparison():
    rng = np.random.default_rng(1)
    threshold = rng.uniform(0, 5000, 2000)
    savings = (threshold + rng.normal(0, 1e-3, 2000)).astype(np.float32)
    assert np.array_equal(savings >= _float32_at_least(threshold), savings.astype(np.float64) >= threshold)


def test_leavers_per_group_follow_the_binomial():
    """One month from the same start: per-agent and grouped leaver counts have the same distribution."""
    scenario = small(agents=4_000, months=1, warmup_months=0, origins=["HND", "GTM"], behaviour=BUSY)
    world = build_world(scenario)
    inputs = compile_inputs(scenario, world)
    seeds = list(range(1, 301))
    counts = {}
    for grouped in (False, True):
        st = Stepper(world, [inputs] * len(seeds), seeds=seeds, grouped=grouped)
        st.advance()
        left = (st.state.status != Status.HOME).reshape(len(seeds), -1).sum(axis=1)
        counts[grouped] = left
    assert counts[False].mean() > 20
    assert stats.ks_2samp(counts[False], counts[True]).pvalue > 1e-3
    assert stats.mannwhitneyu(counts[False], counts[True]).pvalue > 1e-3
    assert counts[True].var() == pytest.approx(counts[False].var(), rel=0.35)


def test_outcomes_have_the_same_distribution_in_both_modes():
    """Two-sample tests over 80 seeds on the totals of every national metric and of interceptions."""
    scenario = small(agents=3_000, months=10, warmup_months=2, behaviour=BUSY,
                     policies={"mx": {"kind": "containment", "country": "MEX", "start": "2022-01",
                                      "interception_probability": 0.4, "capacity_per_month": 3e5},
                               "us": {"kind": "enforcement", "start": "2022-01", "apprehension_probability": 0.8,
                                      "outcome": {"expel_to_mexico": 0.4, "remove_to_origin": 0.2, "release": 0.4}},
                               "cbp": {"kind": "legal_pathway", "pathway": "appointments", "start": "2022-01",
                                       "places_per_month": 30_000}})
    world = build_world(scenario)
    inputs = compile_inputs(scenario, world)
    seeds = [replicate_seed(99, r) for r in range(80)]
    totals = {}
    for grouped in (False, True):
        c = simulate(world, [inputs] * len(seeds), seeds, grouped=grouped)
        totals[grouped] = pd.DataFrame({m: v.sum(axis=(1, 2)) for m, v in c.national.items()}
                                       | {"intercepted": c.located["intercepted"].sum(axis=(1, 2, 3))})
    for metric in totals[False]:
        a, b = totals[False][metric], totals[True][metric]
        assert a.mean() > 0, metric
        assert stats.ks_2samp(a, b).pvalue > 1e-3, metric
        assert abs(a.mean() - b.mean()) < 4 * np.sqrt(a.var() / len(a) + b.var() / len(b)) + 1e-9, metric


def test_grouped_invariants_hold_every_month():
    scenario = small(agents=3_000, months=12, warmup_months=2, behaviour=BUSY,
                     policies={"us": {"kind": "enforcement", "start": "2022-01", "apprehension_probability": 0.9,
                                      "outcome": {"expel_to_mexico": 0.3, "remove_to_origin": 0.5, "release": 0.2},
                                      "reentry_bar_months": 2},
                               "mx": {"kind": "containment", "country": "MEX", "start": "2022-01",
                                      "interception_probability": 0.5, "capacity_per_month": 1e7,
                                      "outcome": {"deport": 0.5, "hold": 0.3, "pushback": 0.2}}})
    st = Stepper(scenario, seeds=[5, 6], grouped=True)
    months = run_checked(st)
    assert sum(m["encounters"].sum() for m in months) > 0
    pools, state = st.home, st.state
    # every person free to leave is in exactly one pool, barred people are not, and movers are tracked
    free = np.flatnonzero((state.status == Status.HOME) |
                          ((state.status == Status.RETURNED) & (state.blocked_until <= st.step)))
    held = []
    for b, pool in enumerate(pools.runs):
        alive = np.ones(pool.members.size, dtype=bool)
        alive[pool.dead] = False
        held += [pool.members[alive].astype(np.int64) + b * pools.n, pool.side + b * pools.n]
    held = np.concatenate(held)
    barred_free = pools.barred[state.blocked_until[pools.barred] <= st.step]     # released next month
    assert np.array_equal(np.sort(np.concatenate([held, barred_free])), free)
    moving = np.flatnonzero((state.status == Status.TRANSIT) | (state.status == Status.BORDER))
    assert np.array_equal(pools.movers, moving)
    assert (state.status == Status.RETURNED).any()


def test_grouped_is_reproducible_and_independent_of_batching():
    scenario = small(agents=2_000, months=6, behaviour=BUSY)
    world = build_world(scenario)
    inputs = compile_inputs(scenario, world)
    together = simulate(world, [inputs] * 3, [1, 2, 3], grouped=True)
    for b, seed in enumerate([1, 2, 3]):
        alone = simulate(world, [inputs], [seed], grouped=True)
        for metric, values in alone.national.items():
            np.testing.assert_array_equal(values[0], together.national[metric][b], err_msg=metric)
        for metric, values in alone.located.items():
            np.testing.assert_array_equal(values[0], together.located[metric][b], err_msg=metric)


def test_grouped_engine_from_the_api_and_cli(tmp_path):
    from sim.cli import main
    from sim.outputs.files import read_provenance

    scenario = small(agents=1_500, months=4, replications=2, behaviour=BUSY)
    a = sim.run(scenario, engine="grouped").to_frame()
    b = sim.run(scenario, engine="grouped").to_frame()
    pd.testing.assert_frame_equal(a, b)
    path = tmp_path / "s.yaml"
    path.write_text("schema_version: 1\nname: g\nagents: 800\nmonths: 3\nreplications: 1\n")
    assert main(["run", str(path), "--engine", "grouped", "--quiet", "--out", str(tmp_path / "out")]) == 0
    assert read_provenance(tmp_path / "out" / "outcomes.parquet")["engine"] == "grouped"
