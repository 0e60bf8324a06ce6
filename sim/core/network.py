"""The route network as shipped (``sim/data/route_graph.yaml``): nodes, edges and the border crossing.

Scenarios may override edges (``world.edges``); ``sim.core.world`` builds the routes of a
run from this network and those overrides.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from ruamel.yaml import YAML

from .datasets import DATA_DIR

BORDER_NODE = "MEX_NORTH"
"""The node where people wait at the US border and try to cross."""


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
    """Nodes and edges of the route network as shipped (before scenario overrides)."""

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
