"""Country codes the model knows, read from the shipped route network (``sim/data/route_graph.yaml``).

These are the lists of the shipped data; a scenario can add origins, hosts and transit
points (``world.nodes``), and a built ``World`` carries its own lists (``World.origins``,
``World.transit_countries``). See ``sim.core.network``.
"""
from __future__ import annotations

from .network import load_route_graph

_GRAPH = load_route_graph()

ORIGINS: tuple[str, ...] = _GRAPH.origins
"""Origin countries (ISO3): the nodes of kind ``origin``, in the model's fixed order."""

TRANSIT_COUNTRIES: tuple[str, ...] = _GRAPH.transit_countries
"""Countries that can run containment (checkpoints, interceptions, deportations)."""

VISA_COUNTRIES: tuple[str, ...] = _GRAPH.visa_countries
"""Countries whose visa rules open or close air links in the route graph."""
