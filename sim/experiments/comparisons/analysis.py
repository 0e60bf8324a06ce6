"""Numbers of a comparison, from the tidy outcomes table of every scenario.

Replication ``r`` of every scenario uses the same seed as replication ``r`` of the
baseline (common random numbers), so differences are taken run by run (paired) and the
bands are the 10th-90th percentiles of the paired differences over replications. The
precision of a mean paired difference is a 95 % t-interval over replications
(``paired_intervals``); where it is wider than ±10 % of the difference, the table says how
many replications (or agents) would bring it under, taking the variance of a run's total
as proportional to 1 / agents and that of the mean as 1 / (agents x replications).
Units: persons (flows over the horizon, or per month), USD.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from .study import BASELINE

SPENDING_METRICS = ("aid_spent_usd", "enforcement_spent_usd")
HEADLINE_METRICS = ("encounters", "entries_irregular", "entries_legal", "deaths", "intercepted", "deported")
QUANTILES = (0.1, 0.5, 0.9)
CONFIDENCE = 0.95
PRECISION_TARGET = 0.10            # a headline interval should be within ±10 % of its value
DIFFERENCE_METRICS = ("entries_irregular", "deaths", "encounters", "entries_legal", "intercepted", "deported")
HEADLINE_DIFFERENCES = ("entries_irregular", "deaths")   # the numbers a reader compares policies by


def run_monthly(outcomes: pd.DataFrame, metric: str, universe: pd.DataFrame | None = None) -> pd.DataFrame:
    """Monthly totals of ``metric`` (all nationalities and locations): rows (scenario, month), a column per replicate.

    Runs without rows for a month (zero located metrics are not written) count 0. The
    scenarios, months and replicates are those of ``universe`` (default: ``outcomes``).
    """
    universe = outcomes if universe is None else universe
    frame = outcomes[outcomes.metric == metric]
    scenarios = list(pd.unique(universe["scenario"]))              # in order of appearance (baseline first)
    months = sorted(pd.unique(universe["month"]))
    replicates = sorted(pd.unique(universe["replicate"]))
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
    ``share_averting_crossings`` and ``share_averting_deaths`` (shares of replications where any were averted),
    and ``no_budget`` (the scenario spends nothing more than the baseline: no cost per person averted exists).
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
        row["no_budget"] = bool((extra == 0).all())
        rows.append(row)
    return pd.DataFrame(rows)


def budgets(scenarios: dict) -> pd.DataFrame:
    """Every budget a scenario spends within its horizon: scenario, policy, kind, USD per year, months, source.

    ``source`` is the block's ``budget_source``, or "illustrative" when it gives none.
    """
    from ...core.calendar import format_month, parse_month

    rows = []
    for name, scenario in scenarios.items():
        first = parse_month(scenario.start)
        last = first + scenario.months - 1
        for block, policy in scenario.policies.items():
            budget = getattr(policy, "budget_usd_per_year", 0.0)
            start = parse_month(policy.start)
            end = parse_month(policy.end) - 1 if policy.end else last
            if budget <= 0 or start > last or end < first:
                continue
            rows.append({"scenario": name, "policy": block, "kind": policy.kind, "budget_usd_per_year": budget,
                         "from": format_month(max(start, first)), "to": format_month(min(end, last)),
                         "source": policy.budget_source or "illustrative"})
    return pd.DataFrame(rows, columns=["scenario", "policy", "kind", "budget_usd_per_year", "from", "to", "source"])


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


def t_half_width(values, confidence: float = CONFIDENCE) -> float:
    """Half-width of the t-interval of the mean of ``values`` (NaN with fewer than two values)."""
    values = np.asarray(values, dtype=float)
    n = len(values)
    if n < 2:
        return math.nan
    return float(stats.t.ppf(0.5 + confidence / 2, n - 1) * values.std(ddof=1) / math.sqrt(n))


def replications_needed(sd: float, difference: float, target: float = PRECISION_TARGET,
                        confidence: float = CONFIDENCE, limit: int = 1_000_000) -> int | None:
    """Fewest replications whose t-interval of the mean is within ±``target`` x |difference|.

    ``sd``: standard deviation of one replication's value (persons). None when the difference is 0
    (no relative precision exists) or more than ``limit`` replications would be needed.
    """
    if not np.isfinite(sd) or difference == 0:
        return None
    if sd == 0:
        return 2
    goal = target * abs(difference)
    n = max(2, math.ceil((stats.norm.ppf(0.5 + confidence / 2) * sd / goal) ** 2))
    while n <= limit and stats.t.ppf(0.5 + confidence / 2, n - 1) * sd / math.sqrt(n) > goal:
        n += 1 if n < 100 else max(1, n // 50)
    return n if n <= limit else None


def paired_intervals(outcomes: pd.DataFrame, agents: int, baseline: str = BASELINE,
                     metrics=DIFFERENCE_METRICS) -> pd.DataFrame:
    """Mean paired difference from the baseline over the horizon, with its 95 % t-interval, per scenario and metric.

    ``difference`` is baseline minus scenario (persons averted; negative: added), run by run
    (common random numbers). ``relative_half_width`` is the interval's half-width over
    |difference|; ``wide`` marks intervals wider than ±10 % of the difference, and then
    ``replications_needed`` (at the same agents) and ``agents_needed`` (at the same
    replications) say what would bring it under, with the variance of the mean taken as
    proportional to 1 / (agents x replications). ``agents``: agents per run.
    """
    rows = []
    for metric in metrics:
        totals = run_totals(outcomes, metric)
        base = totals.loc[baseline]
        for name in totals.index:
            if name == baseline:
                continue
            diff = base - totals.loc[name]
            n = len(diff)
            mean, half = float(diff.mean()), t_half_width(diff)
            sd = float(diff.std(ddof=1)) if n > 1 else math.nan
            relative = half / abs(mean) if mean != 0 and np.isfinite(half) else (0.0 if half == 0 else math.nan)
            wide = bool(not np.isfinite(relative) or relative > PRECISION_TARGET) and n > 1 and mean != 0
            needed = replications_needed(sd, mean) if wide else None
            agents_needed = (math.ceil(agents * (relative / PRECISION_TARGET) ** 2)
                             if wide and np.isfinite(relative) else None)
            rows.append({"scenario": name, "metric": metric, "baseline_mean": float(base.mean()),
                         "scenario_mean": float(totals.loc[name].mean()), "difference": mean,
                         "ci_low": mean - half, "ci_high": mean + half, "half_width": half,
                         "relative_half_width": relative, "replications": n, "wide": wide,
                         "replications_needed": needed, "agents_needed": agents_needed})
    columns = ["scenario", "metric", "baseline_mean", "scenario_mean", "difference", "ci_low", "ci_high", "half_width",
               "relative_half_width", "replications", "wide", "replications_needed", "agents_needed"]
    table = pd.DataFrame(rows, columns=columns)
    for column in ("replications_needed", "agents_needed"):
        table[column] = table[column].astype("Int64")
    return table


def precision_warnings(intervals: pd.DataFrame, agents: int, metrics=HEADLINE_DIFFERENCES) -> list[str]:
    """One sentence per headline interval wider than ±10 % of its value, saying what would bring it under."""
    out = []
    for row in intervals[intervals.metric.isin(metrics) & intervals.wide].itertuples():
        what = METRIC_WORDS.get(row.metric, row.metric)
        if not np.isfinite(row.relative_half_width):
            out.append(f"{row.scenario}: {what}: no interval with {row.replications} replication(s); "
                       "run at least 2")
            continue
        fix = []
        if not pd.isna(row.replications_needed):
            fix.append(f"{int(row.replications_needed):,} replications at {agents:,} agents")
        if not pd.isna(row.agents_needed):
            fix.append(f"{int(row.agents_needed):,} agents at {row.replications} replications")
        out.append(f"{row.scenario}: {what} {row.difference:,.0f} ± {row.half_width:,.0f} (95 %), "
                   f"±{100 * row.relative_half_width:.0f} % of the value, wider than ±{100 * PRECISION_TARGET:.0f} %"
                   + (f"; about {' or '.join(fix)} would bring it under" if fix else ""))
    return out


METRIC_WORDS = {"entries_irregular": "irregular crossings averted", "deaths": "deaths averted",
                "encounters": "encounters averted", "entries_legal": "legal entries averted",
                "intercepted": "interceptions averted", "deported": "deportations averted"}


def _metrics_of(outcome: str):
    """Metric names summed for an outcome name (``spending_usd`` is aid plus enforcement)."""
    return SPENDING_METRICS if outcome == "spending_usd" else outcome


def yearly_averted(outcomes: pd.DataFrame, outcome: str, baseline: str = BASELINE) -> pd.DataFrame:
    """Persons averted (baseline minus scenario, paired by replicate) in each calendar year, with a 95 % t-interval.

    Columns: scenario, year, months (reported months of that year), averted (mean over
    replications), low, high, cumulative (mean averted from the first month to the year's end).
    A year's effect rising then levelling off shows the lag and the diminishing returns of a policy.
    """
    metrics = [_metrics_of(outcome)] if isinstance(_metrics_of(outcome), str) else list(_metrics_of(outcome))
    monthly = sum(run_monthly(outcomes, m) for m in metrics)
    years = monthly.index.get_level_values("month").str[:4].astype(int)
    yearly = monthly.groupby([monthly.index.get_level_values("scenario"), years], sort=False).sum()
    counts = pd.Series(years).groupby([monthly.index.get_level_values("scenario"), years]).size()
    base = yearly.xs(baseline, level=0)
    rows = []
    for name in dict.fromkeys(monthly.index.get_level_values("scenario")):
        if name == baseline:
            continue
        averted = base - yearly.xs(name, level=0)
        cumulative = averted.cumsum()
        for year in averted.index:
            values = averted.loc[year]
            half = t_half_width(values)
            rows.append({"scenario": name, "year": int(year), "months": int(counts.loc[(name, year)]),
                         "averted": float(values.mean()), "low": float(values.mean() - half),
                         "high": float(values.mean() + half), "cumulative": float(cumulative.loc[year].mean())})
    return pd.DataFrame(rows, columns=["scenario", "year", "months", "averted", "low", "high", "cumulative"])


def overtaking_year(yearly: pd.DataFrame, policy: str, against: str) -> int | None:
    """First year by whose end ``policy`` has averted more in total than ``against`` and stays ahead to the end.

    ``yearly``: the table of ``yearly_averted``. None when it never gets (and stays) ahead, or when
    it is ahead from the first year (then there is nothing to overtake: see the cumulative curves).
    """
    a = yearly[yearly.scenario == policy].set_index("year").cumulative
    b = yearly[yearly.scenario == against].set_index("year").cumulative
    ahead = (a - b).reindex(a.index) > 0
    if ahead.empty or not ahead.iloc[-1] or ahead.all():
        return None
    behind = ahead[~ahead]
    return int(ahead.index[ahead.index > behind.index.max()].min())
