"""Writing results safely and reading them back.

Every file is written whole or not at all (``atomic_write_bytes``); results folders go
through the guarded writer (``sim.outputs.guarded``). Outcomes tables go to Parquet
(provenance in its metadata) or CSV.
"""
from __future__ import annotations

import json
import os
import tempfile
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
