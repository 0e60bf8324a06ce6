"""Memory estimates by engine (``sim.engines.memory.estimate_bytes``): never below the traced peak of a run.

Peaks are traced allocations (``tracemalloc``: NumPy arrays and Python objects), which
do not depend on the machine or its load; resident memory is never measured.
"""
from __future__ import annotations

import tracemalloc

import pytest

import sim
import sim.engines.memory as memory
import sim.engines.mesa  # noqa: F401  (imported before tracing)
import sim.simulation as simulation
from sim.cli import main
from sim.engines.memory import ENGINE_BYTES_PER_AGENT, estimate_bytes

from helpers import small

CASES = [  # engine, agents, replications, months
    *[(engine_name, agents, replications, months) for engine_name in ("vector", "grouped")
      for agents, replications, months in [(2_000, 1, 3), (8_000, 1, 6), (8_000, 3, 6), (8_000, 1, 24)]],
    pytest.param("mesa", 1_000, 1, 3, marks=pytest.mark.slow),
    pytest.param("mesa", 1_000, 2, 3, marks=pytest.mark.slow),   # replications one after the other: one model at a time
]


def traced_peak(scenario, engine_name: str) -> int:
    sim.run(scenario.with_overrides(agents=1_000, replications=1, months=2), engine=engine_name)  # imports, caches
    tracemalloc.start()
    try:
        sim.run(scenario, engine=engine_name)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("engine_name, agents, replications, months", CASES)
def test_estimate_is_at_least_the_traced_peak(engine_name, agents, replications, months):
    scenario = small(agents=agents, replications=replications, months=months, warmup_months=2)
    peak = traced_peak(scenario, engine_name)
    runs = replications if engine_name != "mesa" else 1          # Mesa holds one model at a time
    estimate = estimate_bytes(agents, runs, engine_name, months)
    assert estimate >= peak, f"{engine_name}: estimate {estimate:,} bytes below the traced peak {peak:,}"


def test_mesa_needs_several_times_the_vector_engines_memory_per_agent():
    assert ENGINE_BYTES_PER_AGENT["mesa"][0] >= 5 * sum(ENGINE_BYTES_PER_AGENT["vector"])
    assert estimate_bytes(10**6, 1, "mesa") > 5 * estimate_bytes(10**6, 1, "vector")


def test_a_mesa_run_that_cannot_fit_is_refused_where_a_vector_run_fits(tmp_path, monkeypatch, capsys):
    agents = 1_000_000
    room = 2 * estimate_bytes(agents, 1, "vector", 2)          # room for the vector engine, not for Mesa
    monkeypatch.setattr(memory, "available_bytes", lambda: room)
    monkeypatch.setattr(simulation, "available_bytes", lambda: room)
    (tmp_path / "s.yaml").write_text("schema_version: 1\nname: s\nmonths: 2\nreplications: 1\n")
    monkeypatch.chdir(tmp_path)
    class Simulating(Exception):
        """The memory check passed and the simulation began."""

    def simulate(*args, **kwargs):
        raise Simulating
    monkeypatch.setattr(simulation, "simulate", simulate)
    with pytest.raises(Simulating):
        main(["run", "s.yaml", "--agents", str(agents), "--quiet"])
    assert main(["run", "s.yaml", "--agents", str(agents), "--engine", "mesa", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "1,000,000 agents need about" in err and "Use fewer agents" in err
    assert not (tmp_path / "results").exists()
