"""Scenario files: the pydantic schema, loading with ``extends``, and clear errors.

``load_scenario(path)`` returns a validated ``Scenario`` or raises ``ScenarioError``
with one problem per mistake: the file, the line, the key path and what was expected.
"""
from __future__ import annotations

import difflib
import hashlib
import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StrictInt, ValidationError, ValidationInfo, field_validator

from .countries import ORIGINS, TRANSIT_COUNTRIES, VISA_COUNTRIES
from .errors import Problem, ScenarioError
from .network import RouteGraph, load_route_graph
from .parameters import Behaviour, Strict
from .policies import MONTH_PATTERN, EndAfterStart, Month, Policy
from .salvage import salvage, untouched
from .yamlio import Located, dotted, load_with_extends, problems_from_paths

SCHEMA_VERSION = 1
FIRST_DATA_MONTH = "2015-01"
LAST_INPUT_MONTH = "2035-12"
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$"
PATTERN_MESSAGES = {
    NAME_PATTERN: "a name is 1-100 letters, digits, '_', '-' or '.', starting with a letter or digit: "
                  "it names a folder inside the results folder, so it cannot hold '/' or start with '.'",
    MONTH_PATTERN: "expected a month written YYYY-MM, e.g. 2023-07",
}
Driver = Literal["inflation", "violence", "repression"]


class DriverChange(EndAfterStart):
    """A change to one driver of one origin (or all): a step, a ramp or a schedule of values."""

    origin: str = Field(description="ISO3 origin, or ALL")
    driver: Driver = Field(description="inflation (%), violence (homicides per 100,000) or repression (0-100)")
    kind: Literal["step", "ramp", "schedule"]
    start: Month | None = Field(None, description="step/ramp: first month of the change")
    end: Month | None = Field(None, description="ramp: month the full change is reached")
    change: float | None = Field(None, ge=-1, le=1000, title="relative change (0.3 = +30 %)",
                                 description="step/ramp: relative change (0.5 = +50 %, -0.3 = -30 %)")
    values: dict[Month, float] | None = Field(None,
                                              description="schedule: absolute values by month, interpolated between")

    def model_post_init(self, _context: Any) -> None:
        needs = {"step": ("start", "change"), "ramp": ("start", "end", "change"), "schedule": ("values",)}[self.kind]
        missing = [n for n in needs if getattr(self, n) is None]
        if missing:
            raise ValueError(f"a {self.kind} needs {', '.join(missing)}")
        if self.values is not None and any(v < 0 for v in self.values.values()):
            raise ValueError("driver values cannot be negative")

    @field_validator("values")
    @classmethod
    def _schedule_not_empty(cls, values: dict | None) -> dict | None:
        if values is not None and not values:
            raise ValueError("a schedule needs at least one 'YYYY-MM: value' entry")
        return values


class EdgeOverride(Strict):
    """New values for one edge of the route network (unset fields keep their defaults)."""

    travel_months: float | None = Field(None, gt=0, le=12, title="travel time (months)", description="months")
    cost_usd: float | None = Field(None, ge=0, le=1e6, title="cost (USD per person)", description="USD per person")
    death_risk: float | None = Field(None, ge=0, le=1, title="death risk (per crossing)",
                                     description="probability per crossing")


class World(Strict):
    """Overrides of the shipped world data."""

    population: dict[str, Annotated[float, Field(gt=0, le=2e9)]] = Field(
        default_factory=dict, title="population (persons)", description="persons, by ISO3 origin")
    diaspora: dict[str, Annotated[float, Field(ge=0, le=1e9)]] = Field(
        default_factory=dict, title="diaspora in the US (persons)", description="persons born there living in the US")
    gdp_per_capita_usd: dict[str, Annotated[float, Field(gt=0, le=1e6)]] = Field(
        default_factory=dict, title="GDP per head (USD per year, PPP)", description="USD per person per year (PPP)")
    edges: dict[str, EdgeOverride] = Field(default_factory=dict, title="route edges", description="by 'FROM->TO'")
    border_death_risk: float | None = Field(None, ge=0, le=1, title="death risk of a border crossing",
                                            description="probability of death per crossing attempt")


class Scenario(Strict):
    """A complete, validated scenario."""

    schema_version: Literal[1] = Field(description="version of this file format (1)")
    name: str = Field(pattern=NAME_PATTERN, description="letters, digits, '_', '-', '.'; names the results folder")
    description: str = ""
    start: Month = Field("2023-01", description="first reported month")
    months: StrictInt = Field(36, ge=1, le=600, description="months reported")
    warmup_months: StrictInt = Field(6, ge=0, le=120,
                                     description="months simulated before start under start conditions, not reported")
    origins: list[str] = Field(default_factory=lambda: list(ORIGINS), min_length=1, description="origins simulated")
    agents: StrictInt = Field(200_000, ge=1, le=10**13, description="agents in the sample (all origins; at least "
                              "one per origin)")
    agent_allocation: Literal["proportional", "sqrt", "equal", "movers"] = Field(
        "sqrt", description="how agents are shared among origins: by population, its square root, equally, or "
        "where people move (population x the spread of who leaves within the horizon: sim/core/allocation.py)")
    replications: StrictInt = Field(5, ge=1, le=100_000)
    seed: StrictInt = Field(12345, ge=0, lt=2**63)
    world: World = Field(default_factory=World)
    drivers: dict[str, DriverChange] = Field(default_factory=dict, description="named driver changes (uncertainties)")
    behaviour: Behaviour = Field(default_factory=Behaviour)
    policies: dict[str, Policy] = Field(default_factory=dict, description="named policy blocks (levers)")

    @field_validator("agents")
    @classmethod
    def _an_agent_per_origin(cls, value: int, info: ValidationInfo) -> int:
        origins = info.data.get("origins")                 # validated before agents (field order)
        if origins and value < len(origins):
            raise ValueError(f"at least one agent per simulated origin is needed: this scenario simulates "
                             f"{len(origins)} origins ({', '.join(origins)}), so agents must be {len(origins)} or "
                             f"more (got {value})")
        return value

    @field_validator("start")
    @classmethod
    def _start_in_data(cls, value: str) -> str:
        if not FIRST_DATA_MONTH <= value <= LAST_INPUT_MONTH:
            raise ValueError(f"start must be between {FIRST_DATA_MONTH} (the first year of driver data) "
                             f"and {LAST_INPUT_MONTH}, got {value}")
        return value

    def digest(self) -> str:
        """SHA-256 of the resolved scenario (hex), the identity used in provenance."""
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()

    def canonical_json(self) -> str:
        """The resolved scenario as JSON with sorted keys."""
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))

    def to_yaml(self) -> str:
        """The resolved scenario as YAML text: what a run writes as ``scenario.yaml`` (it loads again)."""
        from .resolved import resolved_yaml

        return resolved_yaml(self.model_dump(mode="json"))

    def with_overrides(self, **changes: Any) -> Scenario:
        """Return a validated copy with top-level fields replaced (e.g. agents=1000)."""
        data = self.model_dump(mode="json")
        data.update({k: v for k, v in changes.items() if v is not None})
        try:
            return Scenario.model_validate(data)
        except ValidationError as exc:
            raise ScenarioError([Problem("command line", None, f"--{'.'.join(map(str, e['loc']))}",
                                         _override_message(e)) for e in exc.errors()]) from None


def _override_message(error: Any) -> str:
    """A validation error of a command-line override in plain words, with the value given."""
    message = error["msg"].removeprefix("Value error, ")
    return message if "(got " in message else f"{message} (got {error.get('input')!r})"


# ---------------------------------------------------------------- loading

def load_scenario(path: str | Path) -> Scenario:
    """Read, merge (``extends``) and validate a scenario file; raise ``ScenarioError`` on problems."""
    located = load_with_extends(path)
    if isinstance(located.data, dict) and "baseline" in located.data and "scenarios" in located.data:
        file, line = located.where(("scenarios",))
        raise ScenarioError([Problem(file, line, "scenarios", "this file describes a study (a baseline and "
                                     "scenarios to compare): run it with `migsim compare`")])
    if isinstance(located.data, dict) and "sweep" in located.data:
        file, line = located.where(("sweep",))
        raise ScenarioError([Problem(file, line, "sweep", "this file describes a sweep: run it with "
                                     "`migsim sweep` (or sim.run_sweep), not as a single scenario")])
    return validate_located(located)


def validate_located(located: Located) -> Scenario:
    """Validate merged data as a ``Scenario`` and check its names against the world; raise ``ScenarioError``."""
    try:
        scenario = Scenario.model_validate(located.data)
    except ValidationError as exc:                 # names are checked too, in what the schema accepts: one pass
        problems = _problems_from_validation(located, exc, Scenario)
        salvaged, touched = salvage(located.data, Scenario, data_path)
        if isinstance(salvaged, Scenario):
            problems += problems_from_paths(located, untouched(check_world_references(salvaged), touched))
        raise ScenarioError(in_file_order(problems)) from None
    problems = problems_from_paths(located, check_world_references(scenario)) + _edge_spellings(located)
    if problems:
        raise ScenarioError(problems)
    _check_resolved_size(scenario, located)
    return scenario


def _edge_spellings(located: Located) -> list[Problem]:
    """Two keys of ``world.edges`` that name one edge (they differ only in spaces): both lines named."""
    edges = located.data.get("world", {}).get("edges") if isinstance(located.data, dict) else None
    if not isinstance(edges, dict):
        return []
    first: dict[str, str] = {}
    problems = []
    for name in edges:
        canonical = "->".join(part.strip() for part in str(name).split("->"))
        if canonical in first:
            earlier_file, earlier_line = located.where(("world", "edges", first[canonical]))
            file, line = located.where(("world", "edges", name))
            where = f"line {earlier_line}" if earlier_file == file else f"{earlier_file}:{earlier_line}"
            problems.append(Problem(file, line, f"world.edges.{name}", f"the same edge as '{first[canonical]}' "
                                    f"({where}): write each edge once"))
        else:
            first[canonical] = name
    return problems


def _check_resolved_size(scenario: Scenario, located: Located) -> None:
    """Refuse a scenario whose resolved form (every file it extends merged, aliases expanded) could be too large to
    load again as the ``scenario.yaml`` a run writes (``sim.core.resolved``: bounded without writing it)."""
    from .resolved import resolved_problem

    problem = resolved_problem(scenario.model_dump(mode="json"))
    if problem is not None:
        raise ScenarioError.single(located.file, "with every file it extends merged and every alias expanded, this "
                                   f"scenario's scenario.yaml would hold {problem}: more than a scenario file may "
                                   "hold, so it could not be run again; make it smaller")


def in_file_order(problems: list[Problem]) -> list[Problem]:
    """Problems sorted as they appear: by file (in the order first met), then line (problems without a line first)."""
    files = {f: i for i, f in enumerate(dict.fromkeys(p.file for p in problems))}
    return sorted(problems, key=lambda p: (files[p.file], p.line or 0))


def validation_problems(located: Located, exc: ValidationError, model: type[BaseModel]) -> list[Problem]:
    """Located problems (file, line, key, message) of a validation error of any schema (scenario, study...)."""
    return _problems_from_validation(located, exc, model)


def _problems_from_validation(located: Located, exc: ValidationError, model: type[BaseModel]) -> list[Problem]:
    problems = []
    for err in exc.errors():
        path = data_path(located.data, err["loc"])
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            allowed = allowed_keys(model, located.data, path[:-1])
            close = difflib.get_close_matches(str(path[-1]), allowed, n=1, cutoff=0.6)
            message = "unknown key" + (f"; did you mean '{close[0]}'?" if close else
                                       (f" (expected one of: {', '.join(sorted(allowed))})" if allowed else ""))
        elif err["type"] == "missing":
            message = "required key is missing"
        elif err["type"] == "string_pattern_mismatch" and err.get("ctx", {}).get("pattern") in PATTERN_MESSAGES:
            message = f"{PATTERN_MESSAGES[err['ctx']['pattern']]} (got {err['input']!r:.60})"
        elif err["type"] == "union_tag_not_found":
            message = f"needs a kind: one of {', '.join(_policy_kinds())}"
        elif err["type"] == "union_tag_invalid":
            tags = [t.strip(" '") for t in str(err.get("ctx", {}).get("expected_tags", "")).split(",") if t.strip()]
            got = str(err.get("ctx", {}).get("tag", ""))
            close = difflib.get_close_matches(got, tags, n=1, cutoff=0.6)
            message = f"unknown kind '{got}'" + (f"; did you mean '{close[0]}'?" if close else
                                                 f" (expected one of: {', '.join(tags)})")
        elif err.get("input", "") is None and err["type"] in ("model_type", "dict_type", "model_attributes_type"):
            message = ("is null: no file this one extends defines it, so there is nothing to remove; "
                       "write its fields or delete the line")
        elif "input" in err and err["type"] not in ("union_tag_invalid", "model_type", "dict_type"):
            shown = repr(err["input"])
            if len(shown) < 60 and "got " not in message:
                message += f" (got {shown})"
        file, line = located.where(path)
        problems.append(Problem(file, line, dotted(path), message))
    return problems


def _policy_kinds() -> list[str]:
    """The ``kind`` of every policy block (aid, containment, ...)."""
    from typing import get_args

    union = get_args(Policy)[0]
    return [kind for block in get_args(union) for kind in get_args(block.model_fields["kind"].annotation)]


def data_path(data: Any, loc: tuple) -> tuple:
    """Map a pydantic error location to a key path in the data (dropping union tags)."""
    path: list = []
    node = data
    for part in loc:
        if isinstance(node, dict) and part in node:
            path.append(part)
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            path.append(part)
            node = node[part]
        elif isinstance(node, dict) or isinstance(node, list):
            if isinstance(part, str) and part not in ("aid", "containment", "enforcement", "legal_pathway",
                                                      "visa", "closure") or not isinstance(node, dict):
                path.append(part)
                node = None
    return tuple(path)


def allowed_keys(model: type[BaseModel], data: Any, path: tuple) -> list[str]:
    """Field names accepted at ``path`` (for "did you mean")."""
    from typing import get_args

    current: Any = model
    node = data
    for part in path:
        node = node.get(part) if isinstance(node, dict) else None
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(part))
            if field is None:
                return []
            current = field.annotation
        else:
            args = get_args(current)
            current = args[-1] if args else None
        current = _unwrap(current, node)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _unwrap(annotation: Any, node: Any) -> Any:
    """Reduce Optional/Annotated/Union annotations to the model the data selects."""
    from typing import Annotated as _A
    from typing import get_args, get_origin

    for _ in range(6):
        origin = get_origin(annotation)
        if origin is _A:
            annotation = get_args(annotation)[0]
            continue
        if origin is not None and origin not in (dict, list):
            options = [a for a in get_args(annotation) if a is not type(None)]
            models = [a for a in options if isinstance(a, type) and issubclass(a, BaseModel)]
            kind = node.get("kind") if isinstance(node, dict) else None
            chosen = [m for m in models if "kind" in m.model_fields
                      and kind in get_args(m.model_fields["kind"].annotation)]
            annotation = (chosen or models or options or [None])[0]
            continue
        break
    return annotation


# ---------------------------------------------------------------- references to the world

def check_world_references(scenario: Scenario) -> list[tuple[tuple, str]]:
    """Find names that do not exist in the world (countries, nodes, edges); return (path, message)."""
    graph = load_route_graph()
    problems: list[tuple[tuple, str]] = []

    def country(path: tuple, code: str, allowed: tuple[str, ...], what: str) -> None:
        if code not in allowed:
            close = difflib.get_close_matches(str(code).upper(), allowed, n=1, cutoff=0.5)
            hint = f"; did you mean '{close[0]}'?" if close else f" (expected one of: {', '.join(allowed)})"
            problems.append((path, f"unknown {what} {code!r}{hint}"))

    for i, code in enumerate(scenario.origins):
        country(("origins", i), code, ORIGINS, "origin country")
    if len(set(scenario.origins)) != len(scenario.origins):
        problems.append((("origins",), "origins are listed more than once"))
    for section in ("population", "diaspora", "gdp_per_capita_usd"):
        for code in getattr(scenario.world, section):
            country(("world", section, code), code, ORIGINS, "origin country")
    for code in scenario.behaviour.hazard.intercept:
        country(("behaviour", "hazard", "intercept", code), code, ORIGINS, "origin country")
    for name in scenario.world.edges:
        _check_edge(("world", "edges", name), name, graph, problems)
    for name, change in scenario.drivers.items():
        if change.origin != "ALL":
            country(("drivers", name, "origin"), change.origin, ORIGINS, "origin country")
    for name, policy in scenario.policies.items():
        base = ("policies", name)
        for field in ("origins", "nationalities"):
            for i, code in enumerate(getattr(policy, field, None) or []):
                what = "nationality" if field == "nationalities" else "origin country"
                country((*base, field, i), code, ORIGINS, what)
        if policy.kind == "containment":
            country(base + ("country",), policy.country, TRANSIT_COUNTRIES, "transit country")
        if policy.kind == "visa":
            country(base + ("country",), policy.country, VISA_COUNTRIES, "visa country")
        if policy.kind == "closure":
            for i, edge in enumerate(policy.edges):
                _check_edge(base + ("edges", i), edge, graph, problems)
    return problems


def _check_edge(path: tuple, name: str, graph: RouteGraph, problems: list) -> None:
    parts = [p.strip() for p in str(name).split("->")]
    if len(parts) != 2:
        problems.append((path, f"an edge is written 'FROM->TO', got {name!r}"))
        return
    for node in parts:
        if node not in graph.node_ids:
            close = difflib.get_close_matches(node, graph.node_ids, n=1, cutoff=0.5)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            problems.append((path, f"unknown node {node!r}{hint}"))
            return
    if tuple(parts) not in graph.edge_index:
        problems.append((path, f"there is no route edge {parts[0]}->{parts[1]} in the network"))
