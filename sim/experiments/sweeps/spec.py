"""The ``sweep:`` block of a scenario file: its schema, parameter paths and located errors.

A sweep file is a scenario file (usually one that ``extends`` another) with a ``sweep:``
block. ``load_sweep(path)`` reads it with ``extends``, validates everything but the block
as a ``Scenario`` (the *base* scenario), validates the block against ``SweepSpec`` and
checks every parameter path against the base scenario. Problems are reported like those
of scenario files: ``file:line: key: message``.
"""
from __future__ import annotations

import difflib
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, StrictBool, StrictInt, ValidationError, field_validator

from ...core.errors import Problem, ScenarioError
from ...core.parameters import Strict
from ...core.paths import check_path, parse_path
from ...core.scenario import Scenario, validate_located
from ...core.yamlio import Located, dotted, load_with_extends, problems_from_paths

SWEEP_KEY = "sweep"
DESIGNS = ("grid", "zip", "lhs", "sobol", "morris")
SAMPLED_DESIGNS = ("lhs", "sobol", "morris")
DISTRIBUTIONS = ("uniform", "loguniform", "normal", "triangular", "choice")
GROUPS = ("levers", "uncertainties")
MAX_RUNS = 10_000_000


# ---------------------------------------------------------------- schema

class Uniform(Strict):
    """Uniform between ``low`` and ``high`` (units of the parameter)."""

    distribution: Literal["uniform"]
    low: float
    high: float


class LogUniform(Strict):
    """Uniform in the logarithm between ``low`` and ``high`` (both > 0)."""

    distribution: Literal["loguniform"]
    low: float = Field(gt=0)
    high: float = Field(gt=0)


class Normal(Strict):
    """Normal with ``mean`` and ``sd``; truncated to [``low``, ``high``] when either is given."""

    distribution: Literal["normal"]
    mean: float
    sd: float = Field(gt=0)
    low: float | None = None
    high: float | None = None


class Triangular(Strict):
    """Triangular between ``low`` and ``high`` with its peak at ``mode``."""

    distribution: Literal["triangular"]
    low: float
    mode: float
    high: float


class Choice(Strict):
    """One of the listed ``values`` (all of them, in order, in a grid or zip design)."""

    distribution: Literal["choice"]
    values: list[Any] = Field(min_length=1)


Distribution = Annotated[Uniform | LogUniform | Normal | Triangular | Choice, Field(discriminator="distribution")]


class Group(Strict):
    """Levers or uncertainties: a design and the parameters it sets."""

    design: Literal["grid", "zip", "lhs", "sobol", "morris"] = Field(
        "grid", description="grid (every combination), zip (i-th values together), lhs, sobol or morris (SALib)")
    samples: StrictInt | None = Field(None, ge=1, le=1_000_000, description=(
        "lhs: points; sobol: base samples N (N x (D + 2) points, a power of two); "
        "morris: trajectories (N x (D + 1) points)"))
    levels: StrictInt = Field(4, ge=2, le=100, description="morris: grid levels of each parameter")
    second_order: StrictBool = Field(
        False, description="sobol: also sample for second-order indices (N x (2D + 2) points)")
    parameters: dict[str, Distribution] = Field(min_length=1, description="scenario path -> values or distribution")

    @field_validator("parameters", mode="before")
    @classmethod
    def _values_mean_choice(cls, value: Any) -> Any:
        """``path: [a, b]`` and ``path: {values: [a, b]}`` are choices."""
        if not isinstance(value, dict):
            return value
        out = {}
        for key, item in value.items():
            if isinstance(item, list):
                item = {"distribution": "choice", "values": item}
            elif isinstance(item, dict) and "distribution" not in item and "values" in item:
                item = {"distribution": "choice", **item}
            out[key] = item
        return out


class SweepSpec(Strict):
    """The ``sweep:`` block."""

    seed: StrictInt | None = Field(None, ge=0, lt=2**63, description="seed of the sweep (default: the scenario's seed)")
    replications: StrictInt | None = Field(None, ge=1, le=100_000,
                                           description="runs per point (default: the scenario's)")
    combine: Literal["cross", "zip"] = Field(
        "cross", description="cross: every lever point under every uncertainty point; zip: the i-th with the i-th")
    random_numbers: Literal["common", "per_future", "per_point"] = Field(
        "common", description="common: every point of replicate r meets the same draws; per_future: policies share "
        "the draws of each future; per_point: every point has its own")
    levers: Group | None = Field(None, description="policies we choose")
    uncertainties: Group | None = Field(None, description="what we do not control: behaviour, driver changes")


# ---------------------------------------------------------------- loading

@dataclass
class SweepFile:
    """A validated sweep file: the base scenario, the block, and where each key was written."""

    path: Path
    base: Scenario
    spec: SweepSpec
    located: Located

    @property
    def name(self) -> str:
        """Name of the sweep (the scenario's ``name``)."""
        return self.base.name

    @property
    def seed(self) -> int:
        """Seed of the sweep."""
        return self.base.seed if self.spec.seed is None else self.spec.seed

    @property
    def replications(self) -> int:
        """Runs per point."""
        return self.base.replications if self.spec.replications is None else self.spec.replications

    def groups(self) -> list[tuple[str, Group]]:
        """The groups present, levers first."""
        return [(g, getattr(self.spec, g)) for g in GROUPS if getattr(self.spec, g) is not None]

    def where(self, path: tuple) -> tuple[str, int | None]:
        """(file, line) of a key path of the sweep file."""
        return self.located.where(path)

    def identity(self) -> str:
        """SHA-256 of what the sweep computes: the resolved base scenario and the block (not comments or layout)."""
        text = json.dumps({"base": json.loads(self.base.canonical_json()),
                           "sweep": self.spec.model_dump(mode="json")}, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


def has_sweep_block(located: Located) -> bool:
    """Whether merged file data holds a ``sweep:`` block."""
    return isinstance(located.data, dict) and SWEEP_KEY in located.data


def load_sweep(path: str | Path, agents: int | None = None, months: int | None = None) -> SweepFile:
    """Read and validate a sweep file (with ``extends``); ``agents``/``months`` override the base scenario.

    Raises ``ScenarioError`` with one located problem per mistake. Points are checked
    later, when the design is drawn (``design.build_design``).
    """
    located = load_with_extends(path)
    if not has_sweep_block(located):
        raise ScenarioError([Problem(str(path), None, SWEEP_KEY, "no sweep: block in this file (or the files it "
                                     "extends); `migsim run` runs a plain scenario")])
    block = located.data.pop(SWEEP_KEY)
    base = validate_located(located).with_overrides(agents=agents, months=months)
    sweep_path = (SWEEP_KEY,)
    if not isinstance(block, dict):
        file, line = located.where(sweep_path)
        raise ScenarioError([Problem(file, line, SWEEP_KEY, "expected a mapping with levers and/or uncertainties")])
    try:
        spec = SweepSpec.model_validate(block)
    except ValidationError as exc:
        raise ScenarioError(_problems(located, block, exc)) from None
    located.data[SWEEP_KEY] = block
    sweep = SweepFile(Path(path), base, spec, located)
    problems = problems_from_paths(located, check_spec(sweep))
    if problems:
        raise ScenarioError(problems)
    return sweep


def check_spec(sweep: SweepFile) -> list[tuple[tuple, str]]:
    """Checks across fields of the block: designs, bounds, sizes, paths. Returns (key path, message)."""
    spec, base = sweep.spec, sweep.base.model_dump(mode="json")
    problems: list[tuple[tuple, str]] = []
    groups = sweep.groups()
    if not groups:
        problems.append(((SWEEP_KEY,), "a sweep needs levers, uncertainties or both"))
    seen: dict[tuple, str] = {}
    sizes: dict[str, int] = {}
    for name, group in groups:
        at = (SWEEP_KEY, name)
        sampled = group.design in SAMPLED_DESIGNS
        if sampled and group.samples is None:
            problems.append((at + ("design",), f"a {group.design} design needs samples: (how many to draw)"))
        if not sampled and group.samples is not None:
            problems.append(((*at, "samples"), f"samples is used by lhs, sobol and morris designs, not {group.design}"))
        if group.design == "sobol" and group.samples and group.samples & (group.samples - 1):
            low = 1 << (group.samples.bit_length() - 1)
            problems.append(((*at, "samples"),
                             f"sobol needs a power of two (got {group.samples}; try {low} or {2 * low})"))
        lengths = {}
        for key, dist in group.parameters.items():
            p = at + ("parameters", key)
            parts = parse_path(key)
            if parts is None:
                problems.append((p, "a parameter is a path into the scenario, e.g. policies.aid.budget_usd_per_year "
                                 "or world.edges[COL_NECOCLI->PAN_DARIEN].cost_usd"))
                continue
            if parts in seen:
                problems.append((p, f"set twice (also in sweep.{seen[parts]})"))
            seen[parts] = name
            message = check_path(base, parts)
            if message:
                problems.append((p, message))
            problems += [(p + sub, text) for sub, text in _check_distribution(dist)]
            if not sampled and dist.distribution != "choice":
                problems.append((p, f"a {group.design} design takes lists of values; a {dist.distribution} "
                                 "distribution needs design lhs, sobol or morris"))
            if isinstance(dist, Choice):
                lengths[key] = len(dist.values)
        if group.design == "zip" and len(set(lengths.values())) > 1:
            first = next(iter(lengths))
            for key, n in lengths.items():
                if n != lengths[first]:
                    problems.append((at + ("parameters", key), f"zip needs lists of the same length: this one has {n} "
                                     f"values, {first} has {lengths[first]}"))
        sizes[name] = design_size(group)
    if spec.combine == "zip" and len(sizes) == 2 and len(set(sizes.values())) == 2 and not problems:
        problems.append(((SWEEP_KEY, "combine"), f"zip pairs the i-th lever point with the i-th uncertainty point: "
                         f"levers have {sizes['levers']} points, uncertainties {sizes['uncertainties']}"))
    if not problems and sizes:
        points = _product(sizes.values()) if spec.combine == "cross" else max(sizes.values())
        runs = points * sweep.replications
        if runs > MAX_RUNS:
            problems.append(((SWEEP_KEY,), f"{runs:,} runs ({points:,} points x {sweep.replications} replications); "
                             f"the limit is {MAX_RUNS:,}"))
    return problems


def _check_distribution(dist) -> list[tuple[tuple, str]]:
    """Bounds of one distribution: (sub-path, message)."""
    out = []
    if isinstance(dist, (Uniform, LogUniform, Triangular)) and not dist.low < dist.high:
        out.append((("high",), f"high ({dist.high:g}) must be greater than low ({dist.low:g})"))
    if isinstance(dist, Triangular) and dist.low < dist.high and not dist.low <= dist.mode <= dist.high:
        out.append((("mode",), f"mode ({dist.mode:g}) must lie between low ({dist.low:g}) and high ({dist.high:g})"))
    if isinstance(dist, Normal):
        if dist.low is not None and dist.high is not None and not dist.low < dist.high:
            out.append((("high",), f"high ({dist.high:g}) must be greater than low ({dist.low:g})"))
        for side in ("low", "high"):
            bound = getattr(dist, side)
            if bound is not None and abs(bound - dist.mean) > 10 * dist.sd and (
                    (side == "low") == (bound > dist.mean)):
                out.append(((side,), f"{side} ({bound:g}) leaves almost nothing of a normal with mean {dist.mean:g} "
                            f"and sd {dist.sd:g}"))
    return out


def design_size(group: Group) -> int:
    """Number of points a group's design has."""
    d = len(group.parameters)
    if group.design == "grid":
        return _product(len(p.values) for p in group.parameters.values() if isinstance(p, Choice))
    if group.design == "zip":
        return max((len(p.values) for p in group.parameters.values() if isinstance(p, Choice)), default=0)
    n = group.samples or 0
    if group.design == "lhs":
        return n
    if group.design == "sobol":
        return n * (2 * d + 2 if group.second_order else d + 2)
    return n * (d + 1)


def _product(values) -> int:
    out = 1
    for v in values:
        out *= int(v)
    return out


def _problems(located: Located, block: dict, exc: ValidationError) -> list[Problem]:
    """Located problems of a ``SweepSpec`` validation error."""
    problems = []
    for err in exc.errors():
        path = [SWEEP_KEY]
        node: Any = block
        for part in err["loc"]:
            if isinstance(node, dict) and part in node:
                node = node[part]
                path.append(part)
            elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
                node = node[part]
                path.append(part)
            elif part in DISTRIBUTIONS or not isinstance(node, (dict, list)) or (
                    isinstance(node, list) and not isinstance(part, int)):
                continue                                   # union tags, or keys of a value written as a list
            else:
                path.append(part)
                node = None
        message = err["msg"].removeprefix("Value error, ")
        kind = err["type"]
        if kind == "extra_forbidden":
            allowed = _allowed_in_block(tuple(path[1:-1]), block)
            close = difflib.get_close_matches(str(path[-1]), allowed, n=1, cutoff=0.6)
            message = "unknown key" + (f"; did you mean '{close[0]}'?" if close else
                                       (f" (expected one of: {', '.join(allowed)})" if allowed else ""))
        elif kind == "missing":
            message = "required key is missing"
        elif kind in ("union_tag_not_found", "union_tag_invalid"):
            got = err.get("ctx", {}).get("tag")
            message = (f"unknown distribution {got!r}; " if got else "") + (
                "expected a list of values, {values: [...]}, or distribution: " + " | ".join(DISTRIBUTIONS))
        elif len(path) == 4 and path[2] == "parameters" and not isinstance(node, (dict, list)):
            message = ("expected a list of values, {values: [...]}, or {distribution: "
                       + " | ".join(DISTRIBUTIONS) + ", ...}" + f" (got {node!r})")
        elif kind == "too_short":
            message = "needs at least one value" if path[-1] == "values" or isinstance(node, list) else (
                "needs at least one parameter")
        elif "input" in err and kind not in ("model_type", "dict_type"):
            shown = repr(err["input"])
            if len(shown) < 60:
                message += f" (got {shown})"
        file, line = located.where(tuple(path))
        problems.append(Problem(file, line, dotted(tuple(path)), message))
    return problems


def _allowed_in_block(path: tuple, block: dict) -> list[str]:
    """Keys accepted at ``path`` inside the sweep block (for "did you mean")."""
    if not path:
        return list(SweepSpec.model_fields)
    if len(path) == 1:
        return list(Group.model_fields)
    if len(path) == 3 and path[1] == "parameters":
        node = block.get(path[0], {}).get("parameters", {}).get(path[2])
        kind = node.get("distribution", "choice") if isinstance(node, dict) else "choice"
        model = {"uniform": Uniform, "loguniform": LogUniform, "normal": Normal, "triangular": Triangular,
                 "choice": Choice}.get(kind, Choice)
        return list(model.model_fields)
    return []
