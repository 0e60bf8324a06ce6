"""Calibration: fit behavioural parameters to observed monthly encounters by nationality.

``calibrate(scenario, observed, until)`` fits the free parameters of a scenario file to
the observed encounters of the months ``fit_from .. until`` by nonlinear least squares
(SciPy ``least_squares``, trust-region reflective, within bounds) on the log errors of
monthly encounters by nationality (``sim.metrics.log_errors``). Every evaluation runs the
scenario with the same seeds (common random numbers), so the objective is a
deterministic function of the parameters and the fit is reproducible: same inputs and
seed, same fitted values. Candidate parameter sets are run as one engine batch sharing
one World, as sweeps are; parameter paths are those of sweeps
(``sim.sweep.spec.parse_path``, ``sim.sweep.design.apply_values``).

The free parameters and their bounds are named in the file, in a ``calibration:`` block
that ``migsim run`` does not read (``calibrate`` removes it before validating the rest)::

    calibration:
      parameters:                                  # path -> bounds (units of the parameter)
        behaviour.hazard.intercept.VEN: {min: -18, max: -3}
        behaviour.hazard.network: {min: 0, max: 2, step: 0.05}
      fit_from: 2020-10        # first month fitted (default: 12 months before --until)
      agents: 1000000          # default: the scenario's
      replications: 6          # runs per evaluation (common random numbers)
      offset: 100              # persons per month added before taking logs
      max_evaluations: 40      # objective evaluations allowed to the optimiser

Without a block (or without ``parameters``) the free parameters are the intercepts of
every simulated origin, ``behaviour.hazard.intercept.<ISO3>`` in [-18, -3].
``write_calibrated`` writes a scenario that ``extends`` the input with the fitted values,
and a JSON report of the fit beside it.
"""
from __future__ import annotations

import io
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError

from . import metrics
from .calendar import format_month, parse_month
from .errors import Problem, ScenarioError
from .parameters import Strict
from .policies import Month
from .random import replicate_seed
from .scenario import NAME_PATTERN, Scenario, validation_problems
from .validate import (CALIBRATION_KEY, compared_nationalities, json_ready, load_observed, months_between,
                       observed_sha256, read_scenario, require_months)
from .yamlio import Located, dotted, problems_from_paths

INTERCEPT = ("behaviour", "hazard", "intercept")
DEFAULT_INTERCEPT_BOUNDS = (-18.0, -3.0)     # log-odds per month
INTERCEPT_STEP = 0.1                         # log-odds: about 10 % more leavers
RELATIVE_STEP = 0.05                         # other parameters: share of their range
DEFAULT_FIT_MONTHS = 12
# Runs per evaluation. With 2 runs of 1,000,000 agents the fitted intercepts of small series
# (Colombians: 390 persons per agent) carried enough Monte Carlo noise to move the held-out
# ARD by +-0.01 with the seed; with 6, seeds 2019 and 7 give 0.407 and 0.406 (docs/validation.md).
DEFAULT_REPLICATIONS = 6
ROUND_DIGITS = 3                             # decimals of the written values
MAX_AGENTS_PER_BATCH = 4_000_000             # as sim.api.run


# ---------------------------------------------------------------- the block

class Bounds(Strict):
    """Range searched for one free parameter (units of the parameter)."""

    min: float = Field(description="lowest value tried")
    max: float = Field(description="highest value tried")
    step: float | None = Field(None, gt=0, description="finite-difference step for the Jacobian "
                               f"(default {INTERCEPT_STEP} for intercepts, {RELATIVE_STEP:.0%} of max - min otherwise)")


class CalibrationSpec(Strict):
    """The ``calibration:`` block of a scenario file."""

    parameters: dict[str, Bounds] | None = Field(None, min_length=1, description=(
        "free parameters: scenario path -> bounds; default: behaviour.hazard.intercept.<ISO3> of every simulated "
        "origin in [-18, -3]"))
    fit_from: Month | None = Field(None, description=f"first month fitted (default: {DEFAULT_FIT_MONTHS} months "
                                   "before --until, not before the scenario's start)")
    agents: StrictInt | None = Field(None, ge=11, le=10**9, description="agents per run (default: the scenario's)")
    replications: StrictInt = Field(DEFAULT_REPLICATIONS, ge=1, le=50,
                                    description="runs per evaluation, each with its own seed")
    seed: StrictInt | None = Field(None, ge=0, lt=2**63, description="seed (default: the scenario's)")
    offset: float = Field(100.0, gt=0, le=1e9, description="persons per month added to both series before logs")
    max_evaluations: StrictInt = Field(40, ge=2, le=10_000, description="objective evaluations allowed")


class _FileWithBlock(BaseModel):
    """Only for locating errors of the block inside the file."""

    model_config = ConfigDict(extra="ignore")
    calibration: CalibrationSpec


@dataclass
class FreeParameter:
    """One fitted parameter: its path, starting value, bounds and finite-difference step."""

    name: str                  # dotted path as written, e.g. behaviour.hazard.intercept.VEN
    parts: tuple               # key path
    start: float
    low: float
    high: float
    step: float
    origin: str | None = None  # the nationality a per-origin parameter (intercept) acts on


@dataclass
class CalibrationSetup:
    """A scenario file ready to calibrate: the scenario, the block and the free parameters."""

    path: Path
    scenario: Scenario
    spec: CalibrationSpec
    parameters: list[FreeParameter]
    has_block: bool
    located: Located

    @property
    def seed(self) -> int:
        return self.scenario.seed if self.spec.seed is None else self.spec.seed


def load_calibration(path: str | Path, *, agents: int | None = None, seed: int | None = None) -> CalibrationSetup:
    """Read a scenario file and its ``calibration:`` block; check the free parameters against the scenario.

    ``agents`` and ``seed`` override the block (command-line options). Raises
    ``ScenarioError`` with file, line and key of every problem.
    """
    from .sweep.spec import check_path, parse_path

    scenario, block, located = read_scenario(path)
    raw = {} if block is None else block
    if not isinstance(raw, dict):
        file, line = located.where((CALIBRATION_KEY,))
        raise ScenarioError([Problem(file, line, CALIBRATION_KEY, "expected a mapping (parameters, fit_from, "
                                     "agents, replications, seed, offset, max_evaluations)")])
    try:
        spec = _FileWithBlock.model_validate({CALIBRATION_KEY: raw}).calibration
    except ValidationError as exc:
        raise ScenarioError(validation_problems(located, exc, _FileWithBlock)) from None
    spec = spec.model_copy(update={k: v for k, v in (("agents", agents), ("seed", seed)) if v is not None})
    base = scenario.model_dump(mode="json")
    written = spec.parameters
    if written is None:
        written = {dotted(INTERCEPT + (code,)): Bounds(min=DEFAULT_INTERCEPT_BOUNDS[0], max=DEFAULT_INTERCEPT_BOUNDS[1])
                   for code in scenario.origins}
    parameters, problems = [], []
    for name, bounds in written.items():
        at = (CALIBRATION_KEY, "parameters", name)
        parts = parse_path(name)
        if parts is None or parts[0] != "behaviour":
            problems.append((at, "calibration fits behavioural parameters: a path such as "
                             "behaviour.hazard.intercept.VEN or behaviour.hazard.network"))
            continue
        message = check_path(base, parts)
        if message:
            problems.append((at, message))
            continue
        value = _value_at(base, parts)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            problems.append((at, f"calibration fits numbers; {name} is {value!r}"))
            continue
        if not bounds.min < bounds.max:
            problems.append((at + ("max",), f"max ({bounds.max:g}) must be greater than min ({bounds.min:g})"))
            continue
        origin = parts[3] if parts[:3] == INTERCEPT and len(parts) == 4 else None
        if origin is not None and origin not in scenario.origins:
            problems.append((at, f"{origin} is not a simulated origin (origins: {', '.join(scenario.origins)})"))
            continue
        bad = [(side, text) for side in ("min", "max") for text in _invalid(base, parts, getattr(bounds, side))]
        if bad:
            problems += [(at + (side,), text) for side, text in bad]
            continue
        step = bounds.step or (INTERCEPT_STEP if origin else RELATIVE_STEP * (bounds.max - bounds.min))
        start = float(np.clip(value, bounds.min, bounds.max))
        parameters.append(FreeParameter(name, parts, start, bounds.min, bounds.max, step, origin))
    if spec.fit_from is not None and parse_month(spec.fit_from) < parse_month(scenario.start):
        problems.append(((CALIBRATION_KEY, "fit_from"), f"{spec.fit_from} is before the scenario's first reported "
                         f"month {scenario.start}"))
    if problems:
        raise ScenarioError(problems_from_paths(located, problems))
    return CalibrationSetup(Path(path), scenario, spec, parameters, block is not None, located)


def _value_at(data, parts: tuple):
    for part in parts:
        data = data[part]
    return data


def _invalid(base: dict, parts: tuple, value: float) -> list[str]:
    """Why the scenario with ``value`` at ``parts`` is not valid (empty when it is)."""
    from .sweep.design import apply_values

    try:
        Scenario.model_validate(apply_values(base, [(parts, value)]))
    except ValidationError as exc:
        return [f"{value:g} is outside the parameter's range: " + e["msg"].removeprefix("Value error, ")
                for e in exc.errors()]
    return []


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
        from .world import build_world

        s, spec = self.setup.scenario, self.setup.spec
        self.scenario = s.with_overrides(months=len(self.months), agents=spec.agents, replications=spec.replications,
                                         seed=self.setup.seed)
        self.world = build_world(self.scenario)
        self.base = self.scenario.model_dump(mode="json")
        self.seeds = [replicate_seed(self.scenario.seed, r) for r in range(spec.replications)]
        self.nationalities = list(self.observed.columns)
        self.columns = [list(self.world.origins).index(n) for n in self.nationalities]
        self.rows = [self.months.index(m) for m in self.observed.index]
        self._cache: dict[bytes, np.ndarray] = {}

    def scenario_at(self, x) -> Scenario:
        """The scenario with the free parameters set to ``x``."""
        from .sweep.design import apply_values

        values = [(p.parts, float(v)) for p, v in zip(self.setup.parameters, x)]
        return Scenario.model_validate(apply_values(self.base, values))

    def simulate(self, points: list[np.ndarray]) -> None:
        """Run every point not yet run (all replications, one engine batch per ~4 million agents)."""
        from .engine import simulate
        from .inputs import compile_inputs

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
              seed: int | None = None, report=None) -> Fit:
    """Fit the free parameters of a scenario file to observed encounters of ``fit_from .. until``.

    ``report`` (optional) is called with each ``Evaluation`` as it is made. Raises
    ``ScenarioError`` for a bad scenario file or block, ``ObservedDataError`` for a bad
    observed file or months it lacks.
    """
    from scipy.optimize import least_squares

    from .validate import ObservedDataError

    clock = time.perf_counter()
    setup = load_calibration(scenario_path, agents=agents, seed=seed)
    observed = load_observed(observed_path)
    file = str(observed_path)
    until = _month(until, "--until")
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


def _month(text: str, option: str) -> str:
    from .validate import ObservedDataError

    try:
        return format_month(parse_month(text))
    except ValueError:
        raise ObservedDataError([Problem("command line", None, option,
                                         f"expected a month as YYYY-MM, got {text!r}")]) from None


# ---------------------------------------------------------------- writing

def report_path(out: str | Path) -> Path:
    """The fit report written beside a calibrated scenario: ``calibrated.yaml`` -> ``calibrated.fit.json``."""
    out = Path(out)
    return out.with_name(out.stem + ".fit.json")


def fit_report(fit: Fit, out: Path, command: str) -> dict:
    """The content of the fit report (JSON)."""
    from .outcomes import git_commit, package_version

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
    return "\n".join(header) + "\n" + buffer.getvalue()


def _name_ok(text: str) -> bool:
    import re

    return bool(re.match(NAME_PATTERN, text))


def write_calibrated(fit: Fit, out: str | Path, command: str) -> tuple[Path, Path]:
    """Write the calibrated scenario and its report (``<out stem>.fit.json``); each appears whole or not at all.

    The written scenario is read back and validated before this returns.
    """
    from .outcomes import atomic_write_bytes

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    report = report_path(out)
    text = json.dumps(json_ready(fit_report(fit, out, command)), indent=2, allow_nan=False)
    atomic_write_bytes(report, text.encode())
    atomic_write_bytes(out, calibrated_yaml(fit, out, command).encode())
    read_scenario(out)
    return out, report


# ---------------------------------------------------------------- command line

def month_argument(text: str) -> str:
    """argparse type of a ``YYYY-MM`` option (normalised, e.g. 2021-9 -> 2021-09)."""
    import argparse

    try:
        return format_month(parse_month(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a month as YYYY-MM, got {text!r}") from None


def add_observed_argument(parser) -> None:
    """``--observed FILE``, shared by ``calibrate`` and ``validate``."""
    parser.add_argument("--observed", type=Path, required=True, metavar="FILE",
                        help="observed encounters, CBP layout: month, citizenship, encounters (other columns ignored)")


def add_subcommand(sub, positive) -> None:
    """Add ``calibrate`` to the ``migsim`` subcommand parsers (``positive``: type of whole numbers >= 1)."""
    parser = sub.add_parser(
        "calibrate", help="fit behavioural parameters to observed encounters by nationality",
        description="Fit the free parameters named in the file's calibration: block (default: the origin intercepts "
        "behaviour.hazard.intercept.<ISO3>) to observed monthly encounters by nationality, by least squares on log "
        "errors with common random numbers; write a scenario that extends the input with the fitted values, and a "
        "report of the fit (<out stem>.fit.json). Exit code 2 for bad input.")
    parser.add_argument("scenario", type=Path, help="scenario YAML file (may hold a calibration: block)")
    add_observed_argument(parser)
    parser.add_argument("--until", type=month_argument, required=True, metavar="YYYY-MM",
                        help="last month fitted (the fit window ends here)")
    parser.add_argument("--out", type=Path, required=True, metavar="FILE", help="calibrated scenario to write (YAML)")
    parser.add_argument("--seed", type=int, help="random seed (overrides the block and the scenario)")
    parser.add_argument("--agents", type=positive, metavar="N",
                        help="agents per run (overrides the block and the scenario)")
    parser.add_argument("--quiet", action="store_true", help="no progress or summary")
    parser.set_defaults(handler=cmd_calibrate)


def command_line(args) -> str:
    """The ``migsim calibrate`` command that reproduces a calibration (as the user wrote its paths)."""
    parts = ["migsim", "calibrate", str(args.scenario), "--observed", str(args.observed), "--until", args.until,
             "--out", str(args.out)]
    if args.seed is not None:
        parts += ["--seed", str(args.seed)]
    if args.agents is not None:
        parts += ["--agents", str(args.agents)]
    return " ".join(parts)


def cmd_calibrate(args) -> int:
    """``migsim calibrate``: fit, write the calibrated scenario and report, print a summary."""
    console, report = None, None
    if not args.quiet:
        from rich.console import Console

        console, seen = Console(), []

        def report(e: Evaluation) -> None:
            seen.append(e)
            console.print(f"evaluation {len(seen)}: objective {e.objective:,.3f}, ARD in the fit window {e.ard:.3f}")
    fit = calibrate(args.scenario, args.observed, args.until, agents=args.agents, seed=args.seed, report=report)
    out, report_file = write_calibrated(fit, args.out, command_line(args))
    if console is not None:
        print_fit(fit, out, report_file, console)
    return 0


def print_fit(fit: Fit, out: Path, report_file: Path, console) -> None:
    """Print the fitted parameters and the fit in the window."""
    from rich.table import Table

    start, fitted = fit.scores(fit.start), fit.scores(fit.fitted)
    table = Table(title=f"calibration of {fit.setup.scenario.name}: fit window {fit.fit_window[0]} .. "
                  f"{fit.fit_window[-1]}, {fit.objective.scenario.agents:,} agents x {len(fit.objective.seeds)} "
                  "replication(s)")
    for name, justify in (("parameter", "left"), ("bounds", "right"), ("start", "right"), ("fitted", "right")):
        table.add_column(name, justify=justify)
    for p, v in zip(fit.setup.parameters, fit.fitted):
        table.add_row(p.name, f"[{p.low:g}, {p.high:g}]", f"{p.start:.3f}", f"{v:.3f}")
    console.print(table)
    console.print(f"objective {start['objective']:,.3f} -> {fitted['objective']:,.3f}; ARD in the fit window "
                  f"{start['ard']:.3f} -> {fitted['ard']:.3f}; {fit.optimizer['evaluations']} evaluations, "
                  f"{fit.objective.runs} runs, {fit.runtime_s:.0f} s")
    console.print(f"calibrated scenario written to [bold]{out}[/bold], report to [bold]{report_file}[/bold]")


__all__ = ["calibrate", "load_calibration", "write_calibrated", "CalibrationSpec", "Bounds", "FreeParameter",
           "Objective", "Fit", "Evaluation", "cmd_calibrate", "report_path", "add_subcommand"]
