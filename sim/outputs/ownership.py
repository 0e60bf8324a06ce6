"""What migsim wrote: the file list of a results folder, the test of whether a folder or a file may be replaced.

A folder migsim writes lists its files with their sizes and SHA-256 (``migsim-files.json``,
written by ``sim.outputs.guarded`` as the folder is put in place). A folder may be
replaced when it is absent, empty, or holds exactly what its list says: a file added or
changed since names itself (``check_replaceable``). Folders of versions without the list
are recognised by their manifest and the names migsim gave its files (``LEGACY_NAMES``).
A text file migsim writes outside a results folder (a calibrated scenario) ends with a
line holding the SHA-256 of the rest (``seal``, ``is_sealed``).
"""
from __future__ import annotations

import errno
import hashlib
import json
import os
import sys
from pathlib import Path

from .files import atomic_write_bytes

FILES = "migsim-files.json"                  # the list of files migsim wrote into a folder
LEGACY_NAMES = {                             # what versions without migsim-files.json wrote, by kind
    "run": {"outcomes.parquet", "outcomes.csv", "scenario.yaml", "manifest.json", "outcome_curves.png",
            "validation.json", "hindcast.png"},
    "comparison": {"outcomes.parquet", "study.json", "manifest.json", "heatmap.csv", "futures.csv", "validation.json",
                   "summary.csv", "differences.csv", "cost_effectiveness.csv", "budgets.csv", "yearly.csv",
                   "robustness.csv", "discovery.csv", "report.html", "summary.md", "figures", "scenarios"},
    "analysis": {"sensitivity.csv", "outcomes.csv", "sensitivity.png", "scatter.png"},
}
NEEDS_MANIFEST = {"run", "comparison"}       # legacy folders of these kinds also hold a migsim manifest.json


def note(message: str) -> None:
    """Tell the user something the guarded writer did on their behalf (kept a file, found a damaged one)."""
    print(f"note: {message}", file=sys.stderr, flush=True)


def _digest(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def list_files(folder: Path) -> tuple[dict[str, dict], list[str]]:
    """Files (relative path -> bytes and SHA-256) and sub-folders under ``folder``, the file list excluded."""
    files, dirs = {}, []
    for here, subdirs, names in os.walk(folder):
        rel = Path(here).relative_to(folder)
        for name in sorted(subdirs):
            if (Path(here) / name).is_symlink():
                names.append(name)                 # a link is an entry of its own, never followed
                continue
            dirs.append((rel / name).as_posix())
        subdirs[:] = [d for d in sorted(subdirs) if not (Path(here) / d).is_symlink()]
        for name in sorted(names):
            key = (rel / name).as_posix()
            if key == FILES:
                continue
            path = Path(here) / name
            if path.is_symlink() or not path.is_file():
                files[key] = {"bytes": -1, "sha256": "not a regular file"}
            else:
                files[key] = {"bytes": path.stat().st_size, "sha256": _digest(path)}
    return files, dirs


def write_file_list(folder: Path, kind: str) -> None:
    """Record what migsim wrote into ``folder`` (``migsim-files.json``), written atomically."""
    files, dirs = list_files(folder)
    record = {"package": "migsim", "kind": kind, "files": files, "folders": dirs}
    atomic_write_bytes(folder / FILES, json.dumps(record, indent=1, sort_keys=True).encode())


def read_json(path: Path):
    """The JSON data of a file, or None when it cannot be read."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def foreign_entries(folder: Path, kind: str) -> list[str] | None:
    """What in an existing results folder migsim did not write (added, or changed since), or None when the folder
    does not hold results of ``kind`` at all. An empty list: everything there is migsim's, it may be replaced."""
    record = read_json(folder / FILES)
    if isinstance(record, dict) and record.get("package") == "migsim" and isinstance(record.get("files"), dict):
        if record.get("kind") != kind:
            return None
        known, known_dirs = record["files"], set(record.get("folders") or [])
        files, dirs = list_files(folder)
        out = [f"{name} (added)" for name in files if name not in known]
        out += [f"{name} (changed since migsim wrote it)" for name, meta in files.items()
                if name in known and (meta["bytes"], meta["sha256"]) != (known[name].get("bytes"),
                                                                         known[name].get("sha256"))]
        holding = {str(Path(name).parent.as_posix()) for name in known} | known_dirs
        out += [f"{name}/ (added)" for name in dirs
                if name not in holding and not any(k.startswith(name + "/") for k in holding)]
        return sorted(out)
    if kind in NEEDS_MANIFEST:
        manifest = read_json(folder / "manifest.json")
        if not (isinstance(manifest, dict) and manifest.get("package") == "migsim"
                and manifest.get("kind", "run") == kind):
            return None
    names = LEGACY_NAMES.get(kind, set())
    entries = sorted(p.name for p in folder.iterdir())
    if kind not in NEEDS_MANIFEST and not any(name in names for name in entries):
        return None
    return [f"{name} (added)" for name in entries if name not in names]


def check_replaceable(target: Path, kind: str, shown: str | Path | None = None) -> None:
    """Raise ``FileExistsError`` unless new results of ``kind`` may replace ``target`` (absent, empty, or all
    migsim's own results of that kind), naming what is in the way."""
    shown = str(shown or target)
    if not os.path.lexists(target):
        return
    if not target.is_dir():
        raise FileExistsError(errno.EEXIST, f"{shown} exists and is not a folder: choose another --out")
    if not any(target.iterdir()):
        return
    foreign = foreign_entries(target, kind)
    if foreign is None:
        raise FileExistsError(errno.EEXIST, f"{shown} exists and does not hold the results of a {kind} (no "
                              f"migsim manifest.json for one): choose another --out, or empty it first")
    if foreign:
        listed = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
        raise FileExistsError(errno.EEXIST, f"{shown} holds files migsim did not write: {listed}; nothing was "
                              "replaced: move them elsewhere, or choose another --out")


# ---------------------------------------------------------------- sealed text files

SEAL = "# migsim sha256 "


def seal(text: str) -> str:
    """``text`` with a last comment line holding the SHA-256 of everything before it."""
    if not text.endswith("\n"):
        text += "\n"
    return f"{text}{SEAL}{hashlib.sha256(text.encode()).hexdigest()}\n"


def is_sealed(path: Path) -> bool:
    """Whether a text file ends with a seal line that matches its content (unchanged since migsim wrote it)."""
    try:
        data = path.read_bytes()
    except OSError:
        return False
    body, _, last = data.rstrip(b"\n").rpartition(b"\n")
    if not last.startswith(SEAL.encode()):
        return False
    return hashlib.sha256(body + b"\n").hexdigest() == last[len(SEAL):].decode(errors="replace").strip()
