"""Calibration: fit behavioural parameters to observed monthly encounters by nationality.

``calibrate(scenario, observed, until)`` fits the free parameters of a scenario file to
the observed encounters of the months ``fit_from .. until`` by nonlinear least squares
(SciPy ``least_squares``, trust-region reflective, within bounds) on the log errors of
monthly encounters by nationality (``sim.fitting.metrics.log_errors``). Every evaluation runs the
scenario with the same seeds (common random numbers), so the objective is a
deterministic function of the parameters and the fit is reproducible: same inputs and
seed, same fitted values. Candidate parameter sets are run as one engine batch sharing
one World, as sweeps are; parameter paths are those of sweeps (``sim.core.paths``).

The free parameters and their bounds are named in the file, in a ``calibration:`` block
that ``migsim run`` does not read (``sim.fitting.spec``)::

    calibration:
      parameters:                                  # path -> bounds (units of the parameter)
        behaviour.hazard.intercept.VEN: {min: -18, max: -3}
        behaviour.hazard.network: {min: 0, max: 2, step: 0.05}
      fit_from: 2020-10        # first month fitted (default: 12 months before --until)
      agents: 1000000          # default: the scenario's
      replications: 6          # runs per evaluation (common random numbers)
      offset: 100              # persons per month added before taking logs
      max_evaluations: 40      # objective evaluations allowed to the optimiser

``write_calibrated`` writes a scenario that ``extends`` the input with the fitted values,
and a JSON report of the fit beside it.
"""
from __future__ import annotations

import io
import json
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..core.allocation import sampled_world
from ..core.calendar import format_month, parse_month
from ..core.errors import Problem, ScenarioError
from ..core.inputs import compile_inputs
from ..core.paths import apply_values
from ..core.random import replicate_seed
from ..core.scenario import NAME_PATTERN, Scenario
from ..core.yamlio import problems_from_paths
from ..engines.vector import simulate
from ..outputs.files import atomic_write_bytes, json_ready
from ..outputs.guarded import WRITTEN
from ..outputs.ownership import seal
from ..outputs.provenance import git_commit, package_version
from . import metrics
from .observed import (
    ObservedDataError,
    compared_nationalities,
    load_observed,
    month_option,
    months_between,
    observed_sha256,
    require_months,
)
from .output_files import claim_calibrated, report_path
from .spec import CALIBRATION_KEY, DEFAULT_FIT_MONTHS, CalibrationSetup, load_calibration, read_scenario

ROUND_DIGITS = 3                             # decimals of the written values
MAX_AGENTS_PER_BATCH = 4_000_000             # as sim.simulation.run


# ---------------------------------------------------------------- the objective

@dataclass
class Evaluation:
    """One evaluation of the objective: parameter values, objective, ARD in the fit window."""

    values: list[float]
    objective: float
    ard: float


@dataclass
class Objective:
    """Simulated encounters as a function of the free parameters, with common random numbers.

    ``series(x)`` is the mean over replications of the simulated encounters in the fit
    window (months x nationalities, persons per month); runs at the same ``x`` are never
    repeated. ``residuals`` and ``jacobian`` feed ``scipy.optimize.least_squares``.
    """

    setup: CalibrationSetup
    observed: pd.DataFrame                  # fit window x nationalities
    months: list[str]                       # simulated (reported) months
    history: list[Evaluation] = field(default_factory=list)
    runs: int = 0                           # runs simulated so far

    def __post_init__(self):
        s, spec = self.setup.scenario, self.setup.spec
        self.scenario = s.with_overrides(months=len(self.months), agents=spec.agents, replications=spec.replications,
                                         seed=self.setup.seed)
        self.world = sampled_world(self.scenario)
        self.base = self.scenario.model_dump(mode="json")
        self.seeds = [replicate_seed(self.scenario.seed, r) for r in range(spec.replications)]
        self.nationalities = list(self.observed.columns)
        self.columns = [list(self.world.origins).index(n) for n in self.nationalities]
        self.rows = [self.months.index(m) for m in self.observed.index]
        self._cache: dict[bytes, np.ndarray] = {}

    def scenario_at(self, x) -> Scenario:
        """The scenario with the free parameters set to ``x``."""
        values = [(p.parts, float(v)) for p, v in zip(self.setup.parameters, x)]
        return Scenario.model_validate(apply_values(self.base, values))

    def simulate(self, points: list[np.ndarray]) -> None:
        """Run every point not yet run (all replications, one engine batch per ~4 million agents)."""
        todo = [np.asarray(x, dtype=float) for x in points if np.asarray(x, dtype=float).tobytes() not in self._cache]
        if not todo:
            return
        inputs = [compile_inputs(self.scenario_at(x), self.world) for x in todo]
        runs = [(i, seed) for i in range(len(todo)) for seed in self.seeds]
        n = int(self.world.agents_per_origin.sum())
        per_batch = max(1, MAX_AGENTS_PER_BATCH // n)
        weight = self.world.persons_per_agent
        found = np.zeros((len(todo), len(self.seeds), len(self.rows), len(self.columns)))
        for first in range(0, len(runs), per_batch):
            chunk = runs[first:first + per_batch]
            counts = simulate(self.world, [inputs[i] for i, _ in chunk], [seed for _, seed in chunk])
            persons = counts.national["encounters"] * weight[None, None, :]
            for b, (i, seed) in enumerate(chunk):
                found[i, self.seeds.index(seed)] = persons[b][np.ix_(self.rows, self.columns)]
        self.runs += len(runs)
        for x, values in zip(todo, found):
            self._cache[x.tobytes()] = values.mean(axis=0)

    def series(self, x) -> pd.DataFrame:
        """Mean simulated encounters over replications in the fit window (months x nationalities)."""
        x = np.asarray(x, dtype=float)
        self.simulate([x])
        return pd.DataFrame(self._cache[x.tobytes()], index=self.observed.index, columns=self.observed.columns)

    def residuals(self, x) -> np.ndarray:
        """Log errors of the fit window (months x nationalities, flattened), recorded in ``history``."""
        simulated = self.series(x)
        r = metrics.log_errors(simulated, self.observed, self.setup.spec.offset)
        self.history.append(Evaluation([float(v) for v in x], float(0.5 * r @ r),
                                       metrics.ard(simulated, self.observed)))
        return r

    def jacobian(self, x) -> np.ndarray:
        """Forward differences (backward at an upper bound), all perturbed points run in one batch.

        Per-origin parameters (intercepts) of different origins are perturbed together and
        each one's column is read from its own nationality's rows only; the effect one
        origin's parameter has on other nationalities (through shared capacities) is left
        out of the Jacobian, not of the objective.
        """
        x = np.asarray(x, dtype=float)
        params = self.setup.parameters
        steps = np.array([p.step if v + p.step <= p.high else -p.step for p, v in zip(params, x)])
        groups, together = [], [j for j, p in enumerate(params) if p.origin is not None]
        origins = [params[j].origin for j in together]
        if together and len(set(origins)) == len(origins):
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
        offset = self.setup.spec.offset
        base = metrics.log_errors(self.series(x), self.observed, offset).reshape(len(self.rows), -1)
        J = np.zeros((base.size, len(params)))
        for group, point in zip(groups, points):
            moved = metrics.log_errors(self.series(point), self.observed, offset).reshape(len(self.rows), -1)
            for j in group:
                column = (moved - base) / steps[j]
                if len(group) > 1:                      # per-origin group: own nationality's rows only
                    keep = np.zeros_like(column)
                    k = self.nationalities.index(params[j].origin)
                    keep[:, k] = column[:, k]
                    column = keep
                J[:, j] = column.ravel()
        return J


# ---------------------------------------------------------------- fitting

@dataclass
class Fit:
    """The result of a calibration."""

    setup: CalibrationSetup
    objective: Objective
    fit_window: list[str]
    observed_file: str
    start: np.ndarray
    fitted: np.ndarray                      # rounded to ROUND_DIGITS, within bounds
    optimizer: dict
    runtime_s: float

    def values(self) -> dict[str, float]:
        """Fitted value of each free parameter, by path."""
        return {p.name: float(v) for p, v in zip(self.setup.parameters, self.fitted)}

    def scores(self, x) -> dict:
        """Objective, ARD and each nationality's total error in the fit window at ``x``."""
        simulated, observed = self.objective.series(x), self.objective.observed
        r = metrics.log_errors(simulated, observed, self.setup.spec.offset)
        return {"objective": float(0.5 * r @ r), "ard": metrics.ard(simulated, observed),
                "total_error": {k: (float(v) if np.isfinite(v) else None)
                                for k, v in metrics.total_errors(simulated, observed).items()}}


def calibrate(scenario_path: str | Path, observed_path: str | Path, until: str, *, agents: int | None = None,
              seed: int | None = None, report: Callable[[Evaluation], object] | None = None) -> Fit:
    """Fit the free parameters of a scenario file to observed encounters of ``fit_from .. until``.

    ``report`` (optional) is called with each ``Evaluation`` as it is made. Raises
    ``ScenarioError`` for a bad scenario file or block, ``ObservedDataError`` for a bad
    observed file or months it lacks.
    """
    from scipy.optimize import least_squares

    clock = time.perf_counter()
    setup = load_calibration(scenario_path, agents=agents, seed=seed)
    observed = load_observed(observed_path)
    file = str(observed_path)
    until = month_option(until, "--until")
    scenario = setup.scenario
    if parse_month(until) < parse_month(scenario.start):
        raise ObservedDataError([Problem("command line", None, "--until", f"{until} is before the scenario's first "
                                         f"reported month {scenario.start}")])
    fit_from = setup.spec.fit_from or format_month(max(parse_month(until) - DEFAULT_FIT_MONTHS + 1,
                                                       parse_month(scenario.start)))
    if parse_month(fit_from) > parse_month(until):
        file_, line = setup.located.where((CALIBRATION_KEY, "fit_from"))
        raise ScenarioError([Problem(file_, line, "calibration.fit_from", f"{fit_from} is after --until {until}")])
    window = months_between(fit_from, until)
    require_months(observed, window, file, "--until", f"the fit window {fit_from} .. {until}")
    nationalities = compared_nationalities(scenario, observed)
    if not nationalities:
        raise ObservedDataError([Problem(file, None, "citizenship", "no simulated nationality ("
                                         + ", ".join(scenario.origins) + ") appears in the observed data")])
    unseen = [p for p in setup.parameters if p.origin is not None and p.origin not in nationalities]
    if unseen:
        raise ScenarioError(problems_from_paths(setup.located, [
            ((CALIBRATION_KEY, "parameters", p.name), f"{file} has no encounters of {p.origin} to fit this to")
            for p in unseen]))
    objective = Objective(setup, observed.loc[window, nationalities], months_between(scenario.start, until))
    params = setup.parameters
    lower, upper = np.array([p.low for p in params]), np.array([p.high for p in params])
    start = np.array([p.start for p in params])

    def residuals(x):
        r = objective.residuals(x)
        if report is not None:
            report(objective.history[-1])
        return r

    result = least_squares(residuals, start, jac=objective.jacobian, bounds=(lower, upper), method="trf",
                           x_scale="jac", max_nfev=setup.spec.max_evaluations, ftol=1e-4, xtol=1e-4, gtol=1e-8)
    fitted = np.clip(np.round(result.x, ROUND_DIGITS), lower, upper)
    optimizer = {"method": "scipy.optimize.least_squares (trf, bounds, x_scale='jac')", "status": int(result.status),
                 "message": str(result.message), "evaluations": int(result.nfev),
                 "jacobians": int(result.njev or 0), "max_evaluations": setup.spec.max_evaluations}
    fit = Fit(setup, objective, window, file, start, fitted, optimizer, 0.0)
    fit.scores(fitted)                      # run the written values
    fit.runtime_s = time.perf_counter() - clock
    return fit


# ---------------------------------------------------------------- writing

def fit_report(fit: Fit, out: Path, command: str) -> dict:
    """The content of the fit report (JSON)."""
    setup, obj = fit.setup, fit.objective
    return {
        "command": command, "scenario_file": str(setup.path), "scenario": setup.scenario.name, "output": str(out),
        "observed_file": fit.observed_file, "observed_sha256": observed_sha256(fit.observed_file),
        "fit_window": [fit.fit_window[0], fit.fit_window[-1]], "nationalities": obj.nationalities,
        "simulated": [obj.months[0], obj.months[-1]], "agents": obj.scenario.agents,
        "replications": len(obj.seeds), "seed": obj.scenario.seed, "replicate_seeds": obj.seeds,
        "objective": {"definition": "0.5 * sum over fit months and nationalities of (ln(S + c) - ln(Y + c))^2; "
                                    "S = mean simulated encounters over replications, Y = observed, persons per month",
                      "offset_c": setup.spec.offset},
        "parameters": [{"name": p.name, "start": p.start, "min": p.low, "max": p.high, "step": p.step,
                        "fitted": float(v)} for p, v in zip(setup.parameters, fit.fitted)],
        "start": fit.scores(fit.start), "fitted": fit.scores(fit.fitted),
        "history": [{"evaluation": i + 1, "objective": e.objective, "ard": e.ard, "values": e.values}
                    for i, e in enumerate(obj.history)],
        "optimizer": fit.optimizer, "runs_simulated": obj.runs, "runtime_s": round(fit.runtime_s, 1),
        "package": "migsim", "version": package_version(), "git_commit": git_commit(),
    }


def calibrated_yaml(fit: Fit, out: Path, command: str) -> str:
    """Text of the calibrated scenario: ``extends`` the input, sets the fitted values (no timestamps)."""
    from ruamel.yaml import YAML

    setup, obj = fit.setup, fit.objective
    parent = Path(os.path.relpath(setup.path.resolve(), out.resolve().parent)).as_posix()
    name = out.stem if _name_ok(out.stem) else f"{setup.scenario.name}-calibrated"
    body: dict = {"schema_version": 1, "extends": parent, "name": name,
                  "description": f"{setup.scenario.name} with {len(setup.parameters)} behavioural parameter(s) fitted "
                                 f"to observed encounters by nationality, {fit.fit_window[0]} .. {fit.fit_window[-1]}"}
    for p, v in zip(setup.parameters, fit.fitted):
        node = body
        for part in p.parts[:-1]:
            node = node.setdefault(part, {})
        node[p.parts[-1]] = float(v)
    if setup.has_block:
        body[CALIBRATION_KEY] = None        # the input's block is not part of a runnable scenario
    fitted = fit.scores(fit.fitted)
    header = [
        f"# {name}: {setup.scenario.name} calibrated to observed monthly encounters by nationality.",
        "# Produced by this command, run from the repository root (do not edit by hand; run it again instead):",
        f"#   {command}",
        f"# Fit window {fit.fit_window[0]} .. {fit.fit_window[-1]} ({len(obj.nationalities)} nationalities), "
        f"{obj.scenario.agents:,} agents x {len(obj.seeds)} replication(s), seed {obj.scenario.seed}; "
        f"ARD in the fit window {fitted['ard']:.3f}.",
        f"# Report of the fit (objective history, start values, bounds): {report_path(out).name}",
    ]
    yaml = YAML()
    yaml.default_flow_style = False
    yaml.width = 120
    buffer = io.StringIO()
    yaml.dump(body, buffer)
    return seal("\n".join(header) + "\n" + buffer.getvalue())      # its last line: a checksum of the rest


def _name_ok(text: str) -> bool:
    return bool(re.match(NAME_PATTERN, text))


def write_calibrated(fit: Fit, out: str | Path, command: str) -> tuple[Path, Path]:
    """Write the calibrated scenario and its report (``<out stem>.fit.json``); each appears whole or not at all.

    Never over a file migsim did not write, nor over an input of the calibration
    (``claim_calibrated``). The written scenario is read back and validated before this returns.
    """
    with claim_calibrated(out, fit.setup.path, fit.observed_file) as target:
        report = report_path(target)
        text = json.dumps(json_ready(fit_report(fit, Path(out), command)), indent=2, allow_nan=False)
        atomic_write_bytes(report, text.encode())
        atomic_write_bytes(target, calibrated_yaml(fit, Path(out), command).encode())
        WRITTEN.append(str(out))
        read_scenario(target)
    return Path(out), report


__all__ = ["Evaluation", "Fit", "Objective", "calibrate", "calibrated_yaml", "fit_report", "report_path",
           "write_calibrated"]
