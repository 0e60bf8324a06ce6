"""The results folder of a sweep: part files written as runs finish, an index, a manifest.

Layout of ``results/<sweep>/``:

- ``manifest.json``: what was swept (sweep file hashes, design, seeds, package version)
  and, per session, when, where and how fast it ran;
- ``runs.parquet``: one row per (point, replicate): ``run_id``, ids, seed, parameter
  values, ``status`` (done, failed, pending) and ``error``;
- ``design.parquet``: unit-hypercube coordinates of sampled designs (for analysis);
- ``parts/part-<hash>.parquet``: outcomes of the runs of one task (``run_id`` and the
  tidy columns ``month, nationality, location, metric, value``); the run ids a part
  holds are in its metadata;
- ``parts/part-<hash>.parquet.sha256``: the part's size in bytes, SHA-256 and run ids,
  written before the part itself;
- ``errors/<run_id>.json``: the error of a run that raised.

Every file is written to a temporary file and renamed into place, so a part is either
complete or absent: a sweep killed at any moment resumes from the parts it finds. A part
damaged afterwards (truncated, emptied, changed) no longer matches its checksum file:
resuming removes it and runs its runs again; reading the folder (``load_results``,
``migsim analyze``) names it. One process at a time writes a sweep folder (its lock,
``sim.guarded``).
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import platform
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from ...core.errors import Problem, ScenarioError
from ...outputs.files import atomic_write_bytes, read_outcomes, write_outcomes
from ...outputs.guarded import Claim
from ...outputs.ownership import check_replaceable, note
from ...outputs.provenance import git_commit, package_version
from .design import RUN_COLUMNS, Design, describe, unit_frame
from .parts import (  # noqa: F401  (the part files' names and readers, used with the store)
    CHECKSUM_SUFFIX,
    OUTCOME_COLUMNS,
    PART_RUNS_KEY,
    PARTS,
    check_parts,
    checksum_path,
    damaged,
    done_run_ids,
    part_bytes,
    part_problem,
    part_run_ids,
    read_parts,
)
from .parts import write_part as write_part_file

MANIFEST = "manifest.json"
RUNS = "runs.parquet"
DESIGN = "design.parquet"
ERRORS = "errors"
ANALYSIS = "analysis"
KIND = "migsim sweep"


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


@dataclass
class SweepStore:
    """An open sweep folder: which runs are done, which failed; writes parts and errors."""

    root: Path
    design: Design
    manifest: dict
    done: set[str] = field(default_factory=set)
    failed: dict[str, str] = field(default_factory=dict)
    fresh: bool = True                 # a new folder (or one to overwrite), written by ``begin``
    damaged: dict[Path, str] = field(default_factory=dict)     # parts that fail their check: run again
    claim: Claim | None = None         # the folder's lock, held from ``open_store`` to ``close``

    def begin(self) -> None:
        """Make the folder ready: remove another sweep's files (overwrite), clear interrupted writes and
        damaged parts, write the manifest, index and design of a new sweep."""
        root = self.root
        if self.fresh and root.is_dir():
            _remove_sweep_files(root)
        root.mkdir(parents=True, exist_ok=True)
        self.parts.mkdir(exist_ok=True)
        self.errors.mkdir(exist_ok=True)
        for leftover in [*root.glob(".*.tmp"), *self.parts.glob(".*.tmp"), *self.errors.glob(".*.tmp")]:
            leftover.unlink(missing_ok=True)       # temporary files of writes that were interrupted
        for path, reason in self.damaged.items():
            note(f"{path} is damaged ({reason}); its runs are run again")
            path.unlink(missing_ok=True)
            checksum_path(path).unlink(missing_ok=True)
        self.damaged = {}
        for checksum in self.parts.glob(f"part-*.parquet{CHECKSUM_SUFFIX}"):
            if not checksum.with_suffix("").exists():
                checksum.unlink()                  # written just before its part, which never came
        for path in self.errors.glob("*.json"):
            if path.stem in self.done:
                path.unlink()                        # a run that failed once and has results now
        if self.fresh:
            write_outcomes(unit_frame(self.design), root / DESIGN)
            self._write_runs()
            self._write_manifest()
            self.fresh = False

    @property
    def parts(self) -> Path:
        return self.root / PARTS

    @property
    def errors(self) -> Path:
        return self.root / ERRORS

    def pending(self) -> list[str]:
        """Run ids of the design not done yet (failed runs are tried again), without repeats."""
        ids = dict.fromkeys(self.design.runs.run_id)
        return [r for r in ids if r not in self.done]

    def close(self) -> None:
        """Release the folder's lock."""
        if self.claim is not None:
            self.claim.close()
            self.claim = None

    def write_part(self, name: str, data: bytes, run_ids: list[str]) -> Path:
        """Write one part file atomically, after its checksum file, and mark its runs done."""
        path = self.parts / f"part-{name}.parquet"
        write_part_file(path, data, run_ids)
        self.done.update(run_ids)
        for run_id in run_ids:
            if self.failed.pop(run_id, None) is not None:
                (self.errors / f"{run_id}.json").unlink(missing_ok=True)
        return path

    def write_failure(self, run_id: str, message: str, details: str = "") -> None:
        """Record the error of a run that raised."""
        self.failed[run_id] = message
        record = {"run_id": run_id, "error": message, "traceback": details, "time": _now()}
        atomic_write_bytes(self.errors / f"{run_id}.json", json.dumps(record, indent=2).encode())

    def start_session(self, session: dict) -> None:
        """Append this session to the manifest (executor, workers, host, start time)."""
        self.manifest.setdefault("sessions", []).append(
            {"started": _now(), "host": platform.node(), "python": platform.python_version(), **session})
        self._write_manifest()

    def finish_session(self, **figures) -> None:
        """Close this session in the manifest and write the final run index with statuses."""
        session = self.manifest["sessions"][-1]
        session.update({"finished": _now(), **figures})
        self.manifest["runs_done"] = len(set(self.design.runs.run_id) & self.done)
        self.manifest["runs_failed"] = len(set(self.failed) - self.done)
        self._write_runs()
        self._write_manifest()

    def _write_manifest(self) -> None:
        atomic_write_bytes(self.root / MANIFEST, json.dumps(self.manifest, indent=2, default=str).encode())

    def _write_runs(self) -> None:
        runs = self.design.runs.drop(columns=["world"])
        runs["status"] = np.where(runs.run_id.isin(self.done), "done",
                                  np.where(runs.run_id.isin(list(self.failed)), "failed", "pending"))
        runs["error"] = [self.failed.get(r, "") if s == "failed" else "" for r, s in zip(runs.run_id, runs.status)]
        write_outcomes(runs, self.root / RUNS)


def open_store(root: Path, design: Design, overwrite: bool = False) -> SweepStore:
    """Check the folder of a sweep and read what is done; nothing is written until ``begin``.

    A folder written by the same sweep (same resolved base scenario, block and design)
    is resumed; with ``overwrite`` the files of another sweep in it are removed (by
    ``begin``). Raises ``ScenarioError`` when the folder holds something else.
    """
    root = Path(os.path.realpath(root)) if os.path.islink(root) else Path(root)     # a link is written through
    claim = Claim(root, "sweep")
    claim.open(None)                       # one writer at a time: a second one fails here, naming the first
    try:
        store = _open_store(root, design, overwrite)
    except BaseException:
        claim.close()
        raise
    store.claim = claim
    return store


def _open_store(root: Path, design: Design, overwrite: bool) -> SweepStore:
    sweep = design.sweep
    identity, design_sha = sweep.identity(), design.sha256()
    if root.exists() and not root.is_dir():
        raise ScenarioError([Problem(str(sweep.path), None, "",
                                     f"{root} exists and is not a folder; choose another --out")])
    old = _read_manifest(root)
    fresh = True
    if root.is_dir() and any(root.iterdir()) and not (old is None and _only_unstarted(root)):
        if old is None or old.get("kind") != KIND:
            raise ScenarioError([Problem(str(sweep.path), None, "", f"{root} is not empty and holds no sweep results "
                                         "(no sweep manifest.json); choose another --out")])
        same = old.get("sweep_sha256") == identity and old.get("design_sha256") == design_sha
        if not same and not overwrite:
            what = ("the design drawn from it differs (other SALib or NumPy version?)"
                    if old.get("sweep_sha256") == identity else
                    "the sweep file, a file it extends, or --agents/--months changed since")
            raise ScenarioError([Problem(str(sweep.path), None, "", f"{root} holds the results of a different sweep "
                                         f"({what}); rerun with --overwrite to replace them, or choose another --out")])
        fresh = not same
    manifest = _new_manifest(design, identity, design_sha) if fresh else old
    store = SweepStore(root, design, manifest, fresh=fresh)
    if not fresh:
        store.done, store.damaged = check_parts(root)
        for path in sorted((root / ERRORS).glob("*.json")):
            try:
                store.failed[path.stem] = json.loads(path.read_text())["error"]
            except (OSError, ValueError, KeyError):
                continue
        store.failed = {r: m for r, m in store.failed.items() if r not in store.done}
    return store


def _only_unstarted(root: Path) -> bool:
    """Whether ``root`` holds only what a sweep whose first writes failed leaves (no manifest yet): empty part
    and error folders, the design and run index, temporary files. Such a folder is started again."""
    for entry in root.iterdir():
        if entry.name in (PARTS, ERRORS) and entry.is_dir():
            if any(not e.name.startswith(".") for e in entry.iterdir()):
                return False
        elif entry.name not in (DESIGN, RUNS) and not (entry.name.startswith(".") and entry.name.endswith(".tmp")):
            return False
    return True


def _read_manifest(root: Path) -> dict | None:
    try:
        return json.loads((root / MANIFEST).read_text())
    except (OSError, ValueError):
        return None


def _new_manifest(design: Design, identity: str, design_sha: str) -> dict:
    sweep = design.sweep
    from importlib import metadata

    import SALib

    try:
        salib = metadata.version("SALib")
    except metadata.PackageNotFoundError:  # pragma: no cover
        salib = getattr(SALib, "__version__", "unknown")
    return {
        "kind": KIND, "package": "migsim", "version": package_version(), "git_commit": git_commit(),
        "name": sweep.name, "sweep_file": str(sweep.path),
        "sweep_file_sha256": _file_sha256(sweep.path), "sweep_sha256": identity, "design_sha256": design_sha,
        "base_scenario_sha256": sweep.base.digest(), "seed": sweep.seed,
        "seeds": "per run in runs.parquet: from the sweep seed, the run's uncertainty values and its replicate",
        "agents": sweep.base.agents, "months": sweep.base.months, "start": sweep.base.start,
        "design": describe(design), "created": _now(), "numpy": np.__version__, "salib": salib,
        "base_scenario": json.loads(sweep.base.canonical_json()),
    }


def _file_sha256(path: Path) -> str:

    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _remove_sweep_files(root: Path) -> None:
    """Remove the files a sweep writes (overwriting another sweep): by name only; anything else stays."""
    for name in (MANIFEST, RUNS, DESIGN):
        (root / name).unlink(missing_ok=True)
    for folder, patterns in ((root / PARTS, ("part-*.parquet", f"part-*.parquet{CHECKSUM_SUFFIX}", ".*.tmp")),
                             (root / ERRORS, ("*.json", ".*.tmp"))):
        if not folder.is_dir():
            continue
        for pattern in patterns:
            for path in folder.glob(pattern):
                if path.is_file() and not path.is_symlink():
                    path.unlink()
        try:
            folder.rmdir()
        except OSError:
            note(f"kept {folder}: it holds files a sweep did not write")
    analysis = root / ANALYSIS
    if analysis.is_dir():
        try:
            check_replaceable(analysis, "analysis")
        except FileExistsError:
            note(f"kept {analysis}: it holds files migsim did not write")
        else:
            shutil.rmtree(analysis)


def read_runs(root: Path) -> pd.DataFrame:
    """The run index of a sweep folder (``runs.parquet``); ``ScenarioError`` when it is damaged."""
    path = Path(root) / RUNS
    try:
        return read_outcomes(path)
    except (OSError, ValueError, pa.ArrowException) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise damaged(root, path, f"unreadable: {str(exc).splitlines()[0]}") from None


def parameter_columns(runs: pd.DataFrame) -> list[str]:
    """Names of the parameter columns of a run index."""
    return [c for c in runs.columns if c not in RUN_COLUMNS + ["world", "status", "error"]]


def load_results(path: str | Path) -> pd.DataFrame:
    """One tidy table of a sweep folder, whatever the number of parts.

    Columns: ``run_id, point, policy, future, replicate, seed``, one column per swept
    parameter (named by its path), then ``month, nationality, location, metric, value``.
    Rows are ordered by point, replicate, then as in ``sim.outputs.table`` (metric, month,
    nationality, location); failed and pending runs have no rows (see ``runs.parquet``).
    Given the folder of a ``migsim run``, returns its outcomes table.
    """
    root = Path(path)
    if not (root / RUNS).is_file():
        for name in ("outcomes.parquet", "outcomes.csv"):
            if (root / name).is_file():
                return read_outcomes(root / name)
        raise FileNotFoundError(2, "no sweep results (runs.parquet) or run outcomes here", str(root))
    runs = read_runs(root)
    keep = RUN_COLUMNS + parameter_columns(runs)
    runs = runs[keep]
    data = read_parts(root).to_pandas()
    if data.empty:
        empty = runs.iloc[:0].copy()
        for c in OUTCOME_COLUMNS:
            empty[c] = pd.Series(dtype=float if c == "value" else str)
        return empty.reset_index(drop=True)
    for column in ["run_id"] + OUTCOME_COLUMNS[:-1]:
        data[column] = data[column].astype(str)
    data["_row"] = np.arange(len(data))
    out = runs.merge(data, on="run_id", how="inner", validate="many_to_many")
    out = out.sort_values(["point", "replicate", "_row"], kind="stable").drop(columns="_row")
    return out[keep + OUTCOME_COLUMNS].reset_index(drop=True)
