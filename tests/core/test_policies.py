"""Policy levers move outcomes in the documented direction; every shipped scenario runs."""
from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sim
from sim.core.calendar import parse_month
from sim.core.inputs import DRIVERS, compile_inputs
from sim.core.world import build_world

from helpers import SCENARIOS, load_base_scenario, shipped_scenario_files

SMALL = dict(agents=20_000, months=24, replications=3)


def extend_baseline(tmp_path: Path, name: str, policies_yaml: str) -> Path:
    """A scenario file that extends the shipped baseline with extra policy blocks."""
    path = tmp_path / f"{name}.yaml"
    path.write_text(f"schema_version: 1\nextends: {SCENARIOS / 'baseline.yaml'}\nname: {name}\npolicies:\n"
                    + textwrap.indent(textwrap.dedent(policies_yaml).strip("\n"), "  ") + "\n")
    return path


def totals(scenario) -> pd.DataFrame:
    """Totals over the horizon by metric (rows) and replicate (columns)."""
    frame = sim.run(scenario, **SMALL).to_frame()
    return frame.groupby(["metric", "replicate"]).value.sum().unstack("replicate", fill_value=0.0)


@pytest.fixture(scope="module")
def baseline_totals():
    return totals(SCENARIOS / "baseline.yaml")


def test_mexican_containment_cuts_encounters_and_intercepts_a_larger_share(tmp_path, baseline_totals):
    """Stronger checkpoints in Mexico stop a larger share of the people who reach its nodes, and fewer people reach
    the US border. Total interceptions need not rise: with the calibrated response to the chance of getting
    through, fewer people set out (docs/model.md, the perceived chance of success)."""
    path = extend_baseline(tmp_path, "mexico_strong", """
        mexico_strong:
          kind: containment
          country: MEX
          start: 2023-01
          interception_probability: 0.5
          capacity_per_month: 1000000
    """)
    scenario = sim.load_scenario(path)
    assert scenario.policies["mexico_strong"].interception_probability == 0.5
    strong_frame = sim.run(scenario, **SMALL).to_frame()
    strong = strong_frame.groupby(["metric", "replicate"]).value.sum().unstack("replicate", fill_value=0.0)
    base = baseline_totals
    # same seeds: compare replicate by replicate, and the medians
    assert (strong.loc["encounters"] < base.loc["encounters"]).all()
    assert strong.loc["encounters"].median() < 0.85 * base.loc["encounters"].median()
    assert strong.loc["entries_irregular"].median() < base.loc["entries_irregular"].median()

    def share_stopped(frame):
        in_mexico = frame[frame.location.isin(["MEX_SOUTH", "MEX_AIRPORT", "MEX_NORTH"])]
        by = in_mexico.groupby(["metric", "replicate"]).value.sum().unstack("replicate")
        return by.loc["intercepted"] / by.loc["transits"]

    base_share = share_stopped(sim.run(SCENARIOS / "baseline.yaml", **SMALL).to_frame())
    assert (share_stopped(strong_frame) > 1.2 * base_share).all()     # 0.19-0.28 against 0.15-0.20


def test_mexican_containment_intercepts_in_mexico_only_and_never_mexicans(tmp_path):
    path = extend_baseline(tmp_path, "mexico_only", """
        mexico_national_guard: null
        mexico_rail_removals: null
        mexico_strong:
          kind: containment
          country: MEX
          start: 2023-01
          interception_probability: 0.5
          capacity_per_month: 1000000
    """)
    frame = sim.run(path, agents=10_000, months=6, replications=1).to_frame()
    caught = frame[(frame.metric == "intercepted") & (frame.value > 0)]
    assert len(caught) > 0
    mexican_nodes = {"MEX_AIRPORT", "MEX_SOUTH", "MEX_NORTH"}
    assert set(caught.location) <= mexican_nodes
    assert "MEX" not in set(caught.nationality)


def test_containment_capacity_limits_interceptions(make_scenario):
    """Capacity is shared out from start-of-month demand: interceptions stay at or under it.

    Departures are raised (hazard intercepts) so that hundreds of agents pass through Mexico
    each month and the monthly count is not dominated by a few heavy agents.
    """
    origins = ["GTM", "HND", "SLV"]
    capacity = 1e6

    def intercepted(cap):
        scenario = make_scenario(agents=20_000, months=12, warmup_months=2, replications=2, origins=origins,
                                 behaviour={"hazard": {"intercept": {o: -4.0 for o in origins}}},
                                 policies={"mx": {"kind": "containment", "country": "MEX", "start": "2015-01",
                                                  "interception_probability": 0.9, "capacity_per_month": cap}})
        frame = sim.run(scenario).to_frame()
        return frame[frame.metric == "intercepted"].groupby(["replicate", "month"]).value.sum()

    capped, uncapped = intercepted(capacity), intercepted(1e9)
    assert uncapped.mean() > 2 * capacity          # demand exceeds capacity: the cap binds
    assert capped.mean() <= capacity * 1.05
    assert capped.max() <= capacity * 1.3
    assert capped.mean() > 0.5 * capacity


def test_us_enforcement_lowers_irregular_entries(tmp_path, baseline_totals):
    path = extend_baseline(tmp_path, "us_strong", """
        us_strong:
          kind: enforcement
          start: 2023-01
          apprehension_probability: 0.97
          outcome: {expel_to_mexico: 0.0, remove_to_origin: 0.9, release: 0.1}
          reentry_bar_months: 60
    """)
    strong = totals(sim.load_scenario(path))
    base = baseline_totals
    assert (strong.loc["entries_irregular"] < base.loc["entries_irregular"]).all()
    assert strong.loc["entries_irregular"].median() < 0.5 * base.loc["entries_irregular"].median()
    # removals to the origin are reported as deportations from the USA
    frame = sim.run(sim.load_scenario(path), agents=10_000, months=6, replications=1).to_frame()
    removed = frame[(frame.metric == "deported") & (frame.location == "USA")].value.sum()
    assert removed > 0


def test_enforcement_for_some_nationalities_leaves_others_alone(make_scenario):
    base = make_scenario(agents=10_000, months=6, origins=["HND", "GTM", "MEX"])
    hnd_only = base.with_overrides(policies={"hnd": {
        "kind": "enforcement", "start": "2015-01", "nationalities": ["HND"], "apprehension_probability": 1.0,
        "outcome": {"expel_to_mexico": 0.0, "remove_to_origin": 1.0, "release": 0.0}}})
    inputs = compile_inputs(hnd_only)
    default = compile_inputs(base)
    hnd, gtm = hnd_only.origins.index("HND"), hnd_only.origins.index("GTM")
    assert np.all(inputs.apprehension[:, hnd] == 1.0)
    assert np.array_equal(inputs.apprehension[:, gtm], default.apprehension[:, gtm])
    frame = sim.run(hnd_only).to_frame()
    entries = frame[frame.metric == "entries_irregular"].groupby("nationality").value.sum()
    assert entries["HND"] == 0
    assert entries["GTM"] > 0


@pytest.fixture(scope="module")
def aid_inputs():
    origins = ["HND", "GTM", "VEN", "MEX"]
    common = dict(schema_version=1, name="t", agents=5_000, months=36, warmup_months=0, start="2023-01",
                  origins=origins)
    plain = sim.Scenario(**common)
    aided = sim.Scenario(**common, policies={"aid": {
        "kind": "aid", "start": "2023-07", "origins": ["HND", "GTM"], "budget_usd_per_year": 2e9}})
    return plain, aided, compile_inputs(plain), compile_inputs(aided)


def test_aid_lowers_drivers_of_aided_origins_after_its_lag(aid_inputs):
    plain, aided, before, after = aid_inputs
    lag = aided.behaviour.aid.lag_months
    assert lag > 0
    effect_from = parse_month("2023-07") + lag
    calendar = after.calendar
    early, late = calendar < effect_from, calendar >= effect_from
    assert early.any() and late.any()
    for code in ("HND", "GTM"):
        o = aided.origins.index(code)
        for d, name in enumerate(DRIVERS):
            assert np.array_equal(after.drivers[early, o, d], before.drivers[early, o, d]), (code, name)
            if name in ("unrest", "disaster"):                     # aid does not act on these
                assert np.array_equal(after.drivers[late, o, d], before.drivers[late, o, d]), (code, name)
            else:
                assert np.all(after.drivers[late, o, d] < before.drivers[late, o, d]), (code, name)
        assert np.all(after.origin_logit[late, o] < before.origin_logit[late, o])
        assert np.all(after.savings_multiplier[late, o] > 1.0)
        assert np.all(after.savings_multiplier[early, o] == 1.0)
    for code in ("VEN", "MEX"):
        o = aided.origins.index(code)
        assert np.array_equal(after.drivers[:, o], before.drivers[:, o]), code
        assert np.array_equal(after.origin_logit[:, o], before.origin_logit[:, o]), code
        assert np.all(after.savings_multiplier[:, o] == 1.0)


def test_aid_effect_builds_up_over_a_year_then_holds(aid_inputs):
    plain, aided, before, after = aid_inputs
    o = aided.origins.index("HND")
    ratio = after.drivers[:, o, 1] / before.drivers[:, o, 1]        # violence
    start = int(np.flatnonzero(ratio < 1)[0])
    ramp = ratio[start: start + 12]
    assert np.all(np.diff(ramp) < 0)                                # 12-month spending window fills up
    assert np.allclose(ratio[start + 11:], ratio[start + 11])       # then a constant budget holds the effect


def test_aid_spending_is_reported_from_its_start(aid_inputs):
    plain, aided, before, after = aid_inputs
    frame = sim.run(aided, agents=5_000, months=12).to_frame()
    aid = frame[frame.metric == "aid_spent_usd"].pivot_table(index="month", columns="nationality", values="value")
    assert (aid.loc[aid.index < "2023-07", ["HND", "GTM"]] == 0).all().all()
    assert np.allclose(aid.loc[aid.index >= "2023-07", ["HND", "GTM"]], 2e9 / 12)
    assert (aid[["VEN", "MEX"]] == 0).all().all()


def test_more_aid_lowers_departures(make_scenario):
    origins = ["HND", "GTM", "SLV"]
    base = make_scenario(agents=20_000, months=24, warmup_months=0, origins=origins, replications=2,
                         start="2023-01")
    aided = base.with_overrides(policies={"aid": {"kind": "aid", "start": "2021-01", "origins": origins,
                                                  "budget_usd_per_year": 2e10}})
    leave = lambda s: sim.run(s).to_frame().query("metric == 'in_transit'").value.sum()  # noqa: E731
    assert leave(aided) < leave(base)


def _route(world, label):
    labels = [world.route_label(r) for r in range(len(world.route_edges))]
    return labels.index(label)


def test_visa_requirement_closes_the_air_route(make_scenario):
    base = make_scenario(months=12, warmup_months=0, origins=["COL", "CUB", "VEN"], start="2023-01")
    visa = base.with_overrides(policies={
        "mex_visa_col": {"kind": "visa", "country": "MEX", "start": "2023-04", "nationalities": ["COL"]},
        "mex_no_visa_cub": {"kind": "visa", "country": "MEX", "start": "2023-06", "nationalities": ["CUB"],
                            "required": False}})
    world = build_world(visa)
    col_air = _route(world, "COL>MEX_AIRPORT>MEX_NORTH")
    col_land = _route(world, "COL>COL_NECOCLI>PAN_DARIEN>CRI_TRANSIT>NIC_TRANSIT>HND_TRANSIT>GTM_TRANSIT>MEX_SOUTH"
                             ">MEX_NORTH")
    cub_air = _route(world, "CUB>MEX_AIRPORT>MEX_NORTH")
    ven_air = _route(world, "VEN>MEX_AIRPORT>MEX_NORTH")
    plain, closed = compile_inputs(base, world), compile_inputs(visa, world)
    cal = closed.calendar
    col_start, cub_start = parse_month("2023-04"), parse_month("2023-06")
    # Colombians need no visa for Mexico in the shipped graph: the air route is open ...
    assert plain.route_open[:, col_air].all()
    # ... until Mexico requires one
    assert closed.route_open[cal < col_start, col_air].all()
    assert not closed.route_open[cal >= col_start, col_air].any()
    assert closed.route_open[:, col_land].all()
    # lifting a visa requirement opens a closed air route
    assert not plain.route_open[:, cub_air].any()
    assert not closed.route_open[cal < cub_start, cub_air].any()
    assert closed.route_open[cal >= cub_start, cub_air].all()
    # other nationalities' routes are untouched
    assert np.array_equal(plain.route_open[:, ven_air], closed.route_open[:, ven_air])
    # the cheapest journey of Colombians becomes dearer once the air route closes
    col = visa.origins.index("COL")
    assert np.all(closed.cheapest_route_usd[cal >= col_start, col] > plain.cheapest_route_usd[cal >= col_start, col])


def test_visa_route_carries_nobody_once_closed(make_scenario):
    scenario = make_scenario(agents=10_000, months=8, warmup_months=0, origins=["COL", "ECU"], start="2023-01",
                             policies={"v": {"kind": "visa", "country": "MEX", "start": "2015-01",
                                             "nationalities": ["COL", "ECU"]}})
    frame = sim.run(scenario).to_frame()
    assert frame[frame.metric == "in_transit"].value.sum() > 0
    assert frame[(frame.location == "MEX_AIRPORT")].value.sum() == 0


def test_parole_gives_legal_entries_to_listed_nationalities_only(make_scenario):
    scenario = make_scenario(agents=20_000, months=12, warmup_months=1, replications=2, start="2023-01",
                             policies={"parole": {"kind": "legal_pathway", "pathway": "parole",
                                                  "start": "2023-01", "nationalities": ["HND", "GTM"],
                                                  "places_per_month": 50_000}})
    frame = sim.run(scenario).to_frame()
    legal = frame[frame.metric == "entries_legal"].groupby("nationality").value.sum()
    assert legal["HND"] > 0 and legal["GTM"] > 0
    others = legal.drop(["HND", "GTM"])
    assert (others == 0).all(), others[others > 0]
    # places are a monthly ceiling shared by the eligible (in expectation; allow sampling noise)
    monthly = frame[frame.metric == "entries_legal"].groupby(["replicate", "month"]).value.sum()
    assert monthly.mean() <= 50_000 * 1.15


def test_no_legal_pathway_means_no_legal_entries(make_scenario):
    frame = sim.run(make_scenario(agents=10_000, months=6)).to_frame()
    assert frame[frame.metric == "entries_legal"].value.sum() == 0
    assert frame[frame.metric == "entries_irregular"].value.sum() > 0


def test_appointments_give_legal_entries_and_count_as_encounters(make_scenario):
    scenario = make_scenario(agents=20_000, months=8, policies={"cbp_one": {
        "kind": "legal_pathway", "pathway": "appointments", "start": "2023-01", "places_per_month": 1e6}})
    frame = sim.run(scenario).to_frame()
    by = frame.groupby("metric").value.sum()
    assert by["entries_legal"] > 0
    assert by["encounters"] >= by["entries_legal"]


def test_policy_written_later_wins(make_scenario):
    """Two active blocks setting the same thing: the one written later wins (sim.core.policies docstring)."""
    first = {"kind": "containment", "country": "MEX", "start": "2023-03", "interception_probability": 0.1,
             "capacity_per_month": 10}
    second = {"kind": "containment", "country": "MEX", "start": "2023-01", "interception_probability": 0.4,
              "capacity_per_month": 20}
    scenario = make_scenario(months=6, warmup_months=0, policies={"a": first, "b": second})
    inputs = compile_inputs(scenario)
    mex = 6   # TRANSIT_COUNTRIES index of MEX
    assert np.all(inputs.containment_probability[:, mex] == 0.4)
    assert np.all(inputs.containment_capacity[:, mex] == 20)


def test_ending_a_parent_policy_in_a_child_scenario(tmp_path):
    path = extend_baseline(tmp_path, "no_parole", """
        parole_chnv: {end: 2023-04}
    """)
    scenario = sim.load_scenario(path).with_overrides(agents=5_000, months=8, warmup_months=0)
    inputs = compile_inputs(scenario)
    ven = scenario.origins.index("VEN")
    cal = inputs.calendar
    assert np.all(inputs.parole_pool[cal < parse_month("2023-04"), ven] >= 0)
    assert np.all(inputs.parole_pool[cal >= parse_month("2023-04"), ven] == -1)


def test_enforcement_spending_is_reported_by_location(tmp_path):
    path = extend_baseline(tmp_path, "spend", """
        us_spend:
          kind: enforcement
          start: 2023-03
          apprehension_probability: 0.8
          budget_usd_per_year: 1.2e9
        mx_spend:
          kind: containment
          country: MEX
          start: 2023-01
          interception_probability: 0.2
          capacity_per_month: 1000
          budget_usd_per_year: 2.4e8
    """)
    frame = sim.run(path, agents=5_000, months=6, replications=1).to_frame()
    spend = frame[frame.metric == "enforcement_spent_usd"].pivot_table(index="month", columns="location",
                                                                        values="value", aggfunc="sum")
    assert np.allclose(spend.loc[spend.index < "2023-03", "USA"], 0)
    assert np.allclose(spend.loc[spend.index >= "2023-03", "USA"], 1e8)
    assert np.allclose(spend["MEX"], 2e7)


SHIPPED = shipped_scenario_files()


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_scenario_loads_and_runs_small(path):
    scenario = load_base_scenario(path)
    result = sim.run(scenario, agents=3_000, months=6, replications=1)
    frame = result.to_frame()
    assert set(frame.scenario) == {scenario.name}
    assert frame.month.nunique() == 6
    assert (frame.value >= 0).all()
    assert frame[frame.metric == "in_transit"].value.sum() > 0


def test_expected_shipped_scenarios_are_present():
    names = {p.stem for p in SHIPPED}
    assert {"baseline", "history"} <= names
    missing = {"root_cause_aid", "enforcement", "containment", "regional_plan"} - names
    if missing:
        pytest.skip(f"not yet added: {sorted(missing)}")


def test_shipped_scenarios_change_the_policies_they_describe(baseline):
    """Each scenario that extends the baseline carries the baseline's blocks plus its own."""
    for name, kinds in {"root_cause_aid": {"aid"}, "enforcement": {"enforcement"},
                        "containment": {"containment"}, "regional_plan": {"aid", "legal_pathway"}}.items():
        path = SCENARIOS / f"{name}.yaml"
        if not path.exists():
            continue
        scenario = sim.load_scenario(path)
        added = set(scenario.policies) - set(baseline.policies)
        assert added, name
        assert {scenario.policies[k].kind for k in added} >= kinds, name
        assert scenario.start == baseline.start and scenario.months == baseline.months
