"""A study's sweep: run (or resume) it, and total one outcome per run over two levers for the heatmap."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from ...core.errors import Problem, ScenarioError


def heatmap_grid(study, progress=None, workers: int | None = None) -> pd.DataFrame:
    """Totals of the heatmap outcome per run of the study's sweep: columns x, y (lever values), value (persons).

    The sweep runs into its own results folder (``results/<sweep name>/``) and resumes
    there, so a second ``migsim compare`` reuses finished runs. ``progress(done, total)`` is
    called with the sweep's runs as they finish.
    """
    from ..sweeps import load_results, load_sweep, run_sweep

    spec = study.study.heatmap
    path = study.path.parent / spec.sweep
    sweep = load_sweep(path)
    columns = {spec.x, spec.y}
    levers = set(sweep.spec.levers.parameters) if sweep.spec.levers is not None else set()
    missing = sorted(columns - levers)
    if missing:
        raise ScenarioError([Problem(str(study.path), None, "heatmap", f"{', '.join(missing)} is not a lever of "
                                     f"{spec.sweep} (its levers: {', '.join(sorted(levers)) or 'none'})")])
    out = Path("results") / sweep.base.name
    run_sweep(path, out=out, workers=workers, progress=progress)
    table = load_results(out)
    runs = table[["run_id", spec.x, spec.y]].drop_duplicates("run_id")
    totals = table[table.metric == spec.outcome].groupby("run_id")["value"].sum()
    runs = runs.assign(value=runs["run_id"].map(totals).fillna(0.0))   # no rows: none happened (0 persons)
    return runs.rename(columns={spec.x: "x", spec.y: "y"})[["x", "y", "value"]].reset_index(drop=True)


def lever_titles(study) -> dict[str, str]:
    """Human names of the heatmap's two levers (``x_title``, ``y_title``), read in the sweep's base scenario."""
    from ...core.titles import field_title
    from ..sweeps import load_sweep

    spec = study.study.heatmap
    base = load_sweep(study.path.parent / spec.sweep).base
    return {"x_title": field_title(spec.x, base), "y_title": field_title(spec.y, base)}
