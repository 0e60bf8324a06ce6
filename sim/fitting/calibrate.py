"""Calibration: fit behavioural parameters to observed series along the route, by nationality and month.

``calibrate(scenario, observed, until)`` fits the free parameters of a scenario file to the
observed series of the months ``fit_from .. until`` by nonlinear least squares (SciPy
``least_squares``, trust-region reflective, within bounds) on the log errors of every
target at once (``sim.fitting.objective``): border encounters (CBP, ``observed``), Darien transits
and Mexico's interceptions by nationality (``sim.fitting.targets``; a nationality-month without
data is skipped, not taken as zero). Every evaluation runs the scenario with the same seeds
(common random numbers), so the objective is a deterministic function of the parameters
and the fit is reproducible: same inputs and seed, same fitted values. Candidate parameter
sets are run as one engine batch sharing one World, as sweeps are; parameter paths are
those of sweeps (``sim.core.paths``). The
fit report gives each parameter's standard error from the curvature of the objective and
flags those the data identify poorly (``sim.fitting.objective.standard_errors``).

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
      max_evaluations: 40      # objective evaluations allowed to the optimiser, per start
      targets: [encounters, darien, mexico_interceptions]   # the default
      weights: {darien: 1.0}   # weight of a target's squared errors (default 1)
      starts: 3                # the written values, then shared parameters spread over their bounds

Without a block (or without ``parameters``) the free parameters are the intercepts of
every simulated origin, ``behaviour.hazard.intercept.<ISO3>`` in [-18, -3].
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

from ..core.calendar import format_month, parse_month
from ..core.errors import Problem, ScenarioError
from ..core.scenario import NAME_PATTERN
from ..core.yamlio import problems_from_paths
from ..outputs.files import atomic_write_bytes, json_ready
from ..outputs.guarded import WRITTEN
from ..outputs.ownership import seal
from ..outputs.provenance import git_commit, package_version
from .objective import Evaluation, Objective, standard_errors
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
from .targets import encounters_target, route_target

ROUND_DIGITS = 3                             # decimals of the written values


# ---------------------------------------------------------------- fitting

@dataclass
class Start:
    """One start of the optimiser and where it ended."""

    start: np.ndarray
    end: np.ndarray
    objective: float
    optimizer: dict


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
    starts: list[Start] = field(default_factory=list)
    identification: dict = field(default_factory=dict)

    def values(self) -> dict[str, float]:
        """Fitted value of each free parameter, by path."""
        return {p.name: float(v) for p, v in zip(self.setup.parameters, self.fitted)}

    def scores(self, x) -> dict:
        """Objective, each target's ARD and nationality totals' errors in the fit window at ``x``."""
        return self.objective.scores(x)


def start_points(setup: CalibrationSetup, count: int) -> list[np.ndarray]:
    """The optimiser's starts: the written values, then shared parameters spread over their bounds.

    Start ``k`` (k >= 1) puts each shared (not per-origin) parameter at a point of a Latin
    hypercube of its range drawn from the calibration seed; per-origin intercepts keep their
    written values.
    """
    params = setup.parameters
    first = np.array([p.start for p in params])
    points = [first]
    shared = [j for j, p in enumerate(params) if p.origin is None]
    if count > 1 and shared:
        rng = np.random.default_rng(setup.seed)
        grid = (np.argsort(rng.random((len(shared), count - 1)), axis=1) + rng.random((len(shared), count - 1))) \
            / (count - 1)
        for k in range(count - 1):
            point = first.copy()
            for i, j in enumerate(shared):
                point[j] = params[j].low + grid[i, k] * (params[j].high - params[j].low)
            points.append(point)
    return points


def calibrate(scenario_path: str | Path, observed_path: str | Path, until: str, *, agents: int | None = None,
              seed: int | None = None, report: Callable[[Evaluation], object] | None = None,
              route_files: dict[str, str | Path] | None = None) -> Fit:
    """Fit the free parameters of a scenario file to the observed series of ``fit_from .. until``.

    The targets (``calibration.targets``: by default border encounters, Darien transits and
    Mexico's interceptions by nationality) are fitted together; ``observed_path`` is the
    encounters file (CBP layout), the series along the route come from ``sim/data`` unless
    ``route_files`` maps a target to another file. ``report`` (optional) is called with each
    ``Evaluation`` as it is made. Raises ``ScenarioError`` for a bad scenario file or block,
    ``ObservedDataError`` for a bad observed file or months it lacks.
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
    targets = [encounters_target(observed, window, nationalities, file) if name == "encounters" else
               route_target(name, window, list(scenario.origins), (route_files or {}).get(name))
               for name in setup.spec.targets]
    objective = Objective(setup, [t for t in targets if t.cells], months_between(scenario.start, until),
                          dict(setup.spec.weights))
    params = setup.parameters
    lower, upper = np.array([p.low for p in params]), np.array([p.high for p in params])

    def residuals(x: np.ndarray) -> np.ndarray:
        r = objective.residuals(x)
        if report is not None:
            report(objective.history[-1])
        return r

    starts = []
    for point in start_points(setup, setup.spec.starts):
        result = least_squares(residuals, point, jac=objective.jacobian, bounds=(lower, upper), method="trf",
                               x_scale="jac", max_nfev=setup.spec.max_evaluations, ftol=1e-4, xtol=1e-4, gtol=1e-8)
        end = np.clip(np.round(result.x, ROUND_DIGITS), lower, upper)
        starts.append(Start(point, end, objective.scores(end)["objective"], {
            "status": int(result.status), "message": str(result.message), "evaluations": int(result.nfev),
            "jacobians": int(result.njev or 0), "converged": bool(result.status > 0)}))
    best = min(starts, key=lambda s: s.objective)
    optimizer = {"method": "scipy.optimize.least_squares (trf, bounds, x_scale='jac')",
                 "max_evaluations": setup.spec.max_evaluations, "starts": len(starts), **best.optimizer}
    fit = Fit(setup, objective, window, file, starts[0].start, best.end, optimizer, 0.0, starts)
    J = objective.jacobian(best.end, full=True)
    fit.identification = standard_errors(J, objective._residuals(best.end), params, best.end)
    fit.runtime_s = time.perf_counter() - clock
    return fit


# ---------------------------------------------------------------- writing

def fit_report(fit: Fit, out: Path, command: str) -> dict:
    """The content of the fit report (JSON)."""
    setup, obj = fit.setup, fit.objective
    se = {row["name"]: row for row in fit.identification.get("parameters", [])}
    return {
        "command": command, "scenario_file": str(setup.path), "scenario": setup.scenario.name, "output": str(out),
        "observed_file": fit.observed_file, "observed_sha256": observed_sha256(fit.observed_file),
        "fit_window": [fit.fit_window[0], fit.fit_window[-1]],
        "targets": {t.name: {"file": t.file, "nationalities": list(t.observed.columns), "cells": t.cells,
                             "weight": obj.weights.get(t.name, 1.0), "metric": t.metric,
                             "nodes": list(t.nodes) if t.nodes else None} for t in obj.targets},
        "simulated": [obj.months[0], obj.months[-1]], "agents": obj.scenario.agents,
        "replications": len(obj.seeds), "seed": obj.scenario.seed, "replicate_seeds": obj.seeds,
        "objective": {"definition": "0.5 * sum over targets, and over the fit months and nationalities with observed "
                                    "data, of weight * (ln(S + c) - ln(Y + c))^2; S = mean simulated series over "
                                    "replications, Y = observed, persons per month",
                      "offset_c": setup.spec.offset},
        "parameters": [{"name": p.name, "start": p.start, "min": p.low, "max": p.high, "step": p.step,
                        "fitted": float(v), "standard_error": se.get(p.name, {}).get("standard_error"),
                        "poorly_identified": se.get(p.name, {}).get("poorly_identified"),
                        "why": se.get(p.name, {}).get("why")} for p, v in zip(setup.parameters, fit.fitted)],
        "identification": {k: v for k, v in fit.identification.items() if k != "parameters"},
        "starts": [{"start": [float(v) for v in s.start], "end": [float(v) for v in s.end], "objective": s.objective,
                    **s.optimizer} for s in fit.starts],
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
                                 f"to observed series by nationality ({', '.join(t.name for t in obj.targets)}), "
                                 f"{fit.fit_window[0]} .. {fit.fit_window[-1]}"}
    for p, v in zip(setup.parameters, fit.fitted):
        node = body
        for part in p.parts[:-1]:
            node = node.setdefault(part, {})
        node[p.parts[-1]] = float(v)
    if setup.has_block:
        body[CALIBRATION_KEY] = None        # the input's block is not part of a runnable scenario
    fitted = fit.scores(fit.fitted)
    header = [
        f"# {name}: {setup.scenario.name} calibrated to observed monthly series by nationality.",
        "# Produced by this command, run from the repository root (do not edit by hand; run it again instead):",
        f"#   {command}",
        f"# Fit window {fit.fit_window[0]} .. {fit.fit_window[-1]}, targets "
        + ", ".join(f"{name} (ARD {t['ard']:.3f})" for name, t in fitted["targets"].items())
        + f"; {obj.scenario.agents:,} agents x {len(obj.seeds)} replication(s), seed {obj.scenario.seed}.",
        f"# Report of the fit (standard errors, starts, objective history, bounds): {report_path(out).name}",
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


__all__ = ["Evaluation", "Fit", "Objective", "Start", "calibrate", "calibrated_yaml", "fit_report", "report_path",
           "start_points", "write_calibrated"]
