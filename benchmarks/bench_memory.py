"""Peak resident memory per agent: the marginal bytes one more agent costs, from a slope between two sizes.

Usage: python benchmarks/bench_memory.py [--agents 5000000 20000000] [--months 120] [--engine grouped]
                                         [--limit-gib 8]

Each size runs ``baseline.yaml`` (one replication, ``--months`` reported months plus the
warm-up) in a child process of its own, under an address-space limit (``--limit-gib``,
``resource.setrlimit(RLIMIT_AS)``: a run that would grow past it fails instead of
pushing other jobs on the machine into the out-of-memory killer). The child's peak
resident set comes from ``os.wait4`` (the kernel's ``ru_maxrss`` of that child alone).
The marginal figure is the slope between the smallest and the largest size, so the
interpreter, the imported libraries and everything of fixed size cancel out.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def measure_one(agents: int, months: int, engine: str, scenario: Path) -> dict:
    """Run one replication in this process (the child); time and size of the run."""
    import sim
    from sim.core.inputs import compile_inputs
    from sim.core.random import replicate_seed
    from sim.core.world import build_world
    from sim.engines.vector import simulate

    base = sim.load_scenario(scenario).with_overrides(agents=agents, months=months, replications=1)
    start, cpu = time.perf_counter(), time.process_time()
    world = build_world(base)
    inputs = compile_inputs(base, world)
    counts = simulate(world, [inputs], [replicate_seed(base.seed, 0)], grouped=engine == "grouped")
    return {"agents": agents, "months_simulated": len(inputs.calendar),
            "seconds": round(time.perf_counter() - start, 2), "cpu_seconds": round(time.process_time() - cpu, 2),
            "encounters": int(counts.national["encounters"].sum())}


def run_child(args: list[str], limit_bytes: int, script: str = __file__) -> tuple[dict, int]:
    """Run ``script`` (this one by default) as a child under an address-space limit of ``limit_bytes``;
    the last line it prints (JSON) and its peak resident set (bytes)."""
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit_bytes, limit_bytes))

    with tempfile.TemporaryFile("w+") as err:
        child = subprocess.Popen([sys.executable, script, *args], stdout=subprocess.PIPE, stderr=err,
                                 preexec_fn=limit, text=True)
        assert child.stdout is not None
        out = child.stdout.read()
        _, status, usage = os.wait4(child.pid, 0)        # this child's own rusage (peak resident set)
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode != 0:
            err.seek(0)
            raise RuntimeError(f"child failed ({child.returncode}): {err.read().strip()[-800:]}")
    return json.loads(out.strip().splitlines()[-1]), usage.ru_maxrss * 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agents", type=float, nargs="+", default=[5e6, 2e7])
    parser.add_argument("--months", type=int, default=120)
    parser.add_argument("--engine", choices=["vector", "grouped"], default="grouped")
    parser.add_argument("--scenario", type=Path, default=ROOT / "scenarios" / "baseline.yaml")
    parser.add_argument("--limit-gib", type=float, default=8.0, help="address-space limit of each child (GiB)")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure_one(int(args.agents[0]), args.months, args.engine, args.scenario)))
        return
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
          f"load average {os.getloadavg()[0]:.1f}; engine {args.engine}, {args.scenario.name}, {args.months} months")
    rows = []
    for agents in sorted(int(a) for a in args.agents):
        row, peak = run_child(["--one", "--agents", str(agents), "--months", str(args.months), "--engine",
                               args.engine, "--scenario", str(args.scenario)], int(args.limit_gib * 2**30))
        row.update(peak_rss_mib=round(peak / 2**20, 1), peak_rss_bytes_per_agent=round(peak / agents, 2),
                   load_average=round(os.getloadavg()[0], 1))
        rows.append((agents, peak))
        print(json.dumps(row))
    if len(rows) > 1:
        (a0, p0), (a1, p1) = rows[0], rows[-1]
        print(json.dumps({"marginal_peak_rss_bytes_per_agent": round((p1 - p0) / (a1 - a0), 2),
                          "between_agents": [a0, a1], "engine": args.engine}))


if __name__ == "__main__":
    main()
