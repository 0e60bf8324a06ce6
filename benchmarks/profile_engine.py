"""Where a run's time goes: a pyinstrument profile of one replication of baseline.yaml.

Usage: python benchmarks/profile_engine.py [--engine grouped|vector] [--agents 10000000] [--months 120]
                                           [--html FILE]

Needs pyinstrument (``pip install 'migsim[bench]'``). Prints the call tree of the
simulation (building the world and compiling the inputs included, each under its own
name), with the machine's load average, so the top lines can be quoted.
"""
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine", choices=["grouped", "vector"], default="grouped")
    parser.add_argument("--agents", type=float, default=1e7)
    parser.add_argument("--months", type=int, default=120)
    parser.add_argument("--html", type=Path, help="also write pyinstrument's HTML page here")
    args = parser.parse_args()
    try:
        from pyinstrument import Profiler
    except ImportError:
        raise SystemExit("pyinstrument is not installed: pip install 'migsim[bench]'") from None
    import sim
    from sim.core.inputs import compile_inputs
    from sim.core.random import replicate_seed
    from sim.core.world import build_world
    from sim.engines.vector import simulate

    scenario = sim.load_scenario(ROOT / "scenarios" / "baseline.yaml").with_overrides(
        agents=int(args.agents), months=args.months, replications=1)
    print(f"{args.engine}, {int(args.agents):,} agents, {args.months} months (+ warm-up); "
          f"load average {os.getloadavg()[0]:.1f}")
    profiler = Profiler(interval=0.001)
    cpu = time.process_time()
    with profiler:
        world = build_world(scenario)
        inputs = compile_inputs(scenario, world)
        simulate(world, [inputs], [replicate_seed(scenario.seed, 0)], grouped=args.engine == "grouped")
    print(f"CPU seconds: {time.process_time() - cpu:.2f}")
    print(profiler.output_text(unicode=False, color=False, show_all=False))
    if args.html:
        args.html.write_text(profiler.output_html())


if __name__ == "__main__":
    main()
