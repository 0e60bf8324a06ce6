"""``compare(study)`` runs every scenario of a study; ``Comparison`` holds the table and draws the figures.

Results live in ``results/<study>/``: ``outcomes.parquet`` (every scenario and
replication), ``scenarios/<name>.yaml`` (each resolved scenario), ``study.json``,
``manifest.json``, ``summary.csv``, ``differences.csv`` (paired differences with 95 %
intervals), ``cost_effectiveness.csv``, ``budgets.csv``, ``yearly.csv``, with a
``robustness:`` block ``robustness.csv``, ``discovery.csv`` and ``futures.csv``, the model's
``validation.json`` when one is shipped, ``figures/`` (PNG and SVG), ``report.html`` and
``summary.md``. ``load_comparison(folder)`` reads them back, so figures and report can be
redrawn without running the model (``migsim plot``).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ...core.scenario import Scenario
from ...outputs.files import atomic_write_bytes, read_outcomes, write_outcomes
from ...outputs.guarded import staged_folder
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
    futures: pd.DataFrame | None = None     # robustness: totals per policy and future (with the uncertainties)
    validation: dict | None = None          # the model's validation scores (and its fit window), when shipped
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    def _memo(self, key: str, make):
        """Tables computed once from the (unchanging) outcomes: the report, the summary and the figures share them."""
        if key not in self._cache:
            self._cache[key] = make()
        value = self._cache[key]
        return value.copy() if isinstance(value, pd.DataFrame) else value

    @property
    def names(self) -> list[str]:
        return list(self.scenarios)

    def to_frame(self) -> pd.DataFrame:
        """The tidy outcomes table of every scenario (a copy)."""
        return self.outcomes.copy()

    def plot(self, path: str | Path | None = None):
        """Outcome curves of every scenario (median, 10-90 % band); saved to ``path`` when given. Returns the figure."""
        fig, _ = self.plot_outcomes()
        if path is not None:
            fig.savefig(path, dpi=110)
        return fig

    def summary(self) -> pd.DataFrame:
        """Headline totals over the horizon per scenario (median of replications; persons, USD)."""
        return self._memo("summary", lambda: analysis.headline(self.outcomes))

    def cost_effectiveness(self) -> pd.DataFrame:
        """Extra spending per irregular crossing and per death averted, against the baseline."""
        return self._memo("costs", lambda: analysis.cost_effectiveness(self.outcomes, BASELINE))

    def policy_starts(self) -> pd.DataFrame:
        return analysis.policy_starts(self.scenarios, BASELINE)

    @property
    def agents(self) -> int:
        """Agents per run (the same in every scenario)."""
        return int(self.scenarios[BASELINE].agents)

    def intervals(self) -> pd.DataFrame:
        """Mean paired differences from the baseline with 95 % t-intervals and the sample they would need."""
        return self._memo("intervals", lambda: analysis.paired_intervals(self.outcomes, self.agents, BASELINE))

    def precision_warnings(self) -> list[str]:
        """Headline intervals wider than ±10 % of their value, with the sample that would bring them under."""
        return analysis.precision_warnings(self.intervals(), self.agents)

    def budgets(self) -> pd.DataFrame:
        """Every budget in the study with its source (or "illustrative")."""
        return analysis.budgets(self.scenarios)

    @property
    def contrast(self) -> dict | None:
        return self.settings.get("contrast")

    def yearly(self) -> pd.DataFrame:
        """Effect of each scenario by calendar year (the contrast's outcome; irregular crossings by default)."""
        outcome = (self.contrast or {}).get("outcome", "entries_irregular")
        return self._memo("yearly", lambda: analysis.yearly_averted(self.outcomes, outcome, BASELINE))

    def overtaking(self) -> str | None:
        """A sentence on the year, if any, in which the contrast's policy overtakes the other (cumulative effect)."""
        c = self.contrast
        if c is None:
            return None
        yearly = self.yearly()
        if c["outcome"] == "entries_legal":              # more legal entries is better: compare the opposite
            yearly = yearly.assign(cumulative=-yearly.cumulative)
        year = analysis.overtaking_year(yearly, c["policy"], c["against"])
        a = yearly[yearly.scenario == c["policy"]].set_index("year").cumulative
        b = yearly[yearly.scenario == c["against"]].set_index("year").cumulative
        what = analysis.METRIC_WORDS.get(c["outcome"], c["outcome"]).replace(" averted", "")
        if year is not None:
            return (f"{c['policy']} overtakes {c['against']} in {year}: by the end of {year} it has averted more "
                    f"{what} in total ({a.loc[year]:,.0f} against {b.loc[year]:,.0f}, means over replications) and "
                    "stays ahead to the end of the horizon.")
        if len(a) and (a > b).all():
            return f"{c['policy']} is ahead of {c['against']} on {what} from the first year on."
        return (f"{c['policy']} does not overtake {c['against']} on {what} within the horizon (cumulative "
                f"{a.iloc[-1]:,.0f} against {b.iloc[-1]:,.0f} by {a.index[-1]}).")

    def robustness(self) -> pd.DataFrame | None:
        """Per policy and outcome over the sampled futures: median, 10-90 % and maximum regret."""
        if self.futures is None:
            return None
        from .robustness import robustness_table
        return robustness_table(self.futures, self.names)

    @property
    def discovery_pair(self) -> dict | None:
        """What scenario discovery looks for: ``robustness.discovery``, else the contrast."""
        return (self.settings.get("robustness") or {}).get("discovery") or self.contrast

    def discovery(self) -> tuple[pd.DataFrame, str] | None:
        """PRIM boxes of the futures in which the discovery pair's policy wins, and a sentence on them."""
        pair = self.discovery_pair
        if self.futures is None or pair is None:
            return None
        from .robustness import discovery_table
        return self._memo("discovery", lambda: discovery_table(self.futures, pair["policy"], pair["against"],
                                                               pair["outcome"]))

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
        titles = [spec.get(f"{axis}_title") or self.title(spec[axis]) for axis in ("x", "y")]
        return figures.heatmap(self.heatmap_grid, spec["x"], spec["y"], spec["outcome"], *titles)

    def title(self, path: str) -> str:
        """The human name of a parameter path of the study's scenarios (``sim.core.titles``), read in the baseline."""
        from ...core.titles import field_title
        return field_title(path, self.scenarios[BASELINE])

    def figures(self) -> dict:
        """Every figure of the report by file stem: (figure, data)."""
        out = {"outcome_curves": self.plot_outcomes(), "encounters_by_nationality": self.plot_nationalities(),
               "interceptions_by_country": self.plot_countries(),
               "difference_from_baseline": self.plot_differences(),
               "cost_effectiveness": self.plot_cost_effectiveness()}
        heat = self.plot_heatmap()
        if heat is not None:
            out["heatmap"] = heat
        out["yearly_effect"] = self.plot_yearly()
        if self.futures is not None:
            out["robustness"] = self.plot_robustness()
            found = self.plot_discovery()
            if found is not None:
                out["discovery"] = found
        return out

    def plot_yearly(self):
        return figures.yearly_effect(self.yearly(), self.names, self.contrast, self.policy_starts())

    def plot_robustness(self):
        return figures.robustness(self.futures, self.robustness(), self.names)

    def plot_discovery(self):
        found = self.discovery()
        if found is None or found[0].empty:
            return None
        params = [c[:-4] for c in found[0].columns if c.endswith(" min")]
        return figures.discovery(self.futures, found[0], self.discovery_pair, {p: self.title(p) for p in params})

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
    check_robustness(study)                  # before anything runs: EMA Workbench there, futures valid
    frames, seeds = [], {}
    for name, scenario in study.scenarios.items():
        result = run(scenario, progress=progress)
        frames.append(result.outcomes)
        seeds[name] = result.provenance.get("replicate_seeds")
    grid = None
    if study.study.heatmap is not None:
        from .heatmap import heatmap_grid
        grid = heatmap_grid(study, progress=sweep_progress)
    futures = None
    if study.study.robustness is not None:
        from .robustness import run_robustness
        futures = run_robustness(study, progress=_runs_progress(sweep_progress, study))
    settings = study.study.model_dump(mode="json")
    if grid is not None:
        from .heatmap import lever_titles
        settings["heatmap"].update(lever_titles(study))          # axis names, stored with the study for redraws
    meta = provenance(study.scenarios[BASELINE], seeds[BASELINE], "vector")
    meta.update({"study": settings["name"], "study_file": str(study.path), "scenarios": list(study.scenarios),
                 "scenario_sha256": {n: s.digest() for n, s in study.scenarios.items()}})
    return Comparison(pd.concat(frames, ignore_index=True), dict(study.scenarios), settings, dict(study.texts),
                      grid, meta, futures, read_validation(study.validation))


def check_robustness(study: StudyFile) -> None:
    """Raise ``ScenarioError`` when a study's robustness block cannot run (EMA Workbench missing, bad futures)."""
    if study.study.robustness is None:
        return
    from ..sweeps.design import build_design
    from .robustness import require_ema, robustness_sweep

    require_ema(str(study.path))
    build_design(robustness_sweep(study))


def _runs_progress(sweep_progress, study):
    """Adapt a ``sweep_progress(done, total)`` callback to the sweep executor's ``progress(done, failed)``."""
    if sweep_progress is None:
        return None
    block = study.study.robustness
    total = len(study.scenarios) * block.futures * block.replications
    done = [0]

    def advance(finished: int, failed: int) -> None:
        done[0] += finished + failed
        sweep_progress(done[0], total)
    return advance


def read_validation(path: Path | None) -> dict | None:
    """The validation scores shipped beside a scenario file, with the fit window of ``<stem>.fit.json`` beside it."""
    if path is None:
        return None
    scores = json.loads(Path(path).read_text(encoding="utf-8"))
    fit = Path(path).with_name(Path(path).name.replace(".validation.json", ".fit.json"))
    if fit.is_file():
        report = json.loads(fit.read_text(encoding="utf-8"))
        scores["fit"] = {k: report.get(k) for k in ("command", "fit_window", "agents", "replications")}
    scores["file"] = Path(path).name
    return scores


def save_comparison(comparison: Comparison, out_dir: Path) -> Path:
    """Write every file of a comparison, all or nothing (``sim.outputs.guarded.staged_folder``)."""
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
        if comparison.futures is not None:
            atomic_write_bytes(staging / "futures.csv", comparison.futures.to_csv(index=False).encode())
        if comparison.validation is not None:
            atomic_write_bytes(staging / "validation.json", json.dumps(comparison.validation, indent=2).encode())
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
    futures = pd.read_csv(folder / "futures.csv") if (folder / "futures.csv").is_file() else None
    validation = (json.loads((folder / "validation.json").read_text()) if (folder / "validation.json").is_file()
                  else None)
    return Comparison(read_outcomes(folder / "outcomes.parquet"), scenarios, settings, texts, grid, manifest,
                      futures, validation)
