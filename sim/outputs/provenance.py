"""Provenance of results: package version, git commit, scenario digest, seeds, time and machine."""
from __future__ import annotations

import datetime as _dt
import platform
import subprocess
from importlib import metadata
from pathlib import Path

import numpy as np


def package_version() -> str:
    """Installed version of migsim (or 'unknown' when run from a source tree)."""
    try:
        return metadata.version("migsim")
    except metadata.PackageNotFoundError:
        return "unknown"


def git_commit() -> str | None:
    """Commit of the source tree the package runs from, if it is a git checkout."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True,
                             text=True, timeout=5)
        return out.stdout.strip() or None if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def provenance(scenario, seeds: list[int], engine: str) -> dict:
    """Where a table came from: versions, commit, scenario digest, seeds, time, machine."""
    return {
        "package": "migsim", "version": package_version(), "git_commit": git_commit(),
        "scenario": scenario.name, "scenario_sha256": scenario.digest(), "seed": scenario.seed,
        "replicate_seeds": [int(s) for s in seeds], "engine": engine,
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(), "numpy": np.__version__, "host": platform.node(),
    }
