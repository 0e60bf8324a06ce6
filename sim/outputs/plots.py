"""Figures: outcome curves with uncertainty bands.

Plot functions take the tidy outcomes table and return the matplotlib figure; the
numbers drawn are the numbers of ``sim.outputs.table.quantiles`` on that table. Every
figure of the package is drawn in ``STYLE`` (fonts readable at 100 % zoom) with numbers
as ``sim.outputs.numbers`` writes them (thousands separators, k/M/B instead of 1e+07).
"""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.ticker import Formatter, FuncFormatter  # noqa: E402

from .files import atomic_write_bytes  # noqa: E402
from .numbers import compact, decimal, thousands  # noqa: E402
from .table import quantiles  # noqa: E402

# Okabe-Ito colour-blind-safe palette
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]
STYLE = {"font.size": 10, "axes.titlesize": 11, "axes.labelsize": 10, "xtick.labelsize": 9,
         "ytick.labelsize": 9, "legend.fontsize": 9, "legend.title_fontsize": 9, "figure.titlesize": 12}
"""Font sizes (points) of every figure: at the 110-120 dpi figures are saved with, no text is under 12 pixels."""
MIN_FONT_SIZE = 8.0
"""The smallest font (points) any figure uses (crowded cells of a heatmap, notes inside a panel)."""
THOUSANDS = FuncFormatter(lambda v, _: thousands(v) if abs(v) >= 100 or v == round(v) else decimal(v, 2))
"""Axis numbers with thousands separators: 250,000 (and 0.25 on an axis of small numbers)."""


class CompactFormatter(Formatter):
    """Axis numbers in few characters: 750 / 8.75k / 5.7M / 3B (never 1e+07), with as many digits as the ticks
    need to read apart (1.075M, 1.08M, 1.085M on a narrow axis, not 1.08M twice). One per axis."""

    def __init__(self) -> None:
        self.significant = 3

    def format_ticks(self, values) -> list[str]:
        self.significant = self.digits(values)
        return [self(value, i) for i, value in enumerate(values)]

    def __call__(self, value, pos=None) -> str:
        return compact(value, small=1_000, digits=self.significant)

    @staticmethod
    def digits(values) -> int:
        """The fewest significant digits (3 to 7) that write every one of ``values`` differently."""
        ticks = sorted({float(v) for v in values if np.isfinite(v)})
        for digits in range(3, 8):
            if len({compact(v, small=1_000, digits=digits) for v in ticks}) == len(ticks):
                return digits
        return 7


def styled(draw):
    """Decorator: draw a figure inside ``STYLE`` (the sizes apply to the texts the function creates)."""
    import functools

    @functools.wraps(draw)
    def wrapper(*args, **kwargs):
        with plt.rc_context(STYLE):
            return draw(*args, **kwargs)
    return wrapper


CURVE_METRICS = {
    "encounters": "Encounters at the US border",
    "entries_irregular": "Irregular entries",
    "entries_legal": "Legal entries",
    "intercepted": "Interceptions in transit",
    "in_transit": "People in transit (end of month)",
    "deaths": "Deaths on the way",
}


@styled
def outcome_curves(outcomes: pd.DataFrame, path: str | Path | None = None, metrics=None, title: str | None = None):
    """Median and 10-90 % band over replications for each metric, one panel per metric, one line per scenario."""
    metrics = list(metrics or CURVE_METRICS)
    bands = quantiles(outcomes[outcomes.metric.isin(metrics)])
    missing = [m for m in metrics if m not in set(bands.metric)]     # no rows at all: zero every month
    if missing:
        zeros = outcomes[["scenario", "month"]].drop_duplicates().merge(pd.DataFrame({"metric": missing}), how="cross")
        bands = pd.concat([bands, zeros.assign(q10=0.0, q50=0.0, q90=0.0)], ignore_index=True)
    bands["date"] = pd.to_datetime(bands["month"] + "-01")
    scenarios = list(dict.fromkeys(outcomes["scenario"]))
    cols = 3 if len(metrics) > 4 else 2
    rows = -(-len(metrics) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 3.4 * rows), squeeze=False, constrained_layout=True)
    for ax, metric in zip(axes.flat, metrics):
        for i, name in enumerate(scenarios):
            part = bands[(bands.metric == metric) & (bands.scenario == name)].sort_values("date")
            colour = PALETTE[i % len(PALETTE)]
            ax.fill_between(part["date"], part["q10"], part["q90"], color=colour, alpha=0.2, linewidth=0)
            ax.plot(part["date"], part["q50"], color=colour, label=name, linewidth=1.8)
        ax.set_title(CURVE_METRICS.get(metric, metric))
        ax.set_ylabel("persons per month" if metric != "in_transit" else "persons")
        ax.yaxis.set_major_formatter(THOUSANDS)
        ax.xaxis.set_major_locator(mdates.AutoDateLocator(minticks=3, maxticks=8))
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(ax.xaxis.get_major_locator()))
        floor_at_zero(ax, bands.loc[bands.metric == metric, "q90"].max())
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(metrics):]:
        ax.set_visible(False)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, [f"{label} (median, 10-90 % band)" for label in labels], loc="outside lower center",
               ncol=min(len(labels), 3), frameon=False)
    if title:
        fig.suptitle(title)
    if path is not None:
        save_figure(fig, path)
        plt.close(fig)
    return fig


def floor_at_zero(ax, highest: float) -> None:
    """Start the y axis at 0; a panel whose values are all 0 spans 0 to 1 (not six ticks that all read 0)."""
    ax.set_ylim(bottom=0, top=None if highest > 0 else 1)


def save_figure(fig, path: str | Path, dpi: int = 110) -> Path:
    """Write a figure (format from the file's suffix: png, svg, pdf) whole or not at all; returns the path."""
    import io

    path = Path(path)
    buffer = io.BytesIO()
    fig.savefig(buffer, format=path.suffix.lstrip(".") or "png", dpi=dpi,
                metadata={"Date": None} if path.suffix == ".svg" else None)
    atomic_write_bytes(path, buffer.getvalue())
    return path
