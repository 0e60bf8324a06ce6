"""Precision of deaths: relative standard error of the mean total and months with a median of zero.

``python benchmarks/bench_deaths.py`` runs ``baseline.yaml`` at 200,000 agents x 8
replications x 24 reported months (vector engine) and prints, for the deaths metric
(expected deaths: each exposure adds its probability) and for the deaths drawn (agents
whose draw killed them, the estimator used before), the mean total deaths (persons), the
relative standard error of that mean over replications and the number of months whose
median over replications is zero. Options: ``--agents``, ``--replications``, ``--months``.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

import sim
from sim.core.allocation import sampled_world
from sim.core.inputs import compile_inputs
from sim.core.random import replicate_seed
from sim.engines.state import Status
from sim.engines.vector import Batch, make_home, step_month

BASELINE = Path(__file__).resolve().parents[1] / "scenarios" / "baseline.yaml"


def measure(agents: int, replications: int, months: int) -> dict[str, np.ndarray]:
    """Deaths (persons) by replicate and reported month: expected and drawn."""
    scenario = sim.load_scenario(BASELINE).with_overrides(agents=agents, replications=replications, months=months)
    world = sampled_world(scenario)
    inputs = compile_inputs(scenario, world)
    seeds = [replicate_seed(scenario.seed, r) for r in range(replications)]
    batch = Batch(world, [inputs] * replications, seeds)
    state, home = make_home(batch, [inputs] * replications)          # per-agent: a row per agent
    diaspora = np.tile(world.diaspora, (batch.B, 1))
    recent = np.zeros_like(diaspora)                     # recent entries by nationality (word of mouth)
    weight = world.persons_per_agent
    pool = state.pool
    expected, drawn = [], []
    dead_before = np.zeros(batch.B)
    for step in range(batch.T):
        counts = step_month(batch, state, step, diaspora, home, recent)
        dead = np.flatnonzero(state.status == Status.DEAD)
        persons_dead = np.bincount(dead // batch.n, weights=weight[pool[dead]], minlength=batch.B)
        if step >= batch.warmup:
            expected.append((counts["deaths"].sum(axis=2) * weight[None, :]).sum(axis=1))
            drawn.append(persons_dead - dead_before)
        dead_before = persons_dead
    return {"expected": np.array(expected).T, "drawn": np.array(drawn).T}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=200_000)
    parser.add_argument("--replications", type=int, default=8)
    parser.add_argument("--months", type=int, default=24)
    args = parser.parse_args()
    start = time.process_time()
    runs = measure(args.agents, args.replications, args.months)
    print(f"baseline.yaml, {args.agents:,} agents x {args.replications} replications x {args.months} months "
          f"({time.process_time() - start:.1f} CPU s)")
    for name, monthly in runs.items():
        totals = monthly.sum(axis=1)
        rse = totals.std(ddof=1) / np.sqrt(len(totals)) / totals.mean() if totals.mean() > 0 else float("nan")
        zero = int((np.median(monthly, axis=0) == 0).sum())
        print(f"deaths {name:8s}: mean total {totals.mean():10,.0f} persons, relative standard error "
              f"{100 * rse:5.2f} %, months with a median of zero: {zero} of {monthly.shape[1]}")


if __name__ == "__main__":
    main()
