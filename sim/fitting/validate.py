"""Out-of-sample validation: run a scenario over observed months and score it against observed encounters.

``validate(scenario, observed, holdout_from, until)`` runs every replication of the
scenario from its start to ``until`` (the end of the observed data by default),
extending or shortening its horizon to end there, and compares the simulated monthly
encounters by nationality with the observed ones over the held-out months
``holdout_from .. until``: averaged relative difference (ARD), each nationality's total,
and MASE against the naive forecast "same month last year" (``sim.fitting.metrics``).
``write_validation`` stores the run (``outcomes.parquet`` in the layout of ``migsim run``),
``validation.json``, the hindcast figure ``hindcast.png`` and, with the route's stages,
``hindcast_stages.png``.

Observed data are read and checked by ``sim.fitting.observed``. The simulated series is
the ``encounters`` metric summed over locations.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..core.calendar import parse_month
from ..core.errors import Problem
from ..core.scenario import Scenario
from ..outputs.files import atomic_write_bytes, json_ready
from ..outputs.guarded import staged_folder
from ..simulation import Result, run, write_result_files
from . import metrics
from .observed import (
    ObservedDataError,
    compared_nationalities,
    load_observed,
    month_option,
    months_between,
    observed_sha256,
    require_months,
)
from .output_files import claim_scores_file
from .spec import read_scenario
from .stages import stage_runs, stage_scores, stages_figure

# Acceptance thresholds of a validation (docs/validation.md): ARD at most 0.40, every
# nationality's total over the window within 35 %, MASE below 1.
TARGETS = {"ard_max": 0.40, "total_error_max": 0.35, "mase_below": 1.0}
BAND = (0.1, 0.5, 0.9)       # quantiles over replications drawn and reported


def encounters_by_run(outcomes: pd.DataFrame, nationalities: list[str], months: list[str]) -> np.ndarray:
    """Simulated encounters (persons per month) summed over locations: array (replicates, months, nationalities)."""
    part = outcomes[outcomes["metric"] == "encounters"]
    table = part.pivot_table(index=["replicate", "month"], columns="nationality", values="value", aggfunc="sum",
                             fill_value=0.0, observed=True)
    replicates = sorted(part["replicate"].unique())
    grid = pd.MultiIndex.from_product([replicates, months], names=["replicate", "month"])
    table = table.reindex(index=grid, columns=nationalities, fill_value=0.0)
    return table.to_numpy(dtype=float).reshape(len(replicates), len(months), len(nationalities))


# ---------------------------------------------------------------- validation

@dataclass
class Validation:
    """A validation run and its scores over the held-out window."""

    scenario: Scenario
    result: Result
    observed: pd.DataFrame                 # every observed month x compared nationality (persons per month)
    nationalities: list[str]
    months: list[str]                      # simulated (reported) months
    window: list[str]                      # held-out months compared
    bands: dict[str, pd.DataFrame]         # "q10", "q50", "q90": month x nationality (persons per month)
    runs: np.ndarray                       # (replicates, months, nationalities) simulated encounters
    scores: dict = field(default_factory=dict)
    observed_file: str = ""
    scenario_file: str = ""
    stages: dict = field(default_factory=dict)   # Darien and Mexico: observed and simulated runs (sim.fitting.stages)

    def window_median(self) -> pd.DataFrame:
        """Median over replications of the simulated encounters in the window (month x nationality)."""
        return self.bands["q50"].loc[self.window]

    def window_observed(self) -> pd.DataFrame:
        """Observed encounters in the window (month x nationality)."""
        return self.observed.loc[self.window, self.nationalities]


def validate(scenario_path: str | Path, observed_path: str | Path, holdout_from: str, until: str | None = None, *,
             agents: int | None = None, replications: int | None = None, seed: int | None = None,
             progress=None, stages: bool = True) -> Validation:
    """Run a scenario up to ``until`` and score it against the observed months ``holdout_from .. until``.

    ``until`` defaults to the last observed month. The scenario's horizon is set to end
    at ``until`` (start unchanged). ``stages``: also score the series along the route (Darien
    transits, Mexico's interceptions; ``sim.fitting.stages``) over the same window. Raises
    ``ScenarioError`` (bad scenario file) or ``ObservedDataError`` (bad observed file, or months
    it does not cover).
    """
    scenario, _, _ = read_scenario(scenario_path)
    observed = load_observed(observed_path)
    file = str(observed_path)
    holdout_from = month_option(holdout_from, "--holdout-from")
    until = month_option(until, "--until") if until is not None else observed.index.max()
    if parse_month(holdout_from) > parse_month(until):
        raise ObservedDataError([Problem("command line", None, "--holdout-from",
                                         f"the held-out window starts ({holdout_from}) after it ends ({until})")])
    if parse_month(holdout_from) < parse_month(scenario.start):
        raise ObservedDataError([Problem("command line", None, "--holdout-from", f"{holdout_from} is before the "
                                         f"scenario's first reported month {scenario.start}")])
    window = months_between(holdout_from, until)
    require_months(observed, window, file, "--holdout-from" if holdout_from not in observed.index else "--until",
                   f"the window {holdout_from} .. {until}")
    nationalities = compared_nationalities(scenario, observed)
    if not nationalities:
        raise ObservedDataError([Problem(file, None, "citizenship", "no simulated nationality ("
                                         + ", ".join(scenario.origins) + ") appears in the observed data")])
    months = months_between(scenario.start, until)
    scenario = scenario.with_overrides(months=len(months), agents=agents, replications=replications, seed=seed)
    result = run(scenario, progress=progress)
    runs = encounters_by_run(result.outcomes, nationalities, months)
    bands = {f"q{round(q * 100):02d}": pd.DataFrame(np.quantile(runs, q, axis=0), index=pd.Index(months, name="month"),
                                                     columns=pd.Index(nationalities, name="nationality"))
             for q in BAND}
    validation = Validation(scenario, result, observed[nationalities], nationalities, months, window, bands, runs,
                            observed_file=file, scenario_file=str(scenario_path))
    validation.scores = score(validation)
    if stages:
        validation.stages = stage_runs(result.outcomes, months, list(scenario.origins))
        validation.scores["stages"] = stage_scores(validation.stages, window)
    return validation


def score(validation: Validation) -> dict:
    """ARD, total errors and MASE of the median series over the window, with references and targets."""
    v = validation
    runs = v.runs
    simulated, observed = v.window_median(), v.window_observed()
    where = [v.months.index(m) for m in v.window]
    per_run = [metrics.ard(pd.DataFrame(r[where], index=observed.index, columns=observed.columns), observed)
               for r in runs]
    totals = metrics.total_errors(simulated, observed)
    scores = {
        "ard": metrics.ard(simulated, observed),
        "ard_by_replicate": per_run,
        "total_error": {k: _finite(x) for k, x in totals.items()},
        "observed_total": {k: float(x) for k, x in observed.sum(axis=0).items()},
        "simulated_total": {k: float(x) for k, x in simulated.sum(axis=0).items()},
        "mase": None, "mase_by_nationality": {}, "reference_ard": {}, "notes": [],
    }
    try:
        naive = metrics.seasonal_naive(v.observed, v.window)
    except KeyError as missing:
        scores["notes"].append(f"MASE not computed: the naive forecast needs the observed month {missing.args[0]}")
    else:
        scores["mase"] = _finite(metrics.mase(simulated, observed, naive))
        scores["mase_by_nationality"] = {n: _finite(metrics.mase(simulated[[n]], observed[[n]], naive[[n]]))
                                         for n in v.nationalities}
        scores["reference_ard"]["same_month_last_year"] = metrics.ard(naive, observed)
    try:
        flat = metrics.last_value_naive(v.observed, v.window)
    except KeyError:
        pass
    else:
        scores["reference_ard"]["last_month_held_flat"] = metrics.ard(flat, observed)
    worst = max((abs(x) for x in totals.dropna()), default=float("nan"))
    scores["targets"] = dict(TARGETS)
    scores["passed"] = {
        "ard": bool(scores["ard"] <= TARGETS["ard_max"]),
        "total_error": bool(np.isfinite(worst) and worst <= TARGETS["total_error_max"]),
        "mase": bool(scores["mase"] is not None and scores["mase"] < TARGETS["mase_below"]),
    }
    scores["passed"]["all"] = all(scores["passed"].values())
    return scores


def _finite(x: float) -> float | None:
    return float(x) if x is not None and np.isfinite(x) else None


# ---------------------------------------------------------------- outputs

def validation_report(v: Validation) -> dict:
    """The content of ``validation.json``."""
    s = v.scenario
    return {
        "scenario": s.name, "observed_file": v.observed_file, "observed_sha256": observed_sha256(v.observed_file),
        "window": [v.window[0], v.window[-1]], "months_compared": len(v.window),
        "simulated": [v.months[0], v.months[-1]], "nationalities": v.nationalities,
        "agents": s.agents, "replications": s.replications, "seed": s.seed,
        "series": "encounters (persons per month) summed over locations; simulated = median over replications",
        "definitions": {
            "ard": "mean over months of sum_n |S - Y| / sum_n Y (fraction)",
            "total_error": "(sum_t S - sum_t Y) / sum_t Y per nationality (signed fraction)",
            "mase": "sum |S - Y| / sum |Y(t-12) - Y| over the window and nationalities (naive forecast: same month "
                    "last year; below 1 beats it)",
        },
        **v.scores,
        "provenance": v.result.provenance,
    }


def hindcast_figure(v: Validation, path: str | Path | None = None):
    """Observed against simulated encounters (median, 10-90 % band) per nationality, plus their sum.

    Small multiples with a shared month axis; the held-out window is shaded. Returns the
    matplotlib figure (saved to ``path`` when given).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    from ..outputs.plots import PALETTE

    panels = v.nationalities + ["all listed"]
    dates = pd.to_datetime(pd.Series(v.months) + "-01")
    observed = v.observed.reindex(v.months)
    cols = 4
    rows = -(-len(panels) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 2.9 * rows), squeeze=False, sharex=True,
                             constrained_layout=True)
    start, end = pd.Timestamp(v.window[0] + "-01"), pd.Timestamp(v.window[-1] + "-01") + pd.offsets.MonthEnd(1)
    errors = v.scores.get("total_error", {})
    for k, (ax, name) in enumerate(zip(axes.flat, panels)):
        if name == "all listed":
            total = v.runs.sum(axis=2)                                    # (replicates, months)
            q = {f"q{round(x * 100):02d}": pd.Series(np.quantile(total, x, axis=0)) for x in BAND}
            y = observed.sum(axis=1, min_count=1)
            title = "All listed nationalities"
        else:
            q = {key: band[name] for key, band in v.bands.items()}
            y = observed[name]
            error = errors.get(name)
            title = name + (f" (window total {error:+.0%})" if error is not None else "")
        ax.axvspan(start, end, color="0.92", linewidth=0)
        ax.fill_between(dates, q["q10"].to_numpy(), q["q90"].to_numpy(), color=PALETTE[0], alpha=0.25, linewidth=0)
        ax.plot(dates, q["q50"].to_numpy(), color=PALETTE[0], linewidth=1.6)
        ax.plot(dates, y.to_numpy(), color="black", linewidth=1.2, marker=".", markersize=3)
        ax.set_title(title, fontsize=10)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:,.0f}"))
        if k % cols == 0:
            ax.set_ylabel("encounters\n(persons per month)", fontsize=9)
        if k >= len(panels) - cols:
            ax.set_xlabel("month", fontsize=9)
            ax.xaxis.set_tick_params(labelbottom=True)
        ax.xaxis.set_major_locator(mdates.AutoDateLocator(minticks=3, maxticks=6))
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(ax.xaxis.get_major_locator()))
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    handles = [Line2D([], [], color="black", marker=".", label="observed (CBP)"),
               Line2D([], [], color=PALETTE[0], label="simulated median"),
               Patch(color=PALETTE[0], alpha=0.25, label="simulated 10-90 % band"),
               Patch(color="0.92", label=f"held-out months {v.window[0]} .. {v.window[-1]}")]
    fig.legend(handles=handles, loc="outside lower center", ncol=4, frameon=False)
    mase = v.scores.get("mase")
    scores = f"held-out ARD {v.scores['ard']:.2f}" + (f", MASE {mase:.2f}" if mase is not None else "")
    fig.suptitle(f"{v.scenario.name}: encounters at the US southwest border, observed and simulated; {scores}",
                 fontsize=11)
    if path is not None:
        fig.savefig(path, dpi=110)
        plt.close(fig)
    return fig


def write_validation(v: Validation, out_dir: str | Path) -> Path:
    """Write ``outcomes.parquet`` (with ``scenario.yaml`` and ``manifest.json``, as ``migsim run``),
    ``validation.json``, ``hindcast.png`` and (stages scored) ``hindcast_stages.png`` into ``out_dir``, all at once.

    Written all or nothing (``sim.outputs.guarded.staged_folder``): an interrupted or failed write
    leaves an earlier folder untouched, and a folder holding anything migsim did not write
    is never replaced.
    """
    out_dir = Path(out_dir)
    with staged_folder(out_dir) as staging:
        write_result_files(v.result, staging, plot=False)
        atomic_write_bytes(staging / "validation.json",
                           json.dumps(json_ready(validation_report(v)), indent=2, allow_nan=False).encode())
        hindcast_figure(v, staging / "hindcast.png")
        if v.stages:
            stages_figure(v, staging / "hindcast_stages.png")
    return out_dir


def write_scores_file(v: Validation, path: str | Path) -> Path:
    """Write the content of ``validation.json`` to ``path`` (atomically, less the host name): the scores shipped
    beside a scenario file (``<stem>.validation.json``), which comparison reports quote."""
    report = validation_report(v)
    report["provenance"] = {k: val for k, val in report["provenance"].items() if k != "host"}
    with claim_scores_file(path, v.scenario_file, v.observed_file) as target:   # never over another's file
        atomic_write_bytes(target, json.dumps(json_ready(report), indent=2, allow_nan=False).encode())
    return Path(path)
