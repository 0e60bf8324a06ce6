"""What every command group shares: argument types and the exit code of bad input."""
from __future__ import annotations

import argparse
from pathlib import Path

EXIT_INPUT = 2
"""Exit code of input the user can fix (bad file, option, folder, too large a run)."""


def positive(text: str) -> int:
    """argparse type of a whole number >= 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text}")
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
