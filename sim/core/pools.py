"""Pools: the populations that may set out for the US (``sim/data/pools.yaml``).

A pool is the people of one nationality living in one country. Every simulated origin has a
home pool (its residents), named by its ISO3 code; the pools abroad of ``sim/data/pools.yaml``
(people of a nationality living in a third country: secondary movement) join them, with a
scenario's changes (``world.pools``: new pools, changed fields, ``null`` to remove one).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from typing import Any

from ruamel.yaml import YAML

from .network import DATA_DIR, RouteGraph


@dataclass(frozen=True)
class PoolSpec:
    """People of one nationality living in one country: where they set out from and how many they are.

    ``stock``: ``"unhcr"`` (end-year stocks of sim/data's UNHCR table), ``"population"`` (a home
    pool: the country's population) or a map of year / ``YYYY-MM`` to persons. ``scale``
    multiplies the stock (persons).
    """

    name: str
    nationality: str
    host: str
    node: str
    stock: str | dict[Any, float] = "unhcr"
    scale: float = 1.0
    note: str = ""
    home: bool = False


@functools.lru_cache(maxsize=1)
def shipped_pools() -> tuple[PoolSpec, ...]:
    """The pools abroad of ``sim/data/pools.yaml``."""
    raw = YAML(typ="safe", pure=True).load((DATA_DIR / "pools.yaml").read_text())
    return tuple(PoolSpec(name, p["nationality"], p["host"], p["node"], p.get("stock", "unhcr"),
                          float(p.get("scale", 1.0)), p.get("note", "")) for name, p in raw["pools"].items())


def scenario_pools(origins: list[str], changes: dict[str, Any], graph: RouteGraph) -> tuple[PoolSpec, ...]:
    """Every pool a scenario simulates: one home pool per simulated origin (named by its ISO3
    code), then the shipped pools abroad of simulated nationalities, with the scenario's
    changes (``changes``: its ``world.pools``, new pools, changed fields, ``None`` to remove),
    in that order."""
    pools = [PoolSpec(o, o, o, graph.origin_node(o), "population", home=True) for o in origins]
    abroad = {p.name: p for p in shipped_pools()}
    for name, change in changes.items():
        if change is None:
            abroad.pop(name, None)
            continue
        fields = {k: v for k, v in change.model_dump().items() if v is not None}
        if name in abroad:
            abroad[name] = replace(abroad[name], **fields)
        else:
            fields.setdefault("node", fields.get("host"))
            abroad[name] = PoolSpec(name=name, **fields)
    pools += [p for p in abroad.values() if p.nationality in origins]
    return tuple(pools)
