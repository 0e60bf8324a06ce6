"""The tidy outcomes table: the one interface between simulation and everything after it.

Columns: ``scenario, replicate, seed, month, nationality, location, metric, value``.
``value`` is in persons (events for flows, people for stocks) or USD for spending.
National metrics have an empty ``location``; located metrics name the node, and
``enforcement_spent_usd`` the spending country (empty nationality). Rows of the located
person metrics that are zero are left out; every other metric has a row for every month.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..core.calendar import month_range
from ..core.inputs import spending_locations
from ..core.world import World
from ..engines.state import LOCATED_METRICS, NATIONAL_METRICS, Counts

COLUMNS = ["scenario", "replicate", "seed", "month", "nationality", "location", "metric", "value"]
METRICS = NATIONAL_METRICS + LOCATED_METRICS + ("aid_spent_usd", "enforcement_spent_usd")
METRIC_UNITS = {m: "persons" for m in NATIONAL_METRICS + LOCATED_METRICS} | {
    "aid_spent_usd": "USD", "enforcement_spent_usd": "USD"}


def tidy(counts: Counts, world: World, months: list[str], scenario: str,
         replicates: list[int], seeds: list[int]) -> pd.DataFrame:
    """Turn engine counts (agents by pool) into the tidy table in persons by nationality, one block per run."""
    origins = np.array(world.origins, dtype=object)
    nodes = np.array(world.node_ids, dtype=object)
    months_a = np.array(months, dtype=object)
    spending = np.array(spending_locations(world), dtype=object)
    parts = []
    B, T, _ = counts.national[NATIONAL_METRICS[0]].shape
    n_origins = len(origins)
    for b in range(B):
        blocks: list[tuple] = []
        t_idx, o_idx = np.meshgrid(np.arange(T), np.arange(n_origins), indexing="ij")
        for metric in NATIONAL_METRICS:
            blocks.append((t_idx.ravel(), origins[o_idx.ravel()], "", metric,
                           persons_by_nationality(counts.national[metric][b], world).ravel()))
        for metric in LOCATED_METRICS:
            value = persons_by_nationality(counts.located[metric][b], world, located=True)
            t, o, node = np.nonzero(value)
            blocks.append((t, origins[o], nodes[node], metric, value[t, o, node]))
        blocks.append((t_idx.ravel(), origins[o_idx.ravel()], "", "aid_spent_usd",
                       counts.aid_spent[b].ravel()))
        t_idx2, k_idx = np.meshgrid(np.arange(T), np.arange(len(spending)), indexing="ij")
        blocks.append((t_idx2.ravel(), "", spending[k_idx.ravel()],
                       "enforcement_spent_usd", counts.enforcement_spent[b].ravel()))
        frame = pd.DataFrame({
            "month": np.concatenate([months_a[blk[0]] for blk in blocks]),
            "nationality": np.concatenate([np.broadcast_to(np.asarray(blk[1], dtype=object), blk[0].shape)
                                           for blk in blocks]),
            "location": np.concatenate([np.broadcast_to(np.asarray(blk[2], dtype=object), blk[0].shape)
                                        for blk in blocks]),
            "metric": np.concatenate([np.full(blk[0].shape, blk[3], dtype=object) for blk in blocks]),
            "value": np.concatenate([np.asarray(blk[4], dtype=np.float64) for blk in blocks]),
        })
        frame.insert(0, "seed", np.int64(seeds[b]))
        frame.insert(0, "replicate", np.int64(replicates[b]))
        frame.insert(0, "scenario", scenario)
        parts.append(frame)
    out = pd.concat(parts, ignore_index=True)
    for column in ("scenario", "month", "nationality", "location", "metric"):
        out[column] = out[column].astype(str)
    return sort_outcomes(out[COLUMNS])


def sort_outcomes(frame: pd.DataFrame) -> pd.DataFrame:
    """Canonical row order: by run, metric, month, nationality, location."""
    keys = [c for c in ["scenario", "replicate", "metric", "month", "nationality", "location"] if c in frame]
    return frame.sort_values(keys, kind="stable").reset_index(drop=True)


def quantiles(frame: pd.DataFrame, by=("scenario", "month", "metric"), q=(0.1, 0.5, 0.9)) -> pd.DataFrame:
    """Median and 10-90 % band over replications of values summed over the other columns.

    Each scenario's bands use all of its replicates: a replicate without rows for a group
    (zero rows are left out of located metrics) counts as 0 there.
    """
    parts = []
    for _, runs in frame.groupby("scenario", observed=True, sort=False):
        per_run = runs.groupby(list(by) + ["replicate"], observed=True)["value"].sum()
        wide = per_run.unstack("replicate", fill_value=0.0)
        grid = pd.MultiIndex.from_product([sorted(runs[c].unique()) for c in by], names=list(by))
        wide = wide.reindex(index=grid, columns=sorted(runs["replicate"].unique()), fill_value=0.0)
        parts.append(pd.DataFrame({f"q{int(round(x * 100)):02d}": wide.quantile(x, axis=1) for x in q},
                                  index=wide.index).reset_index())
    return pd.concat(parts, ignore_index=True)


def months_of(start: int, count: int) -> list[str]:
    """Labels of the reported months."""
    return month_range(start, count)


def persons_by_nationality(agents_by_pool: np.ndarray, world: World, located: bool = False) -> np.ndarray:
    """Persons by nationality from agent counts by pool: (..., P) -> (..., O), or with ``located``
    (..., P, nodes) -> (..., O, nodes). Each pool's agents are weighted by the persons each stands
    for, and pools are added in a fixed order (the same floats whatever the leading axes)."""
    counts = np.asarray(agents_by_pool, dtype=np.float64)
    if located:
        return np.moveaxis(persons_by_nationality(np.moveaxis(counts, -2, -1), world), -1, -2)
    return world.by_nationality(counts * world.persons_per_agent)
