"""Numbers of a comparison, from the tidy outcomes table of every scenario.

Replication ``r`` of every scenario uses the same seed as replication ``r`` of the
baseline (common random numbers), so differences are taken run by run (paired) and the
bands are the 10th-90th percentiles of the paired differences over replications.
Units: persons (flows over the horizon, or per month), USD.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .study import BASELINE

SPENDING_METRICS = ("aid_spent_usd", "enforcement_spent_usd")
HEADLINE_METRICS = ("encounters", "entries_irregular", "entries_legal", "deaths", "intercepted", "deported")
QUANTILES = (0.1, 0.5, 0.9)


def run_monthly(outcomes: pd.DataFrame, metric: str, universe: pd.DataFrame | None = None) -> pd.DataFrame:
    """Monthly totals of ``metric`` (all nationalities and locations): rows (scenario, month), a column per replicate.

    Runs without rows for a month (zero located metrics are not written) count 0. The
    scenarios, months and replicates are those of ``universe`` (default: ``outcomes``).
    """
    universe = outcomes if universe is None else universe
    frame = outcomes[outcomes.metric == metric]
    scenarios = list(dict.fromkeys(universe.scenario))
    months = sorted(universe.month.unique())
    replicates = sorted(universe.replicate.unique())
    wide = frame.groupby(["scenario", "month", "replicate"])["value"].sum().unstack("replicate", fill_value=0.0)
    grid = pd.MultiIndex.from_product([scenarios, months], names=["scenario", "month"])
    return wide.reindex(index=grid, columns=replicates, fill_value=0.0)


def run_totals(outcomes: pd.DataFrame, metrics) -> pd.DataFrame:
    """Totals over the horizon: rows scenario, columns replicate, summed over ``metrics`` (one name or several)."""
    metrics = [metrics] if isinstance(metrics, str) else list(metrics)
    return sum(run_monthly(outcomes, m).groupby(level="scenario", sort=False).sum() for m in metrics)


def band(values: pd.DataFrame) -> pd.DataFrame:
    """Median and 10-90 % band over the columns (replicates): columns q10, q50, q90."""
    return pd.DataFrame({f"q{int(round(q * 100)):02d}": values.quantile(q, axis=1) for q in QUANTILES})


def cumulative_averted(outcomes: pd.DataFrame, metric: str, baseline: str = BASELINE) -> pd.DataFrame:
    """Cumulative persons averted (baseline minus scenario, paired by replicate) by scenario and month.

    Positive: fewer than in the baseline; negative: more ("added"). Baseline rows are left out.
    """
    monthly = run_monthly(outcomes, metric)
    cumulative = monthly.groupby(level="scenario", sort=False).cumsum()
    base = cumulative.xs(baseline, level="scenario")
    rows = []
    for name in dict.fromkeys(monthly.index.get_level_values("scenario")):
        if name == baseline:
            continue
        averted = base - cumulative.xs(name, level="scenario")
        rows.append(band(averted).assign(scenario=name).reset_index())
    return pd.concat(rows, ignore_index=True)[["scenario", "month", "q10", "q50", "q90"]]


def cost_effectiveness(outcomes: pd.DataFrame, baseline: str = BASELINE) -> pd.DataFrame:
    """Extra spending and what it buys, per scenario, over the horizon (paired by replicate).

    Columns (each with _q10, _q50, _q90): ``extra_spending_usd`` (aid + enforcement, scenario
    minus baseline), ``crossings_averted`` (irregular entries, baseline minus scenario),
    ``deaths_averted``, ``usd_per_crossing_averted`` and ``usd_per_death_averted`` (extra
    spending / persons averted, over the replications where something was averted), and
    ``share_averting_crossings`` and ``share_averting_deaths`` (shares of replications where any were averted).
    """
    spending = run_totals(outcomes, SPENDING_METRICS)
    crossings = run_totals(outcomes, "entries_irregular")
    deaths = run_totals(outcomes, "deaths")
    rows = []
    for name in spending.index:
        if name == baseline:
            continue
        extra = spending.loc[name] - spending.loc[baseline]
        averted = crossings.loc[baseline] - crossings.loc[name]
        saved = deaths.loc[baseline] - deaths.loc[name]
        row = {"scenario": name}
        for label, values in (("extra_spending_usd", extra), ("crossings_averted", averted), ("deaths_averted", saved),
                              ("usd_per_crossing_averted", (extra / averted)[averted > 0]),
                              ("usd_per_death_averted", (extra / saved)[saved > 0])):
            for q in QUANTILES:
                row[f"{label}_q{int(round(q * 100)):02d}"] = float(values.quantile(q)) if len(values) else np.nan
        row["share_averting_crossings"] = float((averted > 0).mean())
        row["share_averting_deaths"] = float((saved > 0).mean())
        rows.append(row)
    return pd.DataFrame(rows)


def headline(outcomes: pd.DataFrame) -> pd.DataFrame:
    """Per scenario: median over replications of each headline metric's total and of spending (USD)."""
    columns = {m: run_totals(outcomes, m).median(axis=1) for m in HEADLINE_METRICS}
    columns["spending_usd"] = run_totals(outcomes, SPENDING_METRICS).median(axis=1)
    table = pd.DataFrame(columns)
    table.index.name = "scenario"
    return table.reset_index()


def policy_starts(scenarios: dict, baseline: str = BASELINE) -> pd.DataFrame:
    """First months of the policy blocks each scenario adds to (or changes in) the baseline, within its horizon."""
    from ...core.calendar import format_month, parse_month

    base = scenarios[baseline].policies
    rows = []
    for name, scenario in scenarios.items():
        if name == baseline:
            continue
        first = parse_month(scenario.start)
        last = first + scenario.months - 1
        for block, policy in scenario.policies.items():
            if block in base and base[block] == policy:
                continue
            start = max(parse_month(policy.start), first)
            if start <= last:
                rows.append({"scenario": name, "policy": block, "month": format_month(start)})
    return pd.DataFrame(rows, columns=["scenario", "policy", "month"])
