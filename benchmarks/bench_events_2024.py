"""How the simulated border responds to the two policy events of 2024.

Usage: python benchmarks/bench_events_2024.py [SCENARIO] [--agents 1000000] [--replications 5] [--json FILE]

Runs ``SCENARIO`` (default ``scenarios/calibrated.yaml``: history with the fitted parameters)
through December 2024 and prints the simulated change of monthly encounters (all simulated
nationalities) from December 2023 to January 2024 (Mexico's containment surge, block
``mexico_surge_2024`` of history.yaml) and from May to July 2024 (the June 2024 asylum
proclamation, block ``asylum_restriction_2024``), with the same changes by nationality, as the
mean of the replications (one engine batch, per-agent draws). Only simulated numbers are
printed: the published figures these are compared with are not part of the repository.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EVENTS = {"Mexico's containment surge (Dec 2023 -> Jan 2024)": ("2023-12", "2024-01"),
          "asylum proclamation (May 2024 -> Jul 2024)": ("2024-05", "2024-07")}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", nargs="?", type=Path, default=ROOT / "scenarios" / "calibrated.yaml")
    parser.add_argument("--agents", type=int, default=1_000_000)
    parser.add_argument("--replications", type=int, default=5)
    parser.add_argument("--json", type=Path, help="also write the numbers to this JSON file")
    args = parser.parse_args(argv)

    import sim
    from sim.core.calendar import parse_month

    scenario = sim.load_scenario(args.scenario)
    months = parse_month("2024-12") - parse_month(scenario.start) + 1
    clock = time.perf_counter()
    result = sim.run(scenario, agents=args.agents, replications=args.replications, months=months)
    frame = result.to_frame()
    enc = frame[frame.metric == "encounters"].groupby(["month", "nationality"])["value"].sum() / args.replications
    by = enc.unstack("nationality")
    by["ALL"] = by.sum(axis=1)
    out = {"scenario": str(args.scenario), "agents": args.agents, "replications": args.replications,
           "runtime_s": round(time.perf_counter() - clock, 1), "events": {}}
    for name, (before, after) in EVENTS.items():
        change = (by.loc[after] / by.loc[before] - 1.0)
        out["events"][name] = {"before": before, "after": after,
                               "encounters_before": float(by.loc[before, "ALL"]),
                               "encounters_after": float(by.loc[after, "ALL"]),
                               "change": float(change["ALL"]),
                               "change_by_nationality": {k: float(v) for k, v in change.drop("ALL").items()}}
        print(f"{name}: {by.loc[before, 'ALL']:,.0f} -> {by.loc[after, 'ALL']:,.0f} encounters a month, "
              f"{change['ALL']:+.1%}")
        print("   by nationality: " + ", ".join(f"{k} {v:+.0%}" for k, v in change.drop("ALL").items()))
    print(f"({args.agents:,} agents x {args.replications} replications, {out['runtime_s']:.0f} s)")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
