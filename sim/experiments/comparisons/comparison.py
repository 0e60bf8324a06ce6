"""``compare(study)`` runs every scenario of a study; ``Comparison`` holds the table and draws the figures.

Results live in ``results/<study>/``: ``outcomes.parquet`` (every scenario and
replication), ``scenarios/<name>.yaml`` (each resolved scenario), ``study.json``,
``manifest.json``, ``summary.csv``, ``cost_effectiveness.csv``, ``figures/`` (PNG and SVG),
``report.html`` and ``summary.md``. ``load_comparison(folder)`` reads them back, so
figures and report can be redrawn without running the model (``migsim plot``).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ...core.scenario import Scenario
from ...outputs.files import atomic_write_bytes, read_outcomes, staged_folder, write_outcomes
from ...outputs.provenance import provenance
from ...simulation import run
from . import analysis, figures
from .study import BASELINE, StudyFile, load_study

KIND = "comparison"             # the manifest's kind: `migsim compare` replaces only its own folders


@dataclass
class Comparison:
    """Every scenario of a study: the tidy outcomes table, the resolved scenarios and the study settings."""

    outcomes: pd.DataFrame
    scenarios: dict[str, Scenario]          # baseline first
    settings: dict                          # the study (name, description, outcomes, heatmap, ...)
    texts: dict[str, str] = field(default_factory=dict)
    heatmap_grid: pd.DataFrame | None = None
    provenance: dict = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        return list(self.scenarios)

    def to_frame(self) -> pd.DataFrame:
        """The tidy outcomes table of every scenario (a copy)."""
        return self.outcomes.copy()

    def summary(self) -> pd.DataFrame:
        """Headline totals over the horizon per scenario (median of replications; persons, USD)."""
        return analysis.headline(self.outcomes)

    def cost_effectiveness(self) -> pd.DataFrame:
        """Extra spending per irregular crossing and per death averted, against the baseline."""
        return analysis.cost_effectiveness(self.outcomes, BASELINE)

    def policy_starts(self) -> pd.DataFrame:
        return analysis.policy_starts(self.scenarios, BASELINE)

    def plot(self, path: str | Path | None = None):
        """Outcome curves of every scenario (median, 10-90 % band); saved to ``path`` when given. Returns the figure."""
        fig, _ = self.plot_outcomes()
        if path is not None:
            fig.savefig(path, dpi=110)
        return fig

    # ---------------------------------------------------------------- figures: (figure, data drawn)
    def plot_outcomes(self):
        return figures.outcome_curves(self.outcomes, self.settings["outcomes"], self.names, self.policy_starts())

    def plot_nationalities(self, metric: str = "encounters"):
        return figures.nationality_curves(self.outcomes, self.names, metric)

    def plot_countries(self, metric: str = "intercepted"):
        return figures.country_curves(self.outcomes, self.names, metric)

    def plot_differences(self):
        return figures.differences(self.outcomes, self.names)

    def plot_cost_effectiveness(self):
        return figures.cost_effectiveness(self.cost_effectiveness(), self.names)

    def plot_heatmap(self):
        spec = self.settings.get("heatmap")
        if self.heatmap_grid is None or spec is None:
            return None
        return figures.heatmap(self.heatmap_grid, spec["x"], spec["y"], spec["outcome"])

    def figures(self) -> dict:
        """Every figure of the report by file stem: (figure, data)."""
        out = {"outcome_curves": self.plot_outcomes(), "encounters_by_nationality": self.plot_nationalities(),
               "interceptions_by_country": self.plot_countries(),
               "difference_from_baseline": self.plot_differences(),
               "cost_effectiveness": self.plot_cost_effectiveness()}
        heat = self.plot_heatmap()
        if heat is not None:
            out["heatmap"] = heat
        return out

    def save(self, out_dir) -> Path:
        """Write results, figures and report into ``out_dir`` (staged, then moved into place)."""
        return save_comparison(self, Path(out_dir))


def compare(study: str | Path | StudyFile, *, agents: int | None = None, replications: int | None = None,
            progress=None, sweep_progress=None) -> Comparison:
    """Run every scenario of a study file (baseline first) with the vector engine; returns a ``Comparison``.

    ``progress(k)``: k more run-months done; ``sweep_progress(done, total)``: runs of the study's sweep.
    """
    if not isinstance(study, StudyFile):
        study = load_study(study, agents=agents, replications=replications)
    frames, seeds = [], {}
    for name, scenario in study.scenarios.items():
        result = run(scenario, progress=progress)
        frames.append(result.outcomes)
        seeds[name] = result.provenance.get("replicate_seeds")
    grid = None
    if study.study.heatmap is not None:
        from .heatmap import heatmap_grid
        grid = heatmap_grid(study, progress=sweep_progress)
    settings = study.study.model_dump(mode="json")
    meta = provenance(study.scenarios[BASELINE], seeds[BASELINE], "vector")
    meta.update({"study": settings["name"], "study_file": str(study.path), "scenarios": list(study.scenarios),
                 "scenario_sha256": {n: s.digest() for n, s in study.scenarios.items()}})
    return Comparison(pd.concat(frames, ignore_index=True), dict(study.scenarios), settings, dict(study.texts),
                      grid, meta)


def save_comparison(comparison: Comparison, out_dir: Path) -> Path:
    """Write every file of a comparison, all or nothing (``sim.outputs.files.staged_folder``)."""
    from .report import write_report

    out_dir = Path(out_dir)
    with staged_folder(out_dir, kind=KIND) as staging:
        (staging / "figures").mkdir()
        (staging / "scenarios").mkdir()
        write_outcomes(comparison.outcomes, staging / "outcomes.parquet", comparison.provenance)
        for name, scenario in comparison.scenarios.items():
            atomic_write_bytes(staging / "scenarios" / f"{name}.json", scenario.model_dump_json(indent=1).encode())
            atomic_write_bytes(staging / "scenarios" / f"{name}.yaml", comparison.texts.get(name, "").encode())
        atomic_write_bytes(staging / "study.json", json.dumps(comparison.settings, indent=2).encode())
        atomic_write_bytes(staging / "manifest.json",
                           json.dumps({**comparison.provenance, "kind": KIND}, indent=2).encode())
        if comparison.heatmap_grid is not None:
            atomic_write_bytes(staging / "heatmap.csv", comparison.heatmap_grid.to_csv(index=False).encode())
        write_report(comparison, staging)
    return out_dir


def load_comparison(folder: str | Path) -> Comparison:
    """Read a saved comparison back (no model run)."""
    folder = Path(folder)
    if not (folder / "study.json").is_file() or not (folder / "outcomes.parquet").is_file():
        raise FileNotFoundError(f"{folder} holds no comparison results (study.json and outcomes.parquet)")
    settings = json.loads((folder / "study.json").read_text())
    manifest = json.loads((folder / "manifest.json").read_text())
    scenarios, texts = {}, {}
    for name in manifest["scenarios"]:
        scenarios[name] = Scenario.model_validate_json((folder / "scenarios" / f"{name}.json").read_text())
        texts[name] = (folder / "scenarios" / f"{name}.yaml").read_text()
    grid = pd.read_csv(folder / "heatmap.csv") if (folder / "heatmap.csv").is_file() else None
    return Comparison(read_outcomes(folder / "outcomes.parquet"), scenarios, settings, texts, grid, manifest)
