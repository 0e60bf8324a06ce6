"""The ``migsim sweep`` and ``migsim analyze`` subcommands: parse, call the sweep API, print."""
from __future__ import annotations

import time
from pathlib import Path

from rich.progress import ProgressColumn
from rich.text import Text

from .args import positive

EXIT_FAILED_RUNS = 1


def add_subcommands(sub) -> None:
    """Add ``sweep`` and ``analyze`` to the ``migsim`` subcommand parsers (``positive``: type of whole numbers >= 1)."""
    sweep = sub.add_parser(
        "sweep", help="run a parameter sweep (levers x uncertainties) and store every run",
        description="Run every point of the sweep: block of a scenario file, in batches on local processes or a "
        "Dask cluster. Parts are written to the results folder as runs finish; rerunning the command resumes. "
        "Exit code 1 when some runs failed (their errors are in runs.parquet and errors/), 2 for bad input.")
    sweep.add_argument("file", type=Path, help="scenario YAML file with a sweep: block")
    where = sweep.add_mutually_exclusive_group()
    where.add_argument("--workers", type=positive, metavar="K",
                       help="local worker processes (default: all cores; 1 runs in this process)")
    where.add_argument("--scheduler", metavar="ADDRESS", help="address of a Dask scheduler, e.g. tcp://host:8786")
    where.add_argument("--scheduler-file", type=Path, metavar="FILE", help="Dask scheduler file (JSON)")
    sweep.add_argument("--out", type=Path, metavar="DIR", help="results folder (default: results/<name>/)")
    sweep.add_argument("--overwrite", action="store_true",
                       help="replace the results of a different sweep in the results folder")
    sweep.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    sweep.add_argument("--agents", type=positive, metavar="N",
                       help="agents in the sample (overrides the base scenario)")
    sweep.add_argument("--months", type=positive, metavar="M", help="months to report (overrides the base scenario)")
    sweep.set_defaults(handler=cmd_sweep)

    analyze = sub.add_parser(
        "analyze", help="sensitivity indices and plots of a sweep's results",
        description="Compute Sobol indices (first and total order) or Morris mu*/sigma with SALib for each outcome "
        "of a sweep run with a sobol or morris design, and plot each outcome against each parameter. Writes "
        "analysis/sensitivity.csv, analysis/outcomes.csv, analysis/sensitivity.png and analysis/scatter.png.")
    analyze.add_argument("folder", type=Path, help="results folder of a sweep")
    analyze.add_argument("--quiet", action="store_true", help="print nothing but errors")
    analyze.set_defaults(handler=cmd_analyze)


def cmd_sweep(args) -> int:
    """``migsim sweep``: prepare, run with a progress bar, print a summary; 1 when runs failed."""
    from ..experiments.sweeps.execute import execute, prepare_sweep

    prepared = prepare_sweep(args.file, agents=args.agents, months=args.months, out=args.out,
                             overwrite=args.overwrite)
    options = dict(workers=args.workers, scheduler=args.scheduler, scheduler_file=args.scheduler_file)
    if args.quiet:
        summary = execute(prepared, **options)
    else:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        done_before = prepared.total - len(prepared.pending)
        with Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                      TextColumn("runs"), RateColumn(), TimeRemainingColumn(), transient=True) as bar:
            task = bar.add_task(f"{prepared.design.sweep.name}", total=prepared.total, completed=done_before)
            failures = [0]

            def advance(done: int, failed: int) -> None:
                failures[0] += failed
                label = f"{prepared.design.sweep.name}" + (f" ({failures[0]} failed)" if failures[0] else "")
                bar.update(task, advance=done + failed, description=label)

            summary = execute(prepared, progress=advance, **options)
    if not args.quiet:
        _print_summary(summary)
    return EXIT_FAILED_RUNS if summary.failed else 0


class RateColumn(ProgressColumn):
    """A progress column showing runs per second."""

    def render(self, task) -> Text:
        speed = task.speed
        return Text(f"{speed:,.1f} runs/s" if speed else "- runs/s", style="progress.data.speed")


def _print_summary(summary) -> None:
    from rich.console import Console

    console = Console()
    parts = [f"[bold]{summary.name}[/bold]: {summary.runs:,} runs, {summary.done:,} done"]
    if summary.failed:
        parts.append(f"[bold red]{summary.failed:,} failed[/bold red]")
    if summary.skipped:
        parts.append(f"{summary.skipped:,} found done from an earlier session")
    console.print(", ".join(parts))
    if summary.ran:
        where = {"in-process": "this process", "processes": f"{summary.workers} worker processes",
                 "dask": f"a Dask cluster of {summary.workers} worker threads"}.get(summary.executor, summary.executor)
        console.print(f"ran {summary.ran:,} runs in {summary.seconds:,.1f} s ({summary.runs_per_second:,.2f} runs/s) "
                      f"on {where}, {summary.tasks} task(s)")
    for run_id, message in list(summary.errors.items())[:5]:
        console.print(f"  failed {run_id}: {message}", markup=False, highlight=False)
    if summary.failed > 5:
        console.print(f"  ... and {summary.failed - 5} more (runs.parquet, errors/)")
    if summary.failed:
        console.print("rerun the same command to retry the failed runs")
    console.print(f"results in [bold]{summary.out}[/bold]; read them with sim.load_results")


def cmd_analyze(args) -> int:
    """``migsim analyze``: indices table and plots of a sweep folder."""
    from ..experiments.sweeps.analyze import analyze

    start = time.perf_counter()
    result = analyze(args.folder)
    if not args.quiet:
        _print_analysis(result, time.perf_counter() - start)
    return 0


def _print_analysis(result, seconds: float) -> None:
    import pandas as pd
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = result.headline()
    if table is not None and len(table):
        if table["group"].nunique() == 1:
            table = table.drop(columns="group")
        over = f" (mean over {result.conditions_label})" if result.conditions_label else ""
        out = Table(title=f"{result.name}: {result.method} indices{over}")
        for column in table.columns:
            numeric = pd.api.types.is_numeric_dtype(table[column])
            widest = 0 if numeric else min(60, int(table[column].astype(str).str.len().max()))
            out.add_column(str(column), justify="right" if numeric else "left", overflow="fold", min_width=widest)
        for row in table.itertuples(index=False):
            out.add_row(*[f"{v:.3f}" if isinstance(v, float) else str(v) for v in row])
        needed = sum(max(len(str(c)), int(table[c].astype(str).str.len().max()), 6) + 3 for c in table.columns) + 1
        Console(width=max(console.width, needed)).print(out)        # whole rows, even in a narrow terminal
        console.print("±: mean half-width of the 95 % bootstrap interval (SALib); an index whose interval includes 0 "
                      "cannot be told apart from zero", markup=False, highlight=False)
    for note in result.notes:
        console.print(note, markup=False, highlight=False)
    for path in result.files:
        console.print(f"wrote {path}", markup=False, highlight=False, soft_wrap=True)


def check_sweep_file(path: Path) -> str | None:
    """``migsim check`` of a sweep file: the OK line, or None when the file has no sweep: block.

    Raises ``ScenarioError`` with every problem of the block and of the design's points.
    """
    from ..core.yamlio import load_with_extends
    from ..experiments.sweeps.design import build_design
    from ..experiments.sweeps.spec import has_sweep_block, load_sweep

    if not has_sweep_block(load_with_extends(path)):
        return None
    design = build_design(load_sweep(path))
    sweep = design.sweep
    distinct, listed = design.runs.run_id.nunique(), len(design.points) * sweep.replications
    runs = f"{distinct:,} runs" if distinct == listed else \
        f"{listed:,} runs, {distinct:,} of them distinct (points with the same values share their runs)"
    return (f"{path}: OK (sweep {sweep.name}: {len(design.points):,} points x {sweep.replications} "
            f"replication(s) = {runs}; {sweep.base.start} + {sweep.base.months} months, {sweep.base.agents:,} agents)")
