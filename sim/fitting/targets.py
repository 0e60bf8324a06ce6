"""Calibration and validation targets: observed series at the three stages of the route, and
the model's counterpart of each, from engine counts.

| target | observed | model |
|---|---|---|
| ``encounters`` | US southwest border encounters, CBP (``--observed``) | ``encounters`` |
| ``darien`` | Darien transits, Panama | ``transits`` at ``PAN_DARIEN`` |
| ``mexico_interceptions`` | events presented to Mexico's INM | ``intercepted`` at the Mexican nodes |
| ``mexico_returns``, ``honduras_arrivals`` | see ``sim.fitting.route_series`` | see ``sim.fitting.route_series`` |

Every table is months x nationalities in persons per month; a NaN cell (no row in the
source) is not compared.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..core.world import World
from ..engines.state import Counts
from ..outputs.table import persons_by_nationality
from .route_series import ROUTE_SERIES, load_route_series

ENCOUNTERS = "encounters"
TARGET_NAMES = (ENCOUNTERS,) + tuple(ROUTE_SERIES)
DEFAULT_TARGETS = (ENCOUNTERS, "darien", "mexico_interceptions")


@dataclass
class Target:
    """One observed series restricted to a window and to simulated nationalities."""

    name: str
    observed: pd.DataFrame            # months x nationalities, persons per month, NaN = no data
    file: str
    metric: str                       # model metric
    nodes: tuple[str, ...] | None     # model locations summed (None: every location)

    @property
    def cells(self) -> int:
        """Nationality-months with observed data."""
        return int(np.isfinite(self.observed.to_numpy(dtype=float)).sum())


def route_target(name: str, window: list[str], nationalities: list[str], path: str | Path | None = None) -> Target:
    """A series along the route over ``window`` for the simulated ``nationalities`` it has (NaN where it has no row)."""
    spec = ROUTE_SERIES[name]
    table = load_route_series(name, path)
    columns = [n for n in nationalities if n in table.columns]
    observed = table.reindex(index=window, columns=columns)
    return Target(name, observed, str(path or spec.file), spec.metric, spec.nodes)


def encounters_target(observed: pd.DataFrame, window: list[str], nationalities: list[str], file: str) -> Target:
    """Border encounters (CBP layout, already read) over ``window``."""
    return Target(ENCOUNTERS, observed.loc[window, nationalities].astype(float), file, "encounters", None)


def model_persons(counts: Counts, world: World, target: Target) -> np.ndarray:
    """The target's metric in persons by run, reported month and nationality: (B, T, O)."""
    if target.nodes is None:
        return persons_by_nationality(counts.national[target.metric], world)
    nodes = [world.node_ids.index(n) for n in target.nodes if n in world.node_ids]
    located = persons_by_nationality(counts.located[target.metric], world, located=True)
    return located[..., nodes].sum(axis=-1)


def outcomes_table(outcomes: pd.DataFrame, target: Target, months: list[str]) -> np.ndarray:
    """The target's metric from a tidy outcomes table: (replicates, months, target nationalities)."""
    part = outcomes[outcomes["metric"] == target.metric]
    if target.nodes is not None:
        part = part[part["location"].isin(target.nodes)]
    table = part.pivot_table(index=["replicate", "month"], columns="nationality", values="value", aggfunc="sum",
                             fill_value=0.0, observed=True)
    replicates = sorted(outcomes["replicate"].unique())
    grid = pd.MultiIndex.from_product([replicates, months], names=["replicate", "month"])
    columns = list(target.observed.columns)
    table = table.reindex(index=grid, columns=columns, fill_value=0.0)
    return table.to_numpy(dtype=float).reshape(len(replicates), len(months), len(columns))
