"""``migsim calibrate`` and ``migsim validate``: parse, call ``sim.fitting``, print the fit and the scores."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .args import add_observed_argument, month_argument, positive, whole_number

if TYPE_CHECKING:
    from ..fitting.calibrate import Evaluation, Fit
    from ..fitting.validate import Validation


def add_subcommands(sub) -> None:
    """Add ``calibrate`` and ``validate`` to the ``migsim`` subcommand parsers."""
    parser = sub.add_parser(
        "calibrate", help="fit behavioural parameters to observed series along the route, by nationality",
        description="Fit the free parameters named in the file's calibration: block (default: the origin intercepts "
        "behaviour.hazard.intercept.<ISO3>) to its targets (default: border encounters from --observed, Darien "
        "transits and Mexico's interceptions from sim/data) by nationality and month, by least squares on log "
        "errors with common random numbers; write a scenario that extends the input with the fitted values, and a "
        "report of the fit with standard errors (<out stem>.fit.json). Exit code 2 for bad input.")
    parser.add_argument("scenario", type=Path, help="scenario YAML file (may hold a calibration: block)")
    add_observed_argument(parser)
    parser.add_argument("--until", type=month_argument, required=True, metavar="YYYY-MM",
                        help="last month fitted (the fit window ends here)")
    parser.add_argument("--out", type=Path, required=True, metavar="FILE", help="calibrated scenario to write (YAML)")
    parser.add_argument("--seed", type=whole_number, help="random seed (overrides the block and the scenario)")
    parser.add_argument("--agents", type=positive, metavar="N",
                        help="agents per run (overrides the block and the scenario)")
    parser.add_argument("--route-observed", action="append", default=[], type=route_file_argument,
                        metavar="TARGET=FILE", help="another file for a series along the route (darien, "
                        "mexico_interceptions, ...; default: the file in sim/data); may be repeated")
    parser.add_argument("--quiet", action="store_true", help="no progress or summary")
    parser.set_defaults(handler=cmd_calibrate)

    parser = sub.add_parser(
        "validate", help="score a scenario against observed encounters on held-out months",
        description="Run every replication of a scenario up to --until (default: the last observed month), extending "
        "its horizon if needed, and compare monthly encounters by nationality from --holdout-from with the observed "
        "data: ARD, each nationality's total, MASE against 'same month last year'. Writes outcomes.parquet (the "
        "layout of run), validation.json, hindcast.png and hindcast_stages.png into the folder. Exit code 2 for bad "
        "input.")
    parser.add_argument("scenario", type=Path, help="scenario YAML file")
    add_observed_argument(parser)
    parser.add_argument("--holdout-from", type=month_argument, required=True, metavar="YYYY-MM",
                        help="first held-out month compared")
    parser.add_argument("--until", type=month_argument, metavar="YYYY-MM",
                        help="last month simulated and compared (default: the last observed month)")
    parser.add_argument("--out", type=Path, metavar="DIR", help="folder to write (default: results/<name>-validation/)")
    parser.add_argument("--agents", type=positive, metavar="N", help="agents per run (overrides the file)")
    parser.add_argument("--replications", type=positive, metavar="R", help="replications (overrides the file)")
    parser.add_argument("--seed", type=whole_number, help="random seed (overrides the file)")
    parser.add_argument("--scores-file", type=Path, metavar="FILE",
                        help="also write validation.json to FILE, e.g. scenarios/calibrated_split.validation.json "
                        "beside the scenario, where comparison reports find it")
    parser.add_argument("--quiet", action="store_true", help="no progress bar or table")
    parser.set_defaults(handler=cmd_validate)


def route_file_argument(text: str) -> tuple[str, Path]:
    """argparse type of ``TARGET=FILE`` (a series along the route and its file)."""
    import argparse

    from ..fitting.route_series import ROUTE_SERIES

    name, _, file = text.partition("=")
    if name not in ROUTE_SERIES or not file:
        raise argparse.ArgumentTypeError(f"expected TARGET=FILE with TARGET one of {', '.join(ROUTE_SERIES)}, "
                                         f"got {text!r}")
    return name, Path(file)


def command_line(args) -> str:
    """The ``migsim calibrate`` command that reproduces a calibration (as the user wrote its paths)."""
    parts = ["migsim", "calibrate", str(args.scenario), "--observed", str(args.observed), "--until", args.until,
             "--out", str(args.out)]
    if args.seed is not None:
        parts += ["--seed", str(args.seed)]
    if args.agents is not None:
        parts += ["--agents", str(args.agents)]
    for name, file in getattr(args, "route_observed", []):
        parts += ["--route-observed", f"{name}={file}"]
    return " ".join(parts)


def cmd_calibrate(args) -> int:
    """``migsim calibrate``: fit, write the calibrated scenario and report, print a summary."""
    from ..fitting.calibrate import calibrate, write_calibrated
    from ..fitting.output_files import claim_calibrated

    console, report = None, None
    if not args.quiet:
        from rich.console import Console

        console, seen = Console(), []

        def report(e: Evaluation) -> None:
            seen.append(e)
            ards = ", ".join(f"{k} {v:.3f}" for k, v in e.ard.items())
            console.print(f"evaluation {len(seen)}: objective {e.objective:,.3f}, ARD in the fit window: {ards}")
    with claim_calibrated(args.out, args.scenario, args.observed):  # refused at once if it cannot be written
        fit = calibrate(args.scenario, args.observed, args.until, agents=args.agents, seed=args.seed, report=report,
                        route_files=dict(args.route_observed))
        out, report_file = write_calibrated(fit, args.out, command_line(args))
    if console is not None:
        print_fit(fit, out, report_file, console)
    return 0


def print_fit(fit: Fit, out: Path, report_file: Path, console) -> None:
    """Print the fitted parameters with their standard errors, and the fit in the window."""
    from rich.table import Table

    start, fitted = fit.scores(fit.start), fit.scores(fit.fitted)
    table = Table(title=f"calibration of {fit.setup.scenario.name}: fit window {fit.fit_window[0]} .. "
                  f"{fit.fit_window[-1]}, {fit.objective.scenario.agents:,} agents x {len(fit.objective.seeds)} "
                  "replication(s)")
    for name, justify in (("parameter", "left"), ("bounds", "right"), ("start", "right"), ("fitted", "right"),
                          ("std. error", "right"), ("", "left")):
        table.add_column(name, justify=justify)
    rows = {r["name"]: r for r in fit.identification.get("parameters", [])}
    for p, v in zip(fit.setup.parameters, fit.fitted):
        row = rows.get(p.name, {})
        se = row.get("standard_error")
        table.add_row(p.name, f"[{p.low:g}, {p.high:g}]", f"{p.start:.3f}", f"{v:.3f}",
                      "n/a" if se is None else f"{se:.3f}", "poorly identified" if row.get("poorly_identified") else "")
    console.print(table)
    ards = ", ".join(f"{name} {start['targets'][name]['ard']:.3f} -> {t['ard']:.3f}"
                     for name, t in fitted["targets"].items())
    console.print(f"objective {start['objective']:,.3f} -> {fitted['objective']:,.3f}; ARD in the fit window: {ards}; "
                  f"{len(fit.starts)} start(s), {len(fit.objective.history)} evaluations, {fit.objective.runs} runs, "
                  f"{fit.runtime_s:.0f} s")
    console.print(f"calibrated scenario written to [bold]{out}[/bold], report to [bold]{report_file}[/bold]")


def cmd_validate(args) -> int:
    """``migsim validate``: run, score, write, print."""
    from contextlib import ExitStack

    from ..fitting.output_files import claim_scores_file
    from ..fitting.spec import read_scenario
    from ..fitting.validate import validate, write_scores_file, write_validation
    from ..outputs.guarded import claim_folder

    out = args.out or Path("results") / f"{read_scenario(args.scenario)[0].name}-validation"
    with ExitStack() as claims:             # before running: outputs that cannot be written, or are busy
        claims.enter_context(claim_folder(out, "run"))
        if args.scores_file is not None:
            claims.enter_context(claim_scores_file(args.scores_file, args.scenario, args.observed))
        if args.quiet:
            v = validate(args.scenario, args.observed, args.holdout_from, args.until, agents=args.agents,
                         replications=args.replications, seed=args.seed)
        else:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

            with Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                          TimeRemainingColumn(), transient=True) as bar:
                task = bar.add_task("validation: run-months", total=None)

                def advance(k: int) -> None:
                    bar.advance(task, k)
                v = validate(args.scenario, args.observed, args.holdout_from, args.until, agents=args.agents,
                             replications=args.replications, seed=args.seed, progress=advance)
        write_validation(v, out)
        if args.scores_file is not None:
            write_scores_file(v, args.scores_file)
    if not args.quiet:
        print_validation(v, out)
    return 0


def print_validation(v: Validation, out: Path | None = None, console=None) -> None:
    """Print the scores as a table: each nationality's totals over the window, then ARD and MASE."""
    from rich.console import Console
    from rich.table import Table

    from ..fitting.validate import TARGETS

    console = console or Console()
    s = v.scores
    table = Table(title=f"{v.scenario.name}: held-out months {v.window[0]} .. {v.window[-1]} "
                  f"({v.scenario.agents:,} agents, {v.scenario.replications} replication(s); simulated = median)")
    for name, justify in (("nationality", "left"), ("observed", "right"), ("simulated", "right"),
                          ("total error", "right"), ("MASE", "right")):
        table.add_column(name, justify=justify)
    limit = TARGETS["total_error_max"]
    for n in v.nationalities:
        error = s["total_error"].get(n)
        shown = "n/a" if error is None else f"{error:+.0%}"
        if error is not None and abs(error) > limit:
            shown = f"[red]{shown}[/red]"
        mase = s["mase_by_nationality"].get(n)
        table.add_row(n, f"{s['observed_total'][n]:,.0f}", f"{s['simulated_total'][n]:,.0f}", shown,
                      "n/a" if mase is None else f"{mase:.2f}")
    console.print(table)
    ok = {True: "[green]pass[/green]", False: "[red]fail[/red]"}
    mase = "n/a" if s["mase"] is None else f"{s['mase']:.3f}"
    console.print(f"ARD {s['ard']:.3f} (target <= {TARGETS['ard_max']}: {ok[s['passed']['ard']]}); "
                  f"MASE {mase} (target < {TARGETS['mase_below']:g}: {ok[s['passed']['mase']]}); "
                  f"every total within {limit:.0%}: {ok[s['passed']['total_error']]}")
    if s["reference_ard"]:
        console.print("naive forecasts, ARD: " + ", ".join(f"{k.replace('_', ' ')} {x:.3f}"
                                                          for k, x in s["reference_ard"].items()))
    for name, stage in s.get("stages", {}).items():
        if stage["ard"] is not None:
            console.print(f"{name}: ARD {stage['ard']:.3f} over the window ({stage['cells']} nationality-months with "
                          f"data), {stage['ard_all_months']:.3f} over every simulated month")
    for note in s["notes"]:
        console.print(note)
    if out is not None:
        console.print(f"validation written to [bold]{out}[/bold]")
