"""The three stages of the route in a validation: Darien, Mexico, the US border, by nationality.

``stage_runs`` takes a validation run's outcomes and returns, for each series along the
route (``sim.targets``: Darien transits, Mexico's interceptions), the simulated series by
replicate and its observed counterpart; ``stage_scores`` scores them (ARD over a window,
cells without data skipped); ``stages_figure`` draws observed against simulated for every
nationality and stage (persons per month).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..outputs.plots import PALETTE
from . import metrics
from .targets import outcomes_table, route_target

STAGES = ("darien", "mexico_interceptions")
STAGE_TITLES = {"darien": "Darién (Panama's count)", "mexico_interceptions": "Mexico (INM events)",
                "encounters": "US border (CBP encounters)"}


def stage_runs(outcomes: pd.DataFrame, months: list[str], nationalities: list[str]) -> dict[str, dict]:
    """For each stage: ``observed`` (months x nationalities, NaN = no data) and ``runs``
    (replicates, months, nationalities)."""
    out = {}
    for name in STAGES:
        target = route_target(name, months, nationalities)
        out[name] = {"observed": target.observed, "runs": outcomes_table(outcomes, target, months)}
    return out


def stage_scores(stages: dict[str, dict], window: list[str]) -> dict[str, dict]:
    """ARD of the median over replications against the observed series, over ``window`` and over every month."""
    scores = {}
    for name, stage in stages.items():
        observed = stage["observed"]
        median = pd.DataFrame(np.median(stage["runs"], axis=0), index=observed.index, columns=observed.columns)
        inside = [m for m in window if m in observed.index]
        totals = metrics.total_errors(median.loc[inside], observed.loc[inside])
        scores[name] = {
            "ard": _finite(metrics.ard(median.loc[inside], observed.loc[inside])),
            "ard_all_months": _finite(metrics.ard(median, observed)),
            "cells": int(np.isfinite(observed.loc[inside].to_numpy(dtype=float)).sum()),
            "total_error": {k: _finite(v) for k, v in totals.items()},
        }
    return scores


def _finite(x) -> float | None:
    return float(x) if x is not None and np.isfinite(x) else None


def stages_figure(v, path: str | Path | None = None):
    """Observed (dots) against simulated (median line, 10-90 % band) at the three stages, one row per nationality.

    ``v`` is a ``sim.fitting.validate.Validation`` with ``stages`` filled. Returns the figure (saved to ``path``).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    dates = pd.to_datetime(pd.Series(v.months) + "-01")
    columns = list(STAGES) + ["encounters"]
    fig, axes = plt.subplots(len(v.nationalities), len(columns), figsize=(12.5, 2.0 * len(v.nationalities)),
                             sharex=True, squeeze=False, constrained_layout=True)
    start = pd.Timestamp(v.window[0] + "-01")
    end = pd.Timestamp(v.window[-1] + "-01") + pd.offsets.MonthEnd(1)
    for i, nat in enumerate(v.nationalities):
        for j, name in enumerate(columns):
            ax = axes[i, j]
            if name == "encounters":
                runs, observed = v.runs[:, :, v.nationalities.index(nat)], v.observed.reindex(v.months)[nat]
            else:
                stage = v.stages[name]
                if nat not in stage["observed"].columns:
                    ax.set_axis_off()
                    continue
                runs = stage["runs"][:, :, list(stage["observed"].columns).index(nat)]
                observed = stage["observed"][nat]
            ax.axvspan(start, end, color="0.93", linewidth=0)
            ax.fill_between(dates, np.quantile(runs, 0.1, axis=0), np.quantile(runs, 0.9, axis=0), color=PALETTE[0],
                            alpha=0.25, linewidth=0)
            ax.plot(dates, np.median(runs, axis=0), color=PALETTE[0], linewidth=1.3)
            ax.plot(dates, observed.to_numpy(dtype=float), color="black", linewidth=0, marker=".", markersize=3)
            ax.set_ylim(bottom=0)
            ax.grid(alpha=0.3)
            ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:,.0f}"))
            ax.tick_params(labelsize=7)
            if i == 0:
                ax.set_title(STAGE_TITLES[name], fontsize=10)
            if j == 0:
                ax.set_ylabel(f"{nat}\npersons / month", fontsize=8)
            ax.xaxis.set_major_locator(mdates.YearLocator())
            ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y"))
    scores = v.scores.get("stages", {})
    parts = [f"{STAGE_TITLES[k].split(' (')[0]} ARD {s['ard']:.2f}" for k, s in scores.items()
             if s.get("ard") is not None]
    parts.append(f"US border ARD {v.scores['ard']:.2f}")
    fig.suptitle(f"{v.scenario.name}: the three stages, observed (dots) and simulated (median, 10-90 % band); "
                 f"window {v.window[0]} .. {v.window[-1]} (shaded): " + ", ".join(parts), fontsize=10)
    if path is not None:
        fig.savefig(path, dpi=100)
        plt.close(fig)
    return fig
