"""Engine throughput and memory on baseline.yaml: agent-steps per second and bytes per agent.

Usage: python benchmarks/bench_engine.py [--agents 100000 1000000] [--months 120]
Each size runs in its own process so peak memory (resident set) is measured cleanly.
An agent-step is one agent advanced by one month (warm-up months included).
"""
from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def measure(agents: int, months: int) -> dict:
    """Run one replication of baseline.yaml and measure it (in this process)."""
    import sim
    from sim.engine import initial_state, simulate
    from sim.inputs import compile_inputs
    from sim.random import replicate_seed
    from sim.world import build_world

    scenario = sim.load_scenario(ROOT / "scenarios" / "baseline.yaml").with_overrides(
        agents=agents, months=months, replications=1)
    world = build_world(scenario)
    inputs = compile_inputs(scenario, world)
    seed = replicate_seed(scenario.seed, 0)
    state = initial_state(world, [inputs], [seed])
    state_bytes = sum(getattr(state, f).nbytes for f in state.__dataclass_fields__)
    del state
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    start = time.perf_counter()
    simulate(world, [inputs], [seed])
    elapsed = time.perf_counter() - start
    tracemalloc.start()      # second pass for memory: tracing slows allocation, so it is not timed
    simulate(world, [inputs], [seed])
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    steps = agents * len(inputs.calendar)
    return {"agents": agents, "months_simulated": len(inputs.calendar), "seconds": round(elapsed, 3),
            "agent_steps_per_second": round(steps / elapsed), "ns_per_agent_step": round(elapsed / steps * 1e9, 2),
            "state_bytes_per_agent": round(state_bytes / agents, 2),
            "peak_traced_bytes_per_agent": round(traced_peak / agents, 2),
            "rss_before_mib": round(rss_before / 2**20, 1),
            "rss_peak_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--agents", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--months", type=int, default=120)
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.agents[0], args.months)))
        return
    print(f"machine: {platform.processor() or platform.machine()}, Python {platform.python_version()}")
    for agents in args.agents:
        out = subprocess.run([sys.executable, __file__, "--one", "--agents", str(agents), "--months", str(args.months)],
                             capture_output=True, text=True, check=True)
        row = json.loads(out.stdout.strip().splitlines()[-1])
        print(json.dumps(row))


if __name__ == "__main__":
    main()
