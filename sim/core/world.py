"""The world: origins and their people, the route network, and the routes through it.

Routes are every directed path in the network from an origin node to ``MEX_NORTH``
(the US border). Movement is month by month: each month a traveller moves to the
farthest node of the route within one month of travel of where they stand (at least
one node), so a route's schedule is fixed by its travel times.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from . import datasets
from .countries import ORIGINS, TRANSIT_COUNTRIES
from .network import BORDER_NODE, Edge, load_route_graph

if TYPE_CHECKING:
    from .scenario import Scenario

MAX_ROUTES_PER_ORIGIN = 16


@dataclass
class World:
    """Everything fixed for a run: origins, people per agent, the network and its routes.

    Arrays are indexed by origin position (``origins``), node position (``node_ids``),
    edge position and route position.
    """

    origins: tuple[str, ...]
    population: np.ndarray            # persons, by origin
    agents_per_origin: np.ndarray     # agents, by origin
    diaspora: np.ndarray              # persons born in the origin living in the US, at start
    gdp_per_capita: np.ndarray        # USD per person per year (PPP)
    node_ids: tuple[str, ...]
    node_country: tuple[str, ...]
    edges: list[Edge]
    border_death_risk: float
    route_nodes: np.ndarray           # (routes, max_len) node positions, -1 padded
    route_length: np.ndarray          # nodes on each route
    route_origin: np.ndarray          # origin position of each route
    route_edges: list[list[int]]      # edge positions along each route
    next_leg: np.ndarray              # (routes, max_len): node index reached after one month
    origin_routes: np.ndarray         # (origins, max routes) route positions, -1 padded
    names: dict[str, str] = field(default_factory=dict)

    @property
    def persons_per_agent(self) -> np.ndarray:
        """Persons each agent stands for, by origin."""
        return self.population / self.agents_per_origin

    @property
    def border(self) -> int:
        """Node position of the US border (MEX_NORTH)."""
        return self.node_ids.index(BORDER_NODE)

    @property
    def origin_nodes(self) -> np.ndarray:
        """Node position of each origin's home node."""
        return np.array([self.node_ids.index(o) for o in self.origins], dtype=np.int16)

    @property
    def agent_origin(self) -> np.ndarray:
        """Origin position of every agent of one run (agents are grouped by origin)."""
        return np.repeat(np.arange(len(self.origins), dtype=np.uint8), self.agents_per_origin)

    def route_label(self, r: int) -> str:
        """Readable name of route ``r``: its nodes joined by '>'."""
        return ">".join(self.node_ids[n] for n in self.route_nodes[r, : self.route_length[r]])


@dataclass(frozen=True)
class RouteTables:
    """Lookup tables of the routes that both engines read (R routes, L nodes per route, C transit countries)."""

    node_transit: np.ndarray      # (nodes,) position of the node's country in TRANSIT_COUNTRIES, -1 elsewhere
    origin_transit: np.ndarray    # (origins,) the origin's position in TRANSIT_COUNTRIES, -2 when it is none
    edge_risk: np.ndarray         # (R, L) death risk of the leg that reaches route position j (0 at j = 0)
    entry_leg: np.ndarray         # (R, C) route position of the first node in each transit country (0: none)
    max_slots: int                # most route positions a traveller can pass in one month
    leg_edge: np.ndarray          # (R, L) exposure leg of the edge that reaches route position j (-1 at j = 0)
    leg_risk: np.ndarray          # (E + 1,) death risk of each exposure leg: the edges, then the border crossing
    leg_node: np.ndarray          # (E + 1,) node where a death on each exposure leg is counted


def route_tables(world: World) -> RouteTables:
    """Build the ``RouteTables`` of a world: who polices which node, leg risks, country entry points."""
    node_transit = np.array([TRANSIT_COUNTRIES.index(c) if c in TRANSIT_COUNTRIES else -1
                             for c in world.node_country])
    R, L = world.route_nodes.shape
    edge_risk = np.zeros((R, L))
    leg_edge = np.full((R, L), -1, dtype=np.int16)
    entry_leg = np.zeros((R, len(TRANSIT_COUNTRIES)), dtype=np.uint8)
    for r, legs in enumerate(world.route_edges):
        edge_risk[r, 1: len(legs) + 1] = [world.edges[e].death_risk for e in legs]
        leg_edge[r, 1: len(legs) + 1] = legs
        for j in range(world.route_length[r] - 1, 0, -1):
            c = node_transit[world.route_nodes[r, j]]
            if c >= 0:
                entry_leg[r, c] = j
    # a traveller is not intercepted by the country of their own nationality
    origin_transit = np.array([TRANSIT_COUNTRIES.index(o) if o in TRANSIT_COUNTRIES else -2 for o in world.origins])
    max_slots = int((world.next_leg - np.arange(L)[None, :]).max())
    leg_risk = np.array([e.death_risk for e in world.edges] + [world.border_death_risk])
    leg_node = np.array([world.node_ids.index(e.target) for e in world.edges] + [world.border], dtype=np.intp)
    return RouteTables(node_transit, origin_transit, edge_risk, entry_leg, max_slots, leg_edge, leg_risk, leg_node)


def allocate_agents(population: np.ndarray, agents: int, method: str, weight: np.ndarray | None = None) -> np.ndarray:
    """Share ``agents`` among origins by population, its square root, equally, or by ``weight`` (method ``movers``:
    ``sim.core.allocation``), by largest remainder and at least one per origin."""
    if method == "movers":
        if weight is None or not np.isfinite(weight).all() or weight.sum() <= 0:
            weight = np.sqrt(population)
    else:
        weight = {"proportional": population, "sqrt": np.sqrt(population), "equal": np.ones_like(population)}[method]
    exact = agents * weight / weight.sum()
    counts = np.floor(exact).astype(np.int64)
    remainder = agents - counts.sum()
    counts[np.argsort(-(exact - counts), kind="stable")[:remainder]] += 1
    return np.maximum(counts, 1)


def build_world(scenario: Scenario, movers_weight: np.ndarray | None = None) -> World:
    """Build the ``World`` of a validated scenario (shipped data plus its overrides).

    ``agent_allocation: movers`` needs the weight of each origin (``sim.core.allocation.sampled_world``
    computes it and builds the world); without it the agents are shared by the square root of population.
    """
    graph = load_route_graph()
    origins = tuple(scenario.origins)
    pop_data, dia_data, gdp_data = datasets.population(), datasets.diaspora_stock(), datasets.gdp_per_capita_ppp()
    w = scenario.world
    population = np.array([w.population.get(o, pop_data[o]) for o in origins], dtype=np.float64)
    diaspora = np.array([w.diaspora.get(o, dia_data[o]) for o in origins], dtype=np.float64)
    gdp = np.array([w.gdp_per_capita_usd.get(o, gdp_data[o]) for o in origins], dtype=np.float64)
    agents = allocate_agents(population, int(scenario.agents), scenario.agent_allocation, movers_weight)

    edge_overrides = {"->".join(p.strip() for p in k.split("->")): v for k, v in w.edges.items()}
    edges = []
    for e in graph.edges:
        o = edge_overrides.get(f"{e.source}->{e.target}")
        if o is not None:
            e = Edge(e.source, e.target,
                     e.travel_months if o.travel_months is None else o.travel_months,
                     e.cost_usd if o.cost_usd is None else o.cost_usd,
                     e.death_risk if o.death_risk is None else o.death_risk, e.mode, e.visa_free, e.note)
        edges.append(e)
    node_ids = graph.node_ids
    routes = _enumerate_routes(origins, edges)
    max_len = max(len(r) for r in routes)
    route_nodes = np.full((len(routes), max_len), -1, dtype=np.int16)
    next_leg = np.zeros((len(routes), max_len), dtype=np.uint8)
    route_edges = []
    edge_pos = {(e.source, e.target): i for i, e in enumerate(edges)}
    for r, path in enumerate(routes):
        route_nodes[r, : len(path)] = [node_ids.index(n) for n in path]
        legs = [edge_pos[(a, b)] for a, b in zip(path, path[1:])]
        route_edges.append(legs)
        cumulative = np.concatenate([[0.0], np.cumsum([edges[i].travel_months for i in legs])])
        for j in range(len(path) - 1):
            reach = int(np.flatnonzero(cumulative - cumulative[j] <= 1.0 + 1e-9).max())
            next_leg[r, j] = max(reach, j + 1)
        next_leg[r, len(path) - 1] = len(path) - 1
    route_origin = np.array([origins.index(p[0]) for p in routes], dtype=np.uint8)
    per_origin = [np.flatnonzero(route_origin == i) for i in range(len(origins))]
    origin_routes = np.full((len(origins), max(len(p) for p in per_origin)), -1, dtype=np.int16)
    for i, p in enumerate(per_origin):
        origin_routes[i, : len(p)] = p
    return World(origins, population, agents, diaspora, gdp, node_ids,
                 tuple(graph.node_country[n] for n in node_ids), edges,
                 w.border_death_risk if w.border_death_risk is not None else graph.border_death_risk,
                 route_nodes, np.array([len(p) for p in routes], dtype=np.uint8), route_origin, route_edges,
                 next_leg, origin_routes, dict(graph.node_name))


def _enumerate_routes(origins: tuple[str, ...], edges: list[Edge]) -> list[list[str]]:
    """Every directed path from each origin to the border, in a stable order."""
    out_edges: dict[str, list[str]] = {}
    for e in edges:
        out_edges.setdefault(e.source, []).append(e.target)
    routes = []
    for origin in origins:
        found: list[list[str]] = []
        stack = [[origin]]
        while stack:
            path = stack.pop()
            if path[-1] == BORDER_NODE:
                found.append(path)
                continue
            for nxt in reversed(out_edges.get(path[-1], [])):
                if nxt not in path and (nxt not in ORIGINS or nxt == origin):
                    stack.append(path + [nxt])
        if not found:
            raise ValueError(f"no route from {origin} to {BORDER_NODE} in the network")
        if len(found) > MAX_ROUTES_PER_ORIGIN:
            raise ValueError(f"{origin} has {len(found)} routes; at most {MAX_ROUTES_PER_ORIGIN} are supported")
        routes.extend(found)
    return routes
