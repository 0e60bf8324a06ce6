"""Designs of a sweep: lever and uncertainty points, their runs, seeds and run ids.

Each group (levers, uncertainties) has its own design: ``grid`` (every combination of
the listed values), ``zip`` (the i-th values together), or a sample drawn with SALib in
the unit hypercube (``lhs``, ``sobol``, ``morris``) and mapped to each parameter's
distribution through its quantile function. With ``combine: cross`` every lever point
(policy) is run under every uncertainty point (future).

Identity and seeds never depend on a run's position, batch or worker:

- a run's seed derives from the sweep seed and its replicate number (``random_numbers:
  common``, the default: every point of replicate r meets the same draws, so differences
  between points are differences of parameters, not of luck), plus the values of its
  uncertainties (``per_future``: policies share the draws of each future) or of all its
  parameters (``per_point``);
- a run's id is a hash of the base scenario, the run's parameter values and its seed.
"""
from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ...core.errors import Problem, ScenarioError
from ...core.paths import apply_values, parse_path
from ...core.random import replicate_seed
from ...core.scenario import Scenario, check_world_references, data_path
from ...core.yamlio import dotted
from .spec import SWEEP_KEY, Choice, Group, LogUniform, Normal, SweepFile, Triangular, Uniform

# scenario fields that change the World or the month axis: runs differing in them are batched apart
WORLD_FIELDS = ("agents", "agent_allocation", "origins", "world", "start", "months", "warmup_months")
MOVERS_FIELDS = ("behaviour",)  # agent_allocation: movers also reads the behaviour (sim/core/allocation.py)
NORMAL_TAIL = 0.001          # unbounded normals: unit coordinates are kept within [0.1 %, 99.9 %]
RUN_COLUMNS = ["run_id", "point", "policy", "future", "replicate", "seed"]


@dataclass(frozen=True, eq=False)
class Parameter:
    """One swept parameter: its path in the scenario, its group and distribution."""

    path: str                # as written in the file
    parts: tuple             # parsed key path
    group: str               # levers | uncertainties
    dist: Any                # a spec distribution
    whole: bool              # the scenario holds a whole number here: draws are rounded


@dataclass
class GroupPoints:
    """The points of one group: values in parameter order, and unit coordinates of sampled designs."""

    name: str
    group: Group
    parameters: list[Parameter]
    values: list[tuple]
    unit: np.ndarray | None

    def __len__(self) -> int:
        return len(self.values)

    def problem(self) -> dict:
        """The SALib problem of a sampled design (unit bounds: draws are mapped afterwards)."""
        return {"num_vars": len(self.parameters), "names": [p.path for p in self.parameters],
                "bounds": [[0.0, 1.0]] * len(self.parameters)}


@dataclass
class Design:
    """Every run of a sweep: points (policy x future), replicates, seeds, run ids and batching keys."""

    sweep: SweepFile
    base: dict                          # the resolved base scenario as JSON data
    parameters: list[Parameter]
    levers: GroupPoints | None
    uncertainties: GroupPoints | None
    points: list[tuple[int, int]]       # (policy, future) of each point
    runs: pd.DataFrame                  # RUN_COLUMNS + one column per parameter + world (batching key)

    def point_values(self, point: int) -> tuple[tuple[tuple, Any], ...]:
        """(key path, value) pairs a point sets in the base scenario."""
        policy, future = self.points[point]
        out = []
        for group, index in ((self.levers, policy), (self.uncertainties, future)):
            if group is not None:
                out += [(p.parts, v) for p, v in zip(group.parameters, group.values[index])]
        return tuple(out)

    def sha256(self) -> str:
        """Hash of the design: the run ids in order."""
        return hashlib.sha256("\n".join(self.runs.run_id).encode()).hexdigest()


def stable_hash(value: Any) -> str:
    """SHA-256 (hex) of JSON data with sorted keys."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


# ---------------------------------------------------------------- drawing

def to_value(dist, u: np.ndarray, whole: bool) -> list:
    """Map unit coordinates ``u`` (0..1) to values of ``dist`` through its quantile function."""
    from scipy import stats

    u = np.asarray(u, dtype=float)
    if isinstance(dist, Choice):
        k = len(dist.values)
        return [dist.values[i] for i in np.minimum((u * k).astype(int), k - 1)]
    if isinstance(dist, Uniform):
        x = dist.low + u * (dist.high - dist.low)
    elif isinstance(dist, LogUniform):
        x = np.exp(np.log(dist.low) + u * (np.log(dist.high) - np.log(dist.low)))
    elif isinstance(dist, Triangular):
        width = dist.high - dist.low
        x = stats.triang.ppf(u, (dist.mode - dist.low) / width, loc=dist.low, scale=width)
    elif isinstance(dist, Normal):
        if dist.low is None and dist.high is None:
            x = stats.norm.ppf(np.clip(u, NORMAL_TAIL, 1 - NORMAL_TAIL), loc=dist.mean, scale=dist.sd)
        else:
            a = -np.inf if dist.low is None else (dist.low - dist.mean) / dist.sd
            b = np.inf if dist.high is None else (dist.high - dist.mean) / dist.sd
            x = stats.truncnorm.ppf(np.clip(u, 0 if np.isfinite(a) else NORMAL_TAIL,
                                            1 if np.isfinite(b) else 1 - NORMAL_TAIL), a, b,
                                    loc=dist.mean, scale=dist.sd)
    else:  # pragma: no cover - the schema admits no other distribution
        raise TypeError(f"unknown distribution {dist!r}")
    return [int(round(v)) for v in x] if whole else [float(v) for v in x]


def unit_sample(group: Group, seed: int) -> np.ndarray:
    """Unit-hypercube sample of a sampled design (SALib), shape (points, parameters)."""
    from SALib.sample import latin, morris, sobol

    d = len(group.parameters)
    problem = {"num_vars": d, "names": list(group.parameters), "bounds": [[0.0, 1.0]] * d}
    if group.design == "lhs":
        return latin.sample(problem, group.samples, seed=seed)
    if group.design == "sobol":
        return sobol.sample(problem, group.samples, calc_second_order=group.second_order, seed=seed)
    if group.design == "morris":
        return morris.sample(problem, group.samples, num_levels=group.levels, seed=seed)
    raise ValueError(f"{group.design} is not a sampled design")


def group_points(name: str, group: Group, parameters: list[Parameter], seed: int) -> GroupPoints:
    """Draw the points of one group."""
    if group.design == "grid":
        values = list(itertools.product(*[p.dist.values for p in parameters]))
        return GroupPoints(name, group, parameters, values, None)
    if group.design == "zip":
        values = list(zip(*[p.dist.values for p in parameters]))
        return GroupPoints(name, group, parameters, values, None)
    unit = unit_sample(group, int(stable_hash([seed, name])[:8], 16))
    columns = [to_value(p.dist, unit[:, j], p.whole) for j, p in enumerate(parameters)]
    return GroupPoints(name, group, parameters, list(zip(*columns)), unit)


# ---------------------------------------------------------------- the design

def build_design(sweep: SweepFile, check: bool = True) -> Design:
    """Draw every point, check each against the scenario schema, and list the runs with seeds and ids.

    Raises ``ScenarioError`` (located at the parameter) when a value would make the
    scenario invalid, e.g. a probability above 1.
    """
    base = sweep.base.model_dump(mode="json")
    groups: dict[str, GroupPoints] = {}
    parameters: list[Parameter] = []
    for name, group in sweep.groups():
        params = []
        for path, dist in group.parameters.items():
            parts = parse_path(path)
            params.append(Parameter(path, parts, name, dist, _is_whole(base, parts)))
        groups[name] = group_points(name, group, params, sweep.seed)
        parameters += params
    if check:
        problems = []
        for points in groups.values():
            problems += _check_points(sweep, base, points)
        if problems:
            raise ScenarioError(problems)
    levers, futures = groups.get("levers"), groups.get("uncertainties")
    n_policies, n_futures = (len(levers) if levers else 1), (len(futures) if futures else 1)
    if sweep.spec.combine == "zip" and levers and futures:
        points = [(i, i) for i in range(n_policies)]
    else:
        points = [(p, f) for p in range(n_policies) for f in range(n_futures)]
    design = Design(sweep, base, parameters, levers, futures, points, pd.DataFrame())
    design.runs = _runs_table(design)
    return design


def _is_whole(base: dict, parts: tuple) -> bool:
    node: Any = base
    for part in parts:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return False
    return isinstance(node, int) and not isinstance(node, bool)


def _check_points(sweep: SweepFile, base: dict, points: GroupPoints) -> list[Problem]:
    """Validate the base scenario with each point of one group; one problem per parameter at most."""
    from pydantic import ValidationError

    found: dict[tuple, Problem] = {}
    at = (SWEEP_KEY, points.name, "parameters")
    for index, values in enumerate(points.values):
        pairs = [(p.parts, v) for p, v in zip(points.parameters, values)]
        data = apply_values(base, pairs)
        issues: list[tuple[tuple, str]] = []
        try:
            scenario = Scenario.model_validate(data)
        except ValidationError as exc:
            issues = [(data_path(data, e["loc"]), e["msg"].removeprefix("Value error, ")) for e in exc.errors()]
        else:
            issues = check_world_references(scenario)
        for path, message in issues:
            param = _owner(points.parameters, tuple(path))
            key = at + ((param.path,) if param else ())
            if key in found:
                continue
            shown = ", ".join(f"{p.path}={v!r}" for p, v in zip(points.parameters, values))
            value = values[points.parameters.index(param)] if param else None
            what = f"value {value!r}" if param else f"point {index} ({shown})"
            file, line = sweep.where(key)
            found[key] = Problem(file, line, dotted(key), f"{what} makes the scenario invalid: "
                                 f"{dotted(tuple(path))}: {message}")
    return list(found.values())


def _owner(parameters: list[Parameter], path: tuple) -> Parameter | None:
    """The parameter whose path is a prefix of ``path`` (or lies under it), longest first."""
    best, length = None, -1
    for p in parameters:
        n = min(len(p.parts), len(path))
        if p.parts[:n] == path[:n] and n > length:
            best, length = p, n
    return best


def _runs_table(design: Design) -> pd.DataFrame:
    """One row per (point, replicate): ids, seeds, parameter values and the batching key."""
    sweep, base = design.sweep, design.base
    base_digest = sweep.base.digest()
    reps = sweep.replications
    mode = sweep.spec.random_numbers
    stream_seeds: dict[tuple, int] = {}
    touches_world = any(p.parts[0] in WORLD_FIELDS + MOVERS_FIELDS for p in design.parameters)
    base_world = world_key(base)
    rows: dict[str, list] = {c: [] for c in RUN_COLUMNS + [p.path for p in design.parameters] + ["world"]}
    for point, (policy, future) in enumerate(design.points):
        pairs = design.point_values(point)
        named = sorted((dotted(parts), v) for parts, v in pairs)
        if mode == "common":
            identity: list = []
        elif mode == "per_future":
            values = design.uncertainties.values[future] if design.uncertainties else ()
            identity = sorted((p.path, v) for p, v in zip(design.uncertainties.parameters, values)) \
                if design.uncertainties else []
        else:
            identity = named
        key = (mode, json.dumps(identity, sort_keys=True, default=str))
        if key not in stream_seeds:
            stream_seeds[key] = int(stable_hash([sweep.seed, identity])[:16], 16) >> 1
        if touches_world:
            data = apply_values(base, pairs)
            world = world_key(data)
        else:
            world = base_world
        for replicate in range(reps):
            seed = replicate_seed(stream_seeds[key], replicate)
            rows["run_id"].append(stable_hash([base_digest, named, seed])[:16])
            rows["point"].append(point)
            rows["policy"].append(policy)
            rows["future"].append(future)
            rows["replicate"].append(replicate)
            rows["seed"].append(seed)
            for p, (_, v) in zip(design.parameters, pairs):
                rows[p.path].append(v)
            rows["world"].append(world)
    frame = pd.DataFrame({c: (_column(v) if c not in RUN_COLUMNS + ["world"] else v) for c, v in rows.items()})
    for c in ("point", "policy", "future", "replicate", "seed"):
        frame[c] = frame[c].astype(np.int64)
    return frame


def world_key(data: dict) -> str:
    """Key of the World a point's runs share (and are batched by): the fields the World is built from."""
    fields = WORLD_FIELDS + (MOVERS_FIELDS if data.get("agent_allocation") == "movers" else ())
    return stable_hash({k: data[k] for k in fields})[:16]


def _column(values: list) -> Any:
    """A parameter column: numbers stay numbers, strings stay strings, anything else is JSON text."""
    if all(isinstance(v, bool) for v in values):
        return pd.array(values, dtype="boolean") if values else values
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return np.array(values, dtype=np.int64)
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return np.array(values, dtype=np.float64)
    if all(isinstance(v, str) for v in values):
        return values
    return [json.dumps(v, sort_keys=True) for v in values]


def describe(design: Design) -> dict:
    """The design as JSON data for the manifest: groups, designs, parameters, sizes."""
    out: dict[str, Any] = {"combine": design.sweep.spec.combine, "replications": design.sweep.replications,
                           "points": len(design.points), "runs": int(len(design.runs)), "groups": {}}
    for points in (design.levers, design.uncertainties):
        if points is None:
            continue
        out["groups"][points.name] = {
            **points.group.model_dump(mode="json", exclude={"parameters"}),
            "points": len(points),
            "parameters": {p.path: p.dist.model_dump(mode="json") for p in points.parameters}}
    return out


def unit_frame(design: Design) -> pd.DataFrame:
    """Unit-hypercube coordinates of sampled groups (long table: group, index, parameter, u) for analysis."""
    parts = []
    for points in (design.levers, design.uncertainties):
        if points is None or points.unit is None:
            continue
        n, d = points.unit.shape
        parts.append(pd.DataFrame({"group": points.name, "index": np.repeat(np.arange(n), d),
                                   "parameter": np.tile([p.path for p in points.parameters], n),
                                   "u": points.unit.ravel()}))
    if not parts:
        return pd.DataFrame({"group": pd.Series(dtype=str), "index": pd.Series(dtype=np.int64),
                             "parameter": pd.Series(dtype=str), "u": pd.Series(dtype=float)})
    return pd.concat(parts, ignore_index=True)

