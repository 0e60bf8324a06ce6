"""One agent per person: the whole population of the origins for 120 months, grouped engine.

Usage: python benchmarks/bench_population.py [--without MEX ...] [--months 120] [--scale 1.0] [--limit-gib 16]

Every person of the eleven origins by default, at home and in the pools abroad (the most
people of each pool over the horizon; ``--without`` leaves origins out; ``--scale`` runs a
fraction of the population, e.g. 0.1 for a quick look), ``baseline.yaml`` with
``agent_allocation: proportional`` (one person per agent), one replication. The run is a
child process under an address-space limit (``--limit-gib``): if it grew past it, it would
fail with a memory error instead of pushing other jobs on the machine into the
out-of-memory killer. The child's peak resident set comes from ``os.wait4``. Reports the
time of the set-up and of the months (wall and CPU), agent-steps and active agent-steps
(on the way or at the border at the start of a month) per second, the peak resident
memory, and the encounters a month. The script refuses to start when less memory is
available than the limit.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

from bench_memory import run_child

ROOT = Path(__file__).resolve().parents[1]


def measure(without: list[str], months: int, scale: float) -> dict:
    """The run itself, in this process (the child)."""
    import sim
    from sim.core.countries import ORIGINS
    from sim.core.inputs import compile_inputs
    from sim.core.random import replicate_seed
    from sim.core.world import build_world
    from sim.engines.vector import simulate

    origins = [o for o in ORIGINS if o not in set(without)]
    base = sim.load_scenario(ROOT / "scenarios" / "baseline.yaml").with_overrides(
        origins=origins, agent_allocation="proportional", months=months, replications=1)
    # every pool: the residents of each origin and the most people of each pool abroad over the horizon
    persons = float(build_world(base.with_overrides(agents=1_000 * len(origins))).population.sum())
    agents = int(round(scale * persons))
    scenario = base.with_overrides(agents=agents)
    start, cpu_start = time.perf_counter(), time.process_time()
    world = build_world(scenario)
    inputs = compile_inputs(scenario, world)
    prepared, cpu_prepared = time.perf_counter(), time.process_time()
    counts = simulate(world, [inputs], [replicate_seed(scenario.seed, 0)], grouped=True)
    done, cpu_done = time.perf_counter(), time.process_time()
    T = len(inputs.calendar)
    active = int(counts.active.sum())
    return {"origins": origins, "agents": agents, "persons_per_agent": round(float(world.persons_per_agent.mean()), 4),
            "months_simulated": T, "seconds_total": round(done - start, 1),
            "seconds_simulate": round(done - prepared, 1),
            "cpu_seconds_simulate": round(cpu_done - cpu_prepared, 1),
            "cpu_seconds_total": round(cpu_done - cpu_start, 1),
            "agent_steps_per_second": round(agents * T / (done - prepared)),
            "active_agent_steps": active, "mean_active_agents": round(active / T),
            "active_agent_steps_per_cpu_second": round(active / (cpu_done - cpu_prepared)),
            "encounters_per_month": round(float((counts.national["encounters"].sum(axis=(0, 1))
                                                 * world.persons_per_agent).sum()) / months)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--without", nargs="*", default=[], help="origins left out (default: none)")
    parser.add_argument("--months", type=int, default=120)
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the population (1 = everyone)")
    parser.add_argument("--limit-gib", type=float, default=16.0, help="address-space limit of the run (GiB)")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.without, args.months, args.scale)))
        return
    from sim.engines.vector import available_bytes

    limit = int(args.limit_gib * 2**30)
    free = available_bytes()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
          f"load average {os.getloadavg()[0]:.1f}; memory available {free / 2**30:.1f} GiB; "
          f"limit {args.limit_gib:g} GiB", flush=True)
    if free < limit:
        raise SystemExit(f"only {free / 2**30:.1f} GiB available, less than the {args.limit_gib:g} GiB limit: "
                         "wait until the machine has more free memory (or lower --limit-gib)")
    row, peak = run_child(["--one", "--months", str(args.months), "--scale", str(args.scale),
                           "--without", *args.without], limit, __file__)
    row.update(peak_rss_gib=round(peak / 2**30, 2), peak_rss_bytes_per_agent=round(peak / row["agents"], 2),
               load_average_after=round(os.getloadavg()[0], 1))
    print(json.dumps(row, indent=1))


if __name__ == "__main__":
    main()
