"""The guarded writer (``sim.guarded``): nothing migsim did not write is replaced or deleted, one writer per
results folder, staging of migsim's own, links written through, and ``calibrate --out`` kept off other files."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import sim
import sim.outputs.guarded as guarded
from sim.cli import main
from sim.outputs.guarded import STAGING_INFIX, STAGING_MARK
from sim.outputs.ownership import FILES, SEAL, check_replaceable

from helpers import REPO_ROOT, TINY_SWEEP_BASE, tiny_sweep

SCENARIO = """\
schema_version: 1
name: small
agents: 300
months: 2
warmup_months: 1
replications: 1
seed: 11
origins: [GTM, HND, VEN]
"""
ENV = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}


@pytest.fixture
def work(tmp_path, monkeypatch) -> Path:
    """A working folder (the current directory) holding small.yaml."""
    (tmp_path / "small.yaml").write_text(SCENARIO)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def run(*extra: str) -> int:
    return main(["run", "small.yaml", "--quiet", *extra])


def seed_of(folder: Path) -> int:
    return json.loads((folder / "manifest.json").read_text())["seed"]


# ---------------------------------------------------------------- names beside the results folder

def test_folders_named_like_old_staging_names_are_never_touched(work):
    """``.NAME.old`` and ``.NAME.partial`` are the user's: a first run and a rerun leave them as they were."""
    results = work / "results"
    for name in (".small.old", ".small.partial"):
        (results / name).mkdir(parents=True)
        (results / name / "keep.txt").write_text(name)
    before = snapshot(results)
    assert run() == 0
    assert run("--seed", "12") == 0
    assert seed_of(results / "small") == 12
    after = snapshot(results)
    assert {k: v for k, v in after.items() if not k.startswith("small/")} == before
    assert sorted(p.name for p in results.iterdir()) == [".small.old", ".small.partial", "small"]   # no lock left


def test_staging_left_by_a_killed_writer_is_removed_and_a_look_alike_is_kept(work):
    results = work / "results"
    assert run() == 0
    target = str(guarded.resolve_target(results / "small"))
    stale = results / f".small{STAGING_INFIX}abc12345"              # as a writer killed while writing leaves it
    (stale / "new").mkdir(parents=True)
    (stale / "new" / "outcomes.parquet").write_bytes(b"half")
    (stale / STAGING_MARK).write_text(json.dumps({"target": target, "pid": 1}))
    look_alike = results / f".small{STAGING_INFIX}mine"                # the same pattern, but not marked as migsim's
    look_alike.mkdir()
    (look_alike / "data.txt").write_text("mine")
    assert run("--seed", "12") == 0
    assert not stale.exists()
    assert snapshot(look_alike) == {"data.txt": b"mine"}


def test_earlier_results_are_put_back_after_a_writer_killed_between_two_renames(work):
    """Where the file system cannot exchange two folders, the earlier results move aside first: a writer killed
    right then leaves them in its staging folder, and the next writer puts them back before anything else."""
    results = work / "results"
    assert run() == 0
    before = snapshot(results / "small")
    container = results / f".small{STAGING_INFIX}killed00"
    container.mkdir()
    (container / STAGING_MARK).write_text(json.dumps({"target": str(guarded.resolve_target(results / "small")),
                                                      "pid": 1}))
    os.rename(results / "small", container / "old")
    with guarded.claim_folder(results / "small", "run"):
        assert snapshot(results / "small") == before
    assert not container.exists()


# ---------------------------------------------------------------- inside a results folder

@pytest.mark.parametrize("change", ["added file", "added folder", "edited file"])
def test_what_a_user_put_into_a_results_folder_is_never_deleted(work, capsys, change):
    assert run() == 0
    out = work / "results" / "small"
    if change == "added file":
        (out / "notes.txt").write_text("my notes")
        named = "notes.txt (added)"
    elif change == "added folder":
        (out / "drafts").mkdir()
        (out / "drafts" / "figure.svg").write_text("<svg/>")
        named = "drafts/figure.svg (added)"
    else:
        (out / "scenario.yaml").write_text((out / "scenario.yaml").read_text() + "# my comment\n")
        named = "scenario.yaml (changed since migsim wrote it)"
    before = snapshot(out)
    capsys.readouterr()
    assert run("--seed", "12") == 2
    err = capsys.readouterr().err
    assert "holds files migsim did not write" in err and named in err and "Traceback" not in err
    assert snapshot(out) == before
    assert sorted(p.name for p in out.parent.iterdir()) == ["small"]


def test_a_file_migsim_wrote_and_the_user_removed_is_no_obstacle(work):
    assert run() == 0
    (work / "results" / "small" / "outcome_curves.png").unlink()
    assert run("--seed", "12") == 0
    assert (work / "results" / "small" / "outcome_curves.png").is_file()


def test_folders_of_earlier_versions_are_replaced_by_their_file_names(work, capsys):
    """A folder without migsim-files.json (written before it existed): its manifest and the names migsim gives
    its files say what is migsim's; anything else is the user's."""
    assert run() == 0
    out = work / "results" / "small"
    (out / FILES).unlink()
    assert run("--seed", "12") == 0
    (out / FILES).unlink()
    (out / "mine.csv").write_text("a,b\n")
    assert run("--seed", "13") == 2
    assert "mine.csv (added)" in capsys.readouterr().err
    assert seed_of(out) == 12


@pytest.mark.slow
def test_compare_plot_and_analyze_keep_user_files_too(work, capsys):
    (work / "study.yaml").write_text("schema_version: 1\nname: study\nbaseline: small.yaml\nreplications: 1\n"
                                     "scenarios:\n  strict: {policies: {us: {kind: enforcement, start: 2023-01, "
                                     "apprehension_probability: 0.9}}}\n")
    assert main(["compare", "study.yaml", "--quiet"]) == 0
    out = work / "results" / "study"
    assert main(["plot", str(out)]) == 0
    check_replaceable(out, "comparison")           # redrawn: still all migsim's, a compare may replace it
    (out / "figures" / "mine.png").write_bytes(b"png")
    before = snapshot(out)
    capsys.readouterr()
    assert main(["compare", "study.yaml", "--quiet"]) == 2
    assert "figures/mine.png (added)" in capsys.readouterr().err
    assert main(["plot", str(out)]) == 2
    assert "figures/mine.png (added)" in capsys.readouterr().err
    assert snapshot(out) == before


def test_analysis_folder_with_a_user_file_is_kept(tmp_path, capsys):
    (tmp_path / "base.yaml").write_text(TINY_SWEEP_BASE)
    (tmp_path / "sweep.yaml").write_text(tiny_sweep(samples=2, design="morris"))
    folder = tmp_path / "out"
    assert main(["sweep", str(tmp_path / "sweep.yaml"), "--out", str(folder), "--workers", "1", "--quiet"]) == 0
    assert main(["analyze", str(folder), "--quiet"]) == 0
    (folder / "analysis" / "annotated.png").write_bytes(b"mine")
    before = snapshot(folder / "analysis")
    assert main(["analyze", str(folder), "--quiet"]) == 2
    assert "annotated.png (added)" in capsys.readouterr().err
    assert snapshot(folder / "analysis") == before


# ---------------------------------------------------------------- links

def test_a_results_folder_that_is_a_link_is_written_through(work):
    elsewhere = work / "other_disk" / "small_results"
    (work / "results").mkdir()
    link = work / "results" / "small"
    link.symlink_to(elsewhere, target_is_directory=True)           # dangling: the target does not exist yet
    assert run() == 0
    assert link.is_symlink() and (elsewhere / "outcomes.parquet").is_file()
    assert run("--seed", "12") == 0
    assert link.is_symlink() and seed_of(elsewhere) == 12
    assert sorted(p.name for p in elsewhere.parent.iterdir()) == ["small_results"]
    assert sorted(p.name for p in (work / "results").iterdir()) == ["small"]


# ---------------------------------------------------------------- one writer at a time

def wait_for(condition, what: str, process: subprocess.Popen | None = None, timeout: float = 300.0):
    """Poll until ``condition()`` holds (an observed state), failing after a generous deadline."""
    deadline = time.monotonic() + timeout
    while not condition():
        if process is not None and process.poll() is not None:
            raise AssertionError(f"the process ended (code {process.returncode}) before {what}")
        assert time.monotonic() < deadline, f"never observed: {what}"
        time.sleep(0.005)


@pytest.mark.slow
def test_a_second_writer_of_a_folder_fails_at_once_and_says_whose_results_stand(work):
    """A holds the folder's lock (observed: the lock file names its process) and is frozen there; B, started
    then, exits 2 saying another command writes the folder; A, let go, writes its results and exits 0."""
    import shutil

    lock = work / "results" / f".small{guarded.LOCK_SUFFIX}"
    for _attempt in range(3):                  # started again if it finished before the lock was seen (not expected)
        shutil.rmtree(work / "results", ignore_errors=True)
        first = subprocess.Popen([sys.executable, "-m", "sim.cli", "run", "small.yaml", "--quiet", "--seed", "1",
                                  "--agents", "20000"], cwd=work, env=ENV, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
        wait_for(lambda first=first: first.poll() is not None or (lock.is_file() and lock.read_text().strip()
                                                                  == str(first.pid)), "the lock taken or the end")
        if first.poll() is None:
            break
    else:
        pytest.fail("three times the run finished before its lock was seen")
    try:
        first.send_signal(signal.SIGSTOP)      # frozen while it holds the lock
        second = subprocess.run([sys.executable, "-m", "sim.cli", "run", "small.yaml", "--quiet", "--seed", "2"],
                                cwd=work, env=ENV, capture_output=True, text=True, timeout=300)
        assert second.returncode == 2, second.stderr
        assert f"results/small is being written by another migsim command (process {first.pid})" in second.stderr
        assert "nothing was run" in second.stderr and "Traceback" not in second.stderr
    finally:
        first.send_signal(signal.SIGCONT)
    _, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    assert seed_of(work / "results" / "small") == 1
    assert not lock.exists()


@pytest.mark.slow
def test_writers_started_together_never_report_results_that_do_not_stand(work):
    """Three rounds of two runs started at once: each ends with 0 (its results were written, the later ones
    stand) or 2 (refused, nothing written); the results in the folder are those of a run that ended with 0,
    and of the only one when the other was refused."""
    for round_ in range(3):
        seeds = (100 + 2 * round_, 101 + 2 * round_)
        processes = [subprocess.Popen([sys.executable, "-m", "sim.cli", "run", "small.yaml", "--quiet", "--seed",
                                       str(seed)], cwd=work, env=ENV, stderr=subprocess.PIPE, text=True)
                     for seed in seeds]
        outcomes = [(p.wait(timeout=300), p.stderr.read()) for p in processes]
        codes = [code for code, _ in outcomes]
        assert set(codes) <= {0, 2} and 0 in codes, outcomes
        for code, err in outcomes:
            if code == 2:
                assert "is being written by another migsim command" in err, err
        standing = seed_of(work / "results" / "small")
        assert standing in [s for s, c in zip(seeds, codes) if c == 0]
        assert sorted(p.name for p in (work / "results").iterdir()) == ["small"]


def test_a_sweep_folder_has_one_writer_at_a_time(tmp_path):
    from sim.experiments.sweeps.execute import prepare_sweep

    (tmp_path / "base.yaml").write_text(TINY_SWEEP_BASE)
    (tmp_path / "sweep.yaml").write_text(tiny_sweep(samples=3, design="lhs"))
    first = prepare_sweep(tmp_path / "sweep.yaml", out=tmp_path / "out")
    try:
        with pytest.raises(guarded.Busy, match="is being written by another migsim command"):
            prepare_sweep(tmp_path / "sweep.yaml", out=tmp_path / "out")
    finally:
        first.store.close()
    prepare_sweep(tmp_path / "sweep.yaml", out=tmp_path / "out").store.close()


def test_sweep_overwrite_keeps_what_the_user_added(tmp_path, capsys):
    (tmp_path / "base.yaml").write_text(TINY_SWEEP_BASE)
    (tmp_path / "sweep.yaml").write_text(tiny_sweep(samples=3, design="lhs"))
    out = tmp_path / "out"
    assert main(["sweep", str(tmp_path / "sweep.yaml"), "--out", str(out), "--workers", "1", "--quiet"]) == 0
    (out / "parts" / "README.txt").write_text("which parts I checked")
    (out / "notes.md").write_text("notes")
    (tmp_path / "sweep.yaml").write_text(tiny_sweep(samples=2, design="lhs"))     # another sweep
    assert main(["sweep", str(tmp_path / "sweep.yaml"), "--out", str(out), "--workers", "1", "--quiet",
                 "--overwrite"]) == 0
    assert (out / "parts" / "README.txt").read_text() == "which parts I checked"
    assert (out / "notes.md").read_text() == "notes"
    assert f"kept {out / 'parts'}" in capsys.readouterr().err


# ---------------------------------------------------------------- calibrate --out

CALIBRATION = """\
schema_version: 1
name: tiny
start: 2021-01
months: 4
warmup_months: 1
agents: 2000
replications: 1
seed: 5
origins: [VEN, CUB]
calibration:
  parameters:
    behaviour.hazard.intercept.VEN: {min: -13, max: -7}
  fit_from: 2021-02
  replications: 1
  max_evaluations: 3
"""


@pytest.fixture
def calibration(tmp_path, monkeypatch):
    (tmp_path / "parent.yaml").write_text(CALIBRATION)
    (tmp_path / "tiny.yaml").write_text("schema_version: 1\nextends: parent.yaml\nname: tiny\n")
    (tmp_path / "observed.csv").write_text("month,citizenship,encounters\n" + "".join(
        f"2021-0{m},{c},{100 * m}\n" for m in range(1, 5) for c in ("VENEZUELA", "CUBA")))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def calibrate_to(out: str) -> list[str]:
    return ["calibrate", "tiny.yaml", "--observed", "observed.csv", "--until", "2021-04", "--out", out, "--quiet"]


@pytest.mark.parametrize("out, message", [
    ("essay.yaml", "essay.yaml exists and is not a calibrated scenario written by migsim"),
    ("tiny.yaml", "tiny.yaml is one of the files it is made from"),
    ("parent.yaml", "parent.yaml is one of the files it is made from"),
    ("observed.csv", "observed.csv is one of the files it is made from"),
    ("sub/../tiny.yaml", "is one of the files it is made from"),
    ("folder", "folder is a folder"),
])
def test_calibrate_never_writes_over_a_file_it_did_not_write_or_its_inputs(calibration, capsys, monkeypatch,
                                                                           out, message):
    (calibration / "essay.yaml").write_text("my essay\n")
    (calibration / "folder").mkdir()
    (calibration / "sub").mkdir()
    before = snapshot(calibration)
    monkeypatch.setattr("sim.fitting.calibrate.calibrate", lambda *a, **k: pytest.fail("refused before fitting"))
    assert main(calibrate_to(out)) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert snapshot(calibration) == before


@pytest.mark.slow
def test_calibrate_replaces_its_own_output_but_not_once_edited(calibration, capsys):
    assert main(calibrate_to("fitted.yaml")) == 0
    text = (calibration / "fitted.yaml").read_text()
    assert text.splitlines()[-1].startswith(SEAL)
    assert sim.load_scenario(calibration / "fitted.yaml").name == "fitted"
    assert main(calibrate_to("fitted.yaml")) == 0                          # its own output: replaced
    (calibration / "fitted.yaml").write_text(text.replace("name: fitted", "name: fitted_by_hand"))
    before = snapshot(calibration)
    assert main(calibrate_to("fitted.yaml")) == 2
    assert "fitted.yaml exists and is not a calibrated scenario written by migsim (or was edited since)" in \
        capsys.readouterr().err
    (calibration / "other.fit.json").write_text("{}")                      # a report name taken by another file
    assert main(calibrate_to("other.yaml")) == 2
    assert "other.fit.json (the report of --out other.yaml) exists and is not a fit report" in capsys.readouterr().err
    assert snapshot(calibration) == {**before, "other.fit.json": b"{}"}


def test_the_shipped_calibrated_files_count_as_written_by_migsim(repo_root):
    from sim.fitting.output_files import is_fit_report, is_scores_file, written_by_calibrate

    assert written_by_calibrate(repo_root / "scenarios" / "calibrated.yaml")
    assert is_fit_report(repo_root / "scenarios" / "calibrated.fit.json")
    assert is_scores_file(repo_root / "scenarios" / "calibrated_split.validation.json")
    assert not written_by_calibrate(repo_root / "scenarios" / "baseline.yaml")


@pytest.mark.parametrize("scores, message", [
    ("essay.json", "essay.json exists and is not a validation scores file written by migsim"),
    ("observed.csv", "observed.csv is one of the files it is made from"),
    ("parent.yaml", "parent.yaml is one of the files it is made from"),
])
def test_validate_scores_file_never_replaces_another_file(calibration, capsys, monkeypatch, scores, message):
    (calibration / "essay.json").write_text('{"mine": true}')
    before = snapshot(calibration)
    monkeypatch.setattr("sim.fitting.validate.validate", lambda *a, **k: pytest.fail("refused before running"))
    assert main(["validate", "tiny.yaml", "--observed", "observed.csv", "--holdout-from", "2021-03",
                 "--scores-file", scores, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert snapshot(calibration) == before
