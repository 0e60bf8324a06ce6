"""Scores of simulated against observed monthly series, and the naive forecasts they are compared with.

Every function takes *wide* tables: one row per month (index ``YYYY-MM``), one column per
nationality (ISO3), values in persons per month (encounters are events: a person caught
twice counts twice). ``simulated`` and ``observed`` must have the same months and
nationalities; the functions align them and refuse tables that do not match.

- ``ard``: averaged relative difference (Flee's headline score; a fraction, 0 = perfect);
- ``total_errors``: relative error of each nationality's total over the window (a signed fraction);
- ``mase``: mean absolute scaled error against the naive forecast "same month last year"
  (below 1 = better than that forecast);
- ``log_errors``: residuals of the calibration objective (natural-log units).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..core.calendar import format_month, parse_month

SEASON_MONTHS = 12   # lag of the naive forecast "same month last year"


def _aligned(simulated: pd.DataFrame, observed: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The two tables as float arrays in the same month and nationality order."""
    if set(simulated.index) != set(observed.index) or set(simulated.columns) != set(observed.columns):
        raise ValueError("simulated and observed tables must cover the same months and nationalities")
    simulated = simulated.loc[observed.index, observed.columns]
    return simulated.to_numpy(dtype=float), observed.to_numpy(dtype=float)


def ard(simulated: pd.DataFrame, observed: pd.DataFrame) -> float:
    """Averaged relative difference (dimensionless fraction; 0 is a perfect fit).

    ``ARD = (1/T) Σ_t [ Σ_n |S_t,n − Y_t,n| / Σ_n Y_t,n ]``: for each month the absolute
    differences summed over nationalities divided by that month's observed total, then
    averaged over the T months. Cells where ``observed`` is NaN (no data: a series along the
    route without a row for that nationality and month) are left out of both sums; months
    whose observed total is 0 have no relative difference and are left out (NaN when every
    month is).
    """
    s, y = _aligned(simulated, observed)
    have = np.isfinite(y)
    y = np.where(have, y, 0.0)
    total = y.sum(axis=1)
    keep = total > 0
    if not keep.any():
        return float("nan")
    return float((np.where(have, np.abs(s - y), 0.0).sum(axis=1)[keep] / total[keep]).mean())


def total_errors(simulated: pd.DataFrame, observed: pd.DataFrame) -> pd.Series:
    """Relative error of each nationality's total over the window (signed fraction; +0.2 = 20 % too many).

    ``e_n = (Σ_t S_t,n − Σ_t Y_t,n) / Σ_t Y_t,n`` over the months with observed data (NaN cells
    left out); NaN for a nationality with no observed count in the window.
    """
    s, y = _aligned(simulated, observed)
    have = np.isfinite(y)
    observed_total = np.where(have, y, 0.0).sum(axis=0)
    simulated_total = np.where(have, s, 0.0).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        error = np.where(observed_total > 0, (simulated_total - observed_total) / observed_total, np.nan)
    return pd.Series(error, index=observed.columns, name="total_error")


def mase(simulated: pd.DataFrame, observed: pd.DataFrame, naive: pd.DataFrame) -> float:
    """Mean absolute scaled error against a naive forecast (dimensionless; below 1 beats the naive forecast).

    ``MASE = Σ_t Σ_n |S_t,n − Y_t,n| / Σ_t Σ_n |N_t,n − Y_t,n|``: the mean absolute error of
    the simulation divided by that of the naive forecast ``N`` over the same months and
    nationalities (``seasonal_naive``: the observed value of the same month a year
    earlier). The scale is taken out of sample, over the compared window, so MASE < 1
    means the simulation forecast that window better than the naive forecast did.
    NaN when the naive forecast is exact everywhere.
    """
    s, y = _aligned(simulated, observed)
    n, y2 = _aligned(naive, observed)
    scale = np.abs(n - y2).sum()
    return float(np.abs(s - y).sum() / scale) if scale > 0 else float("nan")


def log_errors(simulated: pd.DataFrame, observed: pd.DataFrame, offset: float) -> np.ndarray:
    """Residuals of the calibration objective, ``ln(S_t,n + c) − ln(Y_t,n + c)`` (natural-log units).

    One residual per month and nationality with observed data (months by rows, flattened;
    NaN cells of ``observed`` are left out); ``offset`` ``c`` (persons per month, > 0) keeps
    months with few or no encounters finite and damps their weight. Half the sum of squares
    is the objective ``calibrate`` minimises.
    """
    s, y = _aligned(simulated, observed)
    have = np.isfinite(y)
    return (np.log(s + offset) - np.log(np.where(have, y, 0.0) + offset))[have]


def seasonal_naive(observed: pd.DataFrame, months: list[str], lag: int = SEASON_MONTHS) -> pd.DataFrame:
    """The naive forecast "same month last year": for each month, the observed value ``lag`` months earlier.

    ``observed`` must hold the months ``lag`` months before each of ``months``; raises
    ``KeyError`` naming the first missing one otherwise. Persons per month.
    """
    earlier = [format_month(parse_month(m) - lag) for m in months]
    missing = [m for m in earlier if m not in observed.index]
    if missing:
        raise KeyError(missing[0])
    out = observed.loc[earlier].copy()
    out.index = pd.Index(months, name=observed.index.name)
    return out


def last_value_naive(observed: pd.DataFrame, months: list[str]) -> pd.DataFrame:
    """The naive forecast "last observed month held flat": every month gets the value of the month before the first.

    Raises ``KeyError`` when that month is not observed. Persons per month.
    """
    before = format_month(parse_month(months[0]) - 1)
    if before not in observed.index:
        raise KeyError(before)
    return pd.DataFrame(np.repeat(observed.loc[[before]].to_numpy(), len(months), axis=0),
                        index=pd.Index(months, name=observed.index.name), columns=observed.columns)


__all__ = ["ard", "total_errors", "mase", "log_errors", "seasonal_naive", "last_value_naive", "SEASON_MONTHS"]
