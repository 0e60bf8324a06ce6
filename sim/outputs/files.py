"""Writing results safely and reading them back.

Every file is written whole or not at all (``atomic_write_bytes``); a results folder is
written into a staging folder and moved into place (``staged_folder``), and only a
folder that holds earlier results of the same kind is ever replaced. Outcomes tables go
to Parquet (provenance in its metadata) or CSV.
"""
from __future__ import annotations

import errno
import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq


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


def json_ready(value: Any) -> Any:
    """``value`` with every NaN or infinite float replaced by None (JSON has no NaN)."""
    if isinstance(value, dict):
        return {k: json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value
