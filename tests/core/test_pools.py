"""Pools of people abroad, the network as data, and the drivers each pool faces."""
from __future__ import annotations

import numpy as np
import pytest

import sim
from sim.core.calendar import format_month
from sim.core.drivers import DRIVERS, pool_drivers
from sim.core.errors import ScenarioError
from sim.core.inputs import compile_inputs
from sim.core.monthly_drivers import monthly_inflation
from sim.core.pools import shipped_pools
from sim.core.stocks import arrived_by, end_year_points, monthly_stock
from sim.core.world import build_world, simulated_months

from helpers import small


def test_shipped_pools_are_venezuelans_in_five_hosts_sized_by_unhcr():
    names = {p.name: p for p in shipped_pools()}
    assert set(names) == {"VEN_in_COL", "VEN_in_PER", "VEN_in_ECU", "VEN_in_CHL", "VEN_in_BRA"}
    scenario = small(start="2021-01", months=24, warmup_months=2)
    world = build_world(scenario)
    assert world.pools[:11] == tuple(scenario.origins) and world.pool_home[:11].all()
    p = world.pools.index("VEN_in_COL")
    months = simulated_months(scenario)
    stock = arrived_by(monthly_stock(end_year_points("VEN", "COL"), months))
    assert world.population[p] == pytest.approx(stock[-1])                 # the most there in the horizon
    assert np.allclose(world.pool_present[:, p], stock / stock[-1])
    assert world.origins[world.pool_origin[p]] == "VEN" and world.pool_country[p] == "COL"


def test_people_abroad_arrive_in_agent_order_as_the_stock_grows():
    world = build_world(small(start="2021-06", months=18, warmup_months=1, agents=50_000))
    arrival = world.arrival_step()
    start = 0
    for p, n in enumerate(world.agents_per_pool):
        steps = arrival[start: start + n]
        if world.pool_home[p]:
            assert not steps.any()
        else:
            assert np.all(np.diff(steps) >= 0)                               # earlier agents arrive first
            there = np.array([(steps <= t).sum() for t in range(len(world.pool_present))])
            assert np.array_equal(there, np.floor(world.pool_present[:, p] * n + 1e-9).astype(int))
        start += n
    assert arrival.max() > 0


def test_scenario_adds_resizes_and_removes_pools():
    base = build_world(small())
    world = build_world(small(world={"pools": {
        "VEN_in_BRA": None,
        "VEN_in_COL": {"scale": 0.5},
        "HTI_in_CHL": {"nationality": "HTI", "host": "CHL", "stock": {2018: 100000, "2023-06": 150000}}}}))
    assert "VEN_in_BRA" in base.pools and "VEN_in_BRA" not in world.pools
    assert world.population[world.pools.index("VEN_in_COL")] == pytest.approx(
        0.5 * base.population[base.pools.index("VEN_in_COL")])
    h = world.pools.index("HTI_in_CHL")
    assert world.pool_country[h] == "CHL" and world.node_ids[world.pool_node[h]] == "CHL"
    assert world.population[h] == pytest.approx(150000)
    routes = [world.route_label(r) for r in world.pool_routes[h] if r >= 0]
    assert routes and all(label.startswith("CHL>") for label in routes)


@pytest.mark.parametrize("pools, message", [
    ({"NEW": {"nationality": "HTI"}}, "a new pool needs host, stock"),
    ({"NEW": {"nationality": "GTM", "host": "CHL", "stock": "unhcr"}}, "no stock of GTM in CHL"),
    ({"NEW": {"nationality": "HTI", "host": "CHL", "node": "PAN_DARIEN", "stock": {2020: 1.0}}},
     "sets out from an origin or host node"),
    ({"NEW": {"nationality": "BRA", "host": "CHL", "stock": {2020: 1.0}}}, "unknown nationality 'BRA'"),
])
def test_bad_pools_are_refused_with_the_reason(pools, message):
    with pytest.raises(ScenarioError, match=message):
        _validate({"schema_version": 1, "name": "t", "world": {"pools": pools}})


def _validate(data: dict):
    from sim.core.scenario import validate_located
    from sim.core.yamlio import Located

    return validate_located(Located(data, {}, "scenario.yaml"))


def test_a_new_origin_and_its_routes_come_from_scenario_data_alone():
    data = {"schema_version": 1, "name": "bolivia", "agents": 3000, "months": 6, "warmup_months": 1,
            "start": "2023-01", "origins": ["BOL", "PER"],
            "world": {"nodes": {"BOL": {"country": "BOL", "kind": "origin", "name": "Bolivia"}},
                      "edges": {"BOL->COL_NECOCLI": {"travel_months": 0.6, "cost_usd": 500, "death_risk": 0.0001,
                                                     "mode": "land"}},
                      "population": {"BOL": 12e6}, "diaspora": {"BOL": 1e5}, "gdp_per_capita_usd": {"BOL": 9000}},
            "behaviour": {"hazard": {"intercept": {"BOL": -3.0}}}}
    scenario = _validate(data)
    world = build_world(scenario)
    assert world.origins == ("BOL", "PER") and any(world.route_label(r).startswith("BOL>COL_NECOCLI")
                                                    for r in range(len(world.route_pool)))
    frame = sim.run(scenario, replications=1).to_frame()
    assert frame.query("metric == 'transits' and nationality == 'BOL'").value.sum() > 0
    missing = {**data, "world": {**data["world"], "population": {}}}
    with pytest.raises(ScenarioError, match="BOL has no population"):
        _validate(missing)
    half_edge = {**data, "world": {**data["world"], "edges": {"BOL->COL_NECOCLI": {"cost_usd": 500}}}}
    with pytest.raises(ScenarioError, match="is a new edge: it needs travel_months, death_risk, mode"):
        _validate(half_edge)


def test_pools_abroad_face_the_hosts_prices_and_unrest_not_its_violence():
    scenario = small(start="2022-01", months=12, warmup_months=0)
    world = build_world(scenario)
    calendar = simulated_months(scenario)
    drivers = pool_drivers(scenario, world, calendar)
    p, home = world.pools.index("VEN_in_COL"), world.pools.index("COL")
    inflation, violence, repression, unrest = (DRIVERS.index(d) for d in ("inflation", "violence", "repression",
                                                                          "unrest"))
    assert np.allclose(drivers[:, p, inflation], monthly_inflation("COL", calendar)[0])
    assert np.array_equal(drivers[:, p, unrest], drivers[:, home, unrest])
    assert not drivers[:, p, violence].any() and not drivers[:, p, repression].any()
    assert drivers[:, world.pools.index("VEN"), violence].all()
    shocked = small(start="2022-01", months=12, warmup_months=0, drivers={
        "prices": {"origin": "COL", "driver": "inflation", "kind": "step", "start": "2022-06", "change": 1.0}})
    after = pool_drivers(shocked, world, calendar)
    assert np.allclose(after[5:, p, inflation], 2 * drivers[5:, p, inflation])       # the host's change reaches
    assert np.array_equal(after[:, world.pools.index("VEN"), inflation], drivers[:, world.pools.index("VEN"),
                                                                                  inflation])


def test_history_encodes_disasters_and_haitians_abroad():
    scenario = sim.load_scenario("scenarios/history.yaml").with_overrides(agents=5_000, months=36)
    world = build_world(scenario)
    assert {"HTI_in_CHL", "HTI_in_BRA"} <= set(world.pools)
    inputs = compile_inputs(scenario, world)
    months = [format_month(m) for m in inputs.calendar]
    hnd, d = world.pools.index("HND"), DRIVERS.index("disaster")
    assert inputs.drivers[months.index("2020-11"), hnd, d] == pytest.approx(0.475)
    assert inputs.drivers[months.index("2020-10"), hnd, d] == 0.0
    assert inputs.drivers[months.index("2021-05"), hnd, d] == pytest.approx(0.475 / 2, abs=0.02)
