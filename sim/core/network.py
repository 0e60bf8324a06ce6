"""The route network as data: the shipped nodes and edges (``sim/data/route_graph.yaml``) and a scenario's additions.

What the model treats as an origin, a transit country or a country with visa rules is read
from the network, not written in code:

- origins: the countries of nodes of kind ``origin`` (one home pool each, ``sim.core.pools``);
- hosts: nodes of kind ``host``, where pools abroad live (an origin node can host too);
- transit countries (able to run containment): the countries of ``transit`` and ``border`` nodes;
- visa countries: the countries where edges with a ``visa_free`` list land.

A scenario adds nodes (``world.nodes``), adds edges or changes their fields (``world.edges``);
``scenario_graph`` gives the result, from which ``sim.core.world`` builds the routes of a run.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
BORDER_NODE = "MEX_NORTH"
"""The node where people wait at the US border and try to cross."""
HOME_KINDS = ("origin", "host")            # nodes where people live (routes start there)
TRANSIT_KINDS = ("transit", "border")      # nodes whose country can intercept travellers


@dataclass(frozen=True)
class Edge:
    """One leg of the journey."""

    source: str
    target: str
    travel_months: float    # months
    cost_usd: float          # USD per person
    death_risk: float        # probability per crossing
    mode: str
    visa_free: tuple[str, ...] | None   # air links: nationalities that can board; None = not an air link
    note: str = ""


@dataclass(frozen=True)
class RouteGraph:
    """Nodes and edges of the route network."""

    node_ids: tuple[str, ...]
    node_country: dict[str, str]
    node_kind: dict[str, str]
    node_name: dict[str, str]
    edges: tuple[Edge, ...]
    border_death_risk: float

    @property
    def edge_index(self) -> dict[tuple[str, str], int]:
        """Position of each (source, target) edge."""
        return {(e.source, e.target): i for i, e in enumerate(self.edges)}

    @property
    def origins(self) -> tuple[str, ...]:
        """Origin countries (ISO3): the countries of nodes of kind ``origin``, in file order."""
        return tuple(self.node_country[n] for n in self.node_ids if self.node_kind[n] == "origin")

    @property
    def home_nodes(self) -> tuple[str, ...]:
        """Nodes where people live (origins and hosts): routes start there and pass no other."""
        return tuple(n for n in self.node_ids if self.node_kind[n] in HOME_KINDS)

    @property
    def transit_countries(self) -> tuple[str, ...]:
        """Countries that can run containment: those of transit and border nodes, in file order."""
        return _unique(self.node_country[n] for n in self.node_ids if self.node_kind[n] in TRANSIT_KINDS)

    @property
    def visa_countries(self) -> tuple[str, ...]:
        """Countries whose visa rules open or close air links: where edges with a ``visa_free`` list land."""
        return _unique(self.node_country[e.target] for e in self.edges if e.visa_free is not None)

    def origin_node(self, iso3: str) -> str:
        """The node of kind ``origin`` of a country."""
        for n in self.node_ids:
            if self.node_kind[n] == "origin" and self.node_country[n] == iso3:
                return n
        raise KeyError(f"no origin node of {iso3}")


def _unique(items: Any) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


@functools.lru_cache(maxsize=1)
def load_route_graph(path: str | None = None) -> RouteGraph:
    """Read the shipped route network (``sim/data/route_graph.yaml``)."""
    raw = YAML(typ="safe", pure=True).load((Path(path) if path else DATA_DIR / "route_graph.yaml").read_text())
    nodes = raw["nodes"]
    edges = tuple(
        Edge(e["from"], e["to"], float(e["travel_months"]), float(e["cost_usd"]), float(e["death_risk"]),
             e["mode"], tuple(e["visa_free"]) if "visa_free" in e else None, e.get("note", ""))
        for e in raw["edges"])
    return RouteGraph(tuple(nodes), {k: v["country"] for k, v in nodes.items()},
                      {k: v["kind"] for k, v in nodes.items()}, {k: v["name"] for k, v in nodes.items()},
                      edges, float(raw["border_crossing"]["death_risk"]))




@dataclass(frozen=True)
class Position:
    """Where a node is drawn on a map: longitude and latitude in degrees (WGS84) of a real place."""

    lon: float
    lat: float
    place: str


@functools.lru_cache(maxsize=1)
def node_positions(path: str | None = None) -> dict[str, Position]:
    """The map position of every shipped node (``positions`` of ``sim/data/route_graph.yaml``; drawing only)."""
    raw = YAML(typ="safe", pure=True).load((Path(path) if path else DATA_DIR / "route_graph.yaml").read_text())
    return {node: Position(float(p["lon"]), float(p["lat"]), str(p.get("place", ""))) for node, p in
            (raw.get("positions") or {}).items()}
def edge_key(name: str) -> tuple[str, str] | None:
    """``'FROM->TO'`` (spaces allowed) as a (source, target) pair; None when not written so."""
    parts = [p.strip() for p in str(name).split("->")]
    return (parts[0], parts[1]) if len(parts) == 2 and all(parts) else None


def scenario_graph(world: Any) -> RouteGraph:
    """The shipped network with a scenario's ``world`` section applied: new nodes, new edges and
    changed edge fields (``world``: the ``World`` model of a validated scenario, ``sim.core.scenario``)."""
    graph = load_route_graph()
    node_ids = list(graph.node_ids)
    country, kind, name = dict(graph.node_country), dict(graph.node_kind), dict(graph.node_name)
    for node, spec in world.nodes.items():
        if node not in country:
            node_ids.append(node)
        country[node], kind[node], name[node] = spec.country, spec.kind, spec.name or node
    overrides = {key: v for k, v in world.edges.items() if (key := edge_key(k)) is not None}
    edges = []
    for e in graph.edges:
        o = overrides.pop((e.source, e.target), None)
        if o is not None:
            changed: dict[str, Any] = {f: getattr(o, f) for f in ("travel_months", "cost_usd", "death_risk", "mode")
                                       if getattr(o, f) is not None}
            if o.visa_free is not None:
                changed["visa_free"] = tuple(o.visa_free)
            e = replace(e, **changed)
        edges.append(e)
    for (source, target), o in overrides.items():              # new edges (every field checked in validation)
        edges.append(Edge(source, target, float(o.travel_months), float(o.cost_usd), float(o.death_risk),
                          o.mode, tuple(o.visa_free) if o.visa_free is not None else None, "scenario"))
    death = world.border_death_risk if world.border_death_risk is not None else graph.border_death_risk
    return RouteGraph(tuple(node_ids), country, kind, name, tuple(edges), death)
