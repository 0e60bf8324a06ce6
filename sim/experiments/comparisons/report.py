"""The report of a comparison: figures (PNG and SVG), tables, one self-contained report.html, summary.md."""
from __future__ import annotations

import base64
import html
import json
from pathlib import Path

import pandas as pd

from ...outputs.files import atomic_write_bytes
from . import analysis, figures

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
    "yearly_effect": "Effect by calendar year against the baseline (mean over replications, 95 % interval) and "
                     "cumulative: a late start shows a policy's lag, a levelling off its diminishing returns.",
    "robustness": "Each policy's totals over the horizon across the sampled futures, with its maximum regret (the "
                  "largest shortfall from the best policy of the same future).",
    "discovery": "Scenario discovery (PRIM, EMA Workbench): the futures in which the contrast's policy wins, and the "
                 "box of uncertainties that holds most of them.",
}
SUMMARY_LABELS = {"encounters": "encounters", "entries_irregular": "irregular entries",
                  "entries_legal": "legal entries", "deaths": "deaths", "intercepted": "interceptions",
                  "deported": "deportations", "spending_usd": "spending (USD)"}


def write_report(comparison, folder: Path) -> dict[str, list[str]]:
    """Draw every figure into ``folder/figures`` and write the tables, report.html and summary.md."""
    drawn = {}
    for stem, (fig, _data) in comparison.figures().items():
        drawn[stem] = figures.save(fig, folder / "figures", stem)
    tables = {"summary": comparison.summary(), "differences": comparison.intervals(),
              "cost_effectiveness": comparison.cost_effectiveness(), "budgets": comparison.budgets(),
              "yearly": comparison.yearly()}
    robust = comparison.robustness()
    found = comparison.discovery()
    if robust is not None:
        tables["robustness"] = robust
    if found is not None:
        tables["discovery"] = found[0]
    for name, table in tables.items():
        atomic_write_bytes(folder / f"{name}.csv", table.to_csv(index=False).encode())
    sections = _sections(comparison, tables, found[1] if found else None)
    atomic_write_bytes(folder / "report.html", _html(comparison, folder, drawn, sections).encode())
    atomic_write_bytes(folder / "summary.md", _markdown(comparison, drawn, sections).encode())
    return drawn


def _number(value: float, digits: int = 0) -> str:
    return "–" if pd.isna(value) else f"{value:,.{digits}f}"


def _summary_table(summary: pd.DataFrame) -> pd.DataFrame:
    table = summary.set_index("scenario").rename(columns=SUMMARY_LABELS)
    return table.map(lambda v: f"{v:,.0f}")


def _difference_table(intervals: pd.DataFrame) -> pd.DataFrame:
    """Mean paired difference (95 % interval) per scenario and metric; a mark where it is wider than ±10 %."""
    def cell(row) -> str:
        if pd.isna(row.half_width):
            return _number(row.difference)
        mark = " ⚠" if row.wide else ""
        return f"{row.difference:,.0f} ({row.ci_low:,.0f} to {row.ci_high:,.0f}){mark}"

    table = intervals.assign(cell=[cell(r) for r in intervals.itertuples()])
    wide = table.pivot(index="scenario", columns="metric", values="cell")
    wide = wide.reindex(index=list(dict.fromkeys(intervals.scenario)), columns=list(dict.fromkeys(intervals.metric)))
    return wide.rename(columns=lambda m: analysis.METRIC_WORDS.get(m, m))


def _cost_table(costs: pd.DataFrame) -> pd.DataFrame:
    def span(row, measure):
        q10, q50, q90 = (row[f"{measure}_q{q}"] for q in ("10", "50", "90"))
        if measure.startswith("usd_per") and row.get("no_budget", False):
            return "no budget"
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
    return pd.DataFrame(rows, columns=["scenario", "extra spending (USD)", "irregular crossings averted",
                                       "deaths averted", "USD per crossing averted",
                                       "USD per death averted"]).set_index("scenario")


def _budget_table(budgets: pd.DataFrame) -> pd.DataFrame:
    table = budgets.assign(budget_usd_per_year=budgets.budget_usd_per_year.map(lambda v: f"{v:,.0f}"))
    table = table.rename(columns={"budget_usd_per_year": "USD per year"})
    return table.set_index("scenario")


def _validation_paragraphs(validation: dict | None, baseline) -> list[str]:
    if validation is None:
        return [f"The baseline model ({baseline.name}) ships no validation scores (no <stem>.validation.json beside "
                "the baseline or a file it extends): how well it reproduces observed data is unknown here."]
    window = validation.get("window") or ["?", "?"]
    errors = validation.get("total_error") or {}
    shown = ", ".join(f"{k} {v:+.0%}" if v is not None else f"{k} n/a" for k, v in errors.items())
    mase = validation.get("mase")
    fit = validation.get("fit") or {}
    fitted = (f"fitted to {fit['fit_window'][0]} .. {fit['fit_window'][1]}" if fit.get("fit_window")
              else "fit window not recorded")
    passed = validation.get("passed") or {}
    targets = validation.get("targets") or {}
    verdict = ("meets" if passed.get("all") else "misses") + (
        f" the targets (ARD <= {targets.get('ard_max')}, every nationality's total within "
        f"{100 * targets.get('total_error_max', 0):.0f} %, MASE < {targets.get('mase_below')})" if targets else "")
    split = str(validation.get("file", "")).endswith("_split.validation.json")
    model = (f"The model is the calibrated scenario behind the baseline, fitted to every observed month. Its "
             f"out-of-sample check is the same calibration {fitted} ({validation.get('scenario', 'split')}), scored"
             if split else f"The model is the calibrated scenario behind the baseline ({fitted}), scored")
    return [f"{model} on held-out months "
            f"{window[0]} .. {window[1]} ({validation.get('file', 'validation file')}): ARD "
            f"{validation.get('ard', float('nan')):.3f}"
            + (f", MASE {mase:.3f} against 'same month last year'" if mase is not None else "")
            + f"; it {verdict}.",
            f"Error of each nationality's total encounters over the held-out months: {shown}. Results for "
            "nationalities far off carry less weight than the others."]


def _sections(comparison, tables: dict, discovery_text: str | None) -> list[tuple[str, list[str], pd.DataFrame | None]]:
    """The report as (heading, paragraphs, table) triples, rendered to HTML and Markdown."""
    settings = comparison.settings
    baseline = comparison.scenarios[next(iter(comparison.scenarios))]
    robustness = settings.get("robustness")
    sample = (f"Sample: {baseline.start} + {baseline.months} months; {baseline.agents:,} agents per run; "
              f"{baseline.replications} replications per scenario, with the same seeds in every scenario (common "
              "random numbers), so differences are paired run by run.")
    if robustness:
        sample += (f" Robustness: every scenario in {robustness['futures']} sampled futures x "
                   f"{robustness['replications']} replication(s) at {(robustness.get('agents') or baseline.agents):,} "
                   "agents.")
    budgets = tables["budgets"]
    illustrative = sorted(set(budgets[budgets.source == "illustrative"].policy))
    caveats = [f"Budgets are illustrative unless a source is given: {', '.join(illustrative)} (table below)."
               if illustrative else "Every budget in the study gives its source (table below)."]
    warnings = analysis.precision_warnings(tables["differences"], comparison.agents)
    sections = [("Model and sample", _validation_paragraphs(comparison.validation, baseline) + [sample] + caveats,
                 None),
                ("Summary", ["Totals over the horizon, median over replications (persons; USD)."],
                 _summary_table(tables["summary"])),
                ("Differences from the baseline",
                 ["Mean over replications of the paired difference, baseline minus scenario (persons averted; "
                  "negative: added), with its 95 % t-interval. ⚠: the interval is wider than ±10 % of the value."]
                 + (["Precision: " + w + "." for w in warnings] if warnings else
                    ["Every headline interval (irregular crossings and deaths averted) is within ±10 % of its value."]),
                 _difference_table(tables["differences"])),
                ("Cost-effectiveness",
                 ["Median (10 % to 90 %) over replications, against the baseline. \"no budget\": the scenario spends "
                  "nothing more than the baseline, so no cost per person averted exists."],
                 _cost_table(tables["cost_effectiveness"])),
                ("Budgets and their sources", ["USD per year of each budgeted policy within the horizon."],
                 _budget_table(budgets) if len(budgets) else None)]
    over = comparison.overtaking()
    yearly = tables["yearly"]
    if yearly.year.nunique() > 1:
        sections.append(("Year by year", [over] if over else [], None))
    if "robustness" in tables:
        table = tables["robustness"].copy()
        for column in ("median", "q10", "q90", "max_regret"):
            table[column] = table[column].map(lambda v: f"{v:,.0f}")
        sections.append(("Robustness across futures",
                         ["Totals over the horizon across the sampled futures (mean of each future's replications): "
                          "median, 10th and 90th percentiles, and maximum regret (largest shortfall from the best "
                          "policy of the same future; higher is better only for legal entries)."],
                         table.set_index(["outcome", "policy"])))
    if discovery_text is not None:
        boxes = tables.get("discovery")
        chosen = boxes[boxes.selected].drop(columns=["selected"]) if boxes is not None and len(boxes) else None
        sections.append(("Scenario discovery", [discovery_text],
                         chosen.set_index("box").T.map(lambda v: f"{v:,.3g}") if chosen is not None else None))
    return sections


def _html(comparison, folder: Path, drawn: dict, sections: list) -> str:
    settings = comparison.settings
    parts = [f"<h1>{html.escape(settings['name'])}</h1>",
             f"<p>{html.escape(settings.get('description') or '')}</p>"]
    for heading, paragraphs, table in sections:
        parts.append(f"<h2>{html.escape(heading)}</h2>")
        parts += [f"<p>{html.escape(text)}</p>" for text in paragraphs]
        if table is not None:
            parts.append(table.to_html(classes="table", border=0))
    parts.append("<h2>Figures</h2>")
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


def _markdown(comparison, drawn: dict, sections: list) -> str:
    settings = comparison.settings
    lines = [f"# {settings['name']}", "", settings.get("description") or "", ""]
    for heading, paragraphs, table in sections:
        lines += [f"## {heading}", ""]
        for text in paragraphs:
            lines += [text, ""]
        if table is not None:
            lines += [_markdown_table(table), ""]
    lines += ["## Figures", ""]
    for stem, files in drawn.items():
        lines += [f"![{CAPTIONS.get(stem, stem)}](figures/{files[0]})", ""]
    return "\n".join(lines)


def _markdown_table(table: pd.DataFrame) -> str:
    """A DataFrame of strings as a Markdown table (index first)."""
    names = table.index.names if table.index.nlevels > 1 else [table.index.name]
    header = [str(n or "") for n in names] + [str(c) for c in table.columns]
    index = [i if isinstance(i, tuple) else (i,) for i in table.index]
    rows = [[str(x) for x in i] + [str(v) for v in row] for i, row in zip(index, table.to_numpy())]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])
