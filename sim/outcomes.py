"""The tidy outcomes table: the one interface between simulation and everything after it.

Columns: ``scenario, replicate, seed, month, nationality, location, metric, value``.
``value`` is in persons (events for flows, people for stocks) or USD for spending.
National metrics have an empty ``location``; located metrics name the node, and
``enforcement_spent_usd`` the spending country (empty nationality). Rows of the located
person metrics that are zero are left out; every other metric has a row for every month.
"""
from __future__ import annotations

import datetime as _dt
import errno
import json
import os
import shutil
from contextlib import contextmanager
import platform
import subprocess
import tempfile
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .calendar import month_range
from .engine import LOCATED_METRICS, NATIONAL_METRICS, Counts
from .inputs import SPENDING_LOCATIONS
from .world import World

COLUMNS = ["scenario", "replicate", "seed", "month", "nationality", "location", "metric", "value"]
METRICS = NATIONAL_METRICS + LOCATED_METRICS + ("aid_spent_usd", "enforcement_spent_usd")
METRIC_UNITS = {m: "persons" for m in NATIONAL_METRICS + LOCATED_METRICS} | {
    "aid_spent_usd": "USD", "enforcement_spent_usd": "USD"}


def tidy(counts: Counts, world: World, months: list[str], scenario: str,
         replicates: list[int], seeds: list[int]) -> pd.DataFrame:
    """Turn engine counts (agents) into the tidy table in persons, one block per run."""
    weight = world.persons_per_agent
    origins = np.array(world.origins, dtype=object)
    nodes = np.array(world.node_ids, dtype=object)
    months_a = np.array(months, dtype=object)
    parts = []
    B, T, O = counts.national[NATIONAL_METRICS[0]].shape
    for b in range(B):
        blocks = []
        t_idx, o_idx = np.meshgrid(np.arange(T), np.arange(O), indexing="ij")
        for metric in NATIONAL_METRICS:
            blocks.append((t_idx.ravel(), origins[o_idx.ravel()], "", metric,
                           (counts.national[metric][b] * weight[None, :]).ravel()))
        for metric in LOCATED_METRICS:
            t, o, node = np.nonzero(counts.located[metric][b])
            blocks.append((t, origins[o], nodes[node], metric, counts.located[metric][b, t, o, node] * weight[o]))
        blocks.append((t_idx.ravel(), origins[o_idx.ravel()], "", "aid_spent_usd",
                       counts.aid_spent[b].ravel()))
        t_idx2, k_idx = np.meshgrid(np.arange(T), np.arange(len(SPENDING_LOCATIONS)), indexing="ij")
        blocks.append((t_idx2.ravel(), "", np.array(SPENDING_LOCATIONS, dtype=object)[k_idx.ravel()],
                       "enforcement_spent_usd", counts.enforcement_spent[b].ravel()))
        frame = pd.DataFrame({
            "month": np.concatenate([months_a[blk[0]] for blk in blocks]),
            "nationality": np.concatenate([np.broadcast_to(np.asarray(blk[1], dtype=object), blk[0].shape) for blk in blocks]),
            "location": np.concatenate([np.broadcast_to(np.asarray(blk[2], dtype=object), blk[0].shape) for blk in blocks]),
            "metric": np.concatenate([np.full(blk[0].shape, blk[3], dtype=object) for blk in blocks]),
            "value": np.concatenate([np.asarray(blk[4], dtype=np.float64) for blk in blocks]),
        })
        frame.insert(0, "seed", np.int64(seeds[b]))
        frame.insert(0, "replicate", np.int64(replicates[b]))
        frame.insert(0, "scenario", scenario)
        parts.append(frame)
    out = pd.concat(parts, ignore_index=True)
    for column in ("scenario", "month", "nationality", "location", "metric"):
        out[column] = out[column].astype(str)
    return sort_outcomes(out[COLUMNS])


def sort_outcomes(frame: pd.DataFrame) -> pd.DataFrame:
    """Canonical row order: by run, metric, month, nationality, location."""
    keys = [c for c in ["scenario", "replicate", "metric", "month", "nationality", "location"] if c in frame]
    return frame.sort_values(keys, kind="stable").reset_index(drop=True)


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
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(), "numpy": np.__version__, "host": platform.node(),
    }


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write a file so that it appears complete under its name or not at all."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)        # like a file opened normally, not mkstemp's 0600
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def replaceable_folder(out_dir: Path, kind: str = "run") -> bool:
    """Whether new results of ``kind`` (run, comparison) may replace ``out_dir``: absent, empty, or the results
    of an earlier ``kind`` (a migsim manifest.json saying so). Anything else is never replaced."""
    if not out_dir.exists():
        return True
    if not out_dir.is_dir():
        return False
    if not any(out_dir.iterdir()):
        return True
    try:
        manifest = json.loads((out_dir / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(manifest, dict) and manifest.get("package") == "migsim" and manifest.get("kind", "run") == kind


def check_results_folder(out_dir: str | Path, kind: str = "run") -> Path:
    """Raise ``FileExistsError`` unless new results of ``kind`` may go to ``out_dir``."""
    out_dir = Path(out_dir)
    if not replaceable_folder(out_dir, kind):
        raise FileExistsError(errno.EEXIST, f"{out_dir} exists and does not hold the results of a {kind} (no "
                              f"migsim manifest.json for one): choose another --out, or empty it first")
    return out_dir


@contextmanager
def staged_folder(out_dir: str | Path, kind: str = "run"):
    """Write a results folder all or nothing: yields a staging folder beside ``out_dir``, moved into place at the end.

    An interrupted or failed write (full disk, read-only folder) leaves the earlier results
    untouched and raises ``OSError`` saying so; a folder that does not hold earlier results
    of ``kind`` is never replaced (``FileExistsError``).
    """
    out_dir = check_results_folder(out_dir, kind)
    existed = out_dir.exists()
    staging = out_dir.parent / f".{out_dir.name}.partial"
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        yield staging
        if existed:
            old = out_dir.parent / f".{out_dir.name}.old"
            shutil.rmtree(old, ignore_errors=True)
            out_dir.rename(old)
            try:
                staging.rename(out_dir)
            except BaseException:
                old.rename(out_dir)                 # put the earlier results back
                raise
            shutil.rmtree(old, ignore_errors=True)
        else:
            staging.rename(out_dir)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        kept = "the earlier results there are unchanged" if existed else "nothing was written"
        raise OSError(exc.errno, f"cannot write the results into {out_dir} "
                      f"({exc.strerror or exc}{': ' + str(exc.filename) if exc.filename else ''}); {kept}") from exc
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def write_outcomes(frame: pd.DataFrame, path: Path, meta: dict | None = None, fmt: str = "parquet") -> Path:
    """Write the table atomically as Parquet (provenance in its metadata) or CSV."""
    path = Path(path)
    if fmt == "csv":
        atomic_write_bytes(path, frame.to_csv(index=False).encode())
        return path
    table = pa.Table.from_pandas(frame, preserve_index=False)
    if meta:
        table = table.replace_schema_metadata({**(table.schema.metadata or {}),
                                               b"migsim": json.dumps(meta, sort_keys=True).encode()})
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd")
    atomic_write_bytes(path, sink.getvalue().to_pybytes())
    return path


def read_outcomes(path: str | Path) -> pd.DataFrame:
    """Read a table written by ``write_outcomes`` (Parquet or CSV)."""
    path = Path(path)
    if path.suffix == ".csv":
        return pd.read_csv(path, keep_default_na=False, dtype={"location": str, "nationality": str})
    return pq.read_table(path).to_pandas()


def read_provenance(path: str | Path) -> dict:
    """Provenance stored in a Parquet outcomes file."""
    meta = pq.read_schema(path).metadata or {}
    return json.loads(meta.get(b"migsim", b"{}"))


def quantiles(frame: pd.DataFrame, by=("scenario", "month", "metric"), q=(0.1, 0.5, 0.9)) -> pd.DataFrame:
    """Median and 10-90 % band over replications of values summed over the other columns.

    Each scenario's bands use all of its replicates: a replicate without rows for a group
    (zero rows are left out of located metrics) counts as 0 there.
    """
    parts = []
    for _, runs in frame.groupby("scenario", observed=True, sort=False):
        per_run = runs.groupby(list(by) + ["replicate"], observed=True)["value"].sum()
        wide = per_run.unstack("replicate", fill_value=0.0)
        grid = pd.MultiIndex.from_product([sorted(runs[c].unique()) for c in by], names=list(by))
        wide = wide.reindex(index=grid, columns=sorted(runs["replicate"].unique()), fill_value=0.0)
        parts.append(pd.DataFrame({f"q{int(round(x * 100)):02d}": wide.quantile(x, axis=1) for x in q},
                                  index=wide.index).reset_index())
    return pd.concat(parts, ignore_index=True)


__all__ = ["tidy", "write_outcomes", "read_outcomes", "provenance", "quantiles", "METRICS", "COLUMNS",
           "months_of", "month_range"]


def months_of(start: int, count: int) -> list[str]:
    """Labels of the reported months."""
    return month_range(start, count)
