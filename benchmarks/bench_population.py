"""One agent per person: the whole population of the origins for 120 months, grouped engine.

Usage: python benchmarks/bench_population.py [--without MEX] [--months 120] [--scale 1.0]
``--scale`` runs a fraction of the population (e.g. 0.1 for a quick look). Reports the
time of the set-up and of the months, the peak resident memory (bytes per agent) and the
persons each agent stands for. Run it alone on the machine: it needs several GiB.
"""
from __future__ import annotations

import argparse
import json
import platform
import resource
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--without", nargs="*", default=["MEX"], help="origins left out (default: MEX)")
    parser.add_argument("--months", type=int, default=120)
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the population (1 = everyone)")
    args = parser.parse_args()

    import sim
    from sim.core import datasets
    from sim.core.countries import ORIGINS
    from sim.core.inputs import compile_inputs
    from sim.core.random import replicate_seed
    from sim.core.world import build_world
    from sim.engines.vector import simulate

    origins = [o for o in ORIGINS if o not in set(args.without)]
    population = datasets.population()
    agents = int(round(args.scale * sum(population[o] for o in origins)))
    scenario = sim.load_scenario(ROOT / "scenarios" / "baseline.yaml").with_overrides(
        origins=origins, agents=agents, agent_allocation="proportional", months=args.months, replications=1)
    start = time.perf_counter()
    world = build_world(scenario)
    inputs = compile_inputs(scenario, world)
    prepared = time.perf_counter()
    counts = simulate(world, [inputs], [replicate_seed(scenario.seed, 0)], grouped=True)
    done = time.perf_counter()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    steps = agents * len(inputs.calendar)
    print(json.dumps({
        "machine": f"{platform.machine()}, Python {platform.python_version()}",
        "origins": origins, "agents": agents, "persons_per_agent": round(float(world.persons_per_agent.mean()), 4),
        "months_simulated": len(inputs.calendar), "seconds_total": round(done - start, 1),
        "seconds_simulate": round(done - prepared, 1), "agent_steps_per_second": round(steps / (done - prepared)),
        "peak_rss_gib": round(peak / 2**30, 2), "peak_rss_bytes_per_agent": round(peak / agents, 1),
        "encounters_per_month": round(float(counts.national["encounters"].sum()
                                            * world.persons_per_agent.mean()) / args.months),
    }, indent=1))


if __name__ == "__main__":
    main()
