"""Engine invariants (checked every month), determinism and independence of batching."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import sim
from sim.core.inputs import compile_inputs
from sim.core.random import replicate_seed
from sim.core.world import build_world
from sim.engines.state import LOCATED_METRICS, NATIONAL_METRICS, NO_ROUTE, Status
from sim.engines.vector import Batch, make_home, simulate, step_month

from helpers import Stepper, run_checked, small

AGENTS = 12_000
DARIEN = ("COL_NECOCLI", "PAN_DARIEN")
PANAMA_CONTAINMENT = {"kind": "containment", "country": "PAN", "start": "2015-01",
                      "interception_probability": 0.4, "capacity_per_month": 1e9}


@pytest.fixture(scope="module")
def small_baseline(baseline):
    return baseline.with_overrides(agents=AGENTS, months=10, warmup_months=3, replications=2)


def test_invariants_hold_every_month_on_baseline(small_baseline):
    st = Stepper(small_baseline, seeds=[replicate_seed(small_baseline.seed, r) for r in range(2)])
    months = run_checked(st)
    total = sum(m["entries_irregular"].sum() + m["encounters"].sum() for m in months)
    assert total > 0, "the check is vacuous if nobody moves"
    status = st.state.status
    for s in (Status.HOME, Status.TRANSIT, Status.BORDER, Status.ENTERED_IRREGULAR):
        assert np.any(status == s), s.name


def test_invariants_hold_with_every_kind_of_policy(make_scenario):
    scenario = make_scenario(
        agents=AGENTS, months=8, warmup_months=2, start="2023-01",
        world={"population": {"HND": 2e7}, "edges": {"MEX_SOUTH->MEX_NORTH": {"death_risk": 0.01}},
               "border_death_risk": 0.01},
        policies={
            "aid": {"kind": "aid", "start": "2022-01", "origins": ["HND", "GTM"], "budget_usd_per_year": 2e9},
            "mx": {"kind": "containment", "country": "MEX", "start": "2023-01", "interception_probability": 0.4,
                   "capacity_per_month": 50_000, "outcome": {"deport": 0.4, "hold": 0.3, "pushback": 0.3}},
            "gt": {"kind": "containment", "country": "GTM", "start": "2023-01", "interception_probability": 0.3,
                   "capacity_per_month": 1e7, "outcome": {"deport": 0.0, "hold": 0.0, "pushback": 1.0}},
            "pan": dict(PANAMA_CONTAINMENT, capacity_per_month=5_000),
            "us": {"kind": "enforcement", "start": "2023-01", "apprehension_probability": 0.9,
                   "outcome": {"expel_to_mexico": 0.4, "remove_to_origin": 0.4, "release": 0.2},
                   "reentry_bar_months": 2},
            "parole": {"kind": "legal_pathway", "pathway": "parole", "start": "2023-01",
                       "nationalities": ["VEN", "CUB"], "places_per_month": 20_000},
            "appointments": {"kind": "legal_pathway", "pathway": "appointments", "start": "2023-03",
                             "places_per_month": 10_000},
            "visa": {"kind": "visa", "country": "MEX", "start": "2023-01", "nationalities": ["COL"]},
            "closure": {"kind": "closure", "start": "2023-04", "edges": ["HTI->NIC_TRANSIT"]},
        },
        drivers={"shock": {"origin": "ALL", "driver": "violence", "kind": "step", "start": "2023-01", "change": 1.0}},
    )
    st = Stepper(scenario, seeds=[3, 4])
    months = run_checked(st)
    summed = {k: sum(m[k].sum() for m in months) for k in months[0]}
    for metric in ("encounters", "entries_irregular", "entries_legal", "expelled", "intercepted", "deported",
                   "deaths"):
        assert summed[metric] > 0, metric
    # interceptions only where a country runs containment, never of its own nationals
    world = st.world
    caught = sum(m["intercepted"] for m in months).sum(axis=0)          # (origins, nodes)
    policing = {"MEX", "GTM", "PAN"}
    for o, node in zip(*np.nonzero(caught)):
        country = world.node_country[node]
        assert country in policing, world.node_ids[node]
        assert country != world.origins[o], (world.origins[o], world.node_ids[node])
    assert caught[:, [world.node_ids.index(n) for n in ("MEX_SOUTH", "GTM_TRANSIT", "PAN_DARIEN")]].sum() > 0


def test_tidy_table_is_complete_and_non_negative(small_baseline):
    result = sim.run(small_baseline, months=4)
    frame = result.to_frame()
    assert list(frame.columns) == ["scenario", "replicate", "seed", "month", "nationality", "location",
                                   "metric", "value"]
    assert (frame["value"] >= 0).all()
    assert np.isfinite(frame["value"]).all()
    assert not frame.isna().any().any()
    assert set(frame.metric) >= set(NATIONAL_METRICS) | {"in_transit", "aid_spent_usd", "enforcement_spent_usd"}
    assert sorted(frame.month.unique()) == ["2023-01", "2023-02", "2023-03", "2023-04"]
    assert sorted(frame.replicate.unique()) == [0, 1]
    # national metrics: one row per replicate, month and origin
    national = frame[frame.metric.isin(NATIONAL_METRICS)]
    assert (national.location == "").all()
    assert len(national) == 2 * 4 * len(small_baseline.origins) * len(NATIONAL_METRICS)
    located = frame[frame.metric.isin(LOCATED_METRICS)]
    world = build_world(result.scenario)      # the horizon run (pools abroad are sized over it)
    assert set(located.location) <= set(world.node_ids)
    # persons are whole agents times persons per agent (nationalities living only at home: one pool each;
    # deaths are expectations: fractions of agents)
    single = [o for i, o in enumerate(world.origins) if (world.pool_origin == i).sum() == 1]
    assert "VEN" not in single and "HND" in single
    ppa = {o: world.persons_per_agent[world.pools.index(o)] for o in single}
    persons = frame[frame.metric.isin(NATIONAL_METRICS + LOCATED_METRICS) & frame.nationality.isin(single)
                    & (frame.metric != "deaths")]
    agents = persons.value / persons.nationality.map(ppa)
    assert np.allclose(agents, np.round(agents), atol=1e-6)


def closure_scenario(make_scenario, closed: bool):
    policies = {"pan": PANAMA_CONTAINMENT}
    if closed:
        policies["darien_closed"] = {"kind": "closure", "start": "2015-01", "edges": ["COL_NECOCLI->PAN_DARIEN"]}
    return make_scenario(agents=AGENTS, months=10, warmup_months=2, origins=["VEN", "ECU", "COL", "PER", "HTI", "CUB"],
                         policies=policies)


def test_closed_edge_carries_nobody(make_scenario):
    # control: with the edge open, Panama intercepts people at the Darien
    open_run = sim.run(closure_scenario(make_scenario, closed=False)).to_frame()
    at_darien = open_run[(open_run.location == "PAN_DARIEN")]
    assert at_darien[at_darien.metric == "intercepted"].value.sum() > 0

    scenario = closure_scenario(make_scenario, closed=True)
    st = Stepper(scenario, seeds=[11, 12])
    world = st.world
    edge = [i for i, e in enumerate(world.edges) if (e.source, e.target) == DARIEN][0]
    through = np.array([edge in legs for legs in world.route_edges])
    assert through.any() and not through.all()
    inputs = st.inputs[0]
    assert not inputs.route_open[:, through].any()
    darien = world.node_ids.index("PAN_DARIEN")
    moved = 0
    for _ in range(st.months):
        counts = st.advance()
        has_route = st.state.route != NO_ROUTE
        assert not through[st.state.route[has_route]].any()
        for metric in LOCATED_METRICS:
            assert counts[metric][:, :, darien].sum() == 0, metric
        moved += counts["in_transit"].sum()
    assert moved > 0
    frame = sim.run(scenario).to_frame()
    assert frame[frame.location == "PAN_DARIEN"].value.sum() == 0


def test_closure_ends_when_its_end_month_comes(make_scenario):
    scenario = make_scenario(agents=AGENTS, months=6, warmup_months=0, start="2023-01",
                             origins=["VEN", "ECU", "COL"],
                             policies={"c": {"kind": "closure", "start": "2015-01", "end": "2023-04",
                                             "edges": ["COL_NECOCLI->PAN_DARIEN"]}})
    world = build_world(scenario)
    inputs = compile_inputs(scenario, world)
    edge = [i for i, e in enumerate(world.edges) if (e.source, e.target) == DARIEN][0]
    through = np.array([edge in legs for legs in world.route_edges])
    assert not inputs.route_open[:3, through].any()
    assert inputs.route_open[3:, through].all()


def test_same_seed_gives_identical_tables(small_baseline):
    a = sim.run(small_baseline, months=6).to_frame()
    b = sim.run(small_baseline, months=6).to_frame()
    pd.testing.assert_frame_equal(a, b)


def test_different_seeds_give_different_tables(small_baseline):
    a = sim.run(small_baseline, months=6, seed=1).to_frame()
    b = sim.run(small_baseline, months=6, seed=2).to_frame()
    assert set(a.seed) != set(b.seed)
    key = ["replicate", "month", "nationality", "location", "metric"]
    merged = a.merge(b, on=key, how="outer", suffixes=("_a", "_b")).fillna({"value_a": 0, "value_b": 0})
    assert (merged.value_a != merged.value_b).any()
    # ... and the two replicates of one run differ from each other
    r0 = a[a.replicate == 0].set_index(key[1:]).value
    r1 = a[a.replicate == 1].set_index(key[1:]).value
    assert not r0.equals(r1)


def _assert_counts_equal(batch, singles):
    for group in ("national", "located"):
        for metric, value in getattr(batch, group).items():
            stacked = np.concatenate([getattr(s, group)[metric] for s in singles])
            assert np.array_equal(value, stacked), metric
    assert np.array_equal(batch.aid_spent, np.concatenate([s.aid_spent for s in singles]))
    assert np.array_equal(batch.enforcement_spent, np.concatenate([s.enforcement_spent for s in singles]))


def test_batch_of_replicates_equals_single_runs(small_baseline):
    scenario = small_baseline.with_overrides(replications=3, months=8)
    world = build_world(scenario)
    inputs = compile_inputs(scenario, world)
    seeds = [replicate_seed(scenario.seed, r) for r in range(3)]
    batch = simulate(world, [inputs] * 3, seeds)
    singles = [simulate(world, [inputs], [seed]) for seed in seeds]
    assert batch.national["encounters"].sum() > 0
    _assert_counts_equal(batch, singles)
    # the API (which batches replicates) uses these seeds, and its first replicate is the
    # same table as a one-replication run
    frame = sim.run(scenario).to_frame()
    assert sorted(frame.seed.unique()) == sorted(seeds)
    assert (frame.groupby("replicate").seed.first().tolist()) == seeds
    alone = sim.run(scenario.with_overrides(replications=1)).to_frame()
    pd.testing.assert_frame_equal(frame[frame.replicate == 0].reset_index(drop=True), alone)


def test_batch_state_equals_single_run_states(small_baseline):
    """Every agent-level draw is keyed by (seed, month, purpose, agent): agent by agent, a batch equals its runs."""
    scenario = small_baseline.with_overrides(months=8)
    seeds = [replicate_seed(scenario.seed, r) for r in range(3)]
    together = Stepper(scenario, seeds=seeds)
    together.run()
    n = together.batch.n
    for b, seed in enumerate(seeds):
        alone = Stepper(scenario, seeds=[seed])
        alone.run()
        for field in ("status", "route", "leg", "savings", "risk_level", "tie", "attempts", "since",
                      "blocked_until", "pool"):
            got = getattr(together.state, field)[b * n: (b + 1) * n]
            assert np.array_equal(got, getattr(alone.state, field)), (b, field)
        assert np.array_equal(together.diaspora[b], alone.diaspora[0])


def test_batch_of_different_scenarios_equals_single_runs(baseline, repo_root):
    """Sweep points with different inputs in one batch do not leak into each other."""
    fields = dict(agents=AGENTS, months=8, warmup_months=2)
    base = baseline.with_overrides(**fields)
    other = sim.load_scenario(repo_root / "scenarios" / "baseline.yaml").with_overrides(
        **fields, policies={**base.model_dump(mode="json")["policies"],
                            "strong": {"kind": "containment", "country": "MEX", "start": "2023-01",
                                       "interception_probability": 0.6, "capacity_per_month": 1e6},
                            "cbp_one_expanded": {"kind": "legal_pathway", "pathway": "appointments",
                                                 "start": "2023-01", "places_per_month": 1e5}})
    world = build_world(base)
    inputs = [compile_inputs(base, world), compile_inputs(other, world)]
    seeds = [5, 5]
    batch = simulate(world, inputs, seeds)
    singles = [simulate(world, [inp], [s]) for inp, s in zip(inputs, seeds)]
    _assert_counts_equal(batch, singles)
    # same seed, different policies: the runs differ
    assert not np.array_equal(batch.located["intercepted"][0], batch.located["intercepted"][1])


def test_chunked_api_run_equals_one_batch(small_baseline, monkeypatch):
    """sim.run splits replicates into batches when memory is short; the table must not change."""
    import sim.simulation as simulation

    scenario = small_baseline.with_overrides(replications=3, months=5)
    whole = sim.run(scenario).to_frame()
    monkeypatch.setattr(simulation, "available_bytes", lambda: 2 * simulation.estimate_bytes(AGENTS, 1))
    chunked = sim.run(scenario).to_frame()
    pd.testing.assert_frame_equal(whole, chunked)


def test_batch_accepts_sweep_points_with_different_parole_blocks(baseline):
    """Batch's docstring: runs of sweep points sharing agent counts and months are batched.

    A sweep point that adds a parole block has one more parole pool than the others; the
    batch must still run and give each point its own single-run result.
    """
    fields = dict(agents=AGENTS, months=4, warmup_months=1)
    base = baseline.with_overrides(**fields)
    policies = base.model_dump(mode="json")["policies"]
    extra = base.with_overrides(policies={**policies, "parole_hnd": {
        "kind": "legal_pathway", "pathway": "parole", "start": "2023-01", "nationalities": ["HND"],
        "places_per_month": 5e4}})
    world = build_world(base)
    inputs = [compile_inputs(base, world), compile_inputs(extra, world)]
    batch = simulate(world, inputs, [5, 5])
    singles = [simulate(world, [inp], [5]) for inp in inputs]
    _assert_counts_equal(batch, singles)


def test_expected_deaths_agree_with_the_deaths_drawn():
    """Deaths are counted as the sum of the exposed agents' death probabilities: on average the agents who die."""
    scenario = small(agents=20_000, months=12, warmup_months=1, seed=21, origins=["VEN", "HND", "GTM"],
                     behaviour={"hazard": {"intercept": {"VEN": -3.0, "HND": -3.0, "GTM": -3.0}}},
                     world={"border_death_risk": 0.02, "edges": {"COL_NECOCLI->PAN_DARIEN": {"death_risk": 0.03}}})
    world = build_world(scenario)
    inputs = compile_inputs(scenario, world)
    seeds = list(range(1, 9))
    batch = Batch(world, [inputs] * len(seeds), seeds)
    state, home = make_home(batch, [inputs] * len(seeds))
    diaspora = np.tile(world.diaspora, (batch.B, 1))
    expected = np.zeros(batch.B)
    for step in range(batch.T):
        expected += step_month(batch, state, step, diaspora, home)["deaths"].sum(axis=(1, 2))
    drawn = (state.status.reshape(batch.B, -1) == Status.DEAD).sum(axis=1)
    assert drawn.sum() > 400                               # not vacuous: many deaths on the way and at the border
    # the sampled deaths scatter around the expectation (binomial noise; 4 standard errors)
    assert abs(drawn.sum() - expected.sum()) < 4 * np.sqrt(expected.sum())
    # and the expectation varies far less between runs than the draws do
    assert expected.std() < drawn.std()


def test_transits_count_arrivals_at_each_node_and_bound_interceptions(small_baseline):
    """Every interception at a node follows an arrival there the same month; without deaths or
    containment everyone reaching the Darien reaches Costa Rica the same month (same counts),
    and Panama's deportations make Costa Rica's count the smaller."""
    scenario = small_baseline.with_overrides(agents=20_000, months=8)
    frame = sim.run(scenario).to_frame()
    by = frame.groupby(["metric", "replicate", "month", "nationality", "location"])["value"].sum()
    caught = by.loc["intercepted"]
    arrived = by.loc["transits"].reindex(caught.index, fill_value=0.0)
    assert (caught > 0).any() and (caught <= arrived + 1e-9).all()
    assert "VEN" not in set(frame.query("metric == 'transits'").location)     # origin nodes are not arrivals

    data = scenario.model_dump(mode="json")
    data["policies"] = {}
    data["world"] = {"border_death_risk": 0.0,
                     "edges": {f"{e.source}->{e.target}": {"death_risk": 0.0} for e in build_world(scenario).edges}}

    def transits(policies: dict) -> pd.DataFrame:
        run = sim.run(sim.Scenario.model_validate({**data, "policies": policies})).to_frame()
        return run.query("metric == 'transits'").groupby(["nationality", "location"])["value"].sum().unstack()

    free = transits({})
    assert free["PAN_DARIEN"].sum() > 0
    pd.testing.assert_series_equal(free["PAN_DARIEN"], free["CRI_TRANSIT"], check_names=False)
    panama = transits({"panama": {**PANAMA_CONTAINMENT, "outcome": {"deport": 1.0, "hold": 0.0, "pushback": 0.0}}})
    assert panama["CRI_TRANSIT"].sum() < 0.8 * panama["PAN_DARIEN"].sum()
