"""migsim: an agent-based simulation of migration flows through the Americas.

Quick start::

    import sim
    result = sim.run("scenarios/baseline.yaml", agents=50_000, replications=3)
    result.to_frame()          # tidy outcomes: month, nationality, location, metric, value
    result.plot("curves.png")  # outcome curves with 10-90 % bands
    sim.load("results/baseline")   # a saved run, sweep or comparison, as the object it was made as

The public names (``sim.api``) are imported from the module that defines each on first
use, so that ``migsim`` starts quickly. Layers, lowest first: ``core``, ``engines``,
``outputs``, ``simulation``, ``fitting`` and ``experiments``, ``api``, then the
interfaces ``app`` and ``cli`` (docs/architecture.md).
"""
from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "run": "simulation", "Result": "simulation", "ENGINES": "simulation",
    "Scenario": "core.scenario", "load_scenario": "core.scenario",
    "ScenarioError": "core.errors", "ResourceError": "core.errors",
    "load": "api", "load_results": "experiments.sweeps.store",
    "compare": "experiments.comparisons.comparison", "Comparison": "experiments.comparisons.comparison",
    "run_sweep": "experiments.sweeps.execute", "SweepResult": "experiments.sweeps.result",
    "analyze": "experiments.sweeps.analyze",
    "calibrate": "fitting.calibrate", "validate": "fitting.validate",
}
__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module 'sim' has no attribute {name!r}")
