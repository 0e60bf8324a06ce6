"""The calibration objective: simulated against observed series at the three stages of the route.

``Objective(setup, targets, months)`` runs the scenario at parameter values ``x`` (every
replication, common random numbers: the same seeds at every ``x``, so the objective is a
deterministic function of ``x``) and compares, for every target (``sim.fitting.targets``: border
encounters, Darien transits, Mexico's interceptions...), the mean over replications of the
simulated series with the observed one, nationality-month by nationality-month where the
source has data. Residuals are log errors ``ln(S + c) - ln(Y + c)`` (``sim.fitting.metrics``),
scaled by the square root of the target's weight; the objective is half their sum of
squares. ``standard_errors`` turns the Jacobian at the optimum into standard errors from
the curvature of the objective.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..core.allocation import sampled_world
from ..core.inputs import compile_inputs
from ..core.paths import apply_values
from ..core.random import replicate_seed
from ..core.scenario import Scenario
from ..engines.vector import simulate
from . import metrics
from .spec import CalibrationSetup
from .targets import Target, model_persons

MAX_AGENTS_PER_BATCH = 4_000_000             # as sim.simulation.run


@dataclass
class Evaluation:
    """One evaluation of the objective: parameter values, objective, ARD of each target."""

    values: list[float]
    objective: float
    ard: dict[str, float]


@dataclass
class Objective:
    """Simulated series as a function of the free parameters, with common random numbers.

    ``tables(x)``: the mean over replications of each target's simulated series in the fit
    window (months x nationalities, persons per month); runs at the same ``x`` are never
    repeated. ``residuals`` and ``jacobian`` feed ``scipy.optimize.least_squares``.
    """

    setup: CalibrationSetup
    targets: list[Target]
    months: list[str]                       # simulated (reported) months
    weights: dict[str, float] = field(default_factory=dict)
    history: list[Evaluation] = field(default_factory=list)
    runs: int = 0                           # runs simulated so far

    def __post_init__(self) -> None:
        s, spec = self.setup.scenario, self.setup.spec
        self.scenario = s.with_overrides(months=len(self.months), agents=spec.agents, replications=spec.replications,
                                         seed=self.setup.seed)
        self.world = sampled_world(self.scenario)
        self.base = self.scenario.model_dump(mode="json")
        self.seeds = [replicate_seed(self.scenario.seed, r) for r in range(spec.replications)]
        self.offset = spec.offset
        origins = list(self.world.origins)
        self._rows = {t.name: [self.months.index(m) for m in t.observed.index] for t in self.targets}
        self._cols = {t.name: [origins.index(n) for n in t.observed.columns] for t in self.targets}
        # nationality of each residual, in residual order (for the per-origin Jacobian columns)
        self.residual_nationality = np.concatenate([
            np.broadcast_to(np.array(t.observed.columns, dtype=object), t.observed.shape)[
                np.isfinite(t.observed.to_numpy(dtype=float))] for t in self.targets])
        self._cache: dict[bytes, dict[str, np.ndarray]] = {}

    @property
    def observed(self) -> dict[str, pd.DataFrame]:
        """Observed table of each target (fit window x nationalities)."""
        return {t.name: t.observed for t in self.targets}

    def scenario_at(self, x: np.ndarray) -> Scenario:
        """The scenario with the free parameters set to ``x``."""
        values = [(p.parts, float(v)) for p, v in zip(self.setup.parameters, x)]
        return Scenario.model_validate(apply_values(self.base, values))

    def simulate(self, points: list[np.ndarray]) -> None:
        """Run every point not yet run (all replications, one engine batch per ~4 million agents)."""
        todo: list[np.ndarray] = []
        for x in points:
            x = np.asarray(x, dtype=float)
            if x.tobytes() not in self._cache and all(x.tobytes() != t.tobytes() for t in todo):
                todo.append(x)
        if not todo:
            return
        inputs = [compile_inputs(self.scenario_at(x), self.world) for x in todo]
        runs = [(i, seed) for i in range(len(todo)) for seed in self.seeds]
        n = int(self.world.agents_per_pool.sum())
        per_batch = max(1, MAX_AGENTS_PER_BATCH // n)
        found = {t.name: np.zeros((len(todo), len(self.seeds)) + t.observed.shape) for t in self.targets}
        for first in range(0, len(runs), per_batch):
            chunk = runs[first:first + per_batch]
            counts = simulate(self.world, [inputs[i] for i, _ in chunk], [seed for _, seed in chunk])
            for t in self.targets:
                persons = model_persons(counts, self.world, t)
                for b, (i, seed) in enumerate(chunk):
                    found[t.name][i, self.seeds.index(seed)] = persons[b][np.ix_(self._rows[t.name],
                                                                               self._cols[t.name])]
        self.runs += len(runs)
        for i, x in enumerate(todo):
            self._cache[x.tobytes()] = {name: values[i].mean(axis=0) for name, values in found.items()}

    def tables(self, x) -> dict[str, pd.DataFrame]:
        """Mean simulated series of each target in the fit window (months x nationalities, persons per month)."""
        x = np.asarray(x, dtype=float)
        self.simulate([x])
        return {t.name: pd.DataFrame(self._cache[x.tobytes()][t.name], index=t.observed.index,
                                     columns=t.observed.columns) for t in self.targets}

    def _residuals(self, x) -> np.ndarray:
        tables = self.tables(x)
        return np.concatenate([np.sqrt(self.weights.get(t.name, 1.0))
                               * metrics.log_errors(tables[t.name], t.observed, self.offset) for t in self.targets])

    def residuals(self, x) -> np.ndarray:
        """Weighted log errors of every target's cells with data (flattened), recorded in ``history``."""
        r = self._residuals(x)
        tables = self.tables(x)
        self.history.append(Evaluation([float(v) for v in x], float(0.5 * r @ r),
                                       {t.name: metrics.ard(tables[t.name], t.observed) for t in self.targets}))
        return r

    def jacobian(self, x, full: bool = False) -> np.ndarray:
        """Forward differences (backward at an upper bound), all perturbed points run in one batch.

        Per-origin parameters (intercepts) of different origins are perturbed together and each
        one's column is read from its own nationality's residuals only; the effect one origin's
        parameter has on other nationalities (through shared capacities) is left out of the
        Jacobian, not of the objective. ``full``: perturb every parameter on its own instead
        (for standard errors).
        """
        x = np.asarray(x, dtype=float)
        params = self.setup.parameters
        steps = np.array([p.step if v + p.step <= p.high else -p.step for p, v in zip(params, x)])
        groups, together = [], [j for j, p in enumerate(params) if p.origin is not None]
        origins = [params[j].origin for j in together]
        if together and len(set(origins)) == len(origins) and not full:
            groups.append(together)
        else:
            groups += [[j] for j in together]
        groups += [[j] for j, p in enumerate(params) if p.origin is None]
        points = []
        for group in groups:
            point = x.copy()
            point[group] += steps[group]
            points.append(point)
        self.simulate([x] + points)
        base = self._residuals(x)
        J = np.zeros((base.size, len(params)))
        for group, point in zip(groups, points):
            moved = self._residuals(point)
            for j in group:
                column = (moved - base) / steps[j]
                if len(group) > 1:                      # per-origin group: own nationality's residuals only
                    column = np.where(self.residual_nationality == params[j].origin, column, 0.0)
                J[:, j] = column
        return J

    def scores(self, x) -> dict:
        """Objective, and each target's ARD and nationality totals' errors in the fit window, at ``x``."""
        r = self._residuals(x)
        tables = self.tables(x)
        out = {"objective": float(0.5 * r @ r), "residuals": int(r.size), "targets": {}}
        for t in self.targets:
            totals = metrics.total_errors(tables[t.name], t.observed)
            out["targets"][t.name] = {
                "ard": metrics.ard(tables[t.name], t.observed), "cells": t.cells,
                "total_error": {k: (float(v) if np.isfinite(v) else None) for k, v in totals.items()}}
        out["ard"] = out["targets"][self.targets[0].name]["ard"]
        return out


def standard_errors(J: np.ndarray, r: np.ndarray, params, values) -> dict:
    """Standard errors of the fitted parameters from the curvature of the objective.

    Gauss-Newton: ``cov = s^2 (J'J)^-1`` with ``s^2 = sum r^2 / (n - p)``. A parameter is
    flagged poorly identified when its standard error exceeds a quarter of its search range,
    when it sits on a bound, or when its correlation with another parameter exceeds 0.95 in
    absolute value. Returns per-parameter rows, the correlation matrix and the condition number.
    """
    n, p = J.shape
    dof = max(n - p, 1)
    s2 = float(r @ r) / dof
    JtJ = J.T @ J
    try:
        cov = s2 * np.linalg.pinv(JtJ, rcond=1e-12)
        condition = float(np.linalg.cond(JtJ))
    except np.linalg.LinAlgError:                   # pragma: no cover - pinv does not raise on finite input
        cov, condition = np.full((p, p), np.nan), float("inf")
    se = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = cov / np.outer(se, se)
    rows = []
    for j, (param, value) in enumerate(zip(params, values)):
        reasons = []
        if not np.isfinite(se[j]) or se[j] > 0.25 * (param.high - param.low):
            reasons.append("standard error above a quarter of the search range")
        if np.isclose(value, param.low) or np.isclose(value, param.high):
            reasons.append("on a bound")
        others = [params[k].name for k in range(p) if k != j and np.isfinite(corr[j, k]) and abs(corr[j, k]) > 0.95]
        if others:
            reasons.append("correlation above 0.95 with " + ", ".join(others))
        if not np.any(J[:, j]):
            reasons.append("the objective does not move with it")
        rows.append({"name": param.name, "value": float(value), "standard_error": float(se[j]),
                     "poorly_identified": bool(reasons), "why": reasons})
    return {"parameters": rows, "correlation": np.where(np.isfinite(corr), corr, np.nan).round(3).tolist(),
            "residual_variance": s2, "residuals": n, "condition_number": condition}
