"""A stored sweep read back as one object: its tidy table, the outcomes of each point, outcome curves.

``load_sweep_result(folder)`` (or ``sim.load``) gives a ``SweepResult`` with the three
methods of a single run's ``Result``: ``to_frame()`` (the tidy table of every run with
run ids and parameter values, ``load_results``), ``summary()`` (totals per point) and
``plot()`` (median and 10-90 % band over runs, per month).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .analyze import point_outcomes, run_totals
from .store import KIND, MANIFEST, load_results, read_runs

RUN_KEYS = ("policy", "future", "point")


@dataclass
class SweepResult:
    """The results folder of a sweep (``migsim sweep``, ``run_sweep``) and its manifest."""

    folder: Path
    manifest: dict

    @property
    def name(self) -> str:
        """Name of the sweep."""
        return str(self.manifest.get("name", self.folder.name))

    def runs(self) -> pd.DataFrame:
        """The run index: run ids, point, policy, future, replicate, seed, parameter values, status, error."""
        return read_runs(self.folder)

    def to_frame(self) -> pd.DataFrame:
        """The tidy table of every run with results: run ids and parameter columns, then the outcome columns."""
        return load_results(self.folder)

    def summary(self) -> pd.DataFrame:
        """Outcomes of each point: its parameter values, runs with results, and the mean over its runs of the
        totals over the reported months (``encounters``, ``entries_irregular``, ``deaths`` in persons;
        ``spending_usd``; ``cost_per_crossing_averted_usd`` when policies are crossed with futures)."""
        groups = self.manifest["design"]["groups"]
        crossed = self.manifest["design"]["combine"] == "cross" and len(groups) == 2
        points, _ = point_outcomes(self.runs(), run_totals(self.folder), "levers" in groups, crossed)
        return points

    def plot(self, path: str | Path | None = None, by: str | None = None, metrics=None, title: str | None = None):
        """Outcome curves: median and 10-90 % band over runs for each metric; saved to ``path`` when given.

        ``by``: None (every run in one band), ``policy``, ``future``, ``point`` or a parameter
        column (one curve per value). Returns the matplotlib figure.
        """
        from ...outputs.plots import outcome_curves

        table = self.to_frame()
        if by is None:
            label = pd.Series(self.name, index=table.index)
        elif by in RUN_KEYS or by in table.columns:
            from ...outputs.numbers import compact

            short = by.rsplit(".", 1)[-1]
            label = table[by].map(lambda v: f"{short} {compact(v)}" if isinstance(v, float) else f"{short} {v}")
        else:
            raise KeyError(f"no column {by!r} to group the curves by (expected one of: {', '.join(RUN_KEYS)} or a "
                           "parameter path)")
        runs = table.assign(scenario=label.astype(str), replicate=pd.factorize(table["run_id"])[0])
        return outcome_curves(runs, path=path, metrics=metrics, title=title or f"{self.name}: every run of the sweep")


def load_sweep_result(folder: str | Path) -> SweepResult:
    """Read a sweep's results folder; ``FileNotFoundError`` when it holds no sweep (no sweep manifest.json)."""
    folder = Path(folder)
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        manifest = None
    if not isinstance(manifest, dict) or manifest.get("kind") != KIND:
        raise FileNotFoundError(2, "no sweep results here (no sweep manifest.json)", str(folder))
    return SweepResult(folder, manifest)
