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

from pydantic import Field, StrictInt, ValidationError, ValidationInfo, field_validator

from . import datasets
from .countries import ORIGINS
from .errors import Problem, ScenarioError
from .network import RouteGraph, edge_key, load_route_graph, scenario_graph
from .parameters import Behaviour, Strict
from .policies import EndAfterStart, Month, Policy
from .pools import scenario_pools, shipped_pools
from .salvage import salvage, untouched
from .schema_errors import NAME_PATTERN, data_path, in_file_order, validation_problems
from .stocks import end_year_points
from .yamlio import Located, load_with_extends, problems_from_paths

SCHEMA_VERSION = 1
FIRST_DATA_MONTH = "2015-01"
LAST_INPUT_MONTH = "2035-12"
Driver = Literal["inflation", "violence", "repression", "unrest", "disaster"]


class DriverChange(EndAfterStart):
    """A change to one driver of one country where people live (or all): a step, a ramp or a schedule of values."""

    origin: str = Field(description="ISO3 of a country where a pool lives (an origin or a host), or ALL")
    driver: Driver = Field(description="inflation (%), violence (homicides per 100,000), repression (0-100), "
                                       "unrest (index, log ratio) or disaster (share of the population affected, 0-1)")
    kind: Literal["step", "ramp", "schedule"]
    start: Month | None = Field(None, description="step/ramp: first month of the change")
    end: Month | None = Field(None, description="ramp: month the full change is reached")
    change: float | None = Field(None, ge=-1, le=1000, title="relative change (0.3 = +30 %)",
                                 description="step/ramp: relative change (0.5 = +50 %, -0.3 = -30 %)")
    values: dict[Month, float] | None = Field(None,
                                              description="schedule: absolute values by month, interpolated between")
    note: str = Field("", description="free text: what the change stands for, and its source")

    def model_post_init(self, _context: Any) -> None:
        needs = {"step": ("start", "change"), "ramp": ("start", "end", "change"), "schedule": ("values",)}[self.kind]
        missing = [n for n in needs if getattr(self, n) is None]
        if missing:
            raise ValueError(f"a {self.kind} needs {', '.join(missing)}")
        if self.values is not None and self.driver != "unrest" and any(v < 0 for v in self.values.values()):
            raise ValueError("driver values cannot be negative (only the unrest index, a log ratio, can)")

    @field_validator("values")
    @classmethod
    def _schedule_not_empty(cls, values: dict | None) -> dict | None:
        if values is not None and not values:
            raise ValueError("a schedule needs at least one 'YYYY-MM: value' entry")
        return values


class EdgeOverride(Strict):
    """New values for one edge of the route network (unset fields keep their defaults), or a new
    edge (every field but ``visa_free`` given)."""

    travel_months: float | None = Field(None, gt=0, le=12, title="travel time (months)", description="months")
    cost_usd: float | None = Field(None, ge=0, le=1e6, title="cost (USD per person)", description="USD per person")
    death_risk: float | None = Field(None, ge=0, le=1, title="death risk (per crossing)",
                                     description="probability per crossing")
    mode: Literal["land", "air", "air_land", "sea"] | None = Field(None, title="mode of travel",
                                                                   description="how the leg is travelled")
    visa_free: list[str] | None = Field(None, title="nationalities that may board",
                                        description="air links: the nationalities that may board (ISO3)")


class NodeSpec(Strict):
    """A node added to the route network (or a shipped node's fields changed)."""

    country: str = Field(pattern=r"^[A-Z]{3}$", title="country", description="ISO3 of the country the node is in")
    kind: Literal["origin", "host", "transit"] = Field(description="origin (a home pool), host (pools abroad "
                                                                   "live there) or transit (its country can intercept)")
    name: str = Field("", title="name", description="readable name")


class PoolChange(Strict):
    """A pool of people abroad added, or a shipped pool's fields changed (``sim/data/pools.yaml``)."""

    nationality: str | None = Field(None, title="nationality",
                                    description="ISO3 of the people's nationality (a simulated origin)")
    host: str | None = Field(None, title="host country", description="ISO3 of the country they live in")
    node: str | None = Field(None, title="node they set out from",
                             description="node they set out from (default: the node named like the host)")
    stock: Literal["unhcr"] | dict[int | Month, Annotated[float, Field(ge=0, le=1e9)]] | None = Field(
        None, title="people in the pool (persons)",
        description="persons: 'unhcr' (end-year stocks in sim/data) or a map of year (end-year) or YYYY-MM "
                    "to persons, linear between points")
    scale: float | None = Field(None, ge=0, le=100, title="size of the pool (factor on its stock)",
                                description="factor on the stock (resize a pool)")
    note: str | None = Field(None, title="note", description="what the pool stands for, and its source")


class World(Strict):
    """Overrides of the shipped world data."""

    population: dict[str, Annotated[float, Field(gt=0, le=2e9)]] = Field(
        default_factory=dict, title="population (persons)", description="persons, by ISO3 origin")
    diaspora: dict[str, Annotated[float, Field(ge=0, le=1e9)]] = Field(
        default_factory=dict, title="diaspora in the US (persons)", description="persons born there living in the US")
    gdp_per_capita_usd: dict[str, Annotated[float, Field(gt=0, le=1e6)]] = Field(
        default_factory=dict, title="GDP per head (USD per year, PPP)", description="USD per person per year (PPP)")
    nodes: dict[str, NodeSpec] = Field(default_factory=dict, title="route nodes",
                                       description="nodes added to the route network, by id")
    edges: dict[str, EdgeOverride] = Field(default_factory=dict, title="route edges", description="by 'FROM->TO'")
    pools: dict[str, PoolChange | None] = Field(default_factory=dict, title="pools of people abroad",
                                                description="pools of people abroad, by name: new, changed, or "
                                                "null to remove a shipped one")
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
    """Read, merge (``extends``) and validate a scenario file; raise ``ScenarioError`` on problems.

    A ``calibration:`` block (the free parameters of ``migsim calibrate``) is not part of the
    scenario and is left out here; ``migsim check`` and ``migsim calibrate`` validate it.
    """
    located = load_with_extends(path)
    if isinstance(located.data, dict) and "baseline" in located.data and "scenarios" in located.data:
        file, line = located.where(("scenarios",))
        raise ScenarioError([Problem(file, line, "scenarios", "this file describes a study (a baseline and "
                                     "scenarios to compare): run it with `migsim compare`")])
    if isinstance(located.data, dict) and "sweep" in located.data:
        file, line = located.where(("sweep",))
        raise ScenarioError([Problem(file, line, "sweep", "this file describes a sweep: run it with "
                                     "`migsim sweep` (or sim.run_sweep), not as a single scenario")])
    if isinstance(located.data, dict):
        located.data.pop("calibration", None)        # read by `migsim calibrate` (sim.fitting), not part of a run
    return validate_located(located)


def validate_located(located: Located) -> Scenario:
    """Validate merged data as a ``Scenario`` and check its names against the world; raise ``ScenarioError``."""
    try:
        scenario = Scenario.model_validate(located.data)
    except ValidationError as exc:                 # names are checked too, in what the schema accepts: one pass
        problems = validation_problems(located, exc, Scenario)
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


# ---------------------------------------------------------------- references to the world

def check_world_references(scenario: Scenario) -> list[tuple[tuple, str]]:
    """Find names that do not exist in the world (countries, nodes, edges, pools); return (path, message).

    The world is the shipped network and pools (``sim.core.network``, ``sim.core.pools``) with the
    scenario's additions.
    """
    shipped = load_route_graph()
    problems: list[tuple[tuple, str]] = []

    def country(path: tuple, code: str, allowed: tuple[str, ...], what: str) -> None:
        if code not in allowed:
            close = difflib.get_close_matches(str(code).upper(), allowed, n=1, cutoff=0.5)
            hint = f"; did you mean '{close[0]}'?" if close else f" (expected one of: {', '.join(allowed)})"
            problems.append((path, f"unknown {what} {code!r}{hint}"))

    known_nodes = set(shipped.node_ids) | set(scenario.world.nodes)
    for name, override in scenario.world.edges.items():
        _check_edge(("world", "edges", name), name, known_nodes, shipped, override, problems)
    if problems:                                     # the network itself is broken: stop here
        return problems
    graph = scenario_graph(scenario.world)
    origins = graph.origins
    for i, code in enumerate(scenario.origins):
        country(("origins", i), code, origins, "origin country")
    if len(set(scenario.origins)) != len(scenario.origins):
        problems.append((("origins",), "origins are listed more than once"))
    for section in ("population", "diaspora", "gdp_per_capita_usd"):
        for code in getattr(scenario.world, section):
            country(("world", section, code), code, origins, "origin country")
    data = {"population": set(datasets.population().index), "diaspora": set(datasets.diaspora_stock().index),
            "gdp_per_capita_usd": set(datasets.gdp_per_capita_ppp().index)}
    for code in scenario.origins:
        for section, have in data.items():
            if code in origins and code not in have and code not in getattr(scenario.world, section):
                problems.append((("world", section), f"{code} has no {section.replace('_', ' ')} in the shipped "
                                 f"data: give world.{section}.{code}"))
    for node in scenario.behaviour.transit.node_shares:
        country(("behaviour", "transit", "node_shares", node), node, graph.node_ids, "node")
    for code in scenario.behaviour.hazard.intercept:
        country(("behaviour", "hazard", "intercept", code), code, origins, "origin country")
    for name, pool in scenario.world.pools.items():
        _check_pool(("world", "pools", name), name, pool, graph, problems)
    pools = () if problems else scenario_pools(list(scenario.origins), dict(scenario.world.pools), graph)
    hosts = tuple(p.host for p in pools if p.nationality in origins)
    lived_in = tuple(dict.fromkeys(origins + hosts))
    for name, change in scenario.drivers.items():
        if change.origin == "ALL":
            continue
        if change.driver in ("violence", "repression"):          # drivers of people in their country of birth
            country(("drivers", name, "origin"), change.origin, origins, "origin country")
        else:
            country(("drivers", name, "origin"), change.origin, lived_in, "country where people live")
    for name, policy in scenario.policies.items():
        base = ("policies", name)
        for field in ("origins", "nationalities"):
            for i, code in enumerate(getattr(policy, field, None) or []):
                what = "nationality" if field == "nationalities" else "origin country"
                country((*base, field, i), code, origins, what)
        if policy.kind == "containment":
            country(base + ("country",), policy.country, graph.transit_countries, "transit country")
            own_nodes = tuple(n for n in graph.node_ids if graph.node_country[n] == policy.country)
            for node in policy.node_shares:
                country(base + ("node_shares", node), node, own_nodes, f"node of {policy.country}")
        if policy.kind == "visa":
            country(base + ("country",), policy.country, graph.visa_countries, "visa country")
        if policy.kind == "closure":
            for i, edge in enumerate(policy.edges):
                _check_edge(base + ("edges", i), edge, set(graph.node_ids), graph, None, problems)
    return problems


def _check_pool(path: tuple, name: str, change: PoolChange | None, graph: RouteGraph, problems: list) -> None:
    """A pool abroad: a new one needs nationality, host and stock; names must exist; UNHCR must have the stock."""
    if change is None:
        return
    shipped = {p.name: p for p in shipped_pools()}
    if name not in shipped:
        missing = [f for f in ("nationality", "host", "stock") if getattr(change, f) is None]
        if missing:
            problems.append((path, f"a new pool needs {', '.join(missing)}"))
            return
    base = shipped.get(name)
    nationality = change.nationality or (base.nationality if base is not None else "")
    host = change.host or (base.host if base is not None else "")
    node = change.node or (base.node if base is not None and change.host is None else host)
    if nationality not in graph.origins:
        problems.append((path + ("nationality",), f"unknown nationality {nationality!r} (origins: "
                         f"{', '.join(graph.origins)})"))
    if node not in graph.node_ids or graph.node_kind[node] not in ("origin", "host"):
        problems.append((path + ("node",), f"a pool sets out from an origin or host node of the network; "
                         f"{node!r} is not one (add it under world.nodes)"))
    stock = change.stock if change.stock is not None else (base.stock if base is not None else None)
    if stock == "unhcr":
        try:
            end_year_points(nationality, host)
        except KeyError as missing:
            problems.append((path + ("stock",), f"{missing.args[0]}: give the stock as a map of year to persons"))


def _check_edge(path: tuple, name: str, nodes: set[str], graph: RouteGraph, spec: EdgeOverride | None,
                problems: list) -> None:
    """An edge written 'FROM->TO': both nodes known; it exists, or (``spec`` given) every field of a new one is set."""
    key = edge_key(name)
    if key is None:
        problems.append((path, f"an edge is written 'FROM->TO', got {name!r}"))
        return
    for node in key:
        if node not in nodes:
            close = difflib.get_close_matches(node, sorted(nodes), n=1, cutoff=0.5)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            problems.append((path, f"unknown node {node!r}{hint}"))
            return
    if key in graph.edge_index:
        return
    if spec is None:
        problems.append((path, f"there is no route edge {key[0]}->{key[1]} in the network"))
        return
    missing = [f for f in ("travel_months", "cost_usd", "death_risk", "mode") if getattr(spec, f) is None]
    if missing:
        problems.append((path, f"{key[0]}->{key[1]} is a new edge: it needs {', '.join(missing)}"))
