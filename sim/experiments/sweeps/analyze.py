"""Sensitivity analysis of a sweep: SALib indices per outcome, a table and two figures.

Outcomes are totals over the reported months, per run, averaged over the replicates of
each point:

- ``encounters``, ``entries_irregular``, ``deaths`` (persons);
- ``spending_usd``: aid plus enforcement spending (USD);
- ``cost_per_crossing_averted_usd``: extra spending over the reference policy (the
  lever point that spends least) per encounter averted under the same future; defined
  only when the sweep crosses two or more policies with the futures, and only where
  encounters fall.

For a group (levers or uncertainties) drawn with ``sobol`` the Sobol indices S1 and ST
are computed; with ``morris`` the Morris mu*, mu and sigma. When the groups are crossed,
the indices of one group are computed under each point of the other (e.g. the
uncertainties' indices under each policy).
"""
from __future__ import annotations

import io
import json
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ...outputs.files import atomic_write_bytes, read_outcomes
from ...outputs.guarded import staged_folder
from .store import ANALYSIS, DESIGN, MANIFEST, parameter_columns, read_parts, read_runs

TOTALS = ("encounters", "entries_irregular", "deaths", "aid_spent_usd", "enforcement_spent_usd")
OUTCOMES = {
    "encounters": "Encounters (persons)",
    "entries_irregular": "Irregular entries (persons)",
    "deaths": "Deaths (persons)",
    "spending_usd": "Aid and enforcement spending (USD)",
    "cost_per_crossing_averted_usd": "Cost per crossing averted (USD)",
}
INDICES = {"sobol": ("ST", "S1"), "morris": ("mu_star", "sigma")}
MAX_BAR_CONDITIONS = 8
TREND_BINS = 8
SALIB_SEED = 20240101            # bootstrap of confidence intervals: fixed, so the table is reproducible


@dataclass
class Analysis:
    """What ``analyze`` computed and wrote."""

    name: str
    method: str                      # sobol, morris, sobol+morris or none
    table: pd.DataFrame              # outcome, group, condition, condition_label, parameter, index, value, conf
    outcomes: pd.DataFrame           # per point: policy, future, parameters, outcomes, runs
    files: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    conditions_label: str = ""       # what the headline averages over: policies, futures, or nothing

    def headline(self) -> pd.DataFrame | None:
        """Mean of each index and of its 95 % confidence half-width over conditions, by outcome and parameter (wide:
        a column per index, and ``<index> ±`` for its interval where SALib gives one)."""
        if self.table.empty:
            return None
        grouped = self.table.groupby(["outcome", "group", "parameter", "index"], sort=False)
        value = grouped["value"].mean().unstack("index")
        conf = grouped["conf"].mean().unstack("index").dropna(axis=1, how="all")
        columns = []
        for index in value.columns:
            columns.append(value[index])
            if index in conf.columns:
                columns.append(conf[index].rename(f"{index} ±"))
        return pd.concat(columns, axis=1).reset_index()


def run_totals(root: Path) -> pd.DataFrame:
    """Totals over the reported months of each run: one row per run id, one column per metric of ``TOTALS``."""
    table = read_parts(root, columns=["metric", "value"])
    table = table.filter(pc.is_in(table["metric"], pa.array(list(TOTALS))))
    grouped = table.group_by(["run_id", "metric"]).aggregate([("value", "sum")]).to_pandas()
    wide = grouped.pivot(index="run_id", columns="metric", values="value_sum")
    return wide.reindex(columns=list(TOTALS), fill_value=0.0).fillna(0.0)


def point_outcomes(runs: pd.DataFrame, totals: pd.DataFrame, has_levers: bool,
                   crossed: bool) -> tuple[pd.DataFrame, list[str]]:
    """Outcomes per point (mean over its replicates with results) and notes on how they were made."""
    notes = []
    per_run = runs.merge(totals, left_on="run_id", right_index=True, how="inner")
    per_run["spending_usd"] = per_run["aid_spent_usd"] + per_run["enforcement_spent_usd"]
    params = parameter_columns(runs)
    first = runs.drop_duplicates("point").set_index("point")[["policy", "future"] + params]
    means = per_run.groupby("point")[["encounters", "entries_irregular", "deaths", "spending_usd"]].mean()
    counts = per_run.groupby("point").size().rename("runs")
    points = first.join(means).join(counts)
    points["runs"] = points["runs"].fillna(0).astype(np.int64)
    points["cost_per_crossing_averted_usd"] = np.nan
    if has_levers and crossed and points["policy"].nunique() > 1:
        spend = points.groupby("policy")["spending_usd"].mean()
        reference = int(spend.idxmin()) if spend.notna().any() else int(points["policy"].min())
        ref = points[points.policy == reference].set_index("future")
        extra = points["spending_usd"] - points["future"].map(ref["spending_usd"])
        averted = points["future"].map(ref["encounters"]) - points["encounters"]
        cost = extra / averted.where(averted > 0)
        points["cost_per_crossing_averted_usd"] = cost.where(points.policy != reference)
        notes.append(f"cost per crossing averted: relative to policy {reference} (the least spending), under the "
                     "same future; empty where encounters do not fall")
    missing = int((points["runs"] == 0).sum())
    if missing:
        notes.append(f"{missing} point(s) have no results (failed or not yet run)")
    return points.reset_index(), notes


def sensitivity(points: pd.DataFrame, manifest: dict, units: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """SALib indices of each sampled group for each outcome, under each point of the other group."""
    design = manifest["design"]
    groups = design["groups"]
    crossed = design["combine"] == "cross" and len(groups) == 2
    rows, notes = [], []
    for name, info in groups.items():
        method = info["design"]
        if method not in INDICES:
            continue
        params = list(info["parameters"])
        own, other = ("policy", "future") if name == "levers" else ("future", "policy")
        problem = {"num_vars": len(params), "names": params, "bounds": [[0.0, 1.0]] * len(params)}
        unit = units[units.group == name].pivot(index="index", columns="parameter", values="u")[params].to_numpy()
        conditions = sorted(points[other].unique()) if crossed else [-1]
        labels = _labels(points, other, conditions)
        for outcome in OUTCOMES:
            constant = missing = 0
            for condition in conditions:
                subset = points if condition == -1 else points[points[other] == condition]
                y = subset.sort_values(own)[outcome].to_numpy(dtype=float)
                if len(y) != info["points"] or not np.isfinite(y).all():
                    missing += 1
                    continue
                if np.ptp(y) <= 1e-9 * max(np.abs(y).max(), 1.0):     # constant up to rounding of the sums
                    constant += 1
                    continue
                for parameter, index, value, conf in _indices(method, problem, unit, y, info):
                    rows.append((outcome, name, int(condition), labels[condition], parameter, index, value, conf))
            where = f" ({{k}} of {len(conditions)} {other} points)" if crossed else ""
            if missing and outcome != "cost_per_crossing_averted_usd":
                notes.append(f"{outcome}: no {method} indices of {name}{where.format(k=missing)}: some points have "
                             "no results")
            if constant:
                notes.append(f"{outcome}: the same at every point of {name}{where.format(k=constant)}; no indices")
    table = pd.DataFrame(rows, columns=["outcome", "group", "condition", "condition_label", "parameter", "index",
                                        "value", "conf"])
    return table, notes


def precision_notes(table: pd.DataFrame, groups: dict) -> list[str]:
    """Warnings where a design is too small for its indices to be told apart from zero.

    An index is told apart from zero when its 95 % interval (bootstrap, SALib) excludes
    zero: ``value - conf > 0``. For each outcome and group, a warning when no main index
    (ST, or mu* for Morris) is, and a note on the parameters whose main index is not.
    """
    notes = []
    for (outcome, group), part in table.groupby(["outcome", "group"], sort=False):
        main = "ST" if "ST" in set(part["index"]) else "mu_star"
        rows = part[part["index"] == main].groupby("parameter", sort=False)[["value", "conf"]].mean()
        apart = rows["value"] - rows["conf"] > 0
        info = groups.get(group, {})
        size = f"{info.get('design', '?')} with samples {info.get('samples')}" if info else "this design"
        if not apart.any():
            notes.append(f"warning: {outcome} ({group}): no {main} index can be told apart from zero (every 95 % "
                         f"interval includes 0): the design ({size}) is too small; use more samples or more "
                         "replications per point, or fewer parameters")
        elif not apart.all():
            notes.append(f"{outcome} ({group}): {main} of {', '.join(rows.index[~apart])} cannot be told apart from "
                         "zero (95 % interval includes 0)")
        if main == "ST":
            s1 = part[part["index"] == "S1"].groupby("parameter", sort=False)[["value", "conf"]].mean()
            wide = s1[s1["conf"] > np.maximum(np.abs(s1["value"]), 0.05)]
            if len(wide):
                notes.append(f"{outcome} ({group}): S1 of {', '.join(wide.index)} has an interval wider than the "
                             "index itself (read it as unknown, not as its value)")
    return notes


def _indices(method: str, problem: dict, unit: np.ndarray, y: np.ndarray, info: dict):
    """(parameter, index, value, confidence half-width) from SALib."""
    from SALib.analyze import morris, sobol

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        if method == "sobol":
            result = sobol.analyze(problem, y, calc_second_order=info.get("second_order", False),
                                   num_resamples=100, seed=SALIB_SEED)
            pairs = (("S1", "S1_conf"), ("ST", "ST_conf"))
        else:
            result = morris.analyze(problem, unit, y, num_levels=info.get("levels", 4), num_resamples=100,
                                    seed=SALIB_SEED)
            pairs = (("mu_star", "mu_star_conf"), ("mu", None), ("sigma", None))
    for j, parameter in enumerate(problem["names"]):
        for index, conf in pairs:
            yield (parameter, index, float(np.asarray(result[index])[j]),
                   float(np.asarray(result[conf])[j]) if conf else math.nan)


def _labels(points: pd.DataFrame, other: str, conditions: list[int]) -> dict[int, str]:
    """Readable label of each condition: the values of the other group's parameters."""
    params = [c for c in points.columns if c not in ("point", "policy", "future", "runs") and c not in OUTCOMES]
    if other not in points or conditions == [-1]:
        return {-1: "all points"}
    mine = [c for c in params if (points.groupby(other)[c].nunique(dropna=False) <= 1).all()]
    first = points.drop_duplicates(other).set_index(other)
    word = "policy" if other == "policy" else "future"
    out = {}
    for condition in conditions:
        shown = ", ".join(f"{c.split('.')[-1]}={_short(first.loc[condition, c])}" for c in mine)
        out[condition] = f"{word} {condition}" + (f": {shown}" if shown else "")
    return out


def _short(value) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


# ---------------------------------------------------------------- figures

def bar_plot(table: pd.DataFrame, path: Path, titles: dict[str, str] | None = None) -> None:
    """``bar_figure`` written to ``path`` (PNG)."""
    _save(bar_figure(table, titles), path)


def scatter_plot(points: pd.DataFrame, parameters: list[str], path: Path, titles: dict[str, str] | None = None
                 ) -> None:
    """``scatter_figure`` written to ``path`` (PNG)."""
    _save(scatter_figure(points, parameters, titles), path)


def bar_figure(table: pd.DataFrame, titles: dict[str, str] | None = None):
    """Bars of the main index (ST or mu*) with confidence, and the second (S1 or sigma), per outcome; parameters
    named by ``titles`` (default: their paths). Returns the figure."""
    from ...outputs.plots import styled

    return styled(_bar_figure)(table, titles or {})


def scatter_figure(points: pd.DataFrame, parameters: list[str], titles: dict[str, str] | None = None):
    """Each outcome (rows) against each parameter (columns), one dot per point, with a trend; parameters named by
    ``titles`` (default: their paths). Returns the figure."""
    from ...outputs.plots import styled

    return styled(_scatter_figure)(points, parameters, titles or {})


def _bar_figure(table: pd.DataFrame, titles: dict[str, str]):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ...outputs.plots import PALETTE

    outcomes = list(dict.fromkeys(table.outcome))
    groups = list(dict.fromkeys(table.group))
    panels = [(o, g) for o in outcomes for g in groups if len(table[(table.outcome == o) & (table.group == g)])]
    width = max(12, 110 // max(table.parameter.nunique(), 1))            # characters per line of a bar's label
    labels = {p: _wrap(titles.get(p, p), width) for p in table.parameter.unique()}
    lines = max((label.count("\n") + 1 for label in labels.values()), default=1)
    fig, axes = plt.subplots(len(panels), 1, figsize=(10, (2.4 + 0.18 * lines) * len(panels)), squeeze=False)
    for ax, (outcome, group) in zip(axes[:, 0], panels):
        sub = table[(table.outcome == outcome) & (table.group == group)]
        main, second = INDICES["sobol"] if "ST" in set(sub["index"]) else INDICES["morris"]
        params = list(dict.fromkeys(sub.parameter))
        conditions = list(dict.fromkeys(sub.condition))
        x = np.arange(len(params))
        value = sub.pivot_table(index="condition", columns=["index", "parameter"], values="value", sort=False)
        conf = sub.pivot_table(index="condition", columns=["index", "parameter"], values="conf", sort=False)
        if len(conditions) <= MAX_BAR_CONDITIONS:
            width = 0.8 / len(conditions)
            for k, condition in enumerate(conditions):
                pos = x - 0.4 + width * (k + 0.5)
                label = sub[sub.condition == condition].condition_label.iloc[0]
                ax.bar(pos, value.loc[condition, main][params], width, color=PALETTE[k % len(PALETTE)], alpha=0.45,
                       yerr=conf.loc[condition, main][params].fillna(0).clip(lower=0), capsize=2, label=label)
                ax.bar(pos, value.loc[condition, second][params], width * 0.45, color=PALETTE[k % len(PALETTE)])
        else:
            mean = value[main][params].mean()
            low, high = value[main][params].min(), value[main][params].max()
            ax.bar(x, mean, 0.6, color=PALETTE[0], alpha=0.45,
                   yerr=[mean - low, high - mean], capsize=3, label=f"mean, range over {len(conditions)} conditions")
            ax.bar(x, value[second][params].mean(), 0.27, color=PALETTE[0])
        ax.set_xticks(x, [labels[p] for p in params], fontsize=8.5)
        ax.set_title(f"{OUTCOMES.get(outcome, outcome)}: {group} ({main} light with 95 % interval, {second} dark)",
                     fontsize=10)
        ax.axhline(0, color="black", linewidth=0.5)
        if len(conditions) > 1:
            ax.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    return fig


def _scatter_figure(points: pd.DataFrame, parameters: list[str], titles: dict[str, str]):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    from ...outputs.plots import PALETTE, CompactFormatter

    outcomes = [o for o in OUTCOMES if points[o].notna().any()]
    fig, axes = plt.subplots(len(outcomes), len(parameters), figsize=(3.3 * len(parameters) + 0.8,
                                                                     2.4 * len(outcomes) + 0.6), squeeze=False)
    for i, outcome in enumerate(outcomes):
        for j, parameter in enumerate(parameters):
            ax = axes[i, j]
            y = points[outcome].to_numpy(dtype=float)
            raw = points[parameter]
            numeric = pd.api.types.is_numeric_dtype(raw) and not pd.api.types.is_bool_dtype(raw)
            if numeric:
                x = raw.to_numpy(dtype=float)
            else:
                categories = list(dict.fromkeys(raw.astype(str)))
                x = raw.astype(str).map({c: k for k, c in enumerate(categories)}).to_numpy(dtype=float)
                ax.set_xticks(range(len(categories)), [c[:12] for c in categories], fontsize=8)
            ok = np.isfinite(x) & np.isfinite(y)
            ax.scatter(x[ok], y[ok], s=6, color=PALETTE[0], alpha=0.5, linewidths=0)
            tx, ty = _trend(x[ok], y[ok])
            if len(tx):
                ax.plot(tx, ty, color=PALETTE[3], linewidth=1.5)
            if i == len(outcomes) - 1:
                ax.set_xlabel(_wrap(titles.get(parameter, parameter), 34), fontsize=9)
            if j == 0:
                ax.set_ylabel(_wrap(OUTCOMES[outcome], 22), fontsize=9)
            ax.tick_params(labelsize=8)
            ax.yaxis.set_major_locator(MaxNLocator(4))
            ax.yaxis.set_major_formatter(CompactFormatter())
            if numeric:
                ax.xaxis.set_major_locator(MaxNLocator(4))
                ax.xaxis.set_major_formatter(CompactFormatter())
    fig.tight_layout()
    return fig


def _wrap(text: str, width: int) -> str:
    """A long label on lines of at most ``width`` characters."""
    import textwrap

    return "\n".join(textwrap.wrap(text, width, break_on_hyphens=False)) or text


def _trend(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean of y at each x when x takes a few values (a grid); else the mean in each of up to
    ``TREND_BINS`` quantile bins of x, drawn at the bins' mean x (a trend that can bend)."""
    distinct = np.unique(x)
    if len(distinct) < 2:
        return np.array([]), np.array([])
    if len(distinct) <= TREND_BINS:
        return distinct, np.array([y[x == v].mean() for v in distinct])
    edges = np.unique(np.quantile(x, np.linspace(0, 1, TREND_BINS + 1)))
    which = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, len(edges) - 2)
    used = np.unique(which)
    return (np.array([x[which == b].mean() for b in used]), np.array([y[which == b].mean() for b in used]))


def _save(fig, path: Path) -> None:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    atomic_write_bytes(path, buffer.getvalue())


# ---------------------------------------------------------------- the command

def analyze(path: str | Path, out: str | Path | None = None, plots: bool = True) -> Analysis:
    """Compute outcomes per point and sensitivity indices of a sweep folder; write table and figures.

    Files go to ``out`` (default ``<folder>/analysis``): ``sensitivity.csv``,
    ``outcomes.csv``, and with ``plots`` ``sensitivity.png`` (when there are indices) and
    ``scatter.png``.
    """
    root = Path(path)
    try:
        manifest = json.loads((root / MANIFEST).read_text())
    except (OSError, ValueError):
        raise FileNotFoundError(2, "not a sweep results folder (no readable manifest.json)", str(root)) from None
    runs = read_runs(root)
    groups = manifest["design"]["groups"]
    crossed = manifest["design"]["combine"] == "cross" and len(groups) == 2
    points, notes = point_outcomes(runs, run_totals(root), "levers" in groups, crossed)
    units = read_outcomes(root / DESIGN)
    table, more = sensitivity(points, manifest, units)
    notes += more + precision_notes(table, groups)
    methods = sorted({info["design"] for info in groups.values() if info["design"] in INDICES})
    if not methods:
        notes.append("no sensitivity indices: they need a sobol or morris design "
                     f"(this sweep: {', '.join(f'{g} {i['design']}' for g, i in groups.items())})")
    from ...core.titles import field_title

    titles = {p: field_title(p, manifest.get("base_scenario")) for p in parameter_columns(runs)}
    target = Path(out) if out else root / ANALYSIS
    names = ["sensitivity.csv", "outcomes.csv"]
    with staged_folder(target, kind="analysis") as staging:        # all files at once; never over another's folder
        atomic_write_bytes(staging / names[0], table.to_csv(index=False).encode())
        atomic_write_bytes(staging / names[1], points.to_csv(index=False).encode())
        if plots and not table.empty:
            names.append("sensitivity.png")
            bar_plot(table, staging / names[-1], titles)
        if plots and points[list(OUTCOMES)].notna().any().any():
            names.append("scatter.png")
            scatter_plot(points, parameter_columns(runs), staging / names[-1], titles)
        elif plots:
            notes.append("no run has results yet: nothing to plot")
    files = [target / name for name in names]
    label = "" if not crossed else ("policies" if "uncertainties" in set(table.group) else "futures")
    return Analysis(manifest.get("name", root.name), "+".join(methods) or "none", table, points, files, notes, label)
