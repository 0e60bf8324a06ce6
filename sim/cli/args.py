"""What every command group shares: argument types and the exit code of bad input."""
from __future__ import annotations

import argparse
from pathlib import Path

EXIT_INPUT = 2
"""Exit code of input the user can fix (bad file, option, folder, too large a run)."""


def whole_number(text: str) -> int:
    """argparse type of a whole number (e.g. a seed; 20,000 and 20_000 are read as 20000), in plain words
    when the text is not one."""
    try:
        return int(text.replace(",", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number such as 1000, got {text!r}") from None


def positive(text: str) -> int:
    """argparse type of a whole number >= 1 (agents, months, replications, workers)."""
    value = whole_number(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of 1 or more, got {text!r}")
    return value


def month_argument(text: str) -> str:
    """argparse type of a ``YYYY-MM`` option (normalised, e.g. 2021-9 -> 2021-09)."""
    from ..core.calendar import format_month, parse_month

    try:
        return format_month(parse_month(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a month as YYYY-MM, got {text!r}") from None


def add_observed_argument(parser: argparse.ArgumentParser) -> None:
    """``--observed FILE``, shared by ``calibrate`` and ``validate``."""
    parser.add_argument("--observed", type=Path, required=True, metavar="FILE",
                        help="observed encounters, CBP layout: month, citizenship, encounters (other columns ignored)")
