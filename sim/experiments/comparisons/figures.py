"""Figures of a comparison. Each function returns ``(figure, data)``: ``data`` is exactly what is drawn.

One colour per scenario in every figure (Okabe-Ito, colour-blind safe, in study order;
the baseline first); dates on the x axis; units on the y axis; parameters by their titles
(``sim.core.titles``), numbers with thousands separators or k/M/B (``sim.outputs.numbers``),
fonts of ``sim.outputs.plots.STYLE``.
"""
from __future__ import annotations

import textwrap

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates  # noqa: E402
import matplotlib.patches  # noqa: E402,F401
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402,F401
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.ticker import LogLocator, MaxNLocator, NullFormatter  # noqa: E402

from ...outputs.numbers import compact  # noqa: E402
from ...outputs.plots import CURVE_METRICS, MIN_FONT_SIZE, PALETTE, THOUSANDS, CompactFormatter, floor_at_zero, styled  # noqa: E402
from ...outputs.table import METRIC_UNITS  # noqa: E402
from . import analysis  # noqa: E402

TITLES = {**CURVE_METRICS, "deported": "Deportations (transit countries and US removals)",
          "expelled": "Expulsions to Mexico", "aid_spent_usd": "Root-cause aid spending",
          "enforcement_spent_usd": "Enforcement and containment spending"}


def colours(names) -> dict[str, str]:
    """The colour of each scenario, the same in every figure."""
    return {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(names)}


def _dates(months) -> pd.DatetimeIndex:
    return pd.to_datetime(pd.Index(months) + "-01")


def _month_axis(ax) -> None:
    locator = mdates.AutoDateLocator(minticks=3, maxticks=7)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.grid(alpha=0.3)


def _unit(metric: str) -> str:
    if METRIC_UNITS.get(metric) == "USD":
        return "USD per month"
    return "persons" if metric == "in_transit" else "persons per month"


def _legend(fig, ax, extra: str = "median, 10-90 % band") -> None:
    handles, labels = ax.get_legend_handles_labels()
    if not labels:
        return
    width = fig.get_figwidth()                              # inches; a 9-point character is about 0.075 in wide
    columns = max(1, min(len(labels), 6, int(width / (0.075 * max(map(len, labels)) + 0.7))))
    fig.legend(handles, labels, loc="outside lower center", ncol=columns, frameon=False,
               title=wrap(extra, int(width / 0.075) - 4), title_fontsize=9)


def _draw_bands(ax, bands: pd.DataFrame, names, colour: dict, linewidth: float = 1.8) -> pd.DataFrame:
    """Median line and 10-90 % band of each scenario (``bands``: scenario, month, q10, q50, q90).

    Returns the rows drawn."""
    drawn = []
    for name in names:
        part = bands[bands.scenario == name]
        dates = _dates(part.month)
        ax.fill_between(dates, part.q10, part.q90, color=colour[name], alpha=0.18, linewidth=0)
        ax.plot(dates, part.q50, color=colour[name], linewidth=linewidth, label=name)
        drawn.append(part)
    return pd.concat(drawn, ignore_index=True)


@styled
def outcome_curves(outcomes: pd.DataFrame, metrics, names, starts: pd.DataFrame | None = None):
    """One panel per metric, one line per scenario (median, 10-90 % band); dotted lines where policies start."""
    colour = colours(names)
    data = []
    cols = 2 if len(metrics) <= 4 else 3
    rows = -(-len(metrics) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.4 * cols, 3.3 * rows + 0.8), squeeze=False, layout="constrained")
    for ax, metric in zip(axes.flat, metrics):
        bands = analysis.band(analysis.run_monthly(outcomes, metric)).reset_index()
        data.append(_draw_bands(ax, bands, names, colour).assign(metric=metric))
        floor_at_zero(ax, bands.q90.max() if len(bands) else 0.0)
        if starts is not None:
            for row in starts.itertuples():
                ax.axvline(_dates([row.month])[0], color=colour[row.scenario], linestyle=":", linewidth=1.2)
        ax.set_title(TITLES.get(metric, metric))
        ax.set_ylabel(_unit(metric))
        ax.yaxis.set_major_formatter(THOUSANDS)
        _month_axis(ax)
    for ax in list(axes.flat)[len(metrics):]:
        ax.set_visible(False)
    _legend(fig, axes.flat[0], "median and 10-90 % band over replications; dotted: a scenario's policies start")
    return fig, pd.concat(data, ignore_index=True)[["metric", "scenario", "month", "q10", "q50", "q90"]]


def nationality_curves(outcomes: pd.DataFrame, names, metric: str = "encounters"):
    """Small multiples: ``metric`` by nationality, one line per scenario (median, 10-90 % band)."""
    frame = outcomes[outcomes.metric == metric]
    return _small_multiples(frame.assign(panel=frame.nationality), outcomes, names, metric, "nationality")


def country_curves(outcomes: pd.DataFrame, names, metric: str = "intercepted"):
    """Small multiples: a located ``metric`` by the country of the node where it happened (e.g. interceptions
    by transit country), one line per scenario (median, 10-90 % band)."""
    from ...core.network import load_route_graph

    frame = outcomes[outcomes.metric == metric]
    return _small_multiples(frame.assign(panel=frame.location.map(load_route_graph().node_country)), outcomes,
                            names, metric, "country")


@styled
def _small_multiples(frame: pd.DataFrame, outcomes: pd.DataFrame, names, metric: str, by: str):
    """One panel per value of ``frame.panel`` (e.g. nationality); every run of ``outcomes`` counts (0 if no rows)."""
    panels = sorted(p for p in frame.panel.dropna().unique() if p)
    colour = colours(names)
    cols = min(4, max(len(panels), 1))
    rows = max(-(-len(panels) // cols), 1)
    fig, axes = plt.subplots(rows, cols, figsize=(3.5 * cols + 0.8, 2.6 * rows + 0.9), squeeze=False, sharex=True,
                             layout="constrained")
    data = []
    for ax, panel in zip(axes.flat, panels):
        bands = analysis.band(analysis.run_monthly(frame[frame.panel == panel], metric, outcomes)).reset_index()
        data.append(_draw_bands(ax, bands, names, colour, linewidth=1.5).assign(**{by: panel}))
        floor_at_zero(ax, bands.q90.max() if len(bands) else 0.0)
        ax.set_title(panel, fontsize=10)
        ax.yaxis.set_major_formatter(THOUSANDS)
        _month_axis(ax)
    for ax in axes[:, 0]:
        ax.set_ylabel(_unit(metric))
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    title = TITLES.get(metric, metric)
    if not panels:
        axes.flat[0].text(0.5, 0.5, f"no {title.lower()} in any run", ha="center", va="center",
                          transform=axes.flat[0].transAxes)
        axes.flat[0].set_axis_off()
    fig.suptitle(f"{title} by {by}", fontsize=12)
    _legend(fig, axes.flat[0])
    columns = [by, "scenario", "month", "q10", "q50", "q90"]
    return fig, (pd.concat(data, ignore_index=True)[columns] if data else pd.DataFrame(columns=columns))


@styled
def differences(outcomes: pd.DataFrame, names, metrics=("entries_irregular", "deaths", "encounters")):
    """Cumulative persons averted against the baseline (paired by replicate), one panel per metric."""
    colour = colours(names)
    fig, axes = plt.subplots(1, len(metrics), figsize=(5.2 * len(metrics), 3.9), squeeze=False, layout="constrained")
    data = []
    for ax, metric in zip(axes.flat, metrics):
        averted = analysis.cumulative_averted(outcomes, metric, names[0])
        _draw_bands(ax, averted, names[1:], colour)
        data.append(averted.assign(metric=metric))
        ax.axhline(0, color="black", linewidth=0.8)
        label = {"entries_irregular": "Irregular crossings", "deaths": "Deaths", "encounters": "Encounters"}
        ax.set_title(f"{label.get(metric, metric)} averted (+) or added (-),\ncumulative", fontsize=10.5)
        ax.set_ylabel("persons, cumulative vs baseline")
        ax.yaxis.set_major_formatter(THOUSANDS)
        _month_axis(ax)
    _legend(fig, axes.flat[0], "median and 10-90 % band of the difference from baseline, paired by replication")
    return fig, pd.concat(data, ignore_index=True)[["metric", "scenario", "month", "q10", "q50", "q90"]]


@styled
def cost_effectiveness(table: pd.DataFrame, names):
    """Extra spending (USD) per irregular crossing and per death averted: median with 10-90 % bar."""
    colour = colours(names)
    measures = (("usd_per_crossing_averted", "USD per irregular crossing averted", "share_averting_crossings"),
                ("usd_per_death_averted", "USD per death averted", "share_averting_deaths"))
    fig, axes = plt.subplots(1, 2, figsize=(11, 0.6 * len(table) + 2.2), squeeze=False, layout="constrained")
    rows = []
    for ax, (measure, title, share) in zip(axes.flat, measures):
        for y, row in enumerate(table.itertuples()):
            q10, q50, q90 = (getattr(row, f"{measure}_q{q}") for q in ("10", "50", "90"))
            rows.append({"measure": measure, "scenario": row.scenario, "q10": q10, "q50": q50, "q90": q90})
            if np.isfinite(q50) and q50 > 0:
                ax.errorbar([q50], [y], xerr=[[q50 - q10], [q90 - q50]], fmt="o", color=colour[row.scenario],
                            capsize=4, markersize=7)
            elif getattr(row, "no_budget", False):
                ax.text(0.02, y, "no budget: it spends nothing\nmore than the baseline",
                        transform=ax.get_yaxis_transform(), va="center", fontsize=9, color=colour[row.scenario])
            else:
                ax.text(0.02, y, "not defined: nothing averted,\nor no extra spending",
                        transform=ax.get_yaxis_transform(), va="center", fontsize=9, color=colour[row.scenario])
        ax.set_yticks(range(len(table)), [f"{name}\n(averted in {100 * p:.0f} % of runs)"
                                          for name, p in zip(table.scenario, table[share])])
        ax.set_ylim(-0.6, len(table) - 0.4)
        ax.invert_yaxis()
        ax.set_xscale("log")
        _log_ticks(ax, [r[k] for r in rows if r["measure"] == measure for k in ("q10", "q90")])
        ax.set_xlabel("USD per person averted (log scale)")
        ax.set_title(title)
        ax.grid(alpha=0.3, axis="x")
    fig.suptitle("Cost-effectiveness against the baseline (median, 10-90 % over replications)")
    return fig, pd.DataFrame(rows)


def _log_ticks(ax, values) -> None:
    """Ticks of a log axis labelled in few characters (10k, 2M): 1-2-5 steps over a short range, decades over a
    long one, and no labels on minor ticks (they crowd, and overlap, when a range spans less than a decade)."""
    finite = [v for v in values if np.isfinite(v) and v > 0]
    decades = np.log10(max(finite) / min(finite)) if finite else 3.0
    subs = (1.0, 2.0, 5.0) if decades < 1.5 else (1.0,)
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=subs, numticks=12))
    ax.xaxis.set_major_formatter(CompactFormatter())
    ax.xaxis.set_minor_formatter(NullFormatter())


@styled
def heatmap(grid: pd.DataFrame, x: str, y: str, outcome: str, x_title: str | None = None,
            y_title: str | None = None):
    """An outcome (persons over the horizon, median over runs) over two levers of a sweep.

    ``grid``: one row per run with the lever values in columns ``x`` and ``y`` and the total in ``value``;
    ``x`` and ``y`` name the levers (their paths), ``x_title`` and ``y_title`` label the axes (default: the paths).
    """
    table = grid.pivot_table(index="y", columns="x", values="value", aggfunc="median").sort_index(ascending=False)
    fig, ax = plt.subplots(figsize=(8, 5.8), layout="constrained")
    image = ax.imshow(table.to_numpy(), cmap="viridis", aspect="auto")
    ax.set_xticks(range(table.shape[1]), [compact(v, small=1_000) for v in table.columns])
    ax.set_yticks(range(table.shape[0]), [compact(v, small=1_000) for v in table.index])
    ax.set_xlabel(wrap(x_title or x, 70))
    ax.set_ylabel(wrap(y_title or y, 40))
    bar = fig.colorbar(image, ax=ax, format=CompactFormatter())
    bar.set_label(wrap(f"{TITLES.get(outcome, outcome)}, total over the horizon (persons; median over runs)", 45))
    size = max(MIN_FONT_SIZE, min(10.0, 60.0 / max(table.shape[1], 1)))
    for (i, j), value in np.ndenumerate(table.to_numpy()):
        light = image.norm(value) > 0.6                       # viridis is light at the top of its range
        ax.text(j, i, f"{value:,.0f}", ha="center", va="center", fontsize=size, color="black" if light else "white")
    ax.set_title(f"{TITLES.get(outcome, outcome)} over two levers")
    return fig, table


def wrap(text: str, width: int) -> str:
    """A long label on several lines of at most ``width`` characters."""
    return "\n".join(textwrap.wrap(text, width, break_on_hyphens=False)) or text


@styled
def yearly_effect(yearly: pd.DataFrame, names, contrast: dict | None = None, starts: pd.DataFrame | None = None):
    """Persons averted per calendar year (mean, 95 % interval) and cumulative, one line per scenario.

    ``yearly``: the table of ``analysis.yearly_averted``. A policy whose yearly effect starts late
    and levels off shows its lag and diminishing returns; the cumulative panel shows when one
    policy overtakes another.
    """
    colour = colours(names)
    fig, axes = plt.subplots(1, 2, figsize=(11.5, 4.1), squeeze=False, layout="constrained")
    outcome = (contrast or {}).get("outcome", "entries_irregular")
    label = TITLES.get(outcome, outcome)
    for name in names[1:]:
        part = yearly[yearly.scenario == name]
        per_month = part.averted / part.months * 12          # a partial year scaled to a year
        axes[0, 0].plot(part.year, per_month, marker="o", color=colour[name], label=name)
        axes[0, 0].fill_between(part.year, part.low / part.months * 12, part.high / part.months * 12,
                                color=colour[name], alpha=0.18, linewidth=0)
        axes[0, 1].plot(part.year, part.cumulative, marker="o", color=colour[name], label=name)
    axes[0, 0].set_title(f"{label}: averted (+) or added (-) per year", fontsize=10.5)
    axes[0, 0].set_ylabel("persons per year vs baseline")
    axes[0, 1].set_title(f"{label}: averted, cumulative to each year's end", fontsize=10.5)
    axes[0, 1].set_ylabel("persons, cumulative vs baseline")
    for ax in axes.flat:
        ax.axhline(0, color="black", linewidth=0.8)
        ax.yaxis.set_major_formatter(CompactFormatter())
        ax.grid(alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    _legend(fig, axes.flat[0], "mean over replications (95 % interval), paired with the baseline; partial years "
            "scaled to twelve months")
    return fig, yearly.copy()


@styled
def robustness(futures: pd.DataFrame, table: pd.DataFrame, names):
    """Totals over the horizon across sampled futures (box: 10-90 %, line: median) and maximum regret, per outcome."""
    from .robustness import OUTCOMES

    colour = colours(names)
    fig, axes = plt.subplots(1, len(OUTCOMES), figsize=(3.3 * len(OUTCOMES), 0.45 * len(names) + 2.6),
                             squeeze=False, layout="constrained")
    for ax, outcome in zip(axes.flat, OUTCOMES):
        wide = futures.pivot(index="future", columns="policy", values=outcome)
        for y, name in enumerate(names):
            values = wide[name].to_numpy()
            q10, q50, q90 = np.quantile(values, [0.1, 0.5, 0.9])
            ax.plot([values.min(), values.max()], [y, y], color=colour[name], linewidth=0.8)
            ax.add_patch(matplotlib.patches.Rectangle((q10, y - 0.3), q90 - q10, 0.6, color=colour[name], alpha=0.35))
            ax.plot([q50, q50], [y - 0.3, y + 0.3], color=colour[name], linewidth=2)
            regret = table[(table.policy == name) & (table.outcome == outcome)].max_regret.iloc[0]
            ax.annotate(f"max regret {compact(regret)}", (0.98, y + 0.45), xycoords=("axes fraction", "data"),
                        fontsize=MIN_FONT_SIZE, ha="right", va="bottom", color="0.3")
        ax.set_yticks(range(len(names)), names if ax is axes.flat[0] else [""] * len(names))
        ax.set_ylim(-0.7, len(names) - 0.3)
        ax.invert_yaxis()
        unit = "USD" if outcome == "spending_usd" else "persons"
        better = "higher" if outcome == "entries_legal" else "lower"
        ax.set_title(f"{TITLES.get(outcome, 'Spending (aid + enforcement)' if outcome == 'spending_usd' else outcome)}"
                     f"\n({unit}, total; {better} is better)", fontsize=10)
        ax.xaxis.set_major_locator(MaxNLocator(4))
        ax.xaxis.set_major_formatter(CompactFormatter())
        ax.tick_params(axis="x", labelsize=8.5)
        ax.grid(alpha=0.3, axis="x")
    fig.suptitle(f"Each policy across {futures.future.nunique()} sampled futures (box 10-90 %, bar median, whiskers "
                 "range)", fontsize=11)
    return fig, table.copy()


@styled
def discovery(futures: pd.DataFrame, boxes: pd.DataFrame, contrast: dict, titles: dict[str, str] | None = None):
    """PRIM's peeling trajectory (coverage against density) and the futures over the two uncertainties the
    selected box limits most, marked where the contrast's policy wins, with the box drawn; ``titles`` names the
    uncertainties (default: their paths)."""
    titles = titles or {}
    from .robustness import wins

    won = wins(futures, contrast["policy"], contrast["against"], contrast["outcome"])
    x = futures.drop_duplicates("future").set_index("future").loc[won.index]
    params = [c[:-4] for c in boxes.columns if c.endswith(" min")]
    best = boxes[boxes.selected].iloc[0]
    span = {p: (x[p].max() - x[p].min()) or 1.0 for p in params}
    narrowed = sorted(params, key=lambda p: (best[f"{p} max"] - best[f"{p} min"]) / span[p])
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.4), squeeze=False, layout="constrained")
    ax = axes[0, 0]
    points = ax.scatter(boxes.coverage, boxes.density, c=boxes.restricted, cmap="viridis", s=18)
    ax.scatter([best.coverage], [best.density], s=120, facecolors="none", edgecolors="red", linewidths=1.5,
               label="box shown")
    fig.colorbar(points, ax=ax, label="uncertainties restricted")
    ax.set_xlabel("coverage (share of winning futures inside)")
    ax.set_ylabel("density (share of the box's futures that are wins)")
    ax.set_title("PRIM peeling trajectory")
    ax.legend(loc="lower left")
    ax.grid(alpha=0.3)
    ax = axes[0, 1]
    px, py = (narrowed + narrowed)[:2] if len(narrowed) == 1 else narrowed[:2]
    ax.scatter(x.loc[won, px], x.loc[won, py], marker="o", color=PALETTE[2], s=22, label=f"{contrast['policy']} wins")
    ax.scatter(x.loc[~won, px], x.loc[~won, py], marker="x", color=PALETTE[5 % len(PALETTE)], s=22,
               label=f"{contrast['against']} wins or ties")
    ax.add_patch(matplotlib.patches.Rectangle((best[f"{px} min"], best[f"{py} min"]),
                                              best[f"{px} max"] - best[f"{px} min"],
                                              best[f"{py} max"] - best[f"{py} min"], fill=False, edgecolor="red",
                                              linewidth=1.5))
    ax.set_xlabel(wrap(titles.get(px, px), 60))
    ax.set_ylabel(wrap(titles.get(py, py), 40))
    ax.xaxis.set_major_formatter(CompactFormatter())
    ax.yaxis.set_major_formatter(CompactFormatter())
    ax.set_title(f"Futures where {contrast['policy']} beats {contrast['against']} on {contrast['outcome']}")
    ax.legend()
    ax.grid(alpha=0.3)
    return fig, boxes.copy()


def save(fig, folder, stem: str) -> list[str]:
    """Write ``stem``.png and ``stem``.svg into ``folder``; returns the file names."""
    import io
    from pathlib import Path

    from ...outputs.files import atomic_write_bytes

    folder = Path(folder)
    names = []
    for ext in ("png", "svg"):                 # drawn in memory, then written whole (never edited in place)
        buffer = io.BytesIO()
        fig.savefig(buffer, format=ext, dpi=120, metadata={"Date": None} if ext == "svg" else None)
        atomic_write_bytes(folder / f"{stem}.{ext}", buffer.getvalue())
        names.append(f"{stem}.{ext}")
    plt.close(fig)
    return names
