"""migsim: an agent-based simulation of migration flows through the Americas.

Quick start::

    import sim
    result = sim.run("scenarios/baseline.yaml", agents=50_000, replications=3)
    result.to_frame()          # tidy outcomes: month, nationality, location, metric, value
    result.plot("curves.png")  # outcome curves with 10-90 % bands

The names below are imported on first use, so that ``migsim`` starts quickly.
"""
from __future__ import annotations

import importlib

_EXPORTS = {"run": "api", "Result": "api", "Scenario": "scenario", "load_scenario": "scenario",
            "ScenarioError": "errors", "ResourceError": "errors", "load_results": "sweep.store"}
__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module 'sim' has no attribute {name!r}")
