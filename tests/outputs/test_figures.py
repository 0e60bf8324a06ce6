"""Figures that read at a glance: human names with units for parameters and policies, numbers with thousands
separators or k/M/B (never 1e+07), no overlapping labels, fonts readable at 100 % zoom. Each figure object is
drawn with its renderer and its texts are measured (helpers.figure_text_problems)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pydantic import BaseModel

import sim
from sim.core import parameters, policies
from sim.core.scenario import DriverChange, EdgeOverride, World
from sim.core.titles import field_title, policy_name
from sim.core.yamlio import load_with_extends
from sim.experiments.comparisons import figures
from sim.experiments.sweeps.analyze import bar_figure, scatter_figure
from sim.outputs.numbers import compact, decimal, thousands

from helpers import SCENARIOS, figure_text_problems, small, tick_texts

SWEEP_BASE = load_with_extends(SCENARIOS / "aid_vs_enforcement_sweep.yaml").data


# ---------------------------------------------------------------- names and numbers

def test_parameters_and_policies_by_their_titles():
    assert field_title("policies.aid_nca.budget_usd_per_year", SWEEP_BASE) == \
        "Aid to GTM, HND, SLV: budget (USD per year, each origin)"
    assert field_title("policies.mexico_containment.capacity_per_month", SWEEP_BASE) == \
        "Containment by MEX: capacity (persons per month)"
    assert field_title("policies.us_enforcement.apprehension_probability", SWEEP_BASE) == \
        "US enforcement: apprehension probability (per attempt)"
    assert field_title("policies.mexico_containment.outcome.deport", SWEEP_BASE) == "Containment by MEX: share deported"
    assert field_title("drivers.violence_shock.change", SWEEP_BASE) == \
        "Violence step in every origin: relative change (0.3 = +30 %)"
    assert field_title("behaviour.aid.income_elasticity") == "Aid elasticity of savings"
    assert field_title("behaviour.hazard.network") == "Pull of the diaspora network (log-odds)"
    assert field_title("behaviour.hazard.intercept.VEN") == "VEN: propensity to leave (intercept, log-odds per month)"
    assert field_title("world.edges[COL_NECOCLI->PAN_DARIEN].cost_usd") == \
        "COL_NECOCLI->PAN_DARIEN: cost (USD per person)"
    assert field_title("world.population.VEN") == "VEN: population (persons)"
    # without the scenario, a block is named by its name; a path that is not one stays as it is
    assert field_title("policies.aid_nca.budget_usd_per_year") == "aid_nca: budget (USD per year, each origin)"
    assert field_title("policies.x.places_per_month") == "x: places (persons per month)"
    assert field_title("nowhere.at_all") == "nowhere.at_all"
    assert policy_name("p", {"kind": "legal_pathway", "pathway": "parole", "nationalities": ["VEN"]}) == "Parole (VEN)"
    assert policy_name("v", {"kind": "visa", "country": "MEX", "nationalities": ["COL"]}) == "MEX visa for COL"


def _fields(model: type[BaseModel]):
    for name, field in model.model_fields.items():
        yield model.__name__, name, field


def test_every_behaviour_and_policy_field_has_a_title():
    models = [parameters.HazardParameters, parameters.RouteChoiceParameters, parameters.BorderParameters,
              parameters.AidParameters, parameters.PopulationParameters, parameters.Behaviour, policies.AidPolicy,
              policies.InterceptionOutcome, policies.ContainmentPolicy, policies.BorderOutcome,
              policies.EnforcementPolicy, policies.LegalPathwayPolicy, policies.VisaPolicy, policies.ClosurePolicy,
              EdgeOverride, World]
    missing = [f"{m}.{n}" for model in models for m, n, field in _fields(model) if n != "kind" and not field.title]
    assert not missing, missing
    assert DriverChange.model_fields["change"].title
    too_long = [f.title for model in models for _, _, f in _fields(model) if f.title and len(f.title) > 60]
    assert not too_long, too_long                                   # short enough for an axis label


def test_numbers_are_written_without_exponents():
    for value in np.logspace(-4, 13, 60):
        for text in (compact(value), compact(-value), decimal(value), thousands(value)):
            assert "e" not in text.lower(), (value, text)
    assert [compact(v) for v in (0, 0.35, 950, 8753, 12_500, 5.71e6, 3e9, 1.2e13)] == \
        ["0", "0.35", "950", "8,753", "12.5k", "5.71M", "3B", "12T"]
    assert compact(1500, small=1_000) == "1.5k" and thousands(1234567.8) == "1,234,568"
    assert decimal(0.123456) == "0.123" and decimal(12.0) == "12" and decimal(float("nan")) == "–"


# ---------------------------------------------------------------- figures of a comparison

def cost_table(low: float, high: float) -> pd.DataFrame:
    rows = []
    for name, scale in (("baseline", np.nan), ("aid", 1.0), ("enforcement", 0.6), ("nothing", np.nan)):
        row = {"scenario": name, "no_budget": name == "nothing", "share_averting_crossings": 0.9,
               "share_averting_deaths": 0.8}
        for measure, size in (("usd_per_crossing_averted", 1.0), ("usd_per_death_averted", 1000.0)):
            q50 = scale * size * (low + high) / 2
            row.update({f"{measure}_q10": scale * size * low, f"{measure}_q50": q50,
                        f"{measure}_q90": scale * size * high})
        rows.append(row)
    return pd.DataFrame(rows[1:])


@pytest.mark.parametrize("low, high", [(11_000, 35_000), (900, 2_500_000)])
def test_cost_effectiveness_axes_read_clearly(low, high):
    names = ["baseline", "aid", "enforcement", "nothing"]
    fig, _ = figures.cost_effectiveness(cost_table(low, high), names)
    assert figure_text_problems(fig) == []
    deaths = fig.axes[1]
    labels = tick_texts(deaths.xaxis)
    assert labels and all(text[-1] in "kMB" for text in labels), labels         # 20M, not 20,000,000 or 2×10^7
    assert not [t.get_text() for t in deaths.xaxis.get_minorticklabels() if t.get_text()]


def test_heatmap_names_its_levers_and_writes_budgets_short():
    grid = pd.DataFrame([{"x": x, "y": y, "value": 1_000_000 - x / 1e4 - 2 * y}
                         for x in (0.0, 1.0e9, 3.0e9) for y in (40_000, 120_000) for _ in range(2)])
    x_title = field_title("policies.aid_nca.budget_usd_per_year", SWEEP_BASE)
    y_title = field_title("policies.mexico_containment.capacity_per_month", SWEEP_BASE)
    fig, table = figures.heatmap(grid, "policies.aid_nca.budget_usd_per_year",
                                 "policies.mexico_containment.capacity_per_month", "entries_irregular",
                                 x_title, y_title)
    ax = fig.axes[0]
    assert tick_texts(ax.xaxis) == ["0", "1B", "3B"]
    assert tick_texts(ax.yaxis) == ["120k", "40k"]
    assert ax.get_xlabel().replace("\n", " ") == "Aid to GTM, HND, SLV: budget (USD per year, each origin)"
    assert ax.get_ylabel().replace("\n", " ") == "Containment by MEX: capacity (persons per month)"
    assert "policies." not in " ".join(t.get_text() for t in fig.findobj(lambda a: hasattr(a, "get_text")))
    assert figure_text_problems(fig) == []
    # a narrow range of totals: the colour bar's labels take the digits they need to differ
    narrow = grid.assign(value=1_070_000 + (grid.x > 0) * 15_000 + (grid.y > 50_000) * 20_000)
    fig, _ = figures.heatmap(narrow, "x", "y", "entries_irregular")
    labels = tick_texts(fig.axes[1].yaxis)
    assert len(labels) >= 3 and len(set(labels)) == len(labels) and all(t.endswith("M") for t in labels), labels
    assert figure_text_problems(fig) == []


@pytest.mark.slow
def test_robustness_and_discovery_name_the_uncertainties():
    pytest.importorskip("ema_workbench")
    from sim.experiments.comparisons.robustness import discovery_table, robustness_table

    rng = np.random.default_rng(3)
    x, other = rng.uniform(0, 2e6, size=40), rng.uniform(size=40)
    rows = []
    for f in range(40):
        aid = 3e6 - 1e6 * (x[f] > 1.2e6)
        for name, value in (("baseline", 4e6), ("aid", aid), ("enf", 2.5e6)):
            rows.append({"policy": name, "future": f, "world.population.VEN": x[f],
                         "behaviour.hazard.network": other[f], "encounters": value, "entries_irregular": value,
                         "entries_legal": value / 10,
                         "deaths": value / 1e4, "spending_usd": 2e10 if name != "baseline" else 0.0})
    futures = pd.DataFrame(rows)
    names = ["baseline", "aid", "enf"]
    fig, _ = figures.robustness(futures, robustness_table(futures, names), names)
    assert figure_text_problems(fig) == []
    boxes, _ = discovery_table(futures, "aid", "enf", "encounters")
    titles = {p: field_title(p) for p in ("world.population.VEN", "behaviour.hazard.network")}
    fig, _ = figures.discovery(futures, boxes, {"policy": "aid", "against": "enf", "outcome": "encounters"}, titles)
    assert figure_text_problems(fig) == []
    scatter = fig.axes[1]                                               # after the trajectory (the colorbar is last)
    assert scatter.get_xlabel() in titles.values() and scatter.get_ylabel() in titles.values()
    assert any(text.endswith("M") for text in tick_texts(scatter.xaxis) + tick_texts(scatter.yaxis))


# ---------------------------------------------------------------- sensitivity and run figures

PATHS = ["policies.aid_nca.budget_usd_per_year", "behaviour.aid.income_elasticity", "drivers.violence_shock.change",
         "behaviour.hazard.network", "policies.mexico_containment.capacity_per_month",
         "policies.us_enforcement.apprehension_probability"]


def test_sensitivity_bars_and_scatter_use_titles():
    titles = {p: field_title(p, SWEEP_BASE) for p in PATHS}
    rows = [("encounters", "uncertainties", -1, "all points", p, index, 0.1 * k, 0.05)
            for k, p in enumerate(PATHS) for index in ("S1", "ST")]
    table = pd.DataFrame(rows, columns=["outcome", "group", "condition", "condition_label", "parameter", "index",
                                        "value", "conf"])
    fig = bar_figure(table, titles)
    assert figure_text_problems(fig) == []
    shown = [t.replace("\n", " ") for t in tick_texts(fig.axes[0].xaxis)]
    assert shown == [titles[p] for p in PATHS]

    rng = np.random.default_rng(1)
    points = pd.DataFrame({p: rng.uniform(0, 3e9 if "budget" in p else 1.0, 30) for p in PATHS[:3]})
    for outcome in ("encounters", "entries_irregular", "deaths"):
        points[outcome] = rng.uniform(1e6, 3e7, 30)
    points["spending_usd"] = rng.uniform(1e9, 4e10, 30)
    points["cost_per_crossing_averted_usd"] = np.nan
    fig = scatter_figure(points, PATHS[:3], titles)
    assert figure_text_problems(fig) == []
    bottom = fig.axes[-3:]
    assert [ax.get_xlabel().replace("\n", " ") for ax in bottom] == [titles[p] for p in PATHS[:3]]
    assert any(text.endswith("B") for text in tick_texts(bottom[0].xaxis))


def test_outcome_curves_read_clearly_even_where_nothing_happens():
    result = sim.run(small(agents=600, months=4, origins=["GTM", "HND"], replications=2))
    fig = result.plot()
    assert figure_text_problems(fig) == []
    for ax in fig.axes:
        if ax.get_visible():
            labels = tick_texts(ax.yaxis)
            assert len(labels) == len(set(labels)), labels            # never six ticks that all read 0
