"""The part files of a sweep folder: written after a checksum file, checked against it when read.

A part (``parts/part-<hash>.parquet``) holds the outcomes of the runs of one task, their
run ids in its metadata. Before it, ``part-<hash>.parquet.sha256`` records its size in
bytes, SHA-256 and run ids, so that a part damaged later (truncated, emptied, changed)
is found: ``check_parts`` tells the runs of whole parts from damaged parts (resuming runs
those again), and ``read_parts`` names a damaged part instead of failing inside pyarrow.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ...core.errors import Problem, ScenarioError
from ...outputs.files import atomic_write_bytes

PARTS = "parts"
PART_RUNS_KEY = b"migsim_runs"
OUTCOME_COLUMNS = ["month", "nationality", "location", "metric", "value"]
CHECKSUM_SUFFIX = ".sha256"           # parts/part-<hash>.parquet.sha256 beside each part


def checksum_path(part: Path) -> Path:
    """The checksum file beside a part: ``part-<hash>.parquet.sha256``."""
    return part.with_name(part.name + CHECKSUM_SUFFIX)


def write_part(path: Path, data: bytes, run_ids: list[str]) -> None:
    """Write a part's checksum file, then the part; each appears whole or not at all."""
    record = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest(), "runs": run_ids}
    atomic_write_bytes(checksum_path(path), json.dumps(record).encode())
    atomic_write_bytes(path, data)


def part_run_ids(path: Path) -> list[str]:
    """Run ids held by one part file (read from its metadata; the rows are not read)."""
    meta = pq.read_schema(path).metadata or {}
    return json.loads(meta.get(PART_RUNS_KEY, b"[]"))


def part_problem(path: Path, data: bytes | None = None) -> str | None:
    """What is wrong with a part file (size or checksum not those recorded, unreadable), or None when it is whole.

    Parts written before checksum files existed are checked by reading their footer.
    """
    record = None
    try:
        record = json.loads(checksum_path(path).read_text())
    except FileNotFoundError:
        pass
    except (OSError, ValueError):
        return "its checksum file is unreadable"
    try:
        size = path.stat().st_size
        if record is not None:
            if size != record.get("bytes"):
                return f"{size:,} bytes where {record.get('bytes'):,} were written"
            data = path.read_bytes() if data is None else data
            if hashlib.sha256(data).hexdigest() != record.get("sha256"):
                return "its content does not match the checksum recorded when it was written"
        part_run_ids(path)
    except (OSError, ValueError, pa.ArrowException) as exc:
        return f"unreadable: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
    return None


def check_parts(root: Path) -> tuple[set[str], dict[Path, str]]:
    """Run ids of every whole part file of a sweep folder, and the damaged parts with what is wrong."""
    done: set[str] = set()
    damaged: dict[Path, str] = {}
    for path in sorted((Path(root) / PARTS).glob("part-*.parquet")):
        problem = part_problem(path)
        if problem is None:
            done.update(part_run_ids(path))
        else:
            damaged[path] = problem
    return done, damaged


def done_run_ids(root: Path) -> set[str]:
    """Run ids of every whole part file in a sweep folder (damaged parts left out)."""
    return check_parts(root)[0]


def damaged(root: Path, path: Path, problem: str) -> ScenarioError:
    """The error naming a damaged file of a sweep folder, and how resuming heals it."""
    return ScenarioError([Problem(str(path), None, "", f"damaged sweep results ({problem}): run the same "
                                  f"`migsim sweep` command with --out {root} again to resume; it runs the "
                                  "runs of damaged parts again")])


def part_bytes(table: pa.Table, run_ids: list[str]) -> bytes:
    """A part file's bytes: the table (zstd Parquet) with its run ids in the metadata."""
    table = table.replace_schema_metadata({PART_RUNS_KEY: json.dumps(run_ids).encode()})
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue().to_pybytes()


def read_parts(root: Path, columns: list[str] | None = None) -> pa.Table:
    """Rows of every part, each run once (a run found in two parts is taken from the first by name).

    Raises ``ScenarioError`` naming a damaged part (resuming the sweep runs its runs again).
    """
    tables, seen = [], set()
    for path in sorted((Path(root) / PARTS).glob("part-*.parquet")):
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise damaged(root, path, f"unreadable: {exc.strerror or exc}") from None
        problem = part_problem(path, data)
        if problem is not None:
            raise damaged(root, path, problem)
        ids = part_run_ids(path)
        fresh = [r for r in ids if r not in seen]
        if not fresh:
            continue
        try:
            table = pq.read_table(pa.BufferReader(data), columns=columns and list(dict.fromkeys(["run_id", *columns])))
        except (OSError, ValueError, pa.ArrowException) as exc:
            raise damaged(root, path, f"unreadable: {str(exc).splitlines()[0]}") from None
        if len(fresh) < len(ids):
            table = table.filter(pc.is_in(pc.cast(table["run_id"], pa.string()), pa.array(fresh)))
        seen.update(fresh)
        tables.append(table.replace_schema_metadata(None))
    if not tables:
        fields = [pa.field("run_id", pa.string())] + [pa.field(c, pa.float64() if c == "value" else pa.string())
                                                       for c in (columns or OUTCOME_COLUMNS)]
        return pa.schema(fields).empty_table()
    return pa.concat_tables(tables, promote_options="permissive")
