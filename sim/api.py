"""The public Python API: run a scenario, compare scenarios, sweep parameters, fit and validate, read results back.

Every name here is also an attribute of the package (``sim.run``, ``sim.load``, ...)::

    import sim
    result = sim.run("scenarios/baseline.yaml", agents=50_000)   # a Result
    result.save("results/my_run")
    sim.load("results/my_run")           # the same Result again (to_frame, summary, plot)
    sim.load("results/aid_vs_enforcement_sweep")   # a SweepResult
    sim.load("results/aid_vs_enforcement")         # a Comparison
    sim.load_results("results/aid_vs_enforcement_sweep")   # the tidy table of a sweep or run folder

The command line (``sim.cli``) calls the same functions.
"""
from __future__ import annotations

import json
from pathlib import Path

from .core.errors import ResourceError, ScenarioError
from .core.scenario import Scenario, load_scenario
from .experiments.comparisons.comparison import KIND as COMPARISON_KIND
from .experiments.comparisons.comparison import Comparison, compare, load_comparison
from .experiments.sweeps import SweepResult, analyze, load_results, load_sweep_result, run_sweep
from .experiments.sweeps.store import KIND as SWEEP_KIND
from .fitting.calibrate import calibrate
from .fitting.validate import validate
from .simulation import ENGINES, Result, load_run, run

__all__ = ["ENGINES", "Comparison", "ResourceError", "Result", "Scenario", "ScenarioError", "SweepResult", "analyze",
           "calibrate", "compare", "load", "load_results", "load_scenario", "run", "run_sweep", "validate"]


def load(folder: str | Path) -> Result | SweepResult | Comparison:
    """Read a results folder back as the object it was made as.

    The folder of a run (``migsim run``, ``Result.save``, ``migsim validate``) gives a
    ``Result``, that of a sweep (``migsim sweep``) a ``SweepResult``, that of a comparison
    (``migsim compare``) a ``Comparison``; each has ``to_frame()``, ``summary()`` and
    ``plot()``. The kind is read from the folder's ``manifest.json``; ``FileNotFoundError``
    when the folder holds none of them.
    """
    folder = Path(folder)
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise FileNotFoundError(2, "no migsim results here (no readable manifest.json)", str(folder)) from None
    kind = manifest.get("kind", "run") if isinstance(manifest, dict) else None
    if kind == SWEEP_KIND:
        return load_sweep_result(folder)
    if kind == COMPARISON_KIND:
        return load_comparison(folder)
    if kind == "run":
        return load_run(folder)
    raise FileNotFoundError(2, f"not a folder of migsim results (manifest kind {kind!r})", str(folder))
