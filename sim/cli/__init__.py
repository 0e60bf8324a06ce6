"""The ``migsim`` command: one thin module per command group (parse, call the API, print). No model logic.

``run`` (run, check, app), ``sweeps`` (sweep, analyze), ``compare`` (compare, plot) and
``fitting`` (calibrate, validate) each add their subcommands to the parser; ``main``
turns input errors into exit code 2 and a message, an interrupt into exit code 130.
"""
from __future__ import annotations

import argparse
import sys

from ..core.errors import ResourceError, ScenarioError
from .args import EXIT_INPUT

__all__ = ["EXIT_INPUT", "build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    from ..outputs.provenance import package_version
    from . import compare, fitting, run, sweeps

    parser = argparse.ArgumentParser(
        prog="migsim", description="Agent-based simulation of migration through the Americas: run YAML "
        "scenarios and get monthly outcomes (encounters, entries, interceptions, deaths, spending).")
    parser.add_argument("--version", action="version", version=f"migsim {package_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run.add_subcommands(sub)          # run, check, app
    sweeps.add_subcommands(sub)       # sweep, analyze
    compare.add_subcommands(sub)      # compare, plot
    fitting.add_subcommands(sub)      # calibrate, validate
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``migsim``: returns the exit code (2 for bad input, 130 when interrupted, 143 when stopped
    with SIGTERM)."""
    from ..core.lifeline import Terminated, terminate_as_interrupt
    from ..outputs.guarded import WRITTEN

    args = build_parser().parse_args(argv)
    WRITTEN.clear()
    if argv is None:                     # the console command: SIGTERM and SIGHUP clean up as Ctrl-C does
        terminate_as_interrupt()
    try:
        return args.handler(args)
    except ScenarioError as exc:
        print("\n".join(str(p) for p in exc.problems), file=sys.stderr)
        return EXIT_INPUT
    except ResourceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except OSError as exc:
        print(f"error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        print(f"interrupted: {_what_was_kept(args)}", file=sys.stderr)
        return 130
    except Terminated as exc:
        print(f"stopped ({exc}): {_what_was_kept(args)}", file=sys.stderr)
        return 128 + exc.signum


def _what_was_kept(args) -> str:
    """What an interrupted command leaves, truthfully: a sweep's finished runs, results already in place, or nothing."""
    from ..outputs.guarded import WRITTEN

    if args.command == "sweep":
        return "the finished runs are kept; run the same command again to resume"
    if WRITTEN:
        return f"the results had been written to {', '.join(dict.fromkeys(WRITTEN))}"
    return "nothing was written for the unfinished run"


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
