"""Monthly drivers: consumer prices (inflation) and political unrest, month by month.

Both come from shipped tables (``sim/data/README.md``):

- ``monthly_inflation``: year-on-year consumer price inflation (% per year) by country and
  month, from the World Bank Global Inflation Database: the headline index where published,
  the food index where only that is published (Venezuela), and the annual series of
  ``sim.core.datasets.annual_drivers`` (interpolated between mid-years) where neither covers the
  month (Cuba throughout; every country before 2018 and after the monthly data end); a
  country with monthly data and no annual series (a host such as Chile or Brazil) holds its
  first and last monthly values beyond them.
- ``unrest_index``: political violence and protest events of ACLED relative to the
  country's own mean, ``ln((E3 + 1) / (mean + 1))``, with ``E3`` the mean of the month and
  the two before it and ``mean`` the country's mean over every month in the data (from
  January 2021). 0 (the country's usual level) outside the data.

Units: inflation in % per year; the unrest index is dimensionless (natural-log units).
"""
from __future__ import annotations

import functools

import numpy as np
import pandas as pd

from . import datasets
from .calendar import parse_month

CPI_FILE = "cpi_monthly_wb_global_inflation_db.csv"
ACLED_FILE = "acled_events_fatalities_monthly.csv"
CPI_SERIES = ("cpi_headline_yoy_pct", "cpi_food_yoy_pct")     # first present wins
ACLED_EVENTS = "acled_events_all_types"
UNREST_WINDOW = 3                                               # months averaged (the month and two before)


@functools.cache
def _cpi() -> pd.DataFrame:
    df = datasets._raw(CPI_FILE)
    df = df[df["variable"].isin(CPI_SERIES)].copy()
    df["rank"] = df["variable"].map(CPI_SERIES.index)
    df["month_number"] = df["month"].map(parse_month)
    df = df.dropna(subset=["value"]).sort_values(["iso3", "month_number", "rank"], kind="stable")
    return df.drop_duplicates(["iso3", "month_number"])[["iso3", "month_number", "value", "variable"]]


def cpi_countries() -> tuple[str, ...]:
    """Countries (ISO3) with monthly consumer price data."""
    return tuple(sorted(_cpi()["iso3"].unique()))


def monthly_inflation(iso3: str, months: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inflation (% per year, year on year) of ``iso3`` in each month number of ``months``.

    Returns ``(values, monthly)``: ``monthly`` is True where the value comes from the monthly
    price index, False where it falls back on the annual series. Raises ``ValueError`` when
    the country has neither.
    """
    months = np.asarray(months, dtype=np.int64)
    values = np.full(months.shape, np.nan)
    rows = _cpi()[_cpi()["iso3"] == iso3]
    if not rows.empty:
        series = pd.Series(rows["value"].to_numpy(), index=rows["month_number"].to_numpy())
        values = series.reindex(months).to_numpy(dtype=float)
    monthly = np.isfinite(values)
    if monthly.all():
        return values, monthly
    if iso3 in set(datasets.annual_drivers()["iso3"]):
        return np.where(monthly, values, annual_inflation(iso3, months)), monthly
    if rows.empty:
        raise ValueError(f"no inflation data for {iso3}: neither monthly prices ({CPI_FILE}) nor an annual series")
    known = rows["month_number"].to_numpy()
    nearest = np.clip(months, known.min(), known.max())            # hold the first / last monthly value
    held = pd.Series(rows["value"].to_numpy(), index=known).reindex(nearest).to_numpy(dtype=float)
    return np.where(monthly, values, held), monthly


def annual_inflation(iso3: str, months: np.ndarray) -> np.ndarray:
    """The annual inflation series (% per year) interpolated between mid-years, held at the ends."""
    table = datasets.annual_drivers()
    rows = table[table["iso3"] == iso3].sort_values("year")
    if rows.empty:
        raise ValueError(f"no inflation data for {iso3}: neither monthly prices ({CPI_FILE}) nor an annual series")
    return np.interp(np.asarray(months, dtype=float), rows["year"].to_numpy() * 12 + 6,
                     rows["inflation_pct"].to_numpy(dtype=float))


@functools.cache
def _acled() -> pd.DataFrame:
    df = datasets._raw(ACLED_FILE)
    df = df[df["variable"] == ACLED_EVENTS].copy()
    df["month_number"] = df["month"].map(parse_month)
    return df[["iso3", "month_number", "value"]].sort_values(["iso3", "month_number"])


def acled_countries() -> tuple[str, ...]:
    """Countries (ISO3) with monthly ACLED event counts."""
    return tuple(sorted(_acled()["iso3"].unique()))


def unrest_index(iso3: str, months: np.ndarray) -> np.ndarray:
    """Unrest index of ``iso3`` in each month number of ``months`` (dimensionless, 0 = the country's mean).

    ``ln((E3 + 1) / (mean + 1))``: ``E3`` is the mean number of ACLED events (political violence
    and protests, all types) in the month and the ``UNREST_WINDOW - 1`` months before it that
    are in the data, ``mean`` the country's mean over all its months. Months outside the data,
    and countries without ACLED data, get 0.
    """
    months = np.asarray(months, dtype=np.int64)
    rows = _acled()[_acled()["iso3"] == iso3]
    out = np.zeros(months.shape)
    if rows.empty:
        return out
    series = pd.Series(rows["value"].to_numpy(dtype=float), index=rows["month_number"].to_numpy())
    series = series.reindex(range(series.index.min(), series.index.max() + 1))
    trailing = series.rolling(UNREST_WINDOW, min_periods=1).mean()
    mean = series.mean()
    inside = (months >= series.index.min()) & (months <= series.index.max())
    out[inside] = np.log((trailing.reindex(months[inside]).to_numpy() + 1.0) / (mean + 1.0))
    return out
