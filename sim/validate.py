"""Out-of-sample validation: run a scenario over observed months and score it against observed encounters.

``validate(scenario, observed, holdout_from, until)`` runs every replication of the
scenario from its start to ``until`` (the end of the observed data by default),
extending or shortening its horizon to end there, and compares the simulated monthly
encounters by nationality with the observed ones over the held-out months
``holdout_from .. until``: averaged relative difference (ARD), each nationality's total,
and MASE against the naive forecast "same month last year" (``sim.metrics``).
``write_validation`` stores the run (``outcomes.parquet`` in the layout of ``migsim run``),
``validation.json`` and the hindcast figure ``hindcast.png``.

Observed data come in the CBP layout (``month``, ``citizenship``, ``encounters``; other
columns ignored), from any path; ``load_observed`` checks it and reports problems with
file, line and column. The simulated series is the ``encounters`` metric summed over
locations; the observed residual group ``OTHER`` (and any nationality not simulated) is
left out.
"""
from __future__ import annotations

import csv
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from . import metrics
from .calendar import format_month, parse_month
from .errors import Problem, ScenarioError
from .scenario import Scenario, validate_located
from .yamlio import Located, load_with_extends

CALIBRATION_KEY = "calibration"
REQUIRED_COLUMNS = ("month", "citizenship", "encounters")
MONTH_TEXT = re.compile(r"^\s*(\d{4})-(\d{2})(-\d{2})?\s*$")   # YYYY-MM, or YYYY-MM-DD
MAX_REPORTED = 10            # problems listed for one observed file
# Acceptance thresholds of a validation (docs/validation.md): ARD at most 0.40, every
# nationality's total over the window within 35 %, MASE below 1.
TARGETS = {"ard_max": 0.40, "total_error_max": 0.35, "mase_below": 1.0}
BAND = (0.1, 0.5, 0.9)       # quantiles over replications drawn and reported


class ObservedDataError(ScenarioError):
    """An observed-data file that cannot be used, or months it does not cover (file, line, column, message)."""


# ---------------------------------------------------------------- inputs

def read_scenario(path: str | Path) -> tuple[Scenario, dict | None, Located]:
    """A scenario file (with ``extends``) and its ``calibration:`` block, if any.

    Returns the validated scenario (without the block), the block as written (None when
    absent) and the merged file data with the line of every key (the block included).
    Raises ``ScenarioError`` with located problems.
    """
    located = load_with_extends(path)
    block = located.data.pop(CALIBRATION_KEY, None) if isinstance(located.data, dict) else None
    scenario = validate_located(located)
    if block is not None:
        located.data[CALIBRATION_KEY] = block
    return scenario, block, located


def load_observed(path: str | Path) -> pd.DataFrame:
    """Observed encounters as a table: one row per month (``YYYY-MM``), one column per ISO3 nationality.

    Values are persons per month (CBP encounters, events), summed over the file's rows of
    each month and nationality; a nationality without a row in a month has 0 there. The
    residual group ``OTHER`` (citizenships that map to no ISO3 code) is dropped. Raises
    ``ObservedDataError`` naming the file, line and column of every problem found
    (missing file or column, unreadable month, count that is not a whole number >= 0).
    """
    from .datasets import observed_encounters

    path = Path(path)
    file = str(path)
    if not path.is_file():
        raise ObservedDataError([Problem(file, None, "", "observed data file not found")])
    problems = _check_observed_rows(path)
    if problems:
        raise ObservedDataError(problems)
    try:
        long = observed_encounters(path)
    except (ValueError, OSError) as exc:           # the checks above make this unexpected
        raise ObservedDataError([Problem(file, None, "", f"cannot read the observed data: {exc}")]) from None
    wide = long.pivot_table(index="month", columns="nationality", values="encounters", aggfunc="sum", fill_value=0)
    wide = wide.drop(columns=["OTHER"], errors="ignore").sort_index().astype(float)
    wide.index.name, wide.columns.name = "month", "nationality"
    return wide


def _check_observed_rows(path: Path) -> list[Problem]:
    """Problems of an observed CSV: header, then each row's month and encounters (with line numbers)."""
    file = str(path)
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None:
                return [Problem(file, None, "", "the file is empty: expected a CSV with columns "
                                + ", ".join(REQUIRED_COLUMNS))]
            names = [h.strip() for h in header]
            missing = [c for c in REQUIRED_COLUMNS if c not in names]
            if missing:
                return [Problem(file, 1, c, "required column is missing (found: "
                                + ", ".join(n for n in names if n) + ")") for c in missing]
            month_at, count_at = names.index("month"), names.index("encounters")
            problems, rows = [], 0
            for row in reader:
                if not any(cell.strip() for cell in row):
                    continue
                rows += 1
                line = reader.line_num
                month = row[month_at] if month_at < len(row) else ""
                count = row[count_at] if count_at < len(row) else ""
                if not _month_ok(month):
                    problems.append(Problem(file, line, "month", f"expected a month as YYYY-MM, got {month!r}"))
                if not _count_ok(count):
                    problems.append(Problem(file, line, "encounters",
                                            f"expected a whole number of persons (0 or more), got {count!r}"))
                if len(problems) >= MAX_REPORTED:
                    problems.append(Problem(file, None, "", "more problems not listed"))
                    break
    except UnicodeDecodeError as exc:
        return [Problem(file, None, "", f"not UTF-8 text ({exc.reason})")]
    except csv.Error as exc:
        return [Problem(file, None, "", f"not a readable CSV file ({exc})")]
    if not problems and rows == 0:
        problems.append(Problem(file, None, "", "no data rows"))
    return problems


def _month_ok(text: str) -> bool:
    match = MONTH_TEXT.match(text or "")
    return bool(match) and 1 <= int(match.group(2)) <= 12


def _count_ok(text: str) -> bool:
    try:
        value = float(str(text).strip())
    except ValueError:
        return False
    return np.isfinite(value) and value >= 0 and value == int(value)


def json_ready(value):
    """``value`` with every NaN or infinite float replaced by None (JSON has no NaN)."""
    if isinstance(value, dict):
        return {k: json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def observed_sha256(path: str | Path) -> str:
    """SHA-256 of an observed-data file (hex), for provenance."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def months_between(first: str, last: str) -> list[str]:
    """Every month from ``first`` to ``last`` inclusive (``YYYY-MM``)."""
    start, end = parse_month(first), parse_month(last)
    return [format_month(m) for m in range(start, end + 1)]


def require_months(observed: pd.DataFrame, months: list[str], file: str, key: str, what: str) -> None:
    """Raise ``ObservedDataError`` (on ``key``, e.g. an option) when ``observed`` lacks any of ``months``."""
    missing = [m for m in months if m not in observed.index]
    if missing:
        shown = ", ".join(missing[:6]) + (f" and {len(missing) - 6} more" if len(missing) > 6 else "")
        covers = f"{observed.index.min()} .. {observed.index.max()}"
        raise ObservedDataError([Problem(file, None, key, f"{what} needs observed months that {file} does not have: "
                                         f"{shown} (the file covers {covers})")])


def compared_nationalities(scenario: Scenario, observed: pd.DataFrame) -> list[str]:
    """Simulated origins that the observed data has (in the scenario's order)."""
    return [code for code in scenario.origins if code in observed.columns]


def encounters_by_run(outcomes: pd.DataFrame, nationalities: list[str], months: list[str]) -> np.ndarray:
    """Simulated encounters (persons per month) summed over locations: array (replicates, months, nationalities)."""
    part = outcomes[outcomes["metric"] == "encounters"]
    table = part.pivot_table(index=["replicate", "month"], columns="nationality", values="value", aggfunc="sum",
                             fill_value=0.0, observed=True)
    replicates = sorted(part["replicate"].unique())
    grid = pd.MultiIndex.from_product([replicates, months], names=["replicate", "month"])
    table = table.reindex(index=grid, columns=nationalities, fill_value=0.0)
    return table.to_numpy(dtype=float).reshape(len(replicates), len(months), len(nationalities))


# ---------------------------------------------------------------- validation

@dataclass
class Validation:
    """A validation run and its scores over the held-out window."""

    scenario: Scenario
    result: object                         # sim.api.Result
    observed: pd.DataFrame                 # every observed month x compared nationality (persons per month)
    nationalities: list[str]
    months: list[str]                      # simulated (reported) months
    window: list[str]                      # held-out months compared
    bands: dict[str, pd.DataFrame]         # "q10", "q50", "q90": month x nationality (persons per month)
    runs: np.ndarray                       # (replicates, months, nationalities) simulated encounters
    scores: dict = field(default_factory=dict)
    observed_file: str = ""

    def window_median(self) -> pd.DataFrame:
        """Median over replications of the simulated encounters in the window (month x nationality)."""
        return self.bands["q50"].loc[self.window]

    def window_observed(self) -> pd.DataFrame:
        """Observed encounters in the window (month x nationality)."""
        return self.observed.loc[self.window, self.nationalities]


def validate(scenario_path: str | Path, observed_path: str | Path, holdout_from: str, until: str | None = None, *,
             agents: int | None = None, replications: int | None = None, seed: int | None = None,
             progress=None) -> Validation:
    """Run a scenario up to ``until`` and score it against the observed months ``holdout_from .. until``.

    ``until`` defaults to the last observed month. The scenario's horizon is set to end
    at ``until`` (start unchanged). Raises ``ScenarioError`` (bad scenario file) or
    ``ObservedDataError`` (bad observed file, or months it does not cover).
    """
    from .api import run

    scenario, _, _ = read_scenario(scenario_path)
    observed = load_observed(observed_path)
    file = str(observed_path)
    holdout_from = _month_option(holdout_from, "--holdout-from")
    until = _month_option(until, "--until") if until is not None else observed.index.max()
    if parse_month(holdout_from) > parse_month(until):
        raise ObservedDataError([Problem("command line", None, "--holdout-from",
                                         f"the held-out window starts ({holdout_from}) after it ends ({until})")])
    if parse_month(holdout_from) < parse_month(scenario.start):
        raise ObservedDataError([Problem("command line", None, "--holdout-from", f"{holdout_from} is before the "
                                         f"scenario's first reported month {scenario.start}")])
    window = months_between(holdout_from, until)
    require_months(observed, window, file, "--holdout-from" if holdout_from not in observed.index else "--until",
                   f"the window {holdout_from} .. {until}")
    nationalities = compared_nationalities(scenario, observed)
    if not nationalities:
        raise ObservedDataError([Problem(file, None, "citizenship", "no simulated nationality ("
                                         + ", ".join(scenario.origins) + ") appears in the observed data")])
    months = months_between(scenario.start, until)
    scenario = scenario.with_overrides(months=len(months), agents=agents, replications=replications, seed=seed)
    result = run(scenario, progress=progress)
    runs = encounters_by_run(result.outcomes, nationalities, months)
    bands = {f"q{round(q * 100):02d}": pd.DataFrame(np.quantile(runs, q, axis=0), index=pd.Index(months, name="month"),
                                                     columns=pd.Index(nationalities, name="nationality"))
             for q in BAND}
    validation = Validation(scenario, result, observed[nationalities], nationalities, months, window, bands, runs,
                            observed_file=file)
    validation.scores = score(validation)
    return validation


def _month_option(text: str, option: str) -> str:
    try:
        return format_month(parse_month(text))
    except ValueError:
        raise ObservedDataError([Problem("command line", None, option,
                                         f"expected a month as YYYY-MM, got {text!r}")]) from None


def score(validation: Validation) -> dict:
    """ARD, total errors and MASE of the median series over the window, with references and targets."""
    v = validation
    runs = v.runs
    simulated, observed = v.window_median(), v.window_observed()
    where = [v.months.index(m) for m in v.window]
    per_run = [metrics.ard(pd.DataFrame(r[where], index=observed.index, columns=observed.columns), observed)
               for r in runs]
    totals = metrics.total_errors(simulated, observed)
    scores = {
        "ard": metrics.ard(simulated, observed),
        "ard_by_replicate": per_run,
        "total_error": {k: _finite(x) for k, x in totals.items()},
        "observed_total": {k: float(x) for k, x in observed.sum(axis=0).items()},
        "simulated_total": {k: float(x) for k, x in simulated.sum(axis=0).items()},
        "mase": None, "mase_by_nationality": {}, "reference_ard": {}, "notes": [],
    }
    try:
        naive = metrics.seasonal_naive(v.observed, v.window)
    except KeyError as missing:
        scores["notes"].append(f"MASE not computed: the naive forecast needs the observed month {missing.args[0]}")
    else:
        scores["mase"] = _finite(metrics.mase(simulated, observed, naive))
        scores["mase_by_nationality"] = {n: _finite(metrics.mase(simulated[[n]], observed[[n]], naive[[n]]))
                                         for n in v.nationalities}
        scores["reference_ard"]["same_month_last_year"] = metrics.ard(naive, observed)
    try:
        flat = metrics.last_value_naive(v.observed, v.window)
    except KeyError:
        pass
    else:
        scores["reference_ard"]["last_month_held_flat"] = metrics.ard(flat, observed)
    worst = max((abs(x) for x in totals.dropna()), default=float("nan"))
    scores["targets"] = dict(TARGETS)
    scores["passed"] = {
        "ard": bool(scores["ard"] <= TARGETS["ard_max"]),
        "total_error": bool(np.isfinite(worst) and worst <= TARGETS["total_error_max"]),
        "mase": bool(scores["mase"] is not None and scores["mase"] < TARGETS["mase_below"]),
    }
    scores["passed"]["all"] = all(scores["passed"].values())
    return scores


def _finite(x: float) -> float | None:
    return float(x) if x is not None and np.isfinite(x) else None


# ---------------------------------------------------------------- outputs

def validation_report(v: Validation) -> dict:
    """The content of ``validation.json``."""
    s = v.scenario
    return {
        "scenario": s.name, "observed_file": v.observed_file, "observed_sha256": observed_sha256(v.observed_file),
        "window": [v.window[0], v.window[-1]], "months_compared": len(v.window),
        "simulated": [v.months[0], v.months[-1]], "nationalities": v.nationalities,
        "agents": s.agents, "replications": s.replications, "seed": s.seed,
        "series": "encounters (persons per month) summed over locations; simulated = median over replications",
        "definitions": {
            "ard": "mean over months of sum_n |S - Y| / sum_n Y (fraction)",
            "total_error": "(sum_t S - sum_t Y) / sum_t Y per nationality (signed fraction)",
            "mase": "sum |S - Y| / sum |Y(t-12) - Y| over the window and nationalities (naive forecast: same month "
                    "last year; below 1 beats it)",
        },
        **v.scores,
        "provenance": v.result.provenance,
    }


def hindcast_figure(v: Validation, path: str | Path | None = None):
    """Observed against simulated encounters (median, 10-90 % band) per nationality, plus their sum.

    Small multiples with a shared month axis; the held-out window is shaded. Returns the
    matplotlib figure (saved to ``path`` when given).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    from .plots import PALETTE

    panels = v.nationalities + ["all listed"]
    dates = pd.to_datetime(pd.Series(v.months) + "-01")
    observed = v.observed.reindex(v.months)
    cols = 4
    rows = -(-len(panels) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 2.9 * rows), squeeze=False, sharex=True,
                             constrained_layout=True)
    start, end = pd.Timestamp(v.window[0] + "-01"), pd.Timestamp(v.window[-1] + "-01") + pd.offsets.MonthEnd(1)
    errors = v.scores.get("total_error", {})
    for k, (ax, name) in enumerate(zip(axes.flat, panels)):
        if name == "all listed":
            total = v.runs.sum(axis=2)                                    # (replicates, months)
            q = {f"q{round(x * 100):02d}": pd.Series(np.quantile(total, x, axis=0)) for x in BAND}
            y = observed.sum(axis=1, min_count=1)
            title = "All listed nationalities"
        else:
            q = {key: band[name] for key, band in v.bands.items()}
            y = observed[name]
            error = errors.get(name)
            title = name + (f" (window total {error:+.0%})" if error is not None else "")
        ax.axvspan(start, end, color="0.92", linewidth=0)
        ax.fill_between(dates, q["q10"].to_numpy(), q["q90"].to_numpy(), color=PALETTE[0], alpha=0.25, linewidth=0)
        ax.plot(dates, q["q50"].to_numpy(), color=PALETTE[0], linewidth=1.6)
        ax.plot(dates, y.to_numpy(), color="black", linewidth=1.2, marker=".", markersize=3)
        ax.set_title(title, fontsize=10)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:,.0f}"))
        if k % cols == 0:
            ax.set_ylabel("encounters\n(persons per month)", fontsize=9)
        if k >= len(panels) - cols:
            ax.set_xlabel("month", fontsize=9)
            ax.xaxis.set_tick_params(labelbottom=True)
        ax.xaxis.set_major_locator(mdates.AutoDateLocator(minticks=3, maxticks=6))
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(ax.xaxis.get_major_locator()))
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    handles = [Line2D([], [], color="black", marker=".", label="observed (CBP)"),
               Line2D([], [], color=PALETTE[0], label="simulated median"),
               Patch(color=PALETTE[0], alpha=0.25, label="simulated 10-90 % band"),
               Patch(color="0.92", label=f"held-out months {v.window[0]} .. {v.window[-1]}")]
    fig.legend(handles=handles, loc="outside lower center", ncol=4, frameon=False)
    mase = v.scores.get("mase")
    scores = f"held-out ARD {v.scores['ard']:.2f}" + (f", MASE {mase:.2f}" if mase is not None else "")
    fig.suptitle(f"{v.scenario.name}: encounters at the US southwest border, observed and simulated; {scores}",
                 fontsize=11)
    if path is not None:
        fig.savefig(path, dpi=110)
        plt.close(fig)
    return fig


def write_validation(v: Validation, out_dir: str | Path) -> Path:
    """Write ``outcomes.parquet`` (with ``scenario.yaml`` and ``manifest.json``, as ``migsim run``),
    ``validation.json`` and ``hindcast.png`` into ``out_dir``, all at once.

    Written all or nothing (``sim.outcomes.staged_folder``): an interrupted or failed write
    leaves an earlier folder untouched, and a folder that does not hold earlier results is
    never replaced.
    """
    from .api import write_result_files
    from .outcomes import atomic_write_bytes, staged_folder

    out_dir = Path(out_dir)
    with staged_folder(out_dir) as staging:
        write_result_files(v.result, staging, plot=False)
        atomic_write_bytes(staging / "validation.json",
                           json.dumps(json_ready(validation_report(v)), indent=2, allow_nan=False).encode())
        hindcast_figure(v, staging / "hindcast.png")
    return out_dir


def print_validation(v: Validation, out: Path | None = None, console=None) -> None:
    """Print the scores as a table: each nationality's totals over the window, then ARD and MASE."""
    from rich.console import Console
    from rich.table import Table

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
    for note in s["notes"]:
        console.print(note)
    if out is not None:
        console.print(f"validation written to [bold]{out}[/bold]")


def add_subcommand(sub, positive) -> None:
    """Add ``validate`` to the ``migsim`` subcommand parsers (``positive``: type of whole numbers >= 1)."""
    from .calibrate import add_observed_argument, month_argument

    parser = sub.add_parser(
        "validate", help="score a scenario against observed encounters on held-out months",
        description="Run every replication of a scenario up to --until (default: the last observed month), extending "
        "its horizon if needed, and compare monthly encounters by nationality from --holdout-from with the observed "
        "data: ARD, each nationality's total, MASE against 'same month last year'. Writes outcomes.parquet (the "
        "layout of run), validation.json and hindcast.png into the folder. Exit code 2 for bad input.")
    parser.add_argument("scenario", type=Path, help="scenario YAML file")
    add_observed_argument(parser)
    parser.add_argument("--holdout-from", type=month_argument, required=True, metavar="YYYY-MM",
                        help="first held-out month compared")
    parser.add_argument("--until", type=month_argument, metavar="YYYY-MM",
                        help="last month simulated and compared (default: the last observed month)")
    parser.add_argument("--out", type=Path, metavar="DIR", help="folder to write (default: results/<name>-validation/)")
    parser.add_argument("--agents", type=positive, metavar="N", help="agents per run (overrides the file)")
    parser.add_argument("--replications", type=positive, metavar="R", help="replications (overrides the file)")
    parser.add_argument("--seed", type=int, help="random seed (overrides the file)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar or table")
    parser.set_defaults(handler=cmd_validate)


def cmd_validate(args) -> int:
    """``migsim validate``: run, score, write, print."""
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
    out = args.out or Path("results") / f"{v.scenario.name}-validation"
    write_validation(v, out)
    if not args.quiet:
        print_validation(v, out)
    return 0


__all__ = ["validate", "write_validation", "load_observed", "read_scenario", "hindcast_figure", "Validation",
           "ObservedDataError", "TARGETS", "print_validation", "encounters_by_run", "require_months", "add_subcommand"]
