"""Chaos: `run`, `sweep`, `compare` and `calibrate` stopped by SIGKILL, SIGTERM or SIGINT at observed moments.

Eleven seeded trials (two for compare, three for the others). Each puts things of the
user's beside the results (folders named like old staging names, a file) and, in some
trials, earlier results where the command writes; starts the command; waits until a
chosen state is observed (the folder's lock taken, a staging folder present, outcomes
written into it, a sweep part on disk, an evaluation of the fit reported); freezes the
command's processes (SIGSTOP) so that the state checked is the state stopped; sends the
signal. Then: the exit code is the signal's and the message says truly what was written;
nothing of the user's changed; the results folder holds the earlier results or whole new
ones; the same command run again completes with exactly the results of an uninterrupted
run, and leaves no staging folder, lock or temporary file.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.cli import main
from sim.experiments.sweeps import load_results
from sim.experiments.sweeps.parts import PARTS, part_problem
from sim.outputs.files import read_outcomes
from sim.outputs.guarded import LOCK_SUFFIX, STAGING_INFIX
from sim.outputs.ownership import check_replaceable

from helpers import REPO_ROOT, SMALL_RUN, tiny_sweep

ENV = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "PYTHONUNBUFFERED": "1"}
SIGNALS = (signal.SIGKILL, signal.SIGTERM, signal.SIGINT)
TRIALS = {"run": 3, "sweep": 3, "compare": 2, "calibrate": 3}   # each seeded: state, signal, earlier results
pytestmark = pytest.mark.slow
DEADLINE_S = 300.0
# the console command, with Ctrl-C handled even where the test runner's process ignores SIGINT
LAUNCH = ("import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
          "from sim.cli import main; sys.exit(main())")

SMALL = SMALL_RUN
SWEEP = tiny_sweep(samples=16, base="small.yaml", name="chaos_sweep")
STUDY = """\
schema_version: 1
name: study
baseline: small.yaml
replications: 1
outcomes: [encounters]             # one panel per figure: the report is drawn quickly
scenarios:
  strict: {policies: {us: {kind: enforcement, start: 2023-01, apprehension_probability: 0.95}}}
"""
FIT = """\
schema_version: 1
name: fit
start: 2021-01
months: 4
warmup_months: 1
agents: 4000
replications: 1
seed: 5
origins: [VEN, CUB]
behaviour:
  hazard:
    intercept: {VEN: -11.0}
calibration:
  parameters:
    behaviour.hazard.intercept.VEN: {min: -13, max: -7}
  fit_from: 2021-02
  replications: 1
  max_evaluations: 6
"""
OBSERVED = """\
month,citizenship,encounters
2021-01,VENEZUELA,0
2021-02,VENEZUELA,264827
2021-03,VENEZUELA,379969
2021-04,VENEZUELA,333912
2021-01,CUBA,0
2021-02,CUBA,0
2021-03,CUBA,35811
2021-04,CUBA,57298
"""
COMMANDS = {
    "run": ["run", "small.yaml", "--quiet"],
    "sweep": ["sweep", "sweep.yaml", "--workers", "1", "--quiet", "--out", "results/chaos_sweep"],
    "compare": ["compare", "study.yaml", "--quiet"],
    "calibrate": ["calibrate", "fit.yaml", "--observed", "observed.csv", "--until", "2021-04",
                  "--out", "results/fitted.yaml"],
}
EARLIER = {                     # the same command with other numbers: earlier results to keep or replace
    "run": ["--seed", "99"],
    "compare": ["--agents", "350"],
    "calibrate": ["--seed", "9", "--quiet"],
}
OUT = {"run": "results/small", "sweep": "results/chaos_sweep", "compare": "results/study",
       "calibrate": "results/fitted.yaml"}


def write_inputs(folder: Path) -> None:
    for name, text in (("small.yaml", SMALL), ("sweep.yaml", SWEEP), ("study.yaml", STUDY), ("fit.yaml", FIT),
                       ("observed.csv", OBSERVED)):
        (folder / name).write_text(text)


def result_of(command: str, folder: Path):
    """What must be identical between an uninterrupted run and a rerun after the signal."""
    out = folder / OUT[command]
    if command == "run":
        return read_outcomes(out / "outcomes.parquet")
    if command == "compare":
        return read_outcomes(out / "outcomes.parquet")
    if command == "sweep":
        return load_results(out)
    return out.read_bytes(), (out.parent / "fitted.fit.json").is_file()


def same(a, b) -> bool:
    if isinstance(a, pd.DataFrame):
        try:
            pd.testing.assert_frame_equal(a, b)
        except AssertionError:
            return False
        return True
    return a == b


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The results of a command run without interruption (in this process), made once per command."""
    found = {}

    def of(command: str):
        if command not in found:
            folder = tmp_path_factory.mktemp(f"chaos_reference_{command}")
            write_inputs(folder)
            cwd = os.getcwd()
            os.chdir(folder)
            try:
                assert main(COMMANDS[command] + (["--quiet"] if command == "calibrate" else [])) == 0
                found[command] = result_of(command, folder)
            finally:
                os.chdir(cwd)
        return found[command]
    return of


def snapshot(path: Path) -> dict[str, bytes] | bytes | None:
    if path.is_file():
        return path.read_bytes()
    if not path.is_dir():
        return None
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


# ---------------------------------------------------------------- observed states

def lock_taken(folder: Path, command: str, process: subprocess.Popen, _lines) -> bool:
    out = folder / OUT[command]
    lock = out.parent / f".{out.name}{LOCK_SUFFIX}"
    try:
        return lock.read_text().strip() == str(process.pid)
    except OSError:
        return False


def staging(folder: Path, command: str, *_args, inside: str | None = None) -> bool:
    out = folder / OUT[command]
    for found in out.parent.glob(f".{out.name}{STAGING_INFIX}*"):
        if inside is None or list((found / "new").glob(inside)):
            return True
    return False


def parts(folder: Path, command: str, *_args, at_least: int) -> bool:
    root = folder / OUT[command]
    return (root / "manifest.json").is_file() and (
        len(list((root / PARTS).glob("part-*.parquet"))) >= at_least if (root / PARTS).is_dir() else at_least == 0)


def evaluations(folder: Path, command: str, process, lines, at_least: int) -> bool:
    return sum(line.startswith("evaluation ") for line in lines) >= at_least


STATES = {
    "run": {"lock taken": lock_taken, "staging folder": staging,
            "outcomes in staging": lambda *a: staging(*a, inside="outcomes.parquet")},
    "compare": {"lock taken": lock_taken, "staging folder": staging,
                "figures in staging": lambda *a: staging(*a, inside="figures/*.png")},
    "sweep": {"manifest written": lambda *a: parts(*a, at_least=0), "a part on disk": lambda *a: parts(*a, at_least=1),
              "two parts on disk": lambda *a: parts(*a, at_least=2)},
    "calibrate": {"lock taken": lock_taken, "first evaluation": lambda *a: evaluations(*a, at_least=1)},
}


def stop_at(command: str, folder: Path, state, signum: int) -> tuple[subprocess.Popen, str] | None:
    """Start the command, wait for the state, freeze, signal. None when the command finished first."""
    argv = COMMANDS[command]
    process = subprocess.Popen([sys.executable, "-c", LAUNCH, *argv], cwd=folder, env=ENV, start_new_session=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    errors: list[str] = []
    readers = [threading.Thread(target=lambda: lines.extend(process.stdout), daemon=True),
               threading.Thread(target=lambda: errors.extend(process.stderr), daemon=True)]
    for reader in readers:
        reader.start()
    deadline = time.monotonic() + DEADLINE_S
    try:
        while process.poll() is None and not state(folder, command, process, lines):
            assert time.monotonic() < deadline, f"{command} never reached its state"
            time.sleep(0.002)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGSTOP)          # frozen: the state checked is the state stopped
            if signum == signal.SIGKILL:
                os.killpg(process.pid, signal.SIGKILL)
            else:
                os.kill(process.pid, signum)                # as `kill` or Ctrl-C would send it: to the command
                os.killpg(process.pid, signal.SIGCONT)
        process.wait(timeout=DEADLINE_S)
        for reader in readers:
            reader.join(timeout=DEADLINE_S)
    if process.returncode == 0:
        return None
    return process, "".join(errors)


USER_ITEMS = {".NAME.old/keep.txt": b"old", ".NAME.partial/keep.txt": b"partial", "notes.txt": b"mine"}


def place_user_items(folder: Path, command: str) -> dict[Path, bytes]:
    out = folder / OUT[command]
    items = {}
    for relative, content in USER_ITEMS.items():
        path = out.parent / relative.replace("NAME", out.name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        items[path] = content
    return items


def check_after_stop(command: str, folder: Path, signum: int, code: int, err: str, earlier, reference) -> None:
    out = folder / OUT[command]
    expected_code = {signal.SIGKILL: -signal.SIGKILL, signal.SIGTERM: 128 + signal.SIGTERM,
                     signal.SIGINT: 130}[signum]
    assert code == expected_code, (code, err)
    assert "Traceback" not in err, err
    if command == "sweep":
        for part in (out / PARTS).glob("part-*.parquet") if (out / PARTS).is_dir() else []:
            assert part_problem(part) is None, part           # a part under its final name is whole
        if signum != signal.SIGKILL:
            assert "the finished runs are kept" in err, err
        return
    now = snapshot(out)
    new_and_whole = now is not None and (command == "calibrate" or not check_replaceable(out, "run" if command == "run"
                                                                                          else "comparison"))
    if now == earlier:
        if signum != signal.SIGKILL:
            assert "nothing was written" in err, err
    else:
        assert new_and_whole and same(result_of(command, folder), reference), "neither the earlier nor whole results"
        if signum != signal.SIGKILL:
            assert "the results had been written to" in err, err


def leftovers(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")
                  if STAGING_INFIX in p.name or p.name.endswith(LOCK_SUFFIX) or p.name.endswith(".tmp"))


@pytest.mark.parametrize("command", list(COMMANDS))
def test_stopped_at_observed_moments_nothing_is_lost_and_a_rerun_completes(reference, tmp_path, command):
    rng = np.random.default_rng({"run": 1, "sweep": 2, "compare": 3, "calibrate": 4}[command] * 7919)
    for trial in range(TRIALS[command]):
        folder = tmp_path / f"trial{trial}"
        names = list(STATES[command])
        state_name = names[trial % len(names)]
        signum = SIGNALS[int(rng.integers(len(SIGNALS)))]
        with_earlier = command in EARLIER and bool(rng.integers(2))
        for _attempt in range(5):
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            write_inputs(folder)
            cwd = os.getcwd()
            os.chdir(folder)
            try:
                if with_earlier:
                    assert main(COMMANDS[command] + EARLIER[command]) == 0
            finally:
                os.chdir(cwd)
            user = place_user_items(folder, command)
            earlier = snapshot(folder / OUT[command])
            stopped = stop_at(command, folder, STATES[command][state_name], signum)
            if stopped is not None:
                break
        else:
            pytest.fail(f"{command}: five times it finished before '{state_name}'")
        process, err = stopped
        where = f"{command}, trial {trial}: {state_name}, {signal.Signals(signum).name}"
        check_after_stop(command, folder, signum, process.returncode, err, earlier, reference(command))
        assert {p: p.read_bytes() for p in user} == user, where          # nothing of the user's changed
        cwd = os.getcwd()
        os.chdir(folder)
        try:
            assert main(COMMANDS[command] + (["--quiet"] if command == "calibrate" else [])) == 0, where
        finally:
            os.chdir(cwd)
        assert same(result_of(command, folder), reference(command)), where
        assert {p: p.read_bytes() for p in user} == user, where
        assert leftovers(folder) == [], where
