"""The 10,000-run sweep with a reference commit and with this tree, in one session: is the model still fast?

Usage: python benchmarks/bench_sweep_compare.py [--reference 47f371b] [--rounds 1] [--only reference|current]

Runs ``benchmarks/bench_sweep.py --only-10000`` (``baseline.yaml``, 10,000 agents x 120
months, 8 policies x 250 futures x 5 replications on all cores) twice per round: once from
the reference commit's files (``git archive`` into a temporary folder, imported through
``PYTHONPATH`` with this environment's packages) and once from this working tree, one after
the other. For each it reports the wall-clock seconds, the CPU seconds of the whole process
tree (the benchmark, its forkserver and its workers: this process becomes their
"subreaper", so every descendant is reaped here and counted in ``RUSAGE_CHILDREN``), and
the machine's load average before, after and sampled every 10 s during the run. CPU time
is the figure to compare on a machine shared with other work; the ratio current /
reference is printed at the end. Linux only (``prctl(PR_SET_CHILD_SUBREAPER)``).
"""
from __future__ import annotations

import argparse
import ctypes
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> None:
    """Orphaned descendants are re-parented to this process (so their CPU time can be collected)."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER) failed")


def reap_all() -> None:
    """Wait for every descendant re-parented here (a forkserver that outlives its parent)."""
    while True:
        try:
            os.wait()
        except ChildProcessError:
            return


def export_commit(commit: str, folder: Path) -> None:
    """The files of ``commit`` (git archive) in ``folder``."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)


def timed(tree: Path, label: str) -> dict:
    """Run the tree's 10,000-run sweep benchmark; wall and process-tree CPU seconds, load averages."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    loads: list[float] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(10):
            loads.append(os.getloadavg()[0])

    sampler = threading.Thread(target=sample, daemon=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    sampler.start()
    out = subprocess.run([sys.executable, str(tree / "benchmarks" / "bench_sweep.py"), "--only-10000"],
                         cwd=tree, env=env, capture_output=True, text=True)
    reap_all()
    wall = time.perf_counter() - start
    stop.set()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode != 0:
        raise RuntimeError(f"{label}: the sweep benchmark failed:\n{out.stderr[-2000:]}")
    reported = json.loads(out.stdout.strip().splitlines()[-1])
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    row = {"tree": label, "wall_seconds": round(wall, 1), "cpu_seconds": round(cpu, 1),
           "sweep_seconds": reported["seconds"], "runs": reported["runs"], "workers": reported["workers"],
           "busy_share": reported["busy_share"], "load_before": round(load_before, 2),
           "load_after": round(os.getloadavg()[0], 2),
           "load_mean_during": round(sum(loads) / len(loads), 2) if loads else None}
    print(json.dumps(row), flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reference", default="47f371b", help="commit of the reference (default: 47f371b)")
    parser.add_argument("--rounds", type=int, default=1, help="reference then current, this many times")
    parser.add_argument("--only", choices=["reference", "current"], help="run one of the two")
    args = parser.parse_args()
    become_subreaper()
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    print(f"{os.cpu_count()} cores; reference {args.reference}, current {commit} (+ uncommitted changes, if any); "
          f"load average {os.getloadavg()}", flush=True)
    rows: dict[str, list[dict]] = {"reference": [], "current": []}
    with tempfile.TemporaryDirectory(prefix="migsim-reference-") as tmp:
        reference = Path(tmp)
        if args.only != "current":
            export_commit(args.reference, reference)
        for _ in range(args.rounds):
            if args.only != "current":
                rows["reference"].append(timed(reference, f"reference {args.reference}"))
            if args.only != "reference":
                rows["current"].append(timed(ROOT, f"current {commit}"))
    if rows["reference"] and rows["current"]:
        best = {k: min(r["cpu_seconds"] for r in v) for k, v in rows.items()}
        wall = {k: min(r["wall_seconds"] for r in v) for k, v in rows.items()}
        print(json.dumps({"cpu_ratio_current_over_reference": round(best["current"] / best["reference"], 3),
                          "wall_ratio_current_over_reference": round(wall["current"] / wall["reference"], 3),
                          "limit": 1.5}))


if __name__ == "__main__":
    main()
