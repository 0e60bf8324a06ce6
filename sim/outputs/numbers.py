"""Numbers as people read them, in one place: tables, figures and the terminal share these.

``thousands(12345.6)`` gives "12,346"; ``compact(3.0e9)`` gives "3B" (k thousand, M million,
B billion, T trillion: the letters of financial writing) so that an axis never shows
``1e+07``; ``decimal`` keeps the digits a probability or an elasticity needs.
"""
from __future__ import annotations

import math

SUFFIXES = ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k"))
"""Thresholds and letters of ``compact`` (T trillion, B billion, M million, k thousand)."""


def thousands(value: float) -> str:
    """A whole number with thousands separators: 12,346; a dash for a missing value."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:,.0f}"


def decimal(value: float, digits: int = 3) -> str:
    """A number with up to ``digits`` significant digits and no exponent: 0.35, 12.5, 1,250."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if value == 0 or abs(value) >= 10 ** digits:
        return f"{value:,.0f}"
    places = max(0, digits - 1 - math.floor(math.log10(abs(value))))
    return f"{value:,.{places}f}".rstrip("0").rstrip(".") if places else f"{value:,.0f}"


def compact(value: float, small: int = 10_000, digits: int = 3) -> str:
    """A number in few characters: 8,753 below ``small``, then 12.5k, 5.71M, 3B (``digits`` significant digits);
    small fractions as 0.35; a dash for a missing value."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    size = abs(value)
    if size >= small:
        for threshold, suffix in SUFFIXES:
            if size >= threshold:
                return f"{decimal(value / threshold, digits)}{suffix}"
    if size >= 10 or size == 0:
        return f"{value:,.0f}"
    return decimal(value, max(2, digits - 1))
