"""``migsim compare`` and ``migsim plot``: parse, call ``sim.experiments.comparisons``, print. No analysis here."""
from __future__ import annotations

from pathlib import Path

from .args import positive


def add_subcommands(sub) -> None:
    """Add ``compare`` and ``plot`` to the ``migsim`` argument parser."""
    compare = sub.add_parser("compare", help="compare scenarios against a baseline and write a report",
                             description="Run every scenario of a study file with the same sample and seeds, then "
                             "write outcome curves, differences from the baseline, cost-effectiveness, report.html "
                             "and summary.md into the results folder.")
    compare.add_argument("study", type=Path, help="study YAML file (baseline, scenarios, replications, outcomes)")
    compare.add_argument("--agents", type=positive, help="agents in every scenario (overrides the study)")
    compare.add_argument("--replications", type=positive, help="replications per scenario (overrides the study)")
    compare.add_argument("--out", type=Path, help="results folder (default: results/<study name>/)")
    compare.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    compare.set_defaults(handler=cmd_compare)

    plot = sub.add_parser("plot", help="redraw the figures and report of stored comparison results",
                          description="Redraw figures, report.html and summary.md from a comparison's stored "
                          "results (no simulation).")
    plot.add_argument("results", type=Path, help="results folder written by `migsim compare`")
    plot.set_defaults(handler=cmd_plot)


def cmd_compare(args) -> int:
    """``migsim compare``: run the study, save everything, print the headline table."""
    from ..experiments.comparisons.comparison import KIND, check_robustness, compare, save_comparison
    from ..experiments.comparisons.study import load_study
    from ..outputs.guarded import claim_folder

    study = load_study(args.study, agents=args.agents, replications=args.replications)
    check_robustness(study)                             # EMA Workbench there, futures valid: before running
    out = args.out or Path("results") / study.study.name
    with claim_folder(out, KIND):           # before running: a folder that cannot take the results, or is busy
        if args.quiet:
            comparison = compare(study)
        else:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

            total = sum((s.months + s.warmup_months) * s.replications for s in study.scenarios.values())
            with Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                          TimeRemainingColumn(), transient=True) as bar:
                task = bar.add_task(f"{study.study.name}: run-months", total=total)
                sweep_task = bar.add_task("sweeps (heatmap, futures): runs", total=None, visible=False)

                def sweep_progress(done: int, runs: int) -> None:
                    bar.update(sweep_task, completed=done, total=runs, visible=True)

                comparison = compare(study, progress=lambda k: bar.advance(task, k), sweep_progress=sweep_progress)
        save_comparison(comparison, out)
    if not args.quiet:
        print_summary(comparison, out)
    return 0


def cmd_plot(args) -> int:
    """``migsim plot``: redraw from stored results."""
    from ..experiments.comparisons.comparison import KIND, load_comparison
    from ..experiments.comparisons.report import write_report
    from ..outputs.guarded import staged_folder

    comparison = load_comparison(args.results)
    with staged_folder(args.results, KIND, start_from_existing=True) as staging:   # all redrawn, or none
        drawn = write_report(comparison, staging)
    print(f"redrew {sum(len(v) for v in drawn.values())} figure files, report.html and summary.md in {args.results}")
    return 0


SHORT_LABELS = {"entries_irregular": "irregular", "entries_legal": "legal", "intercepted": "intercept.",
                "spending_usd": "spent USD"}


def compact(value: float) -> str:
    """A number for a narrow table: 6,194 / 5.71M / 12.5B; a dash for none."""
    if value != value:
        return "–"
    for threshold, size, suffix in ((1e9, 1e9, "B"), (1e6, 1e6, "M"), (1e4, 1e3, "k")):
        if abs(value) >= threshold:
            return f"{value / size:,.3g}{suffix}"
    return f"{value:,.0f}"


def print_summary(comparison, out: Path) -> None:
    """The headline numbers per scenario, as a terminal table."""
    from rich.console import Console
    from rich.table import Table

    summary = comparison.summary().set_index("scenario").drop(columns=["deported", "intercepted"])
    costs = comparison.cost_effectiveness().set_index("scenario")
    intervals = comparison.intervals().set_index(["scenario", "metric"])
    first = next(iter(comparison.scenarios.values()))
    table = Table(title=f"{comparison.settings['name']}: totals {first.start} + {first.months} months, "
                  f"median of {first.replications} replications; averted: mean and 95 % interval, paired")
    table.add_column("scenario", no_wrap=True, min_width=max(len(n) for n in summary.index))
    for column in summary.columns:
        table.add_column(SHORT_LABELS.get(column, column), justify="right")
    for label in ("crossings averted", "deaths averted", "USD per crossing averted"):
        table.add_column(label, justify="right")
    for name, row in summary.iterrows():
        averted = []
        for metric in ("entries_irregular", "deaths"):
            if (name, metric) not in intervals.index:
                averted.append("")
                continue
            cell = intervals.loc[(name, metric)]
            shown = compact(cell.difference)
            if cell.half_width == cell.half_width:
                shown += f" ±{compact(cell.half_width)}" + (" [yellow]⚠[/yellow]" if cell.wide else "")
            averted.append(shown)
        cost = costs["usd_per_crossing_averted_q50"].get(name) if name in costs.index else None
        if name in costs.index and costs.loc[name, "no_budget"]:
            cost_text = "no budget"
        else:
            cost_text = "" if cost is None else compact(cost)
        table.add_row(name, *(compact(v) for v in row), *averted, cost_text)
    console = Console(width=max(Console().width, 120))
    console.print(table)
    for warning in comparison.precision_warnings():
        console.print(f"⚠ {warning}", markup=False, highlight=False)
    if comparison.contrast is not None and comparison.overtaking():
        console.print(comparison.overtaking(), markup=False, highlight=False)
    console.print(f"report written to [bold]{out / 'report.html'}[/bold]")


def check_study_file(path: str | Path) -> str | None:
    """``migsim check`` of a study file: the OK line, or None when the file is not a study."""
    from ..core.yamlio import read_yaml
    from ..experiments.comparisons.comparison import check_robustness
    from ..experiments.comparisons.study import BASELINE, is_study, load_study

    if not is_study(read_yaml(path).data):
        return None
    study = load_study(path)
    check_robustness(study)
    first = study.scenarios[BASELINE]
    return (f"{path}: OK (study {study.study.name}: baseline + {len(study.names) - 1} scenarios, "
            f"{first.start} + {first.months} months, {first.agents:,} agents x {first.replications} replications)")
