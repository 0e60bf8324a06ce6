"""Drivers of leaving, by simulated month and pool: what each pool of people faces where it lives.

Five drivers (``DRIVERS``), each a series by month for every pool:

- ``inflation`` (% per year): monthly consumer prices where published, the annual series
  otherwise (``sim.core.monthly_drivers.monthly_inflation``);
- ``violence`` (homicides per 100,000 per year) and ``repression`` (100 - Freedom House
  total): annual, interpolated between mid-years (``sim.core.datasets.annual_drivers``);
- ``unrest`` (index): ACLED events relative to the country's own mean (``unrest_index``);
- ``disaster`` (share of the population affected, 0-1): 0 unless a scenario sets it
  (dated shocks of ``history.yaml``, with their sources).

A home pool faces its own country's drivers. A pool abroad faces its host's prices, unrest
and disasters; violence and repression (the data cover the origins only) enter the leave
decision of people in their country of birth only, so they are 0 for pools abroad. A
scenario's ``drivers`` changes act on every pool living in the named country (``ALL``: every
pool); changes of violence or repression act on home pools only.
"""
from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import numpy as np

from . import datasets
from .calendar import parse_month
from .monthly_drivers import monthly_inflation, unrest_index

if TYPE_CHECKING:
    from .scenario import DriverChange, Scenario
    from .world import World

DRIVERS = ("inflation", "violence", "repression", "unrest", "disaster")
HOME_ONLY = ("violence", "repression")


def country_drivers(iso3: str, calendar: np.ndarray) -> np.ndarray:
    """Driver series of one country by month: (T, len(DRIVERS)); 0 where the data have no series."""
    return _country_drivers(iso3, tuple(int(m) for m in calendar)).copy()


@functools.lru_cache(maxsize=256)
def _country_drivers(iso3: str, months: tuple[int, ...]) -> np.ndarray:
    calendar = np.array(months)
    out = np.zeros((len(calendar), len(DRIVERS)))
    try:
        out[:, 0] = monthly_inflation(iso3, calendar)[0]
    except ValueError:
        pass                                      # no price data (a new country): no inflation push
    table = datasets.annual_drivers()
    rows = table[table["iso3"] == iso3].sort_values("year")
    if not rows.empty:
        mid_year = rows["year"].to_numpy() * 12 + 6
        for d, column in ((1, "homicides_per_100k"), (2, "repression_0_100")):
            out[:, d] = np.interp(calendar, mid_year, rows[column].to_numpy(dtype=float))
    out[:, 3] = unrest_index(iso3, calendar)
    return out


def pool_drivers(scenario: Scenario, world: World, calendar: np.ndarray) -> np.ndarray:
    """Drivers of every pool by month, after the scenario's changes: (T, P, len(DRIVERS))."""
    countries = {c: country_drivers(c, calendar) for c in dict.fromkeys(world.pool_country)}
    out = np.stack([countries[c] for c in world.pool_country], axis=1)
    abroad = ~world.pool_home
    for d, name in enumerate(DRIVERS):
        if name in HOME_ONLY:
            out[:, abroad, d] = 0.0
    for change in scenario.drivers.values():
        d = DRIVERS.index(change.driver)
        for p, country in enumerate(world.pool_country):
            if (change.origin in ("ALL", country)) and (world.pool_home[p] or change.driver not in HOME_ONLY):
                out[:, p, d] = apply_change(change, calendar, out[:, p, d])
    return out


def apply_change(change: DriverChange, calendar: np.ndarray, series: np.ndarray) -> np.ndarray:
    """One driver change (step, ramp or schedule) applied to a monthly series."""
    if change.kind == "schedule":
        assert change.values is not None                   # a schedule has values (DriverChange checks it)
        months = sorted(change.values)
        points = np.array([parse_month(m) for m in months])
        values = np.array([change.values[m] for m in months])
        inside = calendar >= points[0]
        return np.where(inside, np.interp(calendar, points, values), series)
    assert change.start is not None and change.change is not None     # a step or ramp has both
    start = parse_month(change.start)
    if change.kind == "step":
        fraction = (calendar >= start).astype(float)
    else:
        assert change.end is not None                      # a ramp has an end
        fraction = np.clip((calendar - start) / (parse_month(change.end) - start), 0.0, 1.0)
    return series * (1.0 + change.change * fraction)
