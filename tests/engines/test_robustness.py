"""Numerical robustness: extreme but valid parameters give finite, non-negative outcomes.

Every case runs the vector engine on a few hundred agents, checks the tidy table (finite,
non-negative values) and steps the engine month by month through every invariant of
tests/test_engine.py (persons conserved by origin, valid states, counts consistent with
states). A property test does the same for random valid scenarios.
"""
from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

import sim
from sim.core.countries import ORIGINS, TRANSIT_COUNTRIES, VISA_COUNTRIES
from sim.core.network import load_route_graph
from sim.core.pools import shipped_pools
from sim.core.random import replicate_seed
from sim.outputs.files import read_outcomes

from helpers import Stepper, run_checked, small

EDGES = sorted(f"{a}->{b}" for a, b in load_route_graph().edge_index)
S = "2022-01"                                    # policies in force from before the warm-up
MONTHS, REPLICATIONS = 4, 2
EVERYONE_LEAVES = {"hazard": {"intercept": {o: 50.0 for o in ORIGINS}}}
HAZARD_TERMS = ("inflation", "violence", "repression", "network", "tie", "success", "legal_pathway", "risk", "unrest",
                "disaster", "abroad", "recent")


def containment(capacity: float, outcome: dict | None = None, probability: float = 1.0) -> dict:
    blocks = {}
    for country in TRANSIT_COUNTRIES:
        block = dict(kind="containment", country=country, start=S, interception_probability=probability,
                     capacity_per_month=capacity, budget_usd_per_year=1e13)
        if outcome:
            block["outcome"] = outcome
        blocks[country] = block
    return blocks


def schedule(driver: str, value: float) -> dict:
    return {driver: dict(origin="ALL", driver=driver, kind="schedule", values={"2015-01": value})}


CASES = {
    "aid budget zero": dict(policies={"a": dict(kind="aid", start=S, origins=list(ORIGINS), budget_usd_per_year=0.0)}),
    "aid budget 1e13 USD a year": dict(policies={"a": dict(kind="aid", start=S, origins=list(ORIGINS),
                                                           budget_usd_per_year=1e13)}),
    "aid saturating at once": dict(
        behaviour={"aid": {"lag_months": 0, "half_saturation_usd_per_person": 1e-300, "inflation_elasticity": 5,
                           "violence_elasticity": 5, "repression_elasticity": 5, "income_elasticity": 10}},
        policies={"a": dict(kind="aid", start=S, origins=list(ORIGINS), budget_usd_per_year=1e13)}),
    "aid without effect": dict(behaviour={"aid": {"half_saturation_usd_per_person": 1e300}},
                               policies={"a": dict(kind="aid", start=S, origins=list(ORIGINS),
                                                   budget_usd_per_year=1e13)}),
    "containment capacity 0": dict(policies=containment(0.0)),
    "containment capacity 1e9": dict(policies=containment(1e9)),
    "containment holds everyone": dict(policies=containment(1e9, {"deport": 0, "hold": 1, "pushback": 0})),
    "containment pushes everyone back": dict(policies=containment(1e9, {"deport": 0, "hold": 0, "pushback": 1})),
    "containment probability 0": dict(policies=containment(1e9, probability=0.0)),
    "apprehension 1, all expelled": dict(policies={"e": dict(
        kind="enforcement", start=S, apprehension_probability=1.0,
        outcome={"expel_to_mexico": 1, "remove_to_origin": 0, "release": 0})}),
    "apprehension 1, all removed for 50 years": dict(policies={"e": dict(
        kind="enforcement", start=S, apprehension_probability=1.0, reentry_bar_months=600,
        outcome={"expel_to_mexico": 0, "remove_to_origin": 1, "release": 0})}),
    "apprehension 0": dict(policies={"e": dict(kind="enforcement", start=S, apprehension_probability=0.0,
                                               budget_usd_per_year=1e13)}),
    "parole places 0": dict(policies={"p": dict(kind="legal_pathway", pathway="parole", start=S, places_per_month=0)}),
    "parole places 1e8": dict(policies={"p": dict(kind="legal_pathway", pathway="parole", start=S,
                                                  places_per_month=1e8)}),
    "appointments 1e8": dict(policies={"p": dict(kind="legal_pathway", pathway="appointments", start=S,
                                                 places_per_month=1e8)}),
    "visas for everyone": dict(policies={c: dict(kind="visa", country=c, start=S, nationalities=list(ORIGINS))
                                         for c in VISA_COUNTRIES}),
    "every edge closed": dict(policies={"all": dict(kind="closure", start=S, edges=EDGES)}),
    "populations of one millionth": dict(world={"population": {o: 1e-6 for o in ORIGINS},
                                                "pools": {p.name: {"scale": 1e-12} for p in shipped_pools()}}),
    "no pools abroad": dict(world={"pools": {p.name: None for p in shipped_pools()}}),
    "populations of 2 billion": dict(world={"population": {o: 2e9 for o in ORIGINS}}),
    "no diaspora": dict(world={"diaspora": {o: 0.0 for o in ORIGINS}}),
    "diaspora of 1 billion": dict(world={"diaspora": {o: 1e9 for o in ORIGINS}}),
    "GDP per head 1e-9 USD": dict(world={"gdp_per_capita_usd": {o: 1e-9 for o in ORIGINS}}),
    "GDP per head 1e6 USD": dict(world={"gdp_per_capita_usd": {o: 1e6 for o in ORIGINS}}),
    "inflation 10,000 %": dict(drivers=schedule("inflation", 10_000.0)),
    "inflation x 1001": dict(drivers={"d": dict(origin="ALL", driver="inflation", kind="step", start="2015-01",
                                                change=1000)}),
    "inflation ramps to 0": dict(drivers={"d": dict(origin="ALL", driver="inflation", kind="ramp", start=S,
                                                    end="2023-02", change=-1)}),
    "violence 1e9": dict(drivers=schedule("violence", 1e9)),
    "repression 1e9": dict(drivers=schedule("repression", 1e9)),
    "every driver 0": dict(drivers={**schedule("inflation", 0.0), **schedule("violence", 0.0),
                                    **schedule("repression", 0.0)}),
    "every edge deadly": dict(world={"edges": {e: {"death_risk": 1.0} for e in EDGES}, "border_death_risk": 1.0}),
    "every edge free and instant": dict(world={"edges": {e: {"cost_usd": 0.0, "travel_months": 1e-9, "death_risk": 0.0}
                                                         for e in EDGES}, "border_death_risk": 0.0}),
    "every edge 1e6 USD and 12 months": dict(world={"edges": {e: {"cost_usd": 1e6, "travel_months": 12}
                                                              for e in EDGES}}),
    "hazard intercepts -1e6": dict(behaviour={"hazard": {"intercept": {o: -1e6 for o in ORIGINS}}}),
    "hazard terms 1e300": dict(behaviour={"hazard": {k: 1e300 for k in HAZARD_TERMS}}),
    "hazard terms -1e300": dict(behaviour={"hazard": {k: -1e300 for k in HAZARD_TERMS}}),
    "route weights 0": dict(behaviour={"route_choice": {"cost": 0, "risk": 0, "containment": 0}}),
    "route weights 1e300": dict(behaviour={"route_choice": {"cost": 1e300, "risk": 1e300, "containment": 1e300}}),
    "nobody attempts to cross": dict(behaviour={"border": {"attempt_probability": 0.0, "give_up_intercept": -50.0}}),
    "everyone attempts and gives up": dict(behaviour={"border": {"attempt_probability": 1.0, "give_up_intercept": 50.0,
                                                                 "way_home_cost_share": 0.0}}),
    "savings 1e300 years of income": dict(behaviour={"population": {"savings_to_income": 1e300, "savings_sigma": 4,
                                                                    "tie_scale": 1e300}}),
    "savings 1e-300 years of income": dict(behaviour={"population": {"savings_to_income": 1e-300, "savings_sigma": 4,
                                                                     "tie_scale": 0}}),
    "11 agents, equal shares": dict(agents=11, agent_allocation="equal"),
    "11 agents, proportional shares": dict(agents=11, agent_allocation="proportional"),
    "one origin, one month, no warm-up": dict(origins=["HTI"], months=1, warmup_months=0, agents=11),
}

# cases where (nearly) everyone leaves at once, so that what follows is certain
CROWDED = {"every edge closed", "every edge deadly", "apprehension 0", "appointments 1e8", "containment capacity 0",
           "containment capacity 1e9", "apprehension 1, all removed for 50 years"}


def totals(table) -> dict:
    return table.groupby("metric")["value"].sum().to_dict()


def expectations(name: str, t: dict) -> None:
    """What must happen in some cases (so that the run is not vacuous)."""
    persons = ("encounters", "entries_irregular", "entries_legal", "deaths", "intercepted", "in_transit")
    if name == "every edge closed":
        assert all(t.get(m, 0) == 0 for m in ("encounters", "entries_irregular", "deaths", "intercepted"))
    if name == "every edge deadly":
        assert t.get("deaths", 0) > 0 and t.get("entries_irregular", 0) == 0 and t.get("encounters", 0) == 0
    if name == "apprehension 0":
        assert t.get("encounters", 0) == 0 and t.get("entries_irregular", 0) > 0
    if name == "appointments 1e8":
        assert t.get("entries_legal", 0) > 0
    if name == "containment capacity 0":
        assert t.get("intercepted", 0) == 0 and t.get("encounters", 0) > 0
    if name == "containment capacity 1e9":
        assert t.get("intercepted", 0) > 0
    if name == "apprehension 1, all removed for 50 years":
        assert t.get("entries_irregular", 0) == 0 and t.get("deported", 0) > 0
    if name == "populations of one millionth":
        assert all(t.get(m, 0) < 1e-3 for m in persons)
    if name == "aid budget 1e13 USD a year":
        assert t["aid_spent_usd"] == pytest.approx(1e13 / 12 * len(ORIGINS) * MONTHS * REPLICATIONS, rel=1e-12)
    if name == "containment capacity 1e9":
        expected = 1e13 / 12 * len(TRANSIT_COUNTRIES) * MONTHS * REPLICATIONS
        assert t["enforcement_spent_usd"] == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("name", list(CASES))             # NumPy's runtime warnings are errors (pyproject.toml)
def test_extreme_parameters_give_finite_non_negative_outcomes(name):
    fields = dict(agents=400, months=MONTHS, warmup_months=1, replications=REPLICATIONS, seed=5, start="2023-01")
    fields.update(CASES[name])
    if name in CROWDED:
        fields["behaviour"] = EVERYONE_LEAVES
        fields["agents"] = 120
    scenario = small(**fields)
    table = sim.run(scenario).to_frame()
    assert len(table) > 0
    values = table["value"].to_numpy()
    assert np.isfinite(values).all(), table[~np.isfinite(values)]
    assert (values >= 0).all(), table[values < 0]
    expectations(name, totals(table))
    stepper = Stepper(scenario, seeds=[replicate_seed(scenario.seed, r) for r in range(REPLICATIONS)])
    run_checked(stepper)                 # persons conserved, states valid, counts consistent: every month


# ---------------------------------------------------------------- random valid scenarios

LONG = os.environ.get("MIGSIM_FUZZ_EXAMPLES")
MONTH = st.builds(lambda y, m: f"{y}-{m:02d}", st.integers(2015, 2030), st.integers(1, 12))
PROBABILITY = st.one_of(st.sampled_from([0.0, 1.0]), st.floats(0, 1))
SHARES = st.lists(st.integers(0, 4), min_size=3, max_size=3).filter(sum).map(lambda w: [x / sum(w) for x in w])
ORIGIN_LISTS = st.lists(st.sampled_from(ORIGINS), min_size=1, max_size=4, unique=True)


def dated(kind: str, **fields):
    return st.fixed_dictionaries({"kind": st.just(kind), "start": MONTH, **fields},
                                 optional={"end": MONTH})


POLICY = st.one_of(
    dated("aid", origins=ORIGIN_LISTS, budget_usd_per_year=st.sampled_from([0.0, 1e6, 1e9, 1e13])),
    dated("containment", country=st.sampled_from(TRANSIT_COUNTRIES), interception_probability=PROBABILITY,
          capacity_per_month=st.sampled_from([0.0, 1.0, 1e3, 1e9]),
          outcome=SHARES.map(lambda s: dict(zip(("deport", "hold", "pushback"), s)))),
    dated("enforcement", apprehension_probability=PROBABILITY, reentry_bar_months=st.integers(0, 600),
          outcome=SHARES.map(lambda s: dict(zip(("expel_to_mexico", "remove_to_origin", "release"), s)))),
    dated("legal_pathway", pathway=st.sampled_from(["parole", "appointments"]),
          places_per_month=st.sampled_from([0.0, 1.0, 1e4, 1e8])),
    dated("visa", country=st.sampled_from(VISA_COUNTRIES), nationalities=ORIGIN_LISTS, required=st.booleans()),
    dated("closure", edges=st.lists(st.sampled_from(EDGES), min_size=1, max_size=6, unique=True)),
)
DRIVER = st.one_of(
    st.fixed_dictionaries({"origin": st.sampled_from(("ALL",) + ORIGINS), "kind": st.just("step"),
                           "driver": st.sampled_from(["inflation", "violence", "repression"]), "start": MONTH,
                           "change": st.sampled_from([-1.0, -0.5, 0.0, 3.0, 1000.0])}),
    st.fixed_dictionaries({"origin": st.sampled_from(("ALL",) + ORIGINS), "kind": st.just("schedule"),
                           "driver": st.sampled_from(["inflation", "violence", "repression"]),
                           "values": st.dictionaries(MONTH, st.sampled_from([0.0, 5.0, 100.0, 10_000.0]),
                                                     min_size=1, max_size=3)}),
)
SCENARIOS = st.fixed_dictionaries({
    "agents": st.integers(11, 300),
    "months": st.integers(1, 4),
    "warmup_months": st.integers(0, 2),
    "start": MONTH,
    "seed": st.integers(0, 2**40),
    "agent_allocation": st.sampled_from(["proportional", "sqrt", "equal"]),
    "origins": ORIGIN_LISTS,
    "policies": st.dictionaries(st.sampled_from(["p1", "p2", "p3", "p4"]), POLICY, max_size=4),
    "drivers": st.dictionaries(st.sampled_from(["d1", "d2"]), DRIVER, max_size=2),
    "world": st.fixed_dictionaries({}, optional={
        "population": st.dictionaries(st.sampled_from(ORIGINS), st.sampled_from([1e-3, 1.0, 1e6, 2e9]), max_size=3),
        "edges": st.dictionaries(st.sampled_from(EDGES), st.fixed_dictionaries(
            {}, optional={"death_risk": PROBABILITY, "cost_usd": st.sampled_from([0.0, 1e6]),
                          "travel_months": st.sampled_from([1e-6, 1.0, 12.0])}), max_size=4),
        "border_death_risk": PROBABILITY}),
    "behaviour": st.fixed_dictionaries({}, optional={
        "hazard": st.fixed_dictionaries({}, optional={
            "intercept": st.dictionaries(st.sampled_from(ORIGINS), st.sampled_from([-50.0, -8.0, 0.0, 50.0]),
                                         max_size=4),
            "success": st.floats(-100, 100), "risk": st.floats(-100, 100)}),
        "border": st.fixed_dictionaries({"attempt_probability": PROBABILITY,
                                         "give_up_intercept": st.sampled_from([-50.0, -0.4, 50.0])}),
    }),
})


@settings(max_examples=int(LONG) if LONG else 30, deadline=None, derandomize=not LONG, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(fields=SCENARIOS)
def test_persons_are_conserved_in_random_valid_scenarios(fields):
    try:
        scenario = small(replications=1, **fields)
    except ValidationError:
        assume(False)                            # e.g. a policy that ends before it starts
    stepper = Stepper(scenario, seeds=[replicate_seed(scenario.seed, 0), replicate_seed(scenario.seed, 1)])
    run_checked(stepper)
    assert stepper.step == scenario.months + scenario.warmup_months


# ---------------------------------------------------------------- determinism, to the byte

DETERMINISM = """\
schema_version: 1
name: same
agents: 400
months: 3
warmup_months: 1
replications: 3
seed: 21
origins: [CUB, HND, VEN]
behaviour:
  hazard:
    intercept: {CUB: -3.0, HND: -3.0, VEN: -3.0}
policies:
  us: {kind: enforcement, start: 2023-01, apprehension_probability: 0.7,
       outcome: {expel_to_mexico: 0.3, remove_to_origin: 0.3, release: 0.4}}
  mx: {kind: containment, country: MEX, start: 2023-01, interception_probability: 0.3, capacity_per_month: 1.0e6}
"""


def data_bytes(path) -> bytes:
    """The Parquet file's data, written again without its metadata (provenance holds times and engines)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(path).replace_schema_metadata(None)
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue().to_pybytes()


@pytest.mark.slow
def test_outcomes_are_byte_identical_across_engines_and_batch_sizes(tmp_path, monkeypatch):
    import sim.simulation as simulation
    from sim.cli import main

    path = tmp_path / "same.yaml"
    path.write_text(DETERMINISM)
    assert main(["run", str(path), "--quiet", "--out", str(tmp_path / "vector")]) == 0
    assert main(["run", str(path), "--quiet", "--engine", "mesa", "--out", str(tmp_path / "mesa")]) == 0
    one_run = 2 * simulation.estimate_bytes(400, 1)
    monkeypatch.setattr(simulation, "available_bytes", lambda: one_run)   # one run per batch
    assert main(["run", str(path), "--quiet", "--out", str(tmp_path / "batches")]) == 0
    reference = data_bytes(tmp_path / "vector" / "outcomes.parquet")
    assert data_bytes(tmp_path / "mesa" / "outcomes.parquet") == reference
    assert data_bytes(tmp_path / "batches" / "outcomes.parquet") == reference
    table = read_outcomes(tmp_path / "vector" / "outcomes.parquet")
    assert table.replicate.nunique() == 3 and table.value.sum() > 0


def test_sweep_tables_are_identical_with_one_or_two_workers(tmp_path):
    import pyarrow as pa

    from sim.experiments.sweeps import load_results, run_sweep

    (tmp_path / "same.yaml").write_text(DETERMINISM)
    (tmp_path / "sweep.yaml").write_text("schema_version: 1\nextends: same.yaml\nname: same_sweep\nsweep:\n"
                                         "  replications: 2\n  levers:\n    parameters:\n"
                                         "      policies.us.apprehension_probability: [0.5, 0.9]\n"
                                         "      policies.mx.capacity_per_month: [0.0, 1.0e6]\n")
    tables = []
    for workers in (1, 2):
        summary = run_sweep(tmp_path / "sweep.yaml", out=tmp_path / f"w{workers}", workers=workers)
        assert summary.done == 8 and summary.failed == 0 and summary.workers == workers
        tables.append(pa.Table.from_pandas(load_results(tmp_path / f"w{workers}"), preserve_index=False))
    assert tables[0].equals(tables[1])
    assert tables[0].num_rows > 0
