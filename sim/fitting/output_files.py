"""The files calibrate and validate write outside a results folder, and which of them may be replaced.

``migsim calibrate --out FILE`` writes a calibrated scenario and its fit report
(``<stem>.fit.json``) beside it; ``migsim validate --scores-file FILE`` writes the scores
shipped beside a scenario. Each is replaced only when migsim wrote it: a calibrated
scenario ends with a checksum line of the rest (``sim.outputs.ownership.seal``; files
written before checksum lines are recognised by their header), a report or a scores file
is JSON naming migsim. None may be a file the result is made from: the scenario, a file
it extends, the observed data. The target's lock (``sim.outputs.guarded``) is held from
before the work until the files are written.
"""
from __future__ import annotations

import errno
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..core.yamlio import extends_chain
from ..outputs.guarded import claim_file, resolve_target
from ..outputs.ownership import SEAL, is_sealed

LEGACY_HEADER = "# Produced by this command, run from the repository root (do not edit by hand; run it again instead):"


def report_path(out: str | Path) -> Path:
    """The fit report written beside a calibrated scenario: ``calibrated.yaml`` -> ``calibrated.fit.json``."""
    out = Path(out)
    return out.with_name(out.stem + ".fit.json")


def written_by_calibrate(path: Path) -> bool:
    """Whether ``path`` is a calibrated scenario as ``migsim calibrate`` wrote it: its checksum line matches (files
    written before checksum lines: the header ``calibrated_yaml`` writes, and no checksum line)."""
    if is_sealed(path):
        return True
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return False
    sealed_once = any(line.startswith(SEAL) for line in lines)          # a checksum line that no longer matches
    return len(lines) > 2 and lines[0].startswith("# ") and lines[1] == LEGACY_HEADER and not sealed_once


def _json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def is_fit_report(path: Path) -> bool:
    """Whether ``path`` is a fit report ``migsim calibrate`` wrote."""
    report = _json(path)
    return report.get("package") == "migsim" and {"parameters", "fit_window"} <= set(report)


def is_scores_file(path: Path) -> bool:
    """Whether ``path`` holds validation scores ``migsim validate`` wrote."""
    report = _json(path)
    provenance = report.get("provenance")
    return (isinstance(provenance, dict) and provenance.get("package") == "migsim"
            and {"window", "months_compared", "ard"} <= set(report))


def _inputs(scenario_path: str | Path, observed_path: str | Path) -> list[Path]:
    chain = extends_chain(scenario_path) if str(scenario_path) and Path(scenario_path).is_file() else []
    return [*chain, Path(observed_path)] if str(observed_path) else chain


@contextmanager
def claim_calibrated(out: str | Path, scenario_path: str | Path, observed_path: str | Path) -> Iterator[Path]:
    """Hold the lock of ``--out`` and check both files may be written; yields the path to write (links followed).

    Refused (``FileExistsError``): ``out`` or its report being the scenario, a file it
    extends or the observed data; an existing ``out`` that is not a calibrated scenario
    written by migsim (or was edited since); an existing report that is not a fit report.
    """
    inputs = _inputs(scenario_path, observed_path)
    with claim_file(out, written_by_calibrate, "calibrated scenario", inputs) as target:
        report = report_path(target)
        if report in {resolve_target(p) for p in inputs}:
            raise FileExistsError(errno.EEXIST, f"{report} (the report of --out {out}) is one of the files the "
                                  "calibration is made from: choose another --out")
        if os.path.lexists(report) and not is_fit_report(report):
            raise FileExistsError(errno.EEXIST, f"{report} (the report of --out {out}) exists and is not a fit "
                                  "report written by migsim: nothing was replaced; choose another --out")
        yield target


@contextmanager
def claim_scores_file(path: str | Path, scenario_path: str | Path, observed_path: str | Path) -> Iterator[Path]:
    """Hold the lock of ``--scores-file`` and check it may be written; yields the path to write (links followed)."""
    with claim_file(path, is_scores_file, "validation scores file", _inputs(scenario_path, observed_path)) as target:
        yield target
