"""Engine throughput and memory on baseline.yaml: agent-steps per second and bytes per agent.

Usage: python benchmarks/bench_engine.py [--agents 100000 1000000] [--months 120] [--mesa-agents 2000]
                                        [--flee-days 300]
Both vector modes are measured at each size: per-agent draws (``vector``, the reference)
and grouped home draws (``grouped``, sim/engines/vector/pools.py).
Each size runs in its own process so peak memory (resident set) is measured cleanly.
An agent-step is one agent advanced by one month (warm-up months included).
The Mesa engine (the same model, agent by agent) runs the same scenario at ``--mesa-agents``;
the vector engine runs that size too, and the report gives the ratio vector/Mesa both at the
same size and against the vector engine's largest size.
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


def measure(agents: int, months: int, grouped: bool = False) -> dict:
    """Run one replication of baseline.yaml and measure it (in this process); ``grouped``: grouped home draws."""
    import sim
    from sim.core.inputs import compile_inputs
    from sim.core.random import replicate_seed
    from sim.core.world import build_world
    from sim.engines.vector import initial_state, simulate

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
    simulate(world, [inputs], [seed], grouped=grouped)
    elapsed = time.perf_counter() - start
    tracemalloc.start()      # second pass for memory: tracing slows allocation, so it is not timed
    simulate(world, [inputs], [seed], grouped=grouped)
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    steps = agents * len(inputs.calendar)
    return {"engine": "grouped" if grouped else "vector", "agents": agents, "months_simulated": len(inputs.calendar),
            "seconds": round(elapsed, 3),
            "agent_steps_per_second": round(steps / elapsed), "ns_per_agent_step": round(elapsed / steps * 1e9, 2),
            "state_bytes_per_agent": round(state_bytes / agents, 2),
            "peak_traced_bytes_per_agent": round(traced_peak / agents, 2),
            "rss_before_mib": round(rss_before / 2**20, 1),
            "rss_peak_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def measure_mesa(agents: int, months: int) -> dict:
    """Run one replication of baseline.yaml with the Mesa engine (in this process)."""
    import sim
    from sim.core.inputs import compile_inputs
    from sim.core.world import build_world
    from sim.engines.mesa import MigrationModel

    scenario = sim.load_scenario(ROOT / "scenarios" / "baseline.yaml").with_overrides(
        agents=agents, months=months, replications=1)
    world = build_world(scenario)
    inputs = compile_inputs(scenario, world)
    model = MigrationModel(scenario, 0, world, inputs)
    start = time.perf_counter()
    model.run()
    elapsed = time.perf_counter() - start
    steps = agents * len(inputs.calendar)
    return {"engine": "mesa", "agents": agents, "months_simulated": len(inputs.calendar), "seconds": round(elapsed, 3),
            "agent_steps_per_second": round(steps / elapsed), "ns_per_agent_step": round(elapsed / steps * 1e9, 2)}


def run_one(*args: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--one", *args], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--agents", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--months", type=int, default=120)
    parser.add_argument("--mesa-agents", type=int, default=2_000, help="agents for the Mesa engine (0: skip it)")
    parser.add_argument("--flee-days", type=int, default=300, help="days of Flee's Mali case (0: skip Flee)")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--engine", default="vector", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        if args.engine == "mesa":
            print(json.dumps(measure_mesa(args.agents[0], args.months)))
        else:
            print(json.dumps(measure(args.agents[0], args.months, grouped=args.engine == "grouped")))
        return
    print(f"machine: {platform.processor() or platform.machine()}, Python {platform.python_version()}")
    rows, grouped = {}, {}
    sizes = sorted(set(args.agents) | ({args.mesa_agents} if args.mesa_agents else set()))
    for agents in sizes:
        rows[agents] = run_one("--agents", str(agents), "--months", str(args.months))
        print(json.dumps(rows[agents]))
        grouped[agents] = run_one("--engine", "grouped", "--agents", str(agents), "--months", str(args.months))
        print(json.dumps(grouped[agents]))
    if args.mesa_agents:
        mesa = run_one("--engine", "mesa", "--agents", str(args.mesa_agents), "--months", str(args.months))
        print(json.dumps(mesa))
        same, largest = rows[args.mesa_agents], grouped[max(sizes)]
        print(json.dumps({"ratio_vector_over_mesa_same_size": round(same["agent_steps_per_second"]
                                                                     / mesa["agent_steps_per_second"], 1),
                          f"ratio_vector_{max(sizes)}_over_mesa": round(rows[max(sizes)]["agent_steps_per_second"]
                                                                        / mesa["agent_steps_per_second"], 1),
                          f"ratio_grouped_{max(sizes)}_over_mesa": round(largest["agent_steps_per_second"]
                                                                          / mesa["agent_steps_per_second"], 1)}))
    if args.flee_days:
        flee = subprocess.run([sys.executable, str(Path(__file__).with_name("peer_flee.py")), "--days",
                               str(args.flee_days)], capture_output=True, text=True)
        if flee.returncode != 0:
            print(json.dumps({"flee": "skipped", "reason": flee.stderr.strip()[-300:]}))
            return
        peer = json.loads(flee.stdout)
        print(json.dumps(peer))
        top = max(sizes)
        print(json.dumps({f"ratio_vector_{top}_over_flee": round(rows[top]["agent_steps_per_second"]
                                                                 / peer["agent_steps_per_second"], 1),
                          f"ratio_grouped_{top}_over_flee": round(grouped[top]["agent_steps_per_second"]
                                                                  / peer["agent_steps_per_second"], 1)}))


if __name__ == "__main__":
    main()
