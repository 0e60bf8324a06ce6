"""Reproduce the default origin intercepts (sim/core/parameters.py DEFAULT_INTERCEPTS).

The origin fixed effects of the leave hazard are set so that ``scenarios/history.yaml``
reproduces the mean monthly encounters by nationality of US fiscal year 2022
(October 2021 - September 2022). A fixed-point iteration on log ratios:
intercept += log(observed / simulated). Run: python scripts/tune_default_intercepts.py
(about a minute).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

import sim
from sim.core import datasets

ROOT = Path(__file__).resolve().parents[1]


def main(iterations: int = 6, agents: int = 300_000) -> dict[str, float]:
    scenario = sim.load_scenario(ROOT / "scenarios" / "history.yaml").with_overrides(
        months=36, agents=agents, replications=2)
    observed = datasets.observed_encounters()
    fy = observed[(observed.month >= "2021-10") & (observed.month <= "2022-09")]
    target = fy.groupby("nationality").encounters.sum() / 12
    intercepts = dict(scenario.behaviour.hazard.intercept)
    for i in range(iterations):
        s = scenario.model_copy(deep=True)
        s.behaviour.hazard.intercept = intercepts
        frame = sim.run(s).to_frame()
        enc = frame[(frame.metric == "encounters") & (frame.month >= "2021-10")]
        simulated = enc.groupby("nationality").value.sum() / (12 * s.replications)
        for code in intercepts:
            step = 0.8 * float(np.log(target[code] / max(simulated[code], 1.0)))
            intercepts[code] = round(intercepts[code] + step, 2)
        print(i, f"simulated total {simulated.sum():,.0f} vs observed {target[list(intercepts)].sum():,.0f}")
    print(intercepts)
    return intercepts


if __name__ == "__main__":
    main()
