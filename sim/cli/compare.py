"""``migsim compare`` and ``migsim plot``: parse, call the API (comparisons, stored results), print."""
from __future__ import annotations

import sys
from pathlib import Path

from ..outputs.numbers import compact
from .args import EXIT_INPUT, positive


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

    plot = sub.add_parser("plot", help="redraw the figures of stored results (a run, a sweep or a comparison)",
                          description="Redraw the figures of a results folder without running the model: a run's "
                          "outcome_curves.png (migsim run, validate), a sweep's outcome_curves.png and, when it has "
                          "been analysed, analysis/ (migsim sweep, analyze), or a comparison's figures/, report.html "
                          "and summary.md (migsim compare).")
    plot.add_argument("results", type=Path, help="results folder written by migsim run, sweep or compare")
    plot.add_argument("--by", metavar="COLUMN", help="sweeps: one curve per value of policy, future, point or a "
                      "parameter path (default: every run in one band)")
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
    """``migsim plot``: redraw the figures of a run, sweep or comparison folder from its stored results."""
    from ..api import load
    from ..experiments.comparisons.comparison import Comparison
    from ..experiments.sweeps.result import SweepResult
    from ..outputs.plots import save_figure

    folder: Path = args.results
    results = load(folder)                   # not a results folder: FileNotFoundError, exit code 2
    if isinstance(results, Comparison):
        from ..experiments.comparisons.comparison import KIND
        from ..experiments.comparisons.report import write_report
        from ..outputs.guarded import staged_folder

        with staged_folder(folder, KIND, start_from_existing=True) as staging:   # all redrawn, or none
            drawn = write_report(results, staging)
        print(f"redrew {sum(len(v) for v in drawn.values())} figure files, report.html and summary.md in {folder}")
        return 0
    if args.by is not None and not isinstance(results, SweepResult):
        print("error: --by applies to sweep folders only", file=sys.stderr)
        return EXIT_INPUT
    import matplotlib.pyplot as plt

    figure = results.plot(by=args.by) if isinstance(results, SweepResult) else results.plot()
    written = [save_figure(figure, folder / "outcome_curves.png")]
    plt.close(figure)
    if isinstance(results, SweepResult) and (folder / "analysis").is_dir():
        from ..experiments.sweeps.analyze import analyze

        written += [p for p in analyze(folder).files if p.suffix == ".png"]
    print(f"redrew {', '.join(str(p.relative_to(folder)) for p in written)} in {folder}")
    return 0


SHORT_LABELS = {"entries_irregular": "irregular", "entries_legal": "legal", "intercepted": "intercept.",
                "spending_usd": "spent USD"}


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
