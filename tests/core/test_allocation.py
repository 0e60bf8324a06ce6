"""Agents where the movement is: the movers allocation, unbiased, shared by a study's scenarios."""
from __future__ import annotations

import numpy as np
import pandas as pd

import sim
from sim.core import rules
from sim.core.allocation import movers_weight, sampled_world
from sim.core.countries import ORIGINS
from sim.core.world import allocate_agents, build_world

from helpers import BASELINE, small


def test_weights_follow_the_spread_of_who_moves():
    population = np.array([1e6, 1e6, 4e6])
    p = np.array([0.01, 0.04, 0.01])
    weight = rules.allocation_weight(population, p)
    np.testing.assert_allclose(weight, population * np.sqrt(p * (1 - p)))
    assert weight[1] > 1.9 * weight[0] and weight[2] == 4 * weight[0]          # about sqrt(p) for rare moves
    assert rules.allocation_weight([1e6], [0.0])[0] == 0 == rules.allocation_weight([1e6], [1.0])[0]
    counts = allocate_agents(population, 700, "movers", np.array([1.0, 2.0, 4.0]))
    assert counts.sum() == 700 and list(counts) == [100, 200, 400]
    assert list(allocate_agents(population, 10, "movers", np.zeros(3))) == list(allocate_agents(population, 10, "sqrt"))
    assert rules.share_affording(0.0, 0.6, 10_000.0, 1.0) == 1.0
    assert abs(rules.share_affording(6_000.0, 0.6, 10_000.0, 1.0) - 0.5) < 1e-12      # the median saver


def test_more_agents_where_more_people_leave():
    scenario = sim.load_scenario(BASELINE).with_overrides(agents=50_000)
    movers = sampled_world(scenario.with_overrides(agent_allocation="movers"))
    square = build_world(scenario.with_overrides(agent_allocation="sqrt"))
    assert movers.agents_per_pool.sum() == square.agents_per_pool.sum() == 50_000
    relative = movers_weight(scenario, square) / np.sqrt(square.population)     # movers' weight over sqrt's
    ratio = movers.agents_per_pool / square.agents_per_pool
    # agents move towards the origins with the most movers for their size, away from those with the fewest
    assert np.argmax(ratio) == np.argmax(relative) and ratio.max() > 1.2
    assert np.argmin(ratio) == np.argmin(relative) and ratio.min() < 0.8


def test_the_allocation_ignores_policies_so_scenarios_pair():
    base = small(agents=3_000, agent_allocation="movers")
    shipped = sim.load_scenario(BASELINE)
    other = base.model_copy(update={"policies": shipped.policies, "drivers": shipped.drivers})
    assert list(sampled_world(base).agents_per_pool) == list(sampled_world(other).agents_per_pool)
    assert list(sampled_world(base).agents_per_pool) != list(build_world(base.with_overrides(
        agent_allocation="sqrt")).agents_per_pool)
    # the behaviour (fitted intercepts) counts: fewer movers from an origin, fewer agents there
    calmer = base.model_copy(update={"behaviour": base.behaviour.model_copy(update={
        "hazard": base.behaviour.hazard.model_copy(update={"intercept": {**base.behaviour.hazard.intercept,
                                                                         "COL": -16.0}})})})
    col = list(base.origins).index("COL")
    assert sampled_world(calmer).agents_per_pool[col] < sampled_world(base).agents_per_pool[col]


def test_sweep_points_that_change_behaviour_get_their_own_world_with_movers():
    from sim.experiments.sweeps.design import world_key

    data = small(agent_allocation="movers").model_dump(mode="json")
    changed = {**data, "behaviour": {**data["behaviour"], "border": {**data["behaviour"]["border"],
                                                                     "attempt_probability": 0.5}}}
    assert world_key(data) != world_key(changed)
    assert world_key({**data, "agent_allocation": "sqrt"}) == world_key({**changed, "agent_allocation": "sqrt"})
    assert world_key(data) == world_key({**data, "policies": {}})


def test_estimates_unchanged_in_expectation():
    """Encounters over many replications agree between allocations (each agent weighs population / agents)."""
    scenario = sim.load_scenario(BASELINE).with_overrides(agents=6_000, months=6, replications=24)
    totals = {}
    for allocation in ("sqrt", "movers"):
        frame = sim.run(scenario.with_overrides(agent_allocation=allocation)).to_frame()
        runs = frame[frame.metric == "encounters"].groupby("replicate").value.sum()
        totals[allocation] = (runs.mean(), runs.std(ddof=1) / np.sqrt(len(runs)))
    (a, sa), (b, sb) = totals["sqrt"], totals["movers"]
    assert abs(a - b) < 4 * np.hypot(sa, sb)


def test_both_engines_identical_with_movers():
    scenario = small(agents=1_500, months=6, warmup_months=1, agent_allocation="movers",
                     behaviour={"hazard": {"intercept": dict.fromkeys(ORIGINS, -4.0)}})
    vector = sim.run(scenario, engine="vector").to_frame()
    mesa = sim.run(scenario, engine="mesa").to_frame()
    pd.testing.assert_frame_equal(vector, mesa, check_exact=True)
