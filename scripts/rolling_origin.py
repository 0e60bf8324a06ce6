"""Rolling-origin evaluation of the calibration (and the documented split).

For each cut month: calibrate ``scenarios/history_fit.yaml`` on every observed month up to the
cut (the same block, neutral starts, as the shipped fit), then score the calibrated model on
the months after it with ``migsim validate``'s scores (ARD of border encounters by nationality,
each nationality's total error, the stages along the route), next to the naive forecasts
("same month last year", "last month held flat"). The cut 2021-09 scored over the next 12
months is the documented split.

    python scripts/rolling_origin.py --cuts 2021-03 2021-09 2022-03 --horizon 6 \
        --out results/rolling_origin [--agents 200000] [--starts 1] [--validate-agents 1000000]

Writes ``<out>/fit_through_<cut>.yaml`` (+ ``.fit.json``) for every cut and
``<out>/rolling_origin.json`` with every score; prints one line per cut. Observed data: the
shipped files (through 2022-09).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OBSERVED = ROOT / "sim" / "data" / "cbp_swb_encounters_monthly_by_citizenship.csv"
FIT_FILE = ROOT / "scenarios" / "history_fit.yaml"


def fit_file(out: Path, starts: int | None, max_evaluations: int | None, replications: int | None) -> Path:
    """The calibration input: the shipped block, or a file extending it with other starts, evaluations, runs."""
    changes = {k: v for k, v in (("starts", starts), ("max_evaluations", max_evaluations),
                                 ("replications", replications)) if v is not None}
    if not changes:
        return FIT_FILE
    path = out / "history_fit_rolling.yaml"
    lines = ["schema_version: 1", f"extends: {FIT_FILE}", "name: history_fit_rolling", "calibration:"]
    path.write_text("\n".join(lines + [f"  {k}: {v}" for k, v in changes.items()]) + "\n")
    return path


def evaluate_cut(cut: str, horizon: int | None, out: Path, scenario: Path, agents: int | None,
                 validate_agents: int, replications: int) -> dict:
    """Fit through ``cut``, score the ``horizon`` months after it (every observed month after it when None)."""
    from sim.core.calendar import format_month, parse_month
    from sim.fitting.calibrate import calibrate, write_calibrated
    from sim.fitting.observed import load_observed
    from sim.fitting.validate import validate

    clock = time.perf_counter()
    fit = calibrate(scenario, OBSERVED, cut, agents=agents)
    fitted_file = out / f"fit_through_{cut}.yaml"
    write_calibrated(fit, fitted_file, f"python scripts/rolling_origin.py (cut {cut})")
    fit_seconds = time.perf_counter() - clock
    last = load_observed(OBSERVED).index.max()
    end = last if horizon is None else min(last, format_month(parse_month(cut) + horizon))
    v = validate(fitted_file, OBSERVED, format_month(parse_month(cut) + 1), end, agents=validate_agents,
                 replications=replications)
    s = v.scores
    return {"cut": cut, "window": [v.window[0], v.window[-1]], "ard": s["ard"], "reference_ard": s["reference_ard"],
            "total_error": s["total_error"], "stages": {k: x["ard"] for k, x in s.get("stages", {}).items()},
            "fit_runtime_s": round(fit_seconds, 1), "fitted": fit.values(),
            "fit_scores": {k: t["ard"] for k, t in fit.scores(fit.fitted)["targets"].items()}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--cuts", nargs="+", default=["2021-03", "2021-09", "2022-03"])
    parser.add_argument("--horizon", type=int, default=6, help="months scored after each cut (0: all that follow)")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "rolling_origin")
    parser.add_argument("--agents", type=int, help="agents of the fits (default: the calibration block's)")
    parser.add_argument("--starts", type=int, help="optimiser starts (default: the calibration block's)")
    parser.add_argument("--max-evaluations", type=int, help="evaluations per start (default: the block's)")
    parser.add_argument("--fit-replications", type=int, help="runs per evaluation of the fits (default: the block's)")
    parser.add_argument("--validate-agents", type=int, default=1_000_000)
    parser.add_argument("--replications", type=int, default=5)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    scenario = fit_file(args.out, args.starts, args.max_evaluations, args.fit_replications)
    rows = []
    for cut in args.cuts:
        row = evaluate_cut(cut, args.horizon or None, args.out, scenario, args.agents, args.validate_agents,
                           args.replications)
        rows.append(row)
        naive = ", ".join(f"{k} {x:.3f}" for k, x in row["reference_ard"].items())
        print(f"cut {cut}: window {row['window'][0]} .. {row['window'][1]}, ARD {row['ard']:.3f}; naive: {naive}; "
              f"stages {row['stages']} (fit {row['fit_runtime_s']:.0f} s)", flush=True)
    names = rows[0]["reference_ard"]
    summary = {"cuts": rows, "mean_ard": float(np.mean([r["ard"] for r in rows])),
               "mean_reference_ard": {k: float(np.mean([r["reference_ard"].get(k, np.nan) for r in rows]))
                                      for k in names},
               "command": "python scripts/rolling_origin.py " + " ".join(sys.argv[1:] if argv is None else argv)}
    (args.out / "rolling_origin.json").write_text(json.dumps(summary, indent=2))
    print(f"mean ARD {summary['mean_ard']:.3f}; naive: "
          + ", ".join(f"{k} {x:.3f}" for k, x in summary["mean_reference_ard"].items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
