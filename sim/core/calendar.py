"""Months as the model's unit of time.

A month is written ``YYYY-MM`` in files and handled as an integer *month number*
(``year * 12 + month - 1``) inside the model, so that arithmetic on dates is
integer arithmetic.
"""
from __future__ import annotations

import re
from functools import lru_cache

_MONTH_RE = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def parse_month(text: str) -> int:
    """Return the month number of ``'YYYY-MM'`` (months since year 0)."""
    number = _month_number(str(text))
    if number is None:
        raise ValueError(f"expected a month as YYYY-MM, got {text!r}")
    return number


@lru_cache(maxsize=4096)
def _month_number(text: str) -> int | None:
    """Month number of a ``YYYY-MM`` string, or None (cached: inputs ask for the same few months again and again)."""
    match = _MONTH_RE.match(text.strip())
    return None if match is None else int(match.group(1)) * 12 + int(match.group(2)) - 1


def format_month(number: int) -> str:
    """Return ``'YYYY-MM'`` for a month number."""
    year, month0 = divmod(int(number), 12)
    return f"{year:04d}-{month0 + 1:02d}"


def month_range(start: int, count: int) -> list[str]:
    """Return ``count`` consecutive month labels starting at month number ``start``."""
    return [format_month(start + i) for i in range(count)]


def fractional_year(number: int) -> float:
    """Return the middle of a month as a fractional year (2023-07 -> 2023.54)."""
    return number / 12.0 + 1.0 / 24.0
