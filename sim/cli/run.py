"""``migsim run``, ``migsim check`` and ``migsim app``: parse, call the API, print."""
from __future__ import annotations

import sys
from pathlib import Path

from ..core.errors import ScenarioError
from .args import EXIT_INPUT, positive, whole_number


def add_subcommands(sub) -> None:
    """Add ``run``, ``check`` and ``app`` to the ``migsim`` subcommand parsers."""
    run = sub.add_parser("run", help="simulate a scenario and write its outcomes",
                         description="Simulate every replication of a scenario and write outcomes.parquet "
                         "(or .csv), scenario.yaml, manifest.json and outcome_curves.png into the results folder.")
    run.add_argument("scenario", type=Path, help="scenario YAML file")
    run.add_argument("--agents", type=positive, help="agents in the sample (overrides the file)")
    run.add_argument("--months", type=positive, help="months to report (overrides the file)")
    run.add_argument("--replications", type=positive, help="replications (overrides the file)")
    run.add_argument("--seed", type=whole_number, help="random seed (overrides the file)")
    run.add_argument("--engine", choices=["vector", "grouped", "mesa"], default="vector",
                     help="simulation engine: vector (arrays, default), grouped (vector with home decisions drawn "
                     "per group: same distribution, much faster for large samples) or mesa (Mesa agents; the same "
                     "numbers as vector)")
    run.add_argument("--out", type=Path, help="results folder (default: results/<scenario name>/)")
    run.add_argument("--format", choices=["parquet", "csv"], default="parquet", help="outcomes file format")
    run.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    run.set_defaults(handler=cmd_run)

    check = sub.add_parser("check", help="validate scenario files without running them",
                           description="Validate scenario files (schema, extends, countries, nodes) and report "
                           "every problem with file, line and key. Exit code 2 when any file is invalid.")
    check.add_argument("files", type=Path, nargs="+", help="scenario YAML files")
    check.set_defaults(handler=cmd_check)

    app = sub.add_parser("app", help="explore a scenario in the browser (a Solara page over the Mesa model)",
                         description="Serve an interactive page on 127.0.0.1: the route network with the people "
                         "at each node, live outcome curves, and sliders for aid, containment, enforcement and "
                         "appointments. Open the printed address in a browser; Ctrl-C stops it.")
    app.add_argument("scenario", type=Path, help="scenario YAML file")
    app.add_argument("--port", type=whole_number, default=8765,
                     help="port on 127.0.0.1 (default: 8765; 0 = any free port)")
    app.add_argument("--agents", type=positive, default=20_000, help="agents in the sample (default: 20,000)")
    app.set_defaults(handler=cmd_app)


def cmd_run(args) -> int:
    """``migsim run``: simulate, save, print a summary."""
    from ..core.scenario import load_scenario
    from ..outputs.guarded import claim_folder
    from ..simulation import run, save_result

    scenario = load_scenario(args.scenario)
    scenario = scenario.with_overrides(agents=args.agents, months=args.months,
                                       replications=args.replications, seed=args.seed)
    out = args.out or Path("results") / scenario.name
    with claim_folder(out, "run"):          # before the run: a folder that cannot take the results, or is busy
        if args.quiet:
            result = run(scenario, engine=args.engine)
        else:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

            total = (scenario.months + scenario.warmup_months) * scenario.replications
            with Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                          TimeRemainingColumn(), transient=True) as bar:
                task = bar.add_task(f"{scenario.name}: run-months", total=total)
                result = run(scenario, engine=args.engine, progress=lambda k: bar.advance(task, k))
        save_result(result, out, fmt=args.format)
    if not args.quiet:
        _print_summary(result, out)
    return 0


def _print_summary(result, out: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    s = result.scenario
    table = Table(title=f"{s.name}: {s.start} + {s.months} months, {s.agents:,} agents, "
                  f"{s.replications} replication(s) (median of runs)")
    table.add_column("metric")
    table.add_column("total", justify="right")
    table.add_column("per month", justify="right")
    for metric, row in result.summary().iterrows():
        per_month = "" if row["per_month"] != row["per_month"] else f"{row['per_month']:,.0f}"
        table.add_row(str(metric), f"{row['total']:,.0f}", per_month)
    console = Console()
    console.print(table)
    console.print(f"results written to [bold]{out}[/bold]")


def cmd_app(args) -> int:
    """``migsim app``: validate the scenario, then serve the SolaraViz page on 127.0.0.1."""
    import os
    import subprocess

    from ..app import ENV_AGENTS, ENV_SCENARIO, LOCALHOST
    from ..core.scenario import load_scenario

    load_scenario(args.scenario)                  # bad files stop here with exit code 2
    if not 0 <= args.port <= 65535:
        print(f"error: --port must be between 0 and 65535, got {args.port}", file=sys.stderr)
        return EXIT_INPUT
    env = {**os.environ, ENV_SCENARIO: str(args.scenario.resolve()), ENV_AGENTS: str(args.agents),
           "SOLARA_TELEMETRY_MIXPANEL_ENABLE": "False",          # nothing leaves the machine
           "PYTHONWARNINGS": "ignore:Cookies with samesite"}       # plain http on 127.0.0.1 is intended
    print(f"serving {args.scenario} on http://{LOCALHOST}:{args.port} (Ctrl-C stops)", flush=True)
    command = [sys.executable, "-m", "solara", "run", "sim.app", "--host", LOCALHOST, "--port", str(args.port),
               "--production", "--no-open", "--log-level", "warning"]
    from ..core.lifeline import die_with_parent

    server = subprocess.Popen(command, env=env, preexec_fn=die_with_parent)    # stops if migsim app is killed
    try:
        return server.wait()
    finally:
        if server.poll() is None:              # Ctrl-C or SIGTERM of migsim app: the server stops with it
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def _calibration_summary(path) -> str:
    """``; calibration block: N free parameters, targets ...`` for a file with a calibration block, else ''."""
    from ..core.yamlio import load_with_extends
    from ..fitting.spec import load_calibration

    data = load_with_extends(path).data
    if not isinstance(data, dict) or data.get("calibration") is None:
        return ""
    setup = load_calibration(path)
    return f"; calibration block: {len(setup.parameters)} free parameters, targets {', '.join(setup.spec.targets)}"


def cmd_check(args) -> int:
    """``migsim check``: validate files (scenarios, sweeps, studies), print OK or the problems."""
    from ..core.scenario import load_scenario
    from .compare import check_study_file
    from .sweeps import check_sweep_file

    failed = False
    for path in args.files:
        try:
            kind_line = check_study_file(path) or check_sweep_file(path)    # None for a plain scenario
            if kind_line:
                print(kind_line)
                continue
            scenario = load_scenario(path)
            block = _calibration_summary(path)
        except ScenarioError as exc:
            failed = True
            print("\n".join(str(p) for p in exc.problems), file=sys.stderr)
        else:
            print(f"{path}: OK ({scenario.name}: {scenario.start} + {scenario.months} months, "
                  f"{len(scenario.policies)} policies{block})")
    return EXIT_INPUT if failed else 0
