"""Observed flows along the route, and which model metric each one is compared with.

Besides the US border encounters (``sim.validate.load_observed``, CBP layout), the model is
checked against flows *along* the route, by nationality and month (shipped through
September 2022; any file in the same layout can be given instead):

- ``darien``: irregular transits through the Darien (Panama's migration service), compared
  with ``transits`` at ``PAN_DARIEN``;
- ``mexico_interceptions``: events of persons in irregular situation presented or channelled
  to Mexico's INM (SEGOB table 3.1.1), compared with ``intercepted`` summed over
  ``MEX_SOUTH`` and ``MEX_NORTH``: the people found inside Mexico;
- ``mexico_returns``: deportations and assisted returns by Mexico (SEGOB table 3.2.4),
  compared with ``deported`` summed over the same Mexican nodes;
- ``honduras_arrivals``: irregular arrivals registered by Honduras (INM Honduras), compared
  with ``transits`` at ``HND_TRANSIT``.

Travellers stopped at ``MEX_AIRPORT`` are refused entry on landing (*rechazados*, sent
back on the next flight): SEGOB counts them apart from the people in irregular situation
(72,441 refused at airports in 2021, of whom Ecuadorians 15,582, Venezuelans 14,432,
Colombians 11,125 and Peruvians 2,420: SEGOB's Centro de Estudios Migratorios as reported
by Reforma, 20 March 2022), so they are in neither Mexican series: in 2021 table 3.1.1
counts 4,360 Venezuelans, 1,384 Ecuadorians, 1,262 Colombians and 237 Peruvians, a third
to a tenth of those refused at airports.

Files have the columns ``nationality_iso3``, ``period`` (``YYYY-MM``; Panama's file also has
yearly rows, ``period_type`` = ``year``, which are left out), ``variable`` and ``value``
(persons or events per month). A nationality-month without a row is *missing*, not zero:
tables come back with NaN there, and scores skip those cells.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..core.calendar import format_month, parse_month

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
MEXICO_NODES = ("MEX_SOUTH", "MEX_NORTH")
"""Mexican nodes where people in irregular situation are found (``MEX_AIRPORT`` refuses entry on landing)."""


@dataclass(frozen=True)
class RouteSeries:
    """One observed series along the route and the model metric it is compared with."""

    name: str
    file: str                       # shipped file (sim/data/)
    variables: tuple[str, ...]      # rows summed (a file may hold several variables)
    metric: str                     # model metric
    nodes: tuple[str, ...]          # model locations summed
    what: str                       # what the source counts


ROUTE_SERIES = {s.name: s for s in (
    RouteSeries("darien", "darien_transits_by_nationality_monthly_to_2022_09.csv", ("darien_irregular_transits",),
                "transits", ("PAN_DARIEN",), "persons crossing the Darien into Panama (Panama SNM)"),
    RouteSeries("mexico_interceptions", "mexico_irregular_events_by_nationality_monthly_to_2022_09.csv",
                ("mexico_irregular_events_presented_or_channelled",), "intercepted", MEXICO_NODES,
                "events of persons in irregular situation presented or channelled to Mexico's INM (SEGOB)"),
    RouteSeries("mexico_returns", "mexico_returns_by_nationality_monthly_to_2022_09.csv",
                ("mexico_returns_deportation", "mexico_returns_assisted_return",
                 "mexico_returns_assisted_return_of_children"), "deported", MEXICO_NODES,
                "deportations and assisted returns by Mexico (SEGOB)"),
    RouteSeries("honduras_arrivals", "honduras_irregular_arrivals_by_nationality_monthly_to_2022_09.csv",
                ("honduras_irregular_arrivals",), "transits", ("HND_TRANSIT",),
                "irregular arrivals registered by Honduras' migration institute"),
)}


def load_route_series(name: str, path: str | Path | None = None) -> pd.DataFrame:
    """An observed series along the route: one row per month (``YYYY-MM``), one column per nationality (ISO3).

    Values in persons (or events) per month, summed over the series' variables; NaN where
    the file has no row for that nationality and month. ``path`` defaults to the shipped file.
    Raises ``KeyError`` for an unknown series and ``ValueError`` for a file without the
    expected columns.
    """
    spec = ROUTE_SERIES[name]
    path = Path(path) if path is not None else DATA_DIR / spec.file
    df = pd.read_csv(path)
    missing = [c for c in ("nationality_iso3", "period", "variable", "value") if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: required column(s) {', '.join(missing)} missing")
    if "period_type" in df.columns:
        df = df[df["period_type"] == "month"]
    df = df[df["variable"].isin(spec.variables)]
    df = df.assign(month=df["period"].astype(str).map(lambda m: format_month(parse_month(m))))
    wide = df.pivot_table(index="month", columns="nationality_iso3", values="value", aggfunc="sum")
    months = [format_month(m) for m in range(parse_month(wide.index.min()), parse_month(wide.index.max()) + 1)]
    wide = wide.reindex(months).astype(float)
    wide.index.name, wide.columns.name = "month", "nationality"
    return wide


def model_series(outcomes: pd.DataFrame, name: str) -> pd.DataFrame:
    """The model's counterpart of series ``name`` from a tidy outcomes table (one run, or the mean of several).

    Returns months x nationalities, persons per month: the series' metric summed over its
    nodes, averaged over the table's replicates.
    """
    spec = ROUTE_SERIES[name]
    part = outcomes[(outcomes["metric"] == spec.metric) & outcomes["location"].isin(spec.nodes)]
    replicates = max(1, outcomes["replicate"].nunique())
    table = part.pivot_table(index="month", columns="nationality", values="value", aggfunc="sum", fill_value=0.0)
    months = sorted(outcomes["month"].unique())
    nationalities = sorted(outcomes.loc[outcomes["nationality"] != "", "nationality"].unique())
    return table.reindex(index=months, columns=nationalities, fill_value=0.0) / replicates


def cells_with_data(observed: pd.DataFrame) -> np.ndarray:
    """Boolean mask of the nationality-months that have an observed value."""
    return np.isfinite(observed.to_numpy(dtype=float))
