"""Calibration runtime and reproducibility, and the validation scores of the shipped calibration.

Usage: python benchmarks/bench_calibrate.py [--repeat 2] [--replications 5] [--json FILE]

Runs the command that produced ``scenarios/calibrated.yaml`` (``migsim calibrate
scenarios/history.yaml --observed sim/data/cbp_swb_encounters_monthly_by_citizenship.csv
--until 2021-09``) ``--repeat`` times into a temporary folder, timing each run and checking
that every run gives the fitted values of the shipped file; then validates the shipped file
on October 2021 - September 2022 (``migsim validate ... --holdout-from 2021-10``) and prints
ARD, MASE and each nationality's total error. Run from anywhere; paths are taken from the
repository root.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OBSERVED = "sim/data/cbp_swb_encounters_monthly_by_citizenship.csv"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2, help="calibrations to run (default 2)")
    parser.add_argument("--replications", type=int, help="validation replications (default: the scenario's)")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args()
    os.chdir(ROOT)

    import sim
    from sim.fitting.calibrate import calibrate, write_calibrated
    from sim.fitting.validate import validate

    shipped = sim.load_scenario("scenarios/calibrated.yaml").behaviour.hazard.intercept
    runs = []
    with tempfile.TemporaryDirectory() as folder:
        for k in range(args.repeat):
            start = time.perf_counter()
            fit = calibrate("scenarios/history.yaml", OBSERVED, "2021-09")
            out = Path(folder) / f"calibrated{k}.yaml"
            write_calibrated(fit, out, "benchmark")
            seconds = time.perf_counter() - start
            fitted = {p.name.rsplit(".", 1)[1]: v for p, v in zip(fit.setup.parameters, fit.fitted.tolist())}
            runs.append({"seconds": round(seconds, 1), "evaluations": fit.optimizer["evaluations"],
                         "jacobians": fit.optimizer["jacobians"], "runs_simulated": fit.objective.runs,
                         "agents": fit.objective.scenario.agents, "replications": len(fit.objective.seeds),
                         "fit_ard": round(fit.scores(fit.fitted)["ard"], 4), "same_as_shipped": fitted == shipped})
            print(f"calibration {k + 1}: {seconds:.1f} s, {runs[-1]['evaluations']} evaluations, "
                  f"{runs[-1]['runs_simulated']} runs of {runs[-1]['agents']:,} agents; fit-window ARD "
                  f"{runs[-1]['fit_ard']}; same fitted values as scenarios/calibrated.yaml: "
                  f"{runs[-1]['same_as_shipped']}")
    start = time.perf_counter()
    v = validate("scenarios/calibrated.yaml", OBSERVED, "2021-10", replications=args.replications)
    seconds = time.perf_counter() - start
    s = v.scores
    print(f"validation 2021-10 .. 2022-09 ({v.scenario.agents:,} agents x {v.scenario.replications}): {seconds:.1f} s; "
          f"ARD {s['ard']:.3f}, MASE {s['mase']:.3f}; total errors "
          + ", ".join(f"{n} {e:+.0%}" for n, e in s["total_error"].items()))
    report = {"machine": {"python": platform.python_version(), "processor": platform.processor() or platform.machine(),
                          "cpus": os.cpu_count()},
              "calibrations": runs, "reproducible": len({json.dumps(r["same_as_shipped"]) for r in runs}) == 1
              and all(r["same_as_shipped"] for r in runs),
              "validation": {"seconds": round(seconds, 1), "ard": s["ard"], "mase": s["mase"],
                             "total_error": s["total_error"], "reference_ard": s["reference_ard"],
                             "passed": s["passed"]}}
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0 if report["reproducible"] else 1


if __name__ == "__main__":
    sys.exit(main())
