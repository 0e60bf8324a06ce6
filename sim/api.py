"""The Python API: ``run(scenario) -> Result``; the command line uses the same calls."""
from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .calendar import parse_month
from .engine import check_memory, estimate_bytes, available_bytes, simulate
from .errors import ScenarioError
from .inputs import compile_inputs
from .outcomes import (atomic_write_bytes, months_of, provenance, quantiles, tidy, write_outcomes)
from .random import replicate_seed
from .scenario import Scenario, load_scenario
from .world import build_world

ENGINES = ("vector", "mesa")


@dataclass
class Result:
    """Outcomes of every replication of one scenario, with the scenario and provenance."""

    scenario: Scenario
    outcomes: pd.DataFrame
    provenance: dict = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """The tidy outcomes table (a copy)."""
        return self.outcomes.copy()

    def bands(self, metrics=None) -> pd.DataFrame:
        """Median and 10-90 % band over replications, summed over nationalities, by month and metric."""
        frame = self.outcomes if metrics is None else self.outcomes[self.outcomes.metric.isin(metrics)]
        return quantiles(frame)

    def summary(self) -> pd.DataFrame:
        """Headline numbers: per metric, the monthly mean and the total over the horizon (median of runs)."""
        totals = self.outcomes.groupby(["metric", "replicate"])["value"].sum().unstack("replicate", fill_value=0)
        months = self.outcomes["month"].nunique()
        flows = [m for m in totals.index if m != "in_transit"]
        out = pd.DataFrame({"total": totals.loc[flows].median(axis=1),
                            "per_month": totals.loc[flows].median(axis=1) / months})
        if "in_transit" in totals.index:
            last = self.outcomes[(self.outcomes.metric == "in_transit")
                                 & (self.outcomes.month == self.outcomes.month.max())]
            out.loc["in_transit (end)", ["total", "per_month"]] = [last.groupby("replicate").value.sum().median(), np.nan]
        return out

    def plot(self, path=None, **kwargs):
        """Outcome curves (median and 10-90 % band); saved to ``path`` when given. Returns the figure."""
        from .plots import outcome_curves
        return outcome_curves(self.outcomes, path=path, **kwargs)

    def save(self, out_dir, fmt: str = "parquet", plot: bool = True) -> Path:
        """Write outcomes, the resolved scenario, provenance and the figure into ``out_dir``."""
        return save_result(self, Path(out_dir), fmt=fmt, plot=plot)


def run(scenario: Scenario | str | Path, *, agents: int | None = None, months: int | None = None,
        replications: int | None = None, seed: int | None = None, engine: str = "vector",
        progress=None) -> Result:
    """Simulate every replication of a scenario (a ``Scenario`` or a path to a YAML file)."""
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    scenario = scenario.with_overrides(agents=agents, months=months, replications=replications, seed=seed)
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r} (expected one of: {', '.join(ENGINES)})")
    world = build_world(scenario)
    n = int(world.agents_per_origin.sum())
    check_memory(n, 1)
    inputs = compile_inputs(scenario, world)
    seeds = [replicate_seed(scenario.seed, r) for r in range(scenario.replications)]
    per_batch = max(1, min(len(seeds), int(0.5 * available_bytes()) // max(estimate_bytes(n, 1), 1),
                           max(1, 4_000_000 // n)))
    months = months_of(parse_month(scenario.start), scenario.months)
    if engine == "mesa":
        from .model import MigrationModel
        frames = [tidy(MigrationModel(scenario, r, world, inputs).run(progress), world, months, scenario.name,
                       [r], [seeds[r]]) for r in range(len(seeds))]
        return Result(scenario, pd.concat(frames, ignore_index=True), provenance(scenario, seeds, engine))
    frames = []
    for first in range(0, len(seeds), per_batch):
        chunk = list(range(first, min(first + per_batch, len(seeds))))
        counts = simulate(world, [inputs] * len(chunk), [seeds[r] for r in chunk], progress=progress)
        frames.append(tidy(counts, world, months, scenario.name, chunk, [seeds[r] for r in chunk]))
    outcomes = pd.concat(frames, ignore_index=True)
    return Result(scenario, outcomes, provenance(scenario, seeds, engine))


def save_result(result: Result, out_dir: Path, fmt: str = "parquet", plot: bool = True) -> Path:
    """Write a result: outcomes (Parquet or CSV), scenario.yaml, manifest.json, outcome_curves.png.

    Files are written into a temporary folder beside ``out_dir`` and moved into place at the
    end, so an interrupted save leaves the previous results (if any) untouched.
    """
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = out_dir.parent / f".{out_dir.name}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        name = "outcomes.csv" if fmt == "csv" else "outcomes.parquet"
        write_outcomes(result.outcomes, staging / name, result.provenance, fmt=fmt)
        from ruamel.yaml import YAML
        import io
        buffer = io.StringIO()
        YAML().dump(json.loads(json.dumps(result.scenario.model_dump(mode="json"))), buffer)
        atomic_write_bytes(staging / "scenario.yaml", buffer.getvalue().encode())
        manifest = {**result.provenance, "outcomes": name, "rows": int(len(result.outcomes)),
                    "months": [result.outcomes.month.min(), result.outcomes.month.max()]}
        atomic_write_bytes(staging / "manifest.json", json.dumps(manifest, indent=2).encode())
        if plot:
            result.plot(staging / "outcome_curves.png")
        if out_dir.exists():
            old = out_dir.parent / f".{out_dir.name}.old"
            shutil.rmtree(old, ignore_errors=True)
            out_dir.rename(old)
            staging.rename(out_dir)
            shutil.rmtree(old, ignore_errors=True)
        else:
            staging.rename(out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out_dir
