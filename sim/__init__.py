"""migsim: an agent-based simulation of migration flows through the Americas.

Quick start::

    import sim
    result = sim.run("scenarios/baseline.yaml", agents=50_000, replications=3)
    result.to_frame()          # tidy outcomes: month, nationality, location, metric, value
    result.plot("curves.png")  # outcome curves with 10-90 % bands
"""
from .api import Result, run
from .errors import ResourceError, ScenarioError
from .scenario import Scenario, load_scenario
from .sweep.store import load_results

__all__ = ["run", "Result", "Scenario", "load_scenario", "ScenarioError", "ResourceError", "load_results"]
