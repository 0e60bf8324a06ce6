"""Stocks of each origin's people living in other countries (UNHCR), month by month.

``stocks_abroad()`` reads the end-year stocks of ``unhcr_displaced_stocks_by_origin_host_annual.csv``
(refugees + asylum seekers + other people in need of international protection, the
``total_refugees_asylum_oip`` variable; for Venezuelans the ``oip`` part is the R4V /
government count of Venezuelans with or without permits). ``monthly_stock`` turns the
end-year points of one (nationality, host) pair into persons by month: linear between
December points, held before the first and after the last. ``arrived_by`` is its running
maximum: a stock that shrinks (people leaving onward, or a count not updated) never
takes people who arrived back out. Units: persons.
"""
from __future__ import annotations

import functools

import numpy as np
import pandas as pd

from . import datasets
from .calendar import parse_month

UNHCR_FILE = "unhcr_displaced_stocks_by_origin_host_annual.csv"
UNHCR_VARIABLE = "total_refugees_asylum_oip"


@functools.cache
def _stocks() -> pd.DataFrame:
    df = datasets._raw(UNHCR_FILE)
    df = df[df["variable"] == UNHCR_VARIABLE]
    return df.groupby(["origin_iso3", "host_iso3", "year"], as_index=False)["value"].sum()


def stocks_abroad() -> pd.DataFrame:
    """End-year stocks (persons): columns nationality, host, year, persons (UNHCR, rows of 100 or more)."""
    return _stocks().rename(columns={"origin_iso3": "nationality", "host_iso3": "host",
                                     "value": "persons"}).copy()


def end_year_points(nationality: str, host: str) -> dict[int, float]:
    """End-year stock (persons) by year of one nationality in one host; raises ``KeyError`` when absent."""
    rows = _stocks()[(_stocks()["origin_iso3"] == nationality) & (_stocks()["host_iso3"] == host)]
    if rows.empty:
        raise KeyError(f"{UNHCR_FILE} has no stock of {nationality} in {host}")
    return {int(y): float(v) for y, v in zip(rows["year"], rows["value"])}


def monthly_stock(points: dict, months: np.ndarray) -> np.ndarray:
    """Persons in each month number of ``months`` from dated points.

    ``points`` maps a year (int: an end-year stock, dated December of that year) or a month
    (``'YYYY-MM'``) to persons; values are linear between points, held before the first
    and after the last.
    """
    dated = sorted((int(k) * 12 + 11 if isinstance(k, (int, np.integer)) else parse_month(k), float(v))
                   for k, v in points.items())
    x = np.array([d for d, _ in dated], dtype=float)
    y = np.array([v for _, v in dated], dtype=float)
    return np.interp(np.asarray(months, dtype=float), x, y)


def arrived_by(stock: np.ndarray) -> np.ndarray:
    """Persons who have arrived by each month: the running maximum of a monthly stock."""
    return np.maximum.accumulate(np.asarray(stock, dtype=float))
