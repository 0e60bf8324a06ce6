"""Running a scenario: ``run(scenario) -> Result`` with any engine; saving a run's folder and reading it back.

``run`` builds the world and the monthly inputs once, derives the replicate seeds, and
runs the replications in batches that fit in memory (vector and grouped engines) or one
by one (Mesa engine); the engines' counts become the tidy table (``sim.outputs.table``).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .core.allocation import sampled_world
from .core.calendar import parse_month
from .core.inputs import compile_inputs
from .core.random import replicate_seed
from .core.scenario import Scenario, load_scenario
from .engines.vector import available_bytes, check_memory, estimate_bytes, simulate
from .outputs.files import atomic_write_bytes, read_outcomes, write_outcomes
from .outputs.guarded import staged_folder
from .outputs.provenance import provenance
from .outputs.table import months_of, quantiles, tidy

ENGINES = ("vector", "grouped", "mesa")
"""vector: arrays, one draw per person (the reference; Mesa reproduces it exactly); grouped: the vector
engine with home decisions drawn per group (same distribution, cost follows the movers); mesa: Mesa agents."""


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
            stock = last.groupby("replicate").value.sum().median()
            out.loc["in_transit (end)", ["total", "per_month"]] = [stock, np.nan]
        return out

    def plot(self, path=None, **kwargs):
        """Outcome curves (median and 10-90 % band); saved to ``path`` when given. Returns the figure."""
        from .outputs.plots import outcome_curves
        return outcome_curves(self.outcomes, path=path, **kwargs)

    def save(self, out_dir, fmt: str = "parquet", plot: bool = True) -> Path:
        """Write outcomes, the resolved scenario, provenance and the figure into ``out_dir``."""
        return save_result(self, Path(out_dir), fmt=fmt, plot=plot)


def run(scenario: Scenario | str | Path, *, agents: int | None = None, months: int | None = None,
        replications: int | None = None, seed: int | None = None, engine: str = "vector",
        progress=None) -> Result:
    """Simulate every replication of a scenario (a ``Scenario`` or a path to a YAML file).

    ``engine``: ``vector`` (default), ``grouped`` or ``mesa`` (see ``ENGINES``).
    """
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    scenario = scenario.with_overrides(agents=agents, months=months, replications=replications, seed=seed)
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r} (expected one of: {', '.join(ENGINES)})")
    world = sampled_world(scenario)
    n = int(world.agents_per_pool.sum())
    grouped = engine == "grouped"
    check_memory(n, 1, engine, scenario.months)
    inputs = compile_inputs(scenario, world)
    seeds = [replicate_seed(scenario.seed, r) for r in range(scenario.replications)]
    one_run = max(estimate_bytes(n, 1, engine, scenario.months), 1)
    per_batch = max(1, min(len(seeds), int(0.5 * available_bytes()) // one_run, max(1, 4_000_000 // n)))
    months = months_of(parse_month(scenario.start), scenario.months)
    if engine == "mesa":
        import gc

        from .engines.mesa import MigrationModel
        frames = []
        for r in range(len(seeds)):          # one model at a time: the last one's agents are freed first
            frames.append(tidy(MigrationModel(scenario, r, world, inputs).run(progress), world, months, scenario.name,
                               [r], [seeds[r]]))
            gc.collect()
        return Result(scenario, pd.concat(frames, ignore_index=True), provenance(scenario, seeds, engine))
    frames = []
    for first in range(0, len(seeds), per_batch):
        chunk = list(range(first, min(first + per_batch, len(seeds))))
        counts = simulate(world, [inputs] * len(chunk), [seeds[r] for r in chunk], progress=progress,
                          grouped=grouped)
        frames.append(tidy(counts, world, months, scenario.name, chunk, [seeds[r] for r in chunk]))
    outcomes = pd.concat(frames, ignore_index=True)
    return Result(scenario, outcomes, provenance(scenario, seeds, engine))


def save_result(result: Result, out_dir: Path, fmt: str = "parquet", plot: bool = True) -> Path:
    """Write a result: outcomes (Parquet or CSV), scenario.yaml, manifest.json, outcome_curves.png.

    Written all or nothing (``sim.outputs.guarded.staged_folder``): an interrupted or failed save
    (full disk, read-only folder) leaves the previous results (if any) untouched, a folder
    that holds anything migsim did not write is never replaced, and a folder another
    process is writing is refused.
    """
    out_dir = Path(out_dir)
    with staged_folder(out_dir) as staging:
        write_result_files(result, staging, fmt=fmt, plot=plot)
    return out_dir


def write_result_files(result: Result, folder: Path, fmt: str = "parquet", plot: bool = True) -> None:
    """The files of a run's results, written into an existing (staging) ``folder``."""
    name = "outcomes.csv" if fmt == "csv" else "outcomes.parquet"
    write_outcomes(result.outcomes, folder / name, result.provenance, fmt=fmt)
    atomic_write_bytes(folder / "scenario.yaml", result.scenario.to_yaml().encode())
    manifest = {**result.provenance, "outcomes": name, "rows": int(len(result.outcomes)),
                "months": [result.outcomes.month.min(), result.outcomes.month.max()]}
    atomic_write_bytes(folder / "manifest.json", json.dumps(manifest, indent=2).encode())
    if plot:
        result.plot(folder / "outcome_curves.png")


RUN_MANIFEST_KEYS = ("outcomes", "rows", "months")
"""Keys ``manifest.json`` of a run adds to the provenance."""


def load_run(folder: str | Path) -> Result:
    """Read the folder of a saved run (``migsim run``, ``Result.save``, ``migsim validate``) back as a ``Result``.

    The scenario is the resolved ``scenario.yaml``, the provenance that of ``manifest.json``.
    Raises ``FileNotFoundError`` when the folder holds no run.
    """
    from ruamel.yaml import YAML

    folder = Path(folder)
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise FileNotFoundError(2, "no run results here (no readable manifest.json)", str(folder)) from None
    name = manifest.get("outcomes", "outcomes.parquet")
    complete = (folder / name).is_file() and (folder / "scenario.yaml").is_file()
    if manifest.get("kind", "run") != "run" or not complete:
        raise FileNotFoundError(2, "no run results here (manifest.json, scenario.yaml and the outcomes file)",
                                str(folder))
    scenario = Scenario.model_validate(YAML(typ="safe", pure=True).load((folder / "scenario.yaml").read_text()))
    meta = {k: v for k, v in manifest.items() if k not in RUN_MANIFEST_KEYS}
    return Result(scenario, read_outcomes(folder / name), meta)
