"""The Mesa engine is the same model as the vector engine: identical tables, agent by agent."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sim
from sim.core.countries import ORIGINS, TRANSIT_COUNTRIES
from sim.core.random import replicate_seed
from sim.core.world import build_world
from sim.engines.mesa import Destination, Migrant, MigrationModel, OriginCountry, TransitCountry
from sim.engines.state import NO_ROUTE, Status

from helpers import Stepper, load_base_scenario, shipped_scenario_files, small


def both_engines(scenario: sim.Scenario) -> tuple[pd.DataFrame, pd.DataFrame]:
    vector = sim.run(scenario, engine="vector").to_frame()
    mesa = sim.run(scenario, engine="mesa").to_frame()
    return vector, mesa


@pytest.mark.parametrize("path", shipped_scenario_files(), ids=lambda p: p.stem)
def test_shipped_scenarios_identical_in_both_engines(path):
    scenario = load_base_scenario(path).with_overrides(agents=2_000, months=36, replications=1)
    vector, mesa = both_engines(scenario)
    assert len(vector) > 0
    pd.testing.assert_frame_equal(vector, mesa, check_exact=True)


def test_identical_tables_cover_every_event():
    """A crowded world where every branch happens: the identity is not vacuous."""
    scenario = small(agents=1_500, months=10, warmup_months=1, seed=3, start="2023-01",
                     behaviour={"hazard": {"intercept": {o: -2.0 for o in ORIGINS}}},
                     world={"border_death_risk": 0.05, "edges": {"COL_NECOCLI->PAN_DARIEN": {"death_risk": 0.05}}},
                     policies={
                         "checks": {"kind": "containment", "country": "MEX", "start": "2022-01",
                                    "interception_probability": 0.6, "capacity_per_month": 2e6,
                                    "outcome": {"deport": 0.4, "hold": 0.3, "pushback": 0.3}},
                         "border": {"kind": "enforcement", "start": "2022-01", "apprehension_probability": 0.8,
                                    "outcome": {"expel_to_mexico": 0.4, "remove_to_origin": 0.3, "release": 0.3}},
                         "parole": {"kind": "legal_pathway", "pathway": "parole", "start": "2022-01",
                                    "nationalities": ["VEN", "CUB", "HTI", "NIC"], "places_per_month": 20_000},
                         "cbp_one": {"kind": "legal_pathway", "pathway": "appointments", "start": "2022-01",
                                     "places_per_month": 30_000}})
    vector, mesa = both_engines(scenario)
    pd.testing.assert_frame_equal(vector, mesa, check_exact=True)
    totals = vector.groupby("metric")["value"].sum()
    for metric in ("encounters", "entries_irregular", "entries_legal", "expelled", "intercepted",
                   "deported", "deaths", "in_transit", "transits"):
        assert totals.get(metric, 0) > 0, metric


def test_identical_tables_with_pools_abroad_word_of_mouth_and_the_give_up_decision():
    """The mechanisms of the surge in both engines: people abroad arriving during the run, recent entries in the
    decision to leave, learning, unrest and disaster drivers, node shares of containment, expulsion to Mexico with
    a parole bar (the give-up decision) and parole applicants who wait."""
    scenario = small(agents=2_500, months=14, warmup_months=1, seed=13, start="2021-06",
                     behaviour={"hazard": {"intercept": {o: -4.0 for o in ORIGINS}, "recent": 0.6, "abroad": 1.5,
                                           "learning_half_life_months": 2.0, "unrest": 0.5, "disaster": 2.0}},
                     drivers={"storm": {"origin": "HND", "driver": "disaster", "kind": "schedule",
                                        "values": {"2021-06": 0.0, "2021-07": 0.5, "2022-07": 0.0}}},
                     policies={
                         "checks": {"kind": "containment", "country": "MEX", "start": "2021-01",
                                    "interception_probability": 0.5, "capacity_per_month": 5e4,
                                    "node_shares": {"MEX_AIRPORT": 0.2, "MEX_NORTH": 0.5},
                                    "outcome": {"deport": 0.4, "hold": 0.3, "pushback": 0.3}},
                         "border": {"kind": "enforcement", "start": "2021-01", "apprehension_probability": 0.8,
                                    "parole_bar": True,
                                    "outcome": {"expel_to_mexico": 0.6, "remove_to_origin": 0.1, "release": 0.3}},
                         "parole": {"kind": "legal_pathway", "pathway": "parole", "start": "2021-09",
                                    "nationalities": ["VEN", "CUB", "HTI", "NIC"], "places_per_month": 5_000}})
    assert (build_world(scenario).arrival_step() > 0).any()            # people arrive abroad during the run
    vector, mesa = both_engines(scenario)
    pd.testing.assert_frame_equal(vector, mesa, check_exact=True)
    totals = vector.groupby("metric")["value"].sum()
    for metric in ("encounters", "expelled", "entries_legal", "intercepted", "transits"):
        assert totals.get(metric, 0) > 0, metric


def test_active_agent_months_are_the_same_in_both_engines():
    """Counts.active (on the way or at the border at the start of each month, warm-up included) agrees."""
    from sim.core.inputs import compile_inputs
    from sim.core.world import build_world
    from sim.engines.vector import simulate

    scenario = small(agents=1_500, months=8, warmup_months=2, seed=4, start="2023-01",
                     behaviour={"hazard": {"intercept": {o: -6.0 for o in ORIGINS}}})
    world = build_world(scenario)
    inputs = compile_inputs(scenario, world)
    mesa = MigrationModel(scenario, 0, world, inputs).run()
    vector = simulate(world, [inputs], [replicate_seed(scenario.seed, 0)])
    assert mesa.active.shape == vector.active.shape == (1, 10)
    np.testing.assert_array_equal(mesa.active, vector.active)
    assert vector.active[0, 0] == 0 and vector.active[0, -1] > 0
    # the stock at the start of a month is the stock on the way at the end of the one before
    in_transit = vector.located["in_transit"].sum(axis=(2, 3))[0]
    np.testing.assert_array_equal(vector.active[0, 3:], in_transit[:-1])


def mesa_state(model: MigrationModel) -> dict[str, np.ndarray]:
    """Agent attributes of the Mesa model as arrays ordered by person (the vector layout)."""
    people = sorted(model.migrants, key=lambda m: m.person)
    return {
        "status": np.array([m.status for m in people], dtype=np.uint8),
        "route": np.array([NO_ROUTE if m.route is None else m.route for m in people], dtype=np.uint8),
        "leg": np.array([m.leg for m in people], dtype=np.uint8),
        "savings": np.array([m.savings for m in people], dtype=np.float32),
        "risk_level": np.array([m.risk_level for m in people], dtype=np.uint8),
        "tie": np.array([m.tie for m in people], dtype=np.uint8),
        "attempts": np.array([m.attempts for m in people], dtype=np.uint8),
        "since": np.array([m.since for m in people], dtype=np.int16),
        "blocked_until": np.array([m.blocked_until for m in people], dtype=np.int16),
        "pool": np.array([m.pool_position for m in people], dtype=np.uint8),
    }


def test_every_agent_has_the_same_state_every_month():
    """Month by month, each Mesa agent's attributes equal the vector engine's arrays."""
    scenario = small(agents=800, months=8, warmup_months=1, seed=11,
                     behaviour={"hazard": {"intercept": {o: -2.5 for o in ORIGINS}}},
                     policies={"checks": {"kind": "containment", "country": "GTM", "start": "2022-01",
                                          "interception_probability": 0.5, "capacity_per_month": 1e5}})
    model = MigrationModel(scenario, replicate=0)
    stepper = Stepper(model.world, [model.inputs], seeds=[replicate_seed(scenario.seed, 0)])
    moved = 0
    for _ in range(stepper.months):
        stepper.advance()
        model.step()
        expected = mesa_state(model)
        for name, values in expected.items():
            np.testing.assert_array_equal(getattr(stepper.state, name), values, err_msg=name)
        moved += int((expected["status"] != Status.HOME).sum())
    assert moved > 0
    assert not model.running


def test_model_is_built_of_readable_agents():
    scenario = small(agents=300, months=3)
    model = MigrationModel(scenario)
    assert len(model.migrants) == 300
    pools = model.agents_by_type[OriginCountry]                 # one per pool: home pools, then pools abroad
    assert len(pools) == len(model.world.pools) > len(scenario.origins)
    assert [p.iso3 for p in pools][: len(scenario.origins)] == list(scenario.origins)
    assert {scenario.origins[p.nationality] for p in pools if p.iso3.startswith("VEN_in_")} == {"VEN"}
    assert len(model.agents_by_type[TransitCountry]) == len(TRANSIT_COUNTRIES)
    assert len(model.agents_by_type[Destination]) == 1
    assert all(isinstance(m, Migrant) and m.status == Status.HOME for m in model.migrants)
    assert model.rng is not None and model.run_seed == replicate_seed(scenario.seed, 0)
    model.run()
    # the DataCollector holds one row per reported month
    frame = model.datacollector.get_model_vars_dataframe()
    assert len(frame) == scenario.months
    assert model.steps == scenario.months + scenario.warmup_months


def test_replications_use_their_own_seeds():
    scenario = small(agents=400, months=6, replications=2,
                     behaviour={"hazard": {"intercept": {o: -3.0 for o in ORIGINS}}})
    frame = sim.run(scenario, engine="mesa").to_frame()
    assert sorted(frame.seed.unique()) == sorted(replicate_seed(scenario.seed, r) for r in range(2))
    a, b = (frame[frame.replicate == r].groupby("metric").value.sum() for r in range(2))
    assert not a.equals(b)


def test_unknown_engine_is_refused():
    with pytest.raises(ValueError, match="unknown engine"):
        sim.run(small(agents=100, months=1), engine="netlogo")


# ---------------------------------------------------------------- random small scenarios

probability = st.floats(0.0, 1.0, allow_nan=False)
shares = st.tuples(st.integers(0, 4), st.integers(0, 4), st.integers(0, 4)).filter(lambda t: sum(t) > 0).map(
    lambda t: [x / sum(t) for x in t])


@st.composite
def policies(draw):
    out = {}
    if draw(st.booleans()):
        d, h, p = draw(shares)
        out["checks"] = {"kind": "containment", "country": draw(st.sampled_from(TRANSIT_COUNTRIES)), "start": "2021-01",
                         "interception_probability": draw(probability),
                         "capacity_per_month": draw(st.sampled_from([0.0, 1e3, 1e5, 1e7])),
                         "outcome": {"deport": d, "hold": h, "pushback": p}}
    if draw(st.booleans()):
        e, r, release = draw(shares)
        out["border"] = {"kind": "enforcement", "start": "2021-01", "apprehension_probability": draw(probability),
                         "outcome": {"expel_to_mexico": e, "remove_to_origin": r, "release": release},
                         "reentry_bar_months": draw(st.integers(0, 24))}
    if draw(st.booleans()):
        out["pathway"] = {"kind": "legal_pathway", "pathway": draw(st.sampled_from(["parole", "appointments"])),
                          "start": "2021-01", "nationalities": draw(st.lists(st.sampled_from(ORIGINS), min_size=1,
                                                                             max_size=4, unique=True)),
                          "places_per_month": draw(st.sampled_from([0.0, 5e3, 1e6]))}
    if draw(st.booleans()):
        out["aid"] = {"kind": "aid", "start": "2020-06", "origins": [draw(st.sampled_from(ORIGINS))],
                      "budget_usd_per_year": draw(st.sampled_from([1e8, 1e10]))}
    if draw(st.booleans()):
        out["wall"] = {"kind": "closure", "start": "2021-01", "edges": ["COL_NECOCLI->PAN_DARIEN"]}
    return out


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**40), agents=st.integers(60, 400), months=st.integers(1, 8),
       warmup=st.integers(0, 3), intercept=st.floats(-6.0, -1.5), policy=policies(),
       origins=st.lists(st.sampled_from(ORIGINS), min_size=1, max_size=5, unique=True))
def test_random_small_scenarios_identical(seed, agents, months, warmup, intercept, policy, origins):
    if "aid" in policy and policy["aid"]["origins"][0] not in origins:
        policy["aid"]["origins"] = [origins[0]]
    if "pathway" in policy:
        policy["pathway"]["nationalities"] = [o for o in policy["pathway"]["nationalities"] if o in origins] or None
    scenario = small(agents=max(agents, len(origins)), months=months, warmup_months=warmup, seed=seed,
                     start="2021-06", origins=origins, replications=1,
                     behaviour={"hazard": {"intercept": {o: intercept for o in origins}}}, policies=policy)
    vector, mesa = both_engines(scenario)
    pd.testing.assert_frame_equal(vector, mesa, check_exact=True)


def test_cli_engine_mesa_writes_the_vector_table(tmp_path, baseline_path):
    from sim.cli import main
    from sim.outputs.files import read_outcomes, read_provenance

    common = [str(baseline_path), "--agents", "400", "--months", "4", "--replications", "1", "--quiet"]
    assert main(["run", *common, "--engine", "mesa", "--out", str(tmp_path / "mesa")]) == 0
    assert main(["run", *common, "--out", str(tmp_path / "vector")]) == 0
    mesa, vector = (read_outcomes(tmp_path / e / "outcomes.parquet") for e in ("mesa", "vector"))
    pd.testing.assert_frame_equal(mesa, vector, check_exact=True)
    assert read_provenance(tmp_path / "mesa" / "outcomes.parquet")["engine"] == "mesa"


def test_cli_app_refuses_a_bad_scenario_without_starting(tmp_path, capsys):
    from sim.cli import main

    bad = tmp_path / "bad.yaml"
    bad.write_text("schema_version: 1\nname: x\nagnets: 5\n")
    assert main(["app", str(bad), "--port", "0"]) == 2
    assert "bad.yaml:3: agnets" in capsys.readouterr().err


def test_app_levers_become_policy_blocks(baseline):
    from sim.app import lever_defaults, with_levers

    scenario = baseline.with_overrides(agents=500)
    defaults = lever_defaults(scenario)
    assert with_levers(scenario, defaults) == scenario            # untouched sliders: the scenario as written
    moved = with_levers(scenario, {**defaults, "us_apprehension_probability": 0.2,
                                   "appointment_places_per_month": 0.0})
    assert moved.policies["app_enforcement"].apprehension_probability == 0.2
    assert moved.policies["app_appointments"].places_per_month == 0.0
    assert list(moved.policies)[-2:] == ["app_enforcement", "app_appointments"]   # later blocks win
