"""Robustness of a study's policies across sampled futures, and scenario discovery (EMA Workbench's PRIM).

The study's scenarios are the policies (levers): the sections in which they differ from
the baseline (``policies``, ``drivers``, ...) become one lever point each. The futures
(uncertainties) are a Latin hypercube over the ``robustness.uncertainties`` of the study
file plus its driver trends. Every policy runs in every future with the sweep machinery
(``sim.sweep``: validated points, common random numbers, a resumable results folder
``results/<study>_robustness/``, local processes or Dask).

From the totals over the horizon (mean over each point's replications):

- ``robustness_table``: per policy and outcome, the median, 10th and 90th percentile over
  futures and the maximum regret, the largest shortfall from the best policy of the same
  future (lower is better for every outcome but ``entries_legal``);
- ``discovery_table``: PRIM boxes (``ema_workbench.analysis.prim``) of the futures in which
  the contrast's policy beats the other on its outcome: coverage, density and the limits
  each box puts on the uncertainties.

EMA Workbench is an optional dependency (``pip install 'migsim[robustness]'``, part of
``dev``); a study without a ``robustness:`` block does not need it.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from ...core.errors import Problem, ScenarioError

OUTCOMES = ("encounters", "entries_irregular", "entries_legal", "deaths", "spending_usd")
HIGHER_IS_BETTER = ("entries_legal",)
LEVER_SECTIONS = ("policies", "drivers", "behaviour", "world", "origins", "agent_allocation")
DENSITY_THRESHOLD = 0.8          # the box shown: the widest (highest coverage) with at least this density
MASS_MIN = 0.05                  # PRIM stops peeling below this share of the futures


class MissingDependency(ScenarioError):
    """An optional package a study needs is not installed (exit code 2, with the install command)."""


def require_ema(study_file: str) -> None:
    """Raise ``MissingDependency`` unless EMA Workbench can be imported."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import ema_workbench.analysis.prim  # noqa: F401
    except ImportError:
        raise MissingDependency([Problem(study_file, None, "robustness", "robustness and scenario discovery need "
                                         "EMA Workbench: pip install 'migsim[robustness]'")]) from None


def robustness_sweep(study):
    """The sweep (``sim.sweep.spec.SweepFile``) behind a study's robustness block: policies x futures."""
    from ...core.yamlio import Located
    from ..sweeps.spec import Choice, Group, SweepFile, SweepSpec, check_path, parse_path
    from .study import BASELINE, TREND_PREFIX

    block = study.study.robustness
    scenarios = study.scenarios
    base = scenarios[BASELINE].with_overrides(agents=block.agents, replications=block.replications,
                                              name=f"{study.study.name}_robustness")
    dumps = {name: s.model_dump(mode="json") for name, s in scenarios.items()}
    differs = [k for k in LEVER_SECTIONS if any(d[k] != dumps[BASELINE][k] for d in dumps.values())] or ["policies"]
    levers = Group(design="zip", parameters={k: Choice(distribution="choice", values=[d[k] for d in dumps.values()])
                                             for k in differs})
    uncertainties = dict(block.uncertainties)
    for driver, dist in study.study.trends.items():
        uncertainties[f"drivers.{TREND_PREFIX}{driver}.change"] = dist
    if not uncertainties:
        file, line = study.located.where(("robustness",))
        raise ScenarioError([Problem(file, line, "robustness.uncertainties", "robustness needs uncertainties (or "
                                     "trends) to draw futures from")])
    spec = SweepSpec(seed=block.seed if block.seed is not None else study.study.seed,
                     replications=block.replications, combine="cross", random_numbers="common", levers=levers,
                     uncertainties=Group(design="lhs", samples=block.futures, parameters=uncertainties))
    trend_keys = {f"drivers.{TREND_PREFIX}{d}.change": d for d in study.study.trends}
    lines = {("sweep", "uncertainties", "parameters", k): study.located.where(
        ("trends", trend_keys[k]) if k in trend_keys else ("robustness", "uncertainties", k)) for k in uncertainties}
    located = Located({"sweep": spec.model_dump(mode="json")}, lines, str(study.path))
    base_data = base.model_dump(mode="json")
    problems = []
    for key in uncertainties:
        parts = parse_path(key)
        message = "not a parameter path" if parts is None else check_path(base_data, parts)
        if message:
            file, line = lines[("sweep", "uncertainties", "parameters", key)]
            problems.append(Problem(file, line, f"robustness.uncertainties.{key}", message))
    if problems:
        raise ScenarioError(problems)
    return SweepFile(study.path, base, spec, located)


def run_robustness(study, out: Path | None = None, workers: int | None = None, progress=None) -> pd.DataFrame:
    """Run (or resume) the robustness sweep of a study; returns the outcome totals per policy and future.

    Columns: ``policy`` (scenario name), ``future``, one column per uncertainty, and the
    totals of ``OUTCOMES`` over the horizon (mean over the replications; persons, USD).
    """
    from ..sweeps.design import build_design
    from ..sweeps.execute import Prepared, execute
    from ..sweeps.store import open_store, read_runs

    require_ema(str(study.path))
    sweep = robustness_sweep(study)
    design = build_design(sweep)
    root = Path(out) if out is not None else Path("results") / sweep.name
    store = open_store(root, design, overwrite=True)
    execute(Prepared(design, store, store.pending()), workers=workers, progress=progress)
    runs = read_runs(root)
    totals = _run_totals(root)
    per_run = runs[["run_id", "policy", "future"]].merge(totals, left_on="run_id", right_index=True, how="inner")
    table = per_run.groupby(["policy", "future"])[list(OUTCOMES)].mean().reset_index()
    names = list(study.scenarios)
    table["policy"] = table["policy"].map(lambda i: names[int(i)])
    futures = pd.DataFrame([dict(zip([p.path for p in design.uncertainties.parameters], values))
                            for values in design.uncertainties.values])
    futures.index.name = "future"
    return table.merge(futures.reset_index(), on="future")[["policy", "future"] + list(futures.columns)
                                                          + list(OUTCOMES)]


def _run_totals(root: Path) -> pd.DataFrame:
    """Totals over the horizon of every run (rows: run id; columns: ``OUTCOMES``)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from ..sweeps.store import read_parts

    metrics = ["encounters", "entries_irregular", "entries_legal", "deaths", "aid_spent_usd", "enforcement_spent_usd"]
    table = read_parts(root, columns=["metric", "value"])
    table = table.filter(pc.is_in(table["metric"], pa.array(metrics)))
    grouped = table.group_by(["run_id", "metric"]).aggregate([("value", "sum")]).to_pandas()
    wide = grouped.pivot(index="run_id", columns="metric", values="value_sum").reindex(columns=metrics).fillna(0.0)
    wide["spending_usd"] = wide.pop("aid_spent_usd") + wide.pop("enforcement_spent_usd")
    return wide[list(OUTCOMES)]


def regret(futures: pd.DataFrame, outcome: str) -> pd.DataFrame:
    """Regret of each policy in each future: its shortfall from the best policy of that future (>= 0)."""
    wide = futures.pivot(index="future", columns="policy", values=outcome)
    if outcome in HIGHER_IS_BETTER:
        return wide.max(axis=1).to_numpy()[:, None] - wide
    return wide - wide.min(axis=1).to_numpy()[:, None]


def robustness_table(futures: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """Per policy and outcome: median, 10th and 90th percentile over futures, and maximum regret."""
    rows = []
    for outcome in OUTCOMES:
        wide = futures.pivot(index="future", columns="policy", values=outcome)
        regrets = regret(futures, outcome)
        for name in names:
            values = wide[name]
            rows.append({"policy": name, "outcome": outcome, "median": float(values.median()),
                         "q10": float(values.quantile(0.1)), "q90": float(values.quantile(0.9)),
                         "max_regret": float(regrets[name].max()), "futures": int(values.notna().sum()),
                         "better": "higher" if outcome in HIGHER_IS_BETTER else "lower"})
    return pd.DataFrame(rows)


def wins(futures: pd.DataFrame, policy: str, against: str, outcome: str) -> pd.Series:
    """Whether ``policy`` beats ``against`` on ``outcome`` in each future (bool, indexed by future)."""
    wide = futures.pivot(index="future", columns="policy", values=outcome)
    if outcome in HIGHER_IS_BETTER:
        return wide[policy] > wide[against]
    return wide[policy] < wide[against]


def discovery_table(futures: pd.DataFrame, policy: str, against: str, outcome: str) -> tuple[pd.DataFrame, str]:
    """PRIM boxes of the futures where ``policy`` beats ``against`` on ``outcome``, and a sentence on them.

    One row per box of PRIM's peeling trajectory: ``box``, ``coverage`` (share of the winning
    futures inside the box), ``density`` (share of the box's futures that are wins),
    ``mass`` (share of all futures inside), ``restricted`` (uncertainties the box limits),
    ``selected`` (the box shown: the highest coverage with density >= 0.8, else the densest)
    and ``<uncertainty> min`` / ``max``.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from ema_workbench.analysis import prim

    won = wins(futures, policy, against, outcome)
    x = futures.drop_duplicates("future").set_index("future").loc[won.index]
    x = x[[c for c in x.columns if c not in OUTCOMES and c != "policy"]].astype(float)
    y = won.to_numpy()
    columns = ["box", "coverage", "density", "mass", "restricted", "selected"] + [
        f"{c} {side}" for c in x.columns for side in ("min", "max")]
    share = float(y.mean()) if len(y) else float("nan")
    if y.all() or not y.any():
        word = "every" if y.all() else "no"
        return (pd.DataFrame(columns=columns),
                f"{policy} beats {against} on {outcome} in {word} future ({len(y)} drawn): nothing to discover")
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        finder = prim.Prim(x.reset_index(drop=True), y, mass_min=MASS_MIN)
        box = finder.find_box()
    trajectory = box.peeling_trajectory
    rows = []
    for i, limits in enumerate(box.box_lims):
        row = {"box": i, "coverage": float(trajectory.coverage.iloc[i]), "density": float(trajectory.density.iloc[i]),
               "mass": float(trajectory.mass.iloc[i]), "restricted": int(trajectory.res_dim.iloc[i])}
        for c in x.columns:
            row[f"{c} min"], row[f"{c} max"] = float(limits.loc[0, c]), float(limits.loc[1, c])
        rows.append(row)
    table = pd.DataFrame(rows)
    dense = table[table.density >= DENSITY_THRESHOLD]
    chosen = int(dense.coverage.idxmax()) if len(dense) else int(table.density.idxmax())
    table["selected"] = table.index == chosen
    best = table.loc[chosen]
    limits = [f"{c} in [{best[f'{c} min']:.3g}, {best[f'{c} max']:.3g}]" for c in x.columns
              if best[f"{c} min"] > x[c].min() or best[f"{c} max"] < x[c].max()]
    text = (f"{policy} beats {against} on {outcome} in {100 * share:.0f} % of {len(y)} futures; PRIM's box "
            f"(coverage {best.coverage:.2f}, density {best.density:.2f}): " + ("; ".join(limits) or "no limit"))
    return table[columns], text
