"""CPU seconds for the shipped study to reach ±5 % on crossings and deaths averted, by agent allocation.

``python benchmarks/bench_allocation.py`` runs the scenarios of
``scenarios/aid_vs_enforcement.yaml`` (its horizon, seeds and driver trends; without its
robustness part and heatmap) at a pilot sample (``--agents``, ``--replications``) once with
``agent_allocation: sqrt`` (agents by the square root of population, the default: before)
and once with ``movers`` (agents where people move, ``sim/core/allocation.py``: after), measures the CPU time of
the runs and the 95 % t-interval of each scenario's mean paired difference from the
baseline (irregular crossings averted, deaths averted), and extrapolates, with the
variance of the mean proportional to 1 / (agents x replications), the CPU seconds the
study needs for every interval to be within ±5 % of its value. Intervals that include
zero at the pilot size are listed but left out of the total (no sample size is known for
them).
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from sim.experiments.comparisons import analysis
from sim.experiments.comparisons.study import load_study
from sim.simulation import run

STUDY = Path(__file__).resolve().parents[1] / "scenarios" / "aid_vs_enforcement.yaml"
TARGET = 0.05
METRICS = ("entries_irregular", "deaths")


def measure(allocation: str, agents: int, replications: int) -> tuple[pd.DataFrame, float]:
    """Paired intervals of every scenario at the pilot sample, and the CPU seconds the runs took."""
    study = load_study(STUDY, agents=agents, replications=replications)
    frames, cpu = [], 0.0
    for scenario in study.scenarios.values():
        scenario = scenario.with_overrides(agent_allocation=allocation)
        start = time.process_time()
        frames.append(run(scenario).outcomes)
        cpu += time.process_time() - start
    table = analysis.paired_intervals(pd.concat(frames, ignore_index=True), agents, metrics=METRICS)
    return table, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=10_000)
    parser.add_argument("--replications", type=int, default=32)
    args = parser.parse_args()
    print(f"{STUDY.name}: pilot {args.agents:,} agents x {args.replications} replications per scenario; "
          f"target ±{100 * TARGET:.0f} % (95 % t-interval, normal approximation when extrapolating)")
    rows = []
    for allocation in ("sqrt", "movers"):
        table, cpu = measure(allocation, args.agents, args.replications)
        per_unit = cpu / (args.agents * args.replications)            # CPU seconds per agent-replication, study-wide
        for row in table.itertuples():
            clear = np.isfinite(row.relative_half_width) and row.ci_low * row.ci_high > 0
            factor = (row.relative_half_width / TARGET) ** 2 if clear else np.nan
            rows.append({"allocation": allocation, "scenario": row.scenario, "metric": row.metric,
                         "difference": row.difference, "relative_half_width": row.relative_half_width,
                         "cpu_s_pilot": cpu, "cpu_s_needed": per_unit * args.agents * args.replications * factor})
    out = pd.DataFrame(rows)
    with pd.option_context("display.width", 160, "display.max_columns", 20, "display.float_format", "{:,.3f}".format):
        print(out.to_string(index=False))
    print()
    for allocation, part in out.groupby("allocation", sort=False):
        known = part.dropna(subset=["cpu_s_needed"])
        print(f"{allocation:7s}: pilot {part.cpu_s_pilot.iloc[0]:.1f} CPU s; the study reaches ±5 % on every "
              f"crossings- and deaths-averted interval that excludes zero ({len(known)} of {len(part)}) in "
              f"{known.cpu_s_needed.max():,.0f} CPU s (hardest: {known.loc[known.cpu_s_needed.idxmax(), 'scenario']} "
              f"{known.loc[known.cpu_s_needed.idxmax(), 'metric']})")


if __name__ == "__main__":
    main()
