"""The report of a comparison: figures (PNG and SVG), tables, one self-contained report.html, summary.md."""
from __future__ import annotations

import base64
import html
import json
from pathlib import Path

import pandas as pd

from ...outputs.files import atomic_write_bytes
from . import figures

CAPTIONS = {
    "outcome_curves": "Monthly outcomes per scenario: median and 10-90 % band over replications. Dotted lines mark "
                      "the first month of each scenario's own policies.",
    "encounters_by_nationality": "Encounters at the US border by nationality.",
    "interceptions_by_country": "Interceptions by the country where they happen (transit containment).",
    "difference_from_baseline": "Cumulative difference from the baseline, paired by replication (common random "
                                "numbers): above zero, fewer crossings, deaths or encounters than the baseline.",
    "cost_effectiveness": "Extra spending (aid + enforcement + containment, against the baseline) per irregular "
                          "crossing averted and per death averted.",
    "heatmap": "An outcome over two levers of the study's sweep (median over replications and uncertainties).",
}
SUMMARY_LABELS = {"encounters": "encounters", "entries_irregular": "irregular entries",
                  "entries_legal": "legal entries", "deaths": "deaths", "intercepted": "interceptions",
                  "deported": "deportations", "spending_usd": "spending (USD)"}


def write_report(comparison, folder: Path) -> dict[str, list[str]]:
    """Draw every figure into ``folder/figures`` and write the tables, report.html and summary.md."""
    drawn = {}
    for stem, (fig, _data) in comparison.figures().items():
        drawn[stem] = figures.save(fig, folder / "figures", stem)
    summary = comparison.summary()
    costs = comparison.cost_effectiveness()
    atomic_write_bytes(folder / "summary.csv", summary.to_csv(index=False).encode())
    atomic_write_bytes(folder / "cost_effectiveness.csv", costs.to_csv(index=False).encode())
    atomic_write_bytes(folder / "report.html", _html(comparison, folder, drawn, summary, costs).encode())
    atomic_write_bytes(folder / "summary.md", _markdown(comparison, drawn, summary, costs).encode())
    return drawn


def _summary_table(summary: pd.DataFrame) -> pd.DataFrame:
    table = summary.set_index("scenario").rename(columns=SUMMARY_LABELS)
    return table.map(lambda v: f"{v:,.0f}")


def _cost_table(costs: pd.DataFrame) -> pd.DataFrame:
    def span(row, measure):
        q10, q50, q90 = (row[f"{measure}_q{q}"] for q in ("10", "50", "90"))
        if pd.isna(q50):
            return "–"
        return f"{q50:,.0f} ({q10:,.0f} to {q90:,.0f})"

    rows = []
    for _, row in costs.iterrows():
        rows.append({"scenario": row["scenario"],
                     "extra spending (USD)": span(row, "extra_spending_usd"),
                     "irregular crossings averted": span(row, "crossings_averted"),
                     "deaths averted": span(row, "deaths_averted"),
                     "USD per crossing averted": span(row, "usd_per_crossing_averted"),
                     "USD per death averted": span(row, "usd_per_death_averted")})
    return pd.DataFrame(rows).set_index("scenario")


def _html(comparison, folder: Path, drawn: dict, summary: pd.DataFrame, costs: pd.DataFrame) -> str:
    settings = comparison.settings
    baseline = comparison.scenarios[next(iter(comparison.scenarios))]
    parts = [f"<h1>{html.escape(settings['name'])}</h1>",
             f"<p>{html.escape(settings.get('description') or '')}</p>",
             f"<p>{baseline.start} + {baseline.months} months; {baseline.agents:,} agents; "
             f"{baseline.replications} replications per scenario, the same seeds in every scenario.</p>",
             "<h2>Summary</h2><p>Totals over the horizon, median over replications (persons; USD).</p>",
             _summary_table(summary).to_html(classes="table", border=0),
             "<h2>Cost-effectiveness</h2><p>Median (10 % to 90 %) over replications, against the baseline.</p>",
             _cost_table(costs).to_html(classes="table", border=0),
             "<h2>Figures</h2>"]
    for stem, files in drawn.items():
        png = base64.b64encode((folder / "figures" / files[0]).read_bytes()).decode()
        parts.append(f'<figure id="{stem}"><img alt="{stem}" src="data:image/png;base64,{png}">'
                     f"<figcaption>{html.escape(CAPTIONS.get(stem, stem))}</figcaption></figure>")
    parts.append("<h2>Scenarios</h2>")
    for name, text in comparison.texts.items():
        parts.append(f"<h3>{html.escape(name)}</h3><pre>{html.escape(text)}</pre>")
    parts.append("<h2>Provenance</h2><pre>" + html.escape(json.dumps(comparison.provenance, indent=2)) + "</pre>")
    style = ("body{font-family:system-ui,sans-serif;max-width:1150px;margin:2em auto;padding:0 1em;color:#222}"
             "table{border-collapse:collapse;margin:1em 0}th,td{padding:4px 10px;text-align:right;"
             "border-bottom:1px solid #ddd}th:first-child,td:first-child{text-align:left}"
             "img{max-width:100%}figure{margin:2em 0}figcaption{color:#555;font-size:0.9em}"
             "pre{background:#f6f6f6;padding:1em;overflow:auto;font-size:0.8em}")
    return ("<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            f"<title>{html.escape(settings['name'])}: migsim comparison</title><style>{style}</style></head>"
            f"<body>{''.join(parts)}</body></html>")


def _markdown(comparison, drawn: dict, summary: pd.DataFrame, costs: pd.DataFrame) -> str:
    settings = comparison.settings
    lines = [f"# {settings['name']}", "", settings.get("description") or "", "",
             "## Summary (totals over the horizon, median over replications)", "",
             _markdown_table(_summary_table(summary)), "", "## Cost-effectiveness against the baseline", "",
             _markdown_table(_cost_table(costs)), "", "## Figures", ""]
    for stem, files in drawn.items():
        lines += [f"![{CAPTIONS.get(stem, stem)}](figures/{files[0]})", ""]
    return "\n".join(lines)


def _markdown_table(table: pd.DataFrame) -> str:
    """A DataFrame of strings as a Markdown table (index first)."""
    header = [table.index.name or ""] + list(table.columns)
    rows = [[str(i)] + [str(v) for v in row] for i, row in zip(table.index, table.to_numpy())]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])
