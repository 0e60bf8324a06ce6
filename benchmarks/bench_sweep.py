"""Sweep throughput: runs per second with 1 and 2 workers, and the time of a 1,000-run sweep.

Usage: python benchmarks/bench_sweep.py [--agents 10000] [--months 120] [--skip-large] [--only-10000]

Every sweep is the shipped ``scenarios/aid_vs_enforcement_sweep.yaml`` (which extends
``baseline.yaml``) resized through a file that extends it, run at ``--agents`` agents and
``--months`` reported months (plus the 6 warm-up months) with ``sim.experiments.sweeps.run_sweep``,
end to end: loading and checking the file, drawing the design, starting the workers,
simulating, writing the parts and the index. Figures:

- runs per second with 1 worker (in this process) and with 2 worker processes, on a
  sweep of 8 policies x 6 futures x 2 replications = 96 runs;
- seconds for a 1,000-run sweep (8 policies x 25 futures x 5 replications) on all cores;
- with ``--only-10000``: seconds for a 10,000-run sweep (8 policies x 250 futures x 5 replications);
- the share of the workers' time spent inside tasks (the rest is process start,
  scheduling, sending results and waiting for the last task), and the seconds
  ``sim.load_results`` takes to read the 1,000-run table back.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "scenarios" / "aid_vs_enforcement_sweep.yaml"


def sweep_file(folder: Path, name: str, futures: int, replications: int) -> Path:
    """A file extending the shipped sweep: 2 x 2 x 2 policies, ``futures`` LHS futures."""
    path = folder / f"{name}.yaml"
    path.write_text(f"""\
schema_version: 1
extends: {SHIPPED}
name: {name}
sweep:
  replications: {replications}
  levers:
    parameters:
      policies.aid_nca.budget_usd_per_year: [0.0, 3.0e9]
  uncertainties:
    design: lhs
    samples: {futures}
""")
    return path


def measure(path: Path, out: Path, workers: int, agents: int, months: int) -> dict:
    """Run one sweep from scratch and report its figures."""
    from sim.experiments.sweeps import run_sweep

    shutil.rmtree(out, ignore_errors=True)
    start = time.perf_counter()
    summary = run_sweep(path, out=out, workers=workers, agents=agents, months=months)
    wall = time.perf_counter() - start
    assert summary.failed == 0 and summary.done == summary.runs, summary
    return {"runs": summary.runs, "workers": summary.workers, "executor": summary.executor,
            "tasks": summary.tasks, "seconds": round(wall, 2), "runs_per_second": round(summary.runs / wall, 2),
            "seconds_executing": round(summary.seconds, 2),
            "busy_share": round(summary.busy_seconds / (summary.seconds * summary.workers), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agents", type=int, default=10_000)
    parser.add_argument("--months", type=int, default=120)
    parser.add_argument("--skip-large", action="store_true", help="only the 1- and 2-worker throughput")
    parser.add_argument("--only-10000", action="store_true",
                        help="only a 10,000-run sweep (8 policies x 250 futures x 5 replications) on all cores")
    parser.add_argument("--keep", type=Path, help="write results here instead of a temporary folder")
    args = parser.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}; {args.agents:,} agents x {args.months} months (+6 warm-up)")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        results = args.keep or folder / "results"
        if args.only_10000:
            huge = sweep_file(folder, "bench_10000", futures=250, replications=5)
            row = measure(huge, results / "huge", os.cpu_count() or 1, args.agents, args.months)
            print(json.dumps({"sweep": "10,000 runs", **row}))
            return
        small = sweep_file(folder, "bench_small", futures=6, replications=2)
        for workers in (1, 2):
            row = measure(small, results / f"small_{workers}", workers, args.agents, args.months)
            print(json.dumps({"sweep": "96 runs", **row}))
        if not args.skip_large:
            large = sweep_file(folder, "bench_large", futures=25, replications=5)
            row = measure(large, results / "large", os.cpu_count() or 1, args.agents, args.months)
            import sim

            start = time.perf_counter()
            table = sim.load_results(results / "large")
            row["load_results_seconds"] = round(time.perf_counter() - start, 2)
            row["rows"] = len(table)
            print(json.dumps({"sweep": "1,000 runs", **row}))


if __name__ == "__main__":
    main()
