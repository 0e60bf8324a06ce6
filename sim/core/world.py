"""The world: the pools of people who may leave, the route network, and the routes through it.

A *pool* is the people of one nationality living in one country: every simulated origin's
residents (its home pool), and people of a nationality living in a third country (pools
abroad, ``sim/data/pools.yaml``; ``sim.core.pools``). Routes are every directed path in the
network from a pool's node to ``MEX_NORTH`` (the US border) that passes no other place
where people live; each pool has its own routes (what is open depends on its nationality).
Movement is month by month: each month a traveller moves to the farthest node of the
route within one month of travel of where they stand (at least one node), so a route's
schedule is fixed by its travel times.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from . import datasets
from .calendar import parse_month
from .network import BORDER_NODE, Edge, RouteGraph, scenario_graph
from .pools import PoolSpec, scenario_pools
from .stocks import arrived_by, end_year_points, monthly_stock

if TYPE_CHECKING:
    from .scenario import Scenario

MAX_ROUTES_PER_POOL = 16


@dataclass
class World:
    """Everything fixed for a run: nationalities, pools, people per agent, the network and its routes.

    Arrays are indexed by nationality position (``origins``), pool position (``pools``),
    node position (``node_ids``), edge position, route position and simulated month
    (warm-up included).
    """

    origins: tuple[str, ...]          # nationalities simulated (ISO3)
    pools: tuple[str, ...]            # pool names: home pools (named by ISO3) first, then pools abroad
    pool_origin: np.ndarray           # (P,) nationality position of each pool
    pool_country: tuple[str, ...]     # (P,) ISO3 of the country each pool lives in
    pool_home: np.ndarray             # (P,) bool: the pool lives in its country of birth
    population: np.ndarray            # (P,) persons: residents, or the most people abroad in the horizon
    pool_present: np.ndarray          # (T, P) share of each pool living there in each simulated month
    agents_per_pool: np.ndarray       # (P,) agents
    home_population: np.ndarray       # (O,) persons living in each origin country
    diaspora: np.ndarray              # (O,) persons born in the origin living in the US, at start
    gdp_per_capita: np.ndarray        # (P,) USD per person per year (PPP) of the pool's nationality
    pool_node: np.ndarray             # (P,) node position each pool sets out from
    node_ids: tuple[str, ...]
    node_country: tuple[str, ...]
    edges: list[Edge]
    border_death_risk: float
    transit_countries: tuple[str, ...]    # countries that can run containment
    route_nodes: np.ndarray           # (routes, max_len) node positions, -1 padded
    route_length: np.ndarray          # nodes on each route
    route_pool: np.ndarray            # pool position of each route
    route_edges: list[list[int]]      # edge positions along each route
    next_leg: np.ndarray              # (routes, max_len): node index reached after one month
    pool_routes: np.ndarray           # (pools, max routes) route positions, -1 padded
    names: dict[str, str] = field(default_factory=dict)

    @property
    def persons_per_agent(self) -> np.ndarray:
        """Persons each agent stands for, by pool."""
        return self.population / self.agents_per_pool

    @property
    def border(self) -> int:
        """Node position of the US border (MEX_NORTH)."""
        return self.node_ids.index(BORDER_NODE)

    @property
    def agent_pool(self) -> np.ndarray:
        """Pool position of every agent of one run (agents are grouped by pool)."""
        return np.repeat(np.arange(len(self.pools), dtype=np.uint8), self.agents_per_pool)

    def agents_there(self) -> np.ndarray:
        """Agents of each pool living there in each simulated month (T, P): ``floor(present x N)`` of its ``N``
        (non-decreasing: people arrive in agent order as the stock grows; home pools: everyone)."""
        there = np.floor(self.pool_present * self.agents_per_pool[None, :] + 1e-9).astype(np.int64)
        return np.where(self.pool_home[None, :], self.agents_per_pool[None, :], there)

    def arrival_step(self) -> np.ndarray:
        """First simulated month (step) in which each agent of a run lives in its pool (int16).

        0 for home pools. Within a pool abroad, agent ``k`` of ``N`` is there from the first
        step at which ``floor(present x N) > k`` (``agents_there``).
        """
        out = np.zeros(int(self.agents_per_pool.sum()), dtype=np.int16)
        there = self.agents_there()
        first = 0
        for p, n in enumerate(self.agents_per_pool):
            if not self.pool_home[p]:
                out[first: first + n] = np.searchsorted(there[:, p], np.arange(n), side="right")
            first += n
        return out

    def arrivals(self) -> np.ndarray:
        """Agents who come to live in each pool in each simulated month (T, P) int64: at step 0 everyone there
        at the start, later the agents whose ``arrival_step`` it is (counted without a row per agent)."""
        there = np.minimum(self.agents_there(), self.agents_per_pool[None, :])
        return np.diff(there, axis=0, prepend=0)

    def by_nationality(self, per_pool: np.ndarray) -> np.ndarray:
        """Sum a last axis over pools into one over nationalities (``origins``)."""
        per_pool = np.asarray(per_pool)
        out = np.zeros(per_pool.shape[:-1] + (len(self.origins),), dtype=per_pool.dtype)
        for p, o in enumerate(self.pool_origin):
            out[..., o] += per_pool[..., p]
        return out

    def route_label(self, r: int) -> str:
        """Readable name of route ``r``: its nodes joined by '>'."""
        return ">".join(self.node_ids[n] for n in self.route_nodes[r, : self.route_length[r]])


@dataclass(frozen=True)
class RouteTables:
    """Lookup tables of the routes that both engines read (R routes, L nodes per route, C transit countries)."""

    node_transit: np.ndarray      # (nodes,) position of the node's country in transit_countries, -1 elsewhere
    origin_transit: np.ndarray    # (pools,) position of the pool's nationality in transit_countries, -2 when none
    edge_risk: np.ndarray         # (R, L) death risk of the leg that reaches route position j (0 at j = 0)
    entry_leg: np.ndarray         # (R, C) route position of the first node in each transit country (0: none)
    max_slots: int                # most route positions a traveller can pass in one month
    leg_edge: np.ndarray          # (R, L) exposure leg of the edge that reaches route position j (-1 at j = 0)
    leg_risk: np.ndarray          # (E + 1,) death risk of each exposure leg: the edges, then the border crossing
    leg_node: np.ndarray          # (E + 1,) node where a death on each exposure leg is counted


def route_tables(world: World) -> RouteTables:
    """Build the ``RouteTables`` of a world: who polices which node, leg risks, country entry points."""
    transit = world.transit_countries
    node_transit = np.array([transit.index(c) if c in transit else -1 for c in world.node_country])
    R, L = world.route_nodes.shape
    edge_risk = np.zeros((R, L))
    leg_edge = np.full((R, L), -1, dtype=np.int16)
    entry_leg = np.zeros((R, len(transit)), dtype=np.uint8)
    for r, legs in enumerate(world.route_edges):
        edge_risk[r, 1: len(legs) + 1] = [world.edges[e].death_risk for e in legs]
        leg_edge[r, 1: len(legs) + 1] = legs
        for j in range(world.route_length[r] - 1, 0, -1):
            c = node_transit[world.route_nodes[r, j]]
            if c >= 0:
                entry_leg[r, c] = j
    # a traveller is not intercepted by the country of their own nationality (wherever they live)
    nationality = [world.origins[o] for o in world.pool_origin]
    origin_transit = np.array([transit.index(o) if o in transit else -2 for o in nationality])
    max_slots = int((world.next_leg - np.arange(L)[None, :]).max())
    leg_risk = np.array([e.death_risk for e in world.edges] + [world.border_death_risk])
    leg_node = np.array([world.node_ids.index(e.target) for e in world.edges] + [world.border], dtype=np.intp)
    return RouteTables(node_transit, origin_transit, edge_risk, entry_leg, max_slots, leg_edge, leg_risk, leg_node)


def allocate_agents(population: np.ndarray, agents: int, method: str, weight: np.ndarray | None = None) -> np.ndarray:
    """Share ``agents`` among pools by population, its square root, equally, or by ``weight`` (method ``movers``:
    ``sim.core.allocation``), by largest remainder and at least one per pool."""
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


def simulated_months(scenario: Scenario) -> np.ndarray:
    """Month number of every simulated month: the warm-up months (at the start month), then the reported ones."""
    start = parse_month(scenario.start)
    return np.array([start] * scenario.warmup_months + list(range(start, start + scenario.months)))


def pool_stock(pool: PoolSpec, months: np.ndarray) -> np.ndarray:
    """Persons of a pool abroad living in its host in each month (stock x scale), from UNHCR or its own points."""
    points = end_year_points(pool.nationality, pool.host) if isinstance(pool.stock, str) else pool.stock
    return pool.scale * monthly_stock(dict(points), months)


def build_world(scenario: Scenario, movers_weight: np.ndarray | None = None) -> World:
    """Build the ``World`` of a validated scenario (shipped data plus its overrides).

    ``agent_allocation: movers`` needs the weight of each pool (``sim.core.allocation.sampled_world``
    computes it and builds the world); without it the agents are shared by the square root of population.
    """
    graph = scenario_graph(scenario.world)
    origins = tuple(scenario.origins)
    pools = scenario_pools(list(scenario.origins), dict(scenario.world.pools), graph)
    pop_data, dia_data, gdp_data = datasets.population(), datasets.diaspora_stock(), datasets.gdp_per_capita_ppp()
    w = scenario.world
    home_population = np.array([w.population.get(o, pop_data.get(o)) for o in origins], dtype=np.float64)
    diaspora = np.array([w.diaspora.get(o, dia_data.get(o)) for o in origins], dtype=np.float64)
    gdp = {o: float(w.gdp_per_capita_usd.get(o, gdp_data.get(o))) for o in origins}
    calendar = simulated_months(scenario)
    present = np.ones((len(calendar), len(pools)))
    population = np.zeros(len(pools))
    for p, pool in enumerate(pools):
        if pool.home:
            population[p] = home_population[origins.index(pool.nationality)]
            continue
        arrived = arrived_by(pool_stock(pool, calendar))
        population[p] = arrived[-1]
        present[:, p] = arrived / arrived[-1] if arrived[-1] > 0 else 1.0
    agents = allocate_agents(population, int(scenario.agents), scenario.agent_allocation, movers_weight)

    node_ids, edges = graph.node_ids, list(graph.edges)
    routes, owners = _enumerate_routes(pools, graph)
    max_len = max(len(r) for r in routes)
    route_nodes = np.full((len(routes), max_len), -1, dtype=np.int16)
    next_leg = np.zeros((len(routes), max_len), dtype=np.uint8)
    route_edges = []
    edge_pos = graph.edge_index
    for r, path in enumerate(routes):
        route_nodes[r, : len(path)] = [node_ids.index(n) for n in path]
        legs = [edge_pos[(a, b)] for a, b in zip(path, path[1:])]
        route_edges.append(legs)
        cumulative = np.concatenate([[0.0], np.cumsum([edges[i].travel_months for i in legs])])
        for j in range(len(path) - 1):
            reach = int(np.flatnonzero(cumulative - cumulative[j] <= 1.0 + 1e-9).max())
            next_leg[r, j] = max(reach, j + 1)
        next_leg[r, len(path) - 1] = len(path) - 1
    route_pool = np.array(owners, dtype=np.uint8)
    per_pool = [np.flatnonzero(route_pool == i) for i in range(len(pools))]
    pool_routes = np.full((len(pools), max(len(found) for found in per_pool)), -1, dtype=np.int16)
    for i, found in enumerate(per_pool):
        pool_routes[i, : len(found)] = found
    names = {**graph.node_name, **{p.name: p.name.replace("_", " ") for p in pools if not p.home}}
    return World(
        origins=origins, pools=tuple(p.name for p in pools),
        pool_origin=np.array([origins.index(p.nationality) for p in pools], dtype=np.uint8),
        pool_country=tuple(p.host for p in pools), pool_home=np.array([p.home for p in pools]),
        population=population, pool_present=present, agents_per_pool=agents, home_population=home_population,
        diaspora=diaspora, gdp_per_capita=np.array([gdp[p.nationality] for p in pools]),
        pool_node=np.array([node_ids.index(p.node) for p in pools], dtype=np.int16),
        node_ids=node_ids, node_country=tuple(graph.node_country[n] for n in node_ids), edges=edges,
        border_death_risk=graph.border_death_risk, transit_countries=graph.transit_countries,
        route_nodes=route_nodes, route_length=np.array([len(p) for p in routes], dtype=np.uint8),
        route_pool=route_pool, route_edges=route_edges, next_leg=next_leg, pool_routes=pool_routes, names=names)


def _enumerate_routes(pools: tuple[PoolSpec, ...], graph: RouteGraph) -> tuple[list[list[str]], list[int]]:
    """Every directed path from each pool's node to the border passing no other home node, in a stable order."""
    out_edges: dict[str, list[str]] = {}
    for e in graph.edges:
        out_edges.setdefault(e.source, []).append(e.target)
    homes = set(graph.home_nodes)
    routes, owner = [], []
    for i, pool in enumerate(pools):
        found: list[list[str]] = []
        stack = [[pool.node]]
        while stack:
            path = stack.pop()
            if path[-1] == BORDER_NODE:
                found.append(path)
                continue
            for nxt in reversed(out_edges.get(path[-1], [])):
                if nxt not in path and nxt not in homes:
                    stack.append(path + [nxt])
        if not found:
            raise ValueError(f"no route from {pool.node} (pool {pool.name}) to {BORDER_NODE} in the network")
        if len(found) > MAX_ROUTES_PER_POOL:
            raise ValueError(f"{pool.name} has {len(found)} routes; at most {MAX_ROUTES_PER_POOL} are supported")
        routes.extend(found)
        owner.extend([i] * len(found))
    return routes, owner
