"""Sweep parts checked against the size and SHA-256 recorded when they were written: a damaged part is named
by ``load_results`` and ``migsim analyze`` (exit code 2, no traceback) and run again when the sweep resumes."""
from __future__ import annotations

import json

import pandas as pd
import pytest
from test_sweep_run import BASE, SWEEP

from sim.cli import main
from sim.core.errors import ScenarioError
from sim.experiments.sweeps import execute as sweep_execute
from sim.experiments.sweeps import load_results, run_sweep
from sim.experiments.sweeps.parts import CHECKSUM_SUFFIX, PARTS, part_run_ids
from sim.experiments.sweeps.store import RUNS

RUNS_IN_SWEEP = 4 * 3 * 2


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted sweep (one part per task of 8 runs) and its table."""
    folder = tmp_path_factory.mktemp("integrity")
    (folder / "base.yaml").write_text(BASE)
    (folder / "sweep.yaml").write_text(SWEEP)
    out = folder / "whole"
    assert run_sweep(folder / "sweep.yaml", out=out, workers=1).done == RUNS_IN_SWEEP
    return folder, load_results(out)


@pytest.fixture
def swept(reference, tmp_path, monkeypatch):
    """A fresh copy of the sweep, written in parts of four runs each."""
    folder, _ = reference
    monkeypatch.setattr(sweep_execute, "MAX_RUNS_PER_TASK", 4)
    (tmp_path / "base.yaml").write_text(BASE)
    (tmp_path / "sweep.yaml").write_text(SWEEP)
    out = tmp_path / "out"
    assert run_sweep(tmp_path / "sweep.yaml", out=out, workers=1).done == RUNS_IN_SWEEP
    return tmp_path, out


def damage(part, how: str) -> None:
    data = part.read_bytes()
    if how == "truncated":
        part.write_bytes(data[: len(data) // 2])
    elif how == "emptied":
        part.write_bytes(b"")
    elif how == "one byte changed":
        middle = len(data) // 2
        part.write_bytes(data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1:])
    elif how == "truncated, without checksum file":            # a part written before checksum files existed
        part.with_name(part.name + CHECKSUM_SUFFIX).unlink()
        part.write_bytes(data[:-100])


HOW = ["truncated", "emptied", "one byte changed", "truncated, without checksum file"]


@pytest.mark.parametrize("how", HOW)
def test_a_damaged_part_is_named_by_load_results_and_analyze(swept, capsys, how):
    _, out = swept
    part = sorted((out / PARTS).glob("part-*.parquet"))[2]
    damage(part, how)
    with pytest.raises(ScenarioError) as info:
        load_results(out)
    assert str(part) in str(info.value) and "damaged sweep results" in str(info.value)
    assert main(["analyze", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"{part}: damaged sweep results (") and "run the same `migsim sweep` command" in err
    assert "Traceback" not in err
    assert not (out / "analysis").exists()


@pytest.mark.parametrize("how", HOW)
def test_resuming_runs_the_runs_of_a_damaged_part_again(reference, swept, capsys, monkeypatch, how):
    _, expected = reference
    folder, out = swept
    parts = sorted((out / PARTS).glob("part-*.parquet"))
    part = parts[1]
    lost = part_run_ids(part)
    damage(part, how)
    capsys.readouterr()
    assert main(["sweep", str(folder / "sweep.yaml"), "--out", str(out), "--workers", "1", "--quiet"]) == 0
    assert f"note: {part} is damaged (" in capsys.readouterr().err
    assert set(part_run_ids(part)) == set(lost)               # written again, whole
    pd.testing.assert_frame_equal(load_results(out), expected)
    assert sorted((out / PARTS).glob("part-*.parquet")) == parts


def test_a_checksum_file_without_its_part_is_cleared(reference, swept):
    """A sweep killed between a part's checksum file and the part: the runs are pending, the file goes."""
    _, expected = reference
    folder, out = swept
    part = sorted((out / PARTS).glob("part-*.parquet"))[0]
    part.unlink()
    assert run_sweep(folder / "sweep.yaml", out=out, workers=1).ran == 4
    assert part.is_file() and json.loads(part.with_name(part.name + CHECKSUM_SUFFIX).read_text())["runs"]
    pd.testing.assert_frame_equal(load_results(out), expected)


def test_a_damaged_run_index_is_named(swept, capsys):
    folder, out = swept
    (out / RUNS).write_bytes((out / RUNS).read_bytes()[:50])
    assert main(["analyze", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"{out / RUNS}: damaged sweep results") and "Traceback" not in err
    assert main(["sweep", str(folder / "sweep.yaml"), "--out", str(out), "--workers", "1", "--quiet"]) == 0
    assert len(load_results(out)) > 0                          # the resumed sweep wrote it again
