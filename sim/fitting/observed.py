"""Observed encounters by month and nationality: reading and checking a file in CBP's layout, month windows.

Observed data come in the CBP layout (``month``, ``citizenship``, ``encounters``; other
columns ignored), from any path; ``load_observed`` checks it and reports problems with
file, line and column (``ObservedDataError``). The residual group ``OTHER`` (and any
nationality not simulated) is left out of comparisons.
"""
from __future__ import annotations

import csv
import hashlib
import re
from pathlib import Path

import numpy as np
import pandas as pd

from ..core.calendar import format_month, parse_month
from ..core.datasets import observed_encounters
from ..core.errors import Problem, ScenarioError
from ..core.scenario import Scenario

REQUIRED_COLUMNS = ("month", "citizenship", "encounters")
MONTH_TEXT = re.compile(r"^\s*(\d{4})-(\d{2})(-\d{2})?\s*$")   # YYYY-MM, or YYYY-MM-DD
MAX_REPORTED = 10            # problems listed for one observed file


class ObservedDataError(ScenarioError):
    """An observed-data file that cannot be used, or months it does not cover (file, line, column, message)."""


def load_observed(path: str | Path) -> pd.DataFrame:
    """Observed encounters as a table: one row per month (``YYYY-MM``), one column per ISO3 nationality.

    Values are persons per month (CBP encounters, events), summed over the file's rows of
    each month and nationality; a nationality without a row in a month has 0 there. The
    residual group ``OTHER`` (citizenships that map to no ISO3 code) is dropped. Raises
    ``ObservedDataError`` naming the file, line and column of every problem found
    (missing file or column, unreadable month, count that is not a whole number >= 0).
    """
    path = Path(path)
    file = str(path)
    if not path.is_file():
        raise ObservedDataError([Problem(file, None, "", "observed data file not found")])
    problems = _check_observed_rows(path)
    if problems:
        raise ObservedDataError(problems)
    try:
        long = observed_encounters(path)
    except (ValueError, OSError) as exc:           # the checks above make this unexpected
        raise ObservedDataError([Problem(file, None, "", f"cannot read the observed data: {exc}")]) from None
    wide = long.pivot_table(index="month", columns="nationality", values="encounters", aggfunc="sum", fill_value=0)
    wide = wide.drop(columns=["OTHER"], errors="ignore").sort_index().astype(float)
    wide.index.name, wide.columns.name = "month", "nationality"
    return wide


def _check_observed_rows(path: Path) -> list[Problem]:
    """Problems of an observed CSV: header, then each row's month and encounters (with line numbers)."""
    file = str(path)
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None:
                return [Problem(file, None, "", "the file is empty: expected a CSV with columns "
                                + ", ".join(REQUIRED_COLUMNS))]
            names = [h.strip() for h in header]
            missing = [c for c in REQUIRED_COLUMNS if c not in names]
            if missing:
                return [Problem(file, 1, c, "required column is missing (found: "
                                + ", ".join(n for n in names if n) + ")") for c in missing]
            month_at, count_at = names.index("month"), names.index("encounters")
            problems, rows = [], 0
            for row in reader:
                if not any(cell.strip() for cell in row):
                    continue
                rows += 1
                line = reader.line_num
                month = row[month_at] if month_at < len(row) else ""
                count = row[count_at] if count_at < len(row) else ""
                if not _month_ok(month):
                    problems.append(Problem(file, line, "month", f"expected a month as YYYY-MM, got {month!r}"))
                if not _count_ok(count):
                    problems.append(Problem(file, line, "encounters",
                                            f"expected a whole number of persons (0 or more), got {count!r}"))
                if len(problems) >= MAX_REPORTED:
                    problems.append(Problem(file, None, "", "more problems not listed"))
                    break
    except UnicodeDecodeError as exc:
        return [Problem(file, None, "", f"not UTF-8 text ({exc.reason})")]
    except csv.Error as exc:
        return [Problem(file, None, "", f"not a readable CSV file ({exc})")]
    if not problems and rows == 0:
        problems.append(Problem(file, None, "", "no data rows"))
    return problems


def _month_ok(text: str) -> bool:
    match = MONTH_TEXT.match(text or "")
    return bool(match) and 1 <= int(match.group(2)) <= 12


def _count_ok(text: str) -> bool:
    try:
        value = float(str(text).strip())
    except ValueError:
        return False
    return np.isfinite(value) and value >= 0 and value == int(value)


def observed_sha256(path: str | Path) -> str:
    """SHA-256 of an observed-data file (hex), for provenance."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def months_between(first: str, last: str) -> list[str]:
    """Every month from ``first`` to ``last`` inclusive (``YYYY-MM``)."""
    start, end = parse_month(first), parse_month(last)
    return [format_month(m) for m in range(start, end + 1)]


def require_months(observed: pd.DataFrame, months: list[str], file: str, key: str, what: str) -> None:
    """Raise ``ObservedDataError`` (on ``key``, e.g. an option) when ``observed`` lacks any of ``months``."""
    missing = [m for m in months if m not in observed.index]
    if missing:
        shown = ", ".join(missing[:6]) + (f" and {len(missing) - 6} more" if len(missing) > 6 else "")
        covers = f"{observed.index.min()} .. {observed.index.max()}"
        raise ObservedDataError([Problem(file, None, key, f"{what} needs observed months that {file} does not have: "
                                         f"{shown} (the file covers {covers})")])


def compared_nationalities(scenario: Scenario, observed: pd.DataFrame) -> list[str]:
    """Simulated origins that the observed data has (in the scenario's order)."""
    return [code for code in scenario.origins if code in observed.columns]


def month_option(text: str, option: str) -> str:
    """A month given as a command-line option (``YYYY-MM``), normalised; ``ObservedDataError`` on ``option`` if bad."""
    try:
        return format_month(parse_month(text))
    except ValueError:
        raise ObservedDataError([Problem("command line", None, option,
                                         f"expected a month as YYYY-MM, got {text!r}")]) from None
