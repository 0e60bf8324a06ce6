"""Running sweeps: identical tables whatever the executor, resume after SIGKILL, failures, refusals."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

import sim
from sim.cli import main
from sim.core.calendar import parse_month
from sim.core.inputs import compile_inputs
from sim.core.paths import apply_values
from sim.core.world import build_world
from sim.engines.vector import simulate
from sim.experiments.sweeps import build_design, load_results, load_sweep, run_sweep
from sim.experiments.sweeps import execute as sweep_execute
from sim.experiments.sweeps.store import PARTS, part_run_ids
from sim.outputs.table import months_of, tidy

from helpers import REPO_ROOT

BASE = """\
schema_version: 1
name: tiny
agents: 300
months: 4
warmup_months: 1
replications: 1
seed: 3
origins: [GTM, HND, VEN]
behaviour:
  hazard:
    intercept: {GTM: -4.0, HND: -4.0, VEN: -4.0}
drivers:
  shock: {origin: ALL, driver: violence, kind: step, start: 2023-02, change: 0.0}
policies:
  us: {kind: enforcement, start: 2023-01, apprehension_probability: 0.8}
  mx:
    kind: containment
    country: MEX
    start: 2023-01
    interception_probability: 0.3
    capacity_per_month: 1.0e6
"""

SWEEP = """\
schema_version: 1
extends: base.yaml
name: tiny_sweep
sweep:
  replications: 2
  levers:
    parameters:
      policies.us.apprehension_probability: [0.6, 0.9]
      agents: [200, 300]
  uncertainties:
    design: lhs
    samples: 3
    parameters:
      behaviour.hazard.network: {distribution: uniform, low: 0.1, high: 0.6}
      drivers.shock.change: {distribution: triangular, low: -0.3, mode: 0.0, high: 0.5}
"""
RUNS = 4 * 3 * 2
OUTCOME_COLUMNS = ["month", "nationality", "location", "metric", "value"]


@pytest.fixture(scope="module")
def sweep_path(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sweep")
    (folder / "base.yaml").write_text(BASE)
    (folder / "sweep.yaml").write_text(SWEEP)
    return folder / "sweep.yaml"


@pytest.fixture(scope="module")
def reference(sweep_path):
    """The sweep run in this process, one task at a time."""
    out = sweep_path.parent / "reference"
    summary = run_sweep(sweep_path, out=out, workers=1)
    assert (summary.done, summary.failed, summary.ran) == (RUNS, 0, RUNS)
    return out, load_results(out)


def test_results_table(reference):
    out, table = reference
    params = ["policies.us.apprehension_probability", "agents", "behaviour.hazard.network", "drivers.shock.change"]
    run_columns = ["run_id", "point", "policy", "future", "replicate", "seed"]
    assert list(table.columns) == run_columns + params + OUTCOME_COLUMNS
    assert table.run_id.nunique() == RUNS
    assert not table.duplicated(["run_id", "month", "nationality", "location", "metric"]).any()
    assert table.groupby("run_id")[params].nunique().eq(1).all().all()
    assert sorted(table.month.unique()) == ["2023-01", "2023-02", "2023-03", "2023-04"]
    assert table[table.metric == "encounters"].value.sum() > 0
    # ordered by point and replicate, then as sim.outputs.table orders a run
    keys = table[["point", "replicate"]].drop_duplicates()
    assert keys.equals(keys.sort_values(["point", "replicate"]))
    runs = pd.read_parquet(out / "runs.parquet")
    assert (runs.status == "done").all() and len(runs) == RUNS
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["runs_done"] == RUNS and manifest["runs_failed"] == 0
    assert len(manifest["sweep_file_sha256"]) == 64 and manifest["version"]
    assert manifest["design"]["groups"]["uncertainties"]["design"] == "lhs"
    assert manifest["sessions"][-1]["executor"] == "in-process"


def test_each_run_is_the_scenario_it_names(reference, sweep_path):
    """A run of the sweep equals the engine run alone on its point's scenario and seed, world changes included."""
    _, table = reference
    design = build_design(load_sweep(sweep_path))
    for point in (0, len(design.points) - 1):                 # agents 200 and agents 300
        row = design.runs[design.runs.point == point].iloc[1]
        scenario = sim.Scenario.model_validate(apply_values(design.base, design.point_values(point)))
        assert scenario.agents == row["agents"]
        world = build_world(scenario)
        counts = simulate(world, [compile_inputs(scenario, world)], [int(row.seed)])
        alone = tidy(counts, world, months_of(parse_month(scenario.start), scenario.months), "x", [0], [row.seed])
        mine = table[table.run_id == row.run_id].reset_index(drop=True)
        pd.testing.assert_frame_equal(mine[OUTCOME_COLUMNS], alone[OUTCOME_COLUMNS], check_dtype=False)


def test_workers_and_task_sizes_do_not_change_the_table(reference, sweep_path, tmp_path, monkeypatch):
    _, table = reference
    summary = run_sweep(sweep_path, out=tmp_path / "two", workers=2)
    assert summary.executor == "processes" and summary.workers == 2
    pd.testing.assert_frame_equal(load_results(tmp_path / "two"), table)
    monkeypatch.setattr(sweep_execute, "MAX_RUNS_PER_TASK", 1)              # one run per task
    summary = run_sweep(sweep_path, out=tmp_path / "single", workers=1)
    assert summary.tasks == RUNS
    pd.testing.assert_frame_equal(load_results(tmp_path / "single"), table)


@pytest.mark.slow
def test_dask_cluster_gives_the_same_table(reference, sweep_path, tmp_path):
    distributed = pytest.importorskip("distributed")
    _, table = reference
    with distributed.LocalCluster(processes=True, n_workers=2, threads_per_worker=1, host="127.0.0.1",
                                  dashboard_address=None, silence_logs=40) as cluster:
        summary = run_sweep(sweep_path, out=tmp_path / "dask", scheduler=cluster.scheduler_address)
        assert summary.executor == "dask" and summary.workers == 2 and summary.done == RUNS
        path = tmp_path / "scheduler.json"            # as `dask scheduler --scheduler-file` writes it
        path.write_text(json.dumps({"type": "Scheduler", "address": cluster.scheduler_address}))
        executor = sweep_execute.make_executor(scheduler_file=path)
        try:
            assert executor.describe() == {"executor": "dask", "workers": 2, "scheduler": cluster.scheduler_address}
        finally:
            executor.close()
    pd.testing.assert_frame_equal(load_results(tmp_path / "dask"), table)
    manifest = json.loads((tmp_path / "dask" / "manifest.json").read_text())
    assert manifest["sessions"][-1]["scheduler"] == cluster.scheduler_address


def test_unreachable_scheduler_is_a_clear_error(sweep_path, tmp_path, capsys, monkeypatch):
    pytest.importorskip("distributed")
    monkeypatch.setattr(sweep_execute, "CONNECT_TIMEOUT_S", 1)
    code = main(["sweep", str(sweep_path), "--out", str(tmp_path / "x"), "--quiet", "--scheduler",
                 "tcp://127.0.0.1:9"])
    err = capsys.readouterr().err
    assert code == 2 and "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in err and "Traceback" not in err
    assert not (tmp_path / "x").exists()                   # nothing written before the cluster answers
    assert main(["sweep", str(sweep_path), "--out", str(tmp_path / "x"), "--quiet", "--scheduler-file",
                 str(tmp_path / "nope.json")]) == 2
    assert "Dask scheduler file not found" in capsys.readouterr().err


def test_rerun_resumes_and_does_nothing_when_done(reference, sweep_path, capsys):
    out, table = reference
    parts = sorted(p.name for p in (out / PARTS).iterdir())
    assert main(["sweep", str(sweep_path), "--out", str(out), "--workers", "1"]) == 0
    printed = capsys.readouterr().out
    assert f"{RUNS} found done from an earlier session" in printed
    assert sorted(p.name for p in (out / PARTS).iterdir()) == parts
    pd.testing.assert_frame_equal(load_results(out), table)


def test_killed_sweep_resumes_to_the_same_table(sweep_path, tmp_path):
    """SIGKILL the command once some parts exist, rerun it: exactly the table of an uninterrupted sweep."""
    (tmp_path / "base.yaml").write_text(BASE.replace("agents: 300", "agents: 1000").replace("months: 4", "months: 8"))
    path = tmp_path / "sweep.yaml"
    path.write_text(SWEEP.replace("agents: [200, 300]", "agents: [1000]").replace("samples: 3", "samples: 12"))
    out = tmp_path / "killed"
    command = [sys.executable, "-m", "sim.cli", "sweep", str(path), "--out", str(out), "--workers", "1", "--quiet"]
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    process = subprocess.Popen(command, cwd=tmp_path, env=env, start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    parts = []
    while time.monotonic() < deadline and process.poll() is None:
        parts = list((out / PARTS).glob("part-*.parquet")) if (out / PARTS).is_dir() else []
        if parts:
            break
        time.sleep(0.01)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, process.stderr.read().decode()
    done = {r for p in (out / PARTS).glob("part-*.parquet") for r in part_run_ids(p)}
    total = 2 * 12 * 2                                       # three tasks of 16 runs
    assert 0 < len(done) < total, "the sweep was not interrupted midway"
    assert main(["sweep", str(path), "--out", str(out), "--workers", "2", "--quiet"]) == 0
    resumed = load_results(out)
    uninterrupted = tmp_path / "whole"
    assert main(["sweep", str(path), "--out", str(uninterrupted), "--workers", "1", "--quiet"]) == 0
    pd.testing.assert_frame_equal(resumed, load_results(uninterrupted))
    assert resumed.run_id.nunique() == total
    assert not resumed.duplicated(["run_id", "month", "nationality", "location", "metric"]).any()
    manifest = json.loads((out / "manifest.json").read_text())
    assert len(manifest["sessions"]) == 2 and manifest["sessions"][-1]["runs_ran"] == total - len(done)
    assert not list(out.rglob("*.tmp"))


def test_failing_run_is_recorded_and_the_others_finish(sweep_path, tmp_path, monkeypatch, capsys):
    real = sweep_execute.simulate

    def fragile(world, inputs, seeds, progress=None):
        if any(i.b_network > 0.5 for i in inputs):
            raise FloatingPointError("poisoned run")
        return real(world, inputs, seeds, progress)

    monkeypatch.setattr(sweep_execute, "simulate", fragile)
    design = build_design(load_sweep(sweep_path))
    bad = set(design.runs.run_id[design.runs["behaviour.hazard.network"] > 0.5])
    assert 0 < len(bad) < RUNS
    out = tmp_path / "fragile"
    assert main(["sweep", str(sweep_path), "--out", str(out), "--workers", "1"]) == 1
    printed = capsys.readouterr().out
    assert f"{len(bad)} failed" in printed and "FloatingPointError: poisoned run" in printed
    runs = pd.read_parquet(out / "runs.parquet")
    assert set(runs.run_id[runs.status == "failed"]) == bad
    assert (runs.error[runs.status == "failed"] == "FloatingPointError: poisoned run").all()
    assert set(runs.run_id[runs.status == "done"]) == set(design.runs.run_id) - bad
    assert {p.stem for p in (out / "errors").glob("*.json")} == bad
    assert set(load_results(out).run_id) == set(design.runs.run_id) - bad
    assert json.loads((out / "manifest.json").read_text())["runs_failed"] == len(bad)
    # rerun once the cause is gone: the failed runs are tried again, the others are kept
    monkeypatch.setattr(sweep_execute, "simulate", real)
    summary = run_sweep(sweep_path, out=out, workers=1)
    assert (summary.ran, summary.failed, summary.done) == (len(bad), 0, RUNS)
    assert not list((out / "errors").glob("*.json"))


def test_changed_sweep_file_is_refused_unless_overwrite(tmp_path, capsys):
    (tmp_path / "base.yaml").write_text(BASE)
    path = tmp_path / "sweep.yaml"
    small = SWEEP.replace("agents: [200, 300]", "agents: [200]").replace("replications: 2", "replications: 1")
    path.write_text(small)
    out = tmp_path / "out"
    assert main(["sweep", str(path), "--out", str(out), "--workers", "1", "--quiet"]) == 0
    before = load_results(out)
    path.write_text(small.replace("[0.6, 0.9]", "[0.6, 0.95]"))
    assert main(["sweep", str(path), "--out", str(out), "--workers", "1", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"{out} holds the results of a different sweep" in err and "--overwrite" in err
    pd.testing.assert_frame_equal(load_results(out), before)               # untouched
    # the options are part of the sweep, too
    path.write_text(small)
    assert main(["sweep", str(path), "--out", str(out), "--workers", "1", "--quiet", "--months", "3"]) == 2
    # comments and layout are not
    path.write_text("# a comment\n" + small)
    assert main(["sweep", str(path), "--out", str(out), "--workers", "1", "--quiet"]) == 0
    path.write_text(small.replace("[0.6, 0.9]", "[0.6, 0.95]"))
    assert main(["sweep", str(path), "--out", str(out), "--workers", "1", "--quiet", "--overwrite"]) == 0
    after = load_results(out)
    assert set(after["policies.us.apprehension_probability"]) == {0.6, 0.95}
    # runs shared by both sweeps are the same runs
    shared = before[before["policies.us.apprehension_probability"] == 0.6].reset_index(drop=True)
    pd.testing.assert_frame_equal(after[after["policies.us.apprehension_probability"] == 0.6].reset_index(drop=True),
                                  shared)


def test_a_folder_that_is_not_a_sweep_is_never_touched(sweep_path, tmp_path, capsys):
    out = tmp_path / "busy"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert main(["sweep", str(sweep_path), "--out", str(out), "--workers", "1", "--quiet", "--overwrite"]) == 2
    assert "holds no sweep results" in capsys.readouterr().err
    assert [p.name for p in out.iterdir()] == ["notes.txt"]


def test_overrides_change_agents_and_months(tmp_path):
    (tmp_path / "base.yaml").write_text(BASE)
    path = tmp_path / "sweep.yaml"
    path.write_text(SWEEP.replace("      agents: [200, 300]\n", ""))
    summary = run_sweep(path, out=tmp_path / "o", workers=1, agents=250, months=2)
    assert summary.done == 2 * 3 * 2
    table = load_results(tmp_path / "o")
    assert sorted(table.month.unique()) == ["2023-01", "2023-02"]
    manifest = json.loads((tmp_path / "o" / "manifest.json").read_text())
    assert manifest["agents"] == 250 and manifest["months"] == 2


def test_load_results_of_a_run_folder(tmp_path):
    result = sim.run(sim.Scenario(schema_version=1, name="r", agents=200, months=2, warmup_months=0,
                                  replications=1, origins=["GTM"]))
    result.save(tmp_path / "r", plot=False)
    pd.testing.assert_frame_equal(sim.load_results(tmp_path / "r"), result.to_frame())
    with pytest.raises(FileNotFoundError):
        sim.load_results(tmp_path)


def test_task_planning_keeps_worlds_apart(sweep_path):
    design = build_design(load_sweep(sweep_path))
    agents = dict(zip(design.runs.world, design.runs.agents))
    tasks = sweep_execute.plan_tasks(design, list(design.runs.run_id), 2, agents)
    assert sum(t.size for t in tasks) == RUNS
    assert len({t.world for t in tasks}) == 2
    for task in tasks:
        worlds = {design.runs.set_index("run_id").loc[r, "world"] for p in task.points for r, _ in p.runs}
        assert worlds == {task.world}
    assert len({t.name for t in tasks}) == len(tasks)
    assert sweep_execute.runs_per_task(1000, 10_000, 2) == 63
    assert sweep_execute.runs_per_task(1000, 2_000_000, 2) == 2
    assert sweep_execute.runs_per_task(3, 10_000, 8) == 1
    assert sweep_execute.runs_per_task(96, 10_000, 2) == 16          # small sweeps: batches of 16 at least
    assert sweep_execute.runs_per_task(20, 10_000, 2) == 10          # ... while every worker gets a task
    assert np.all([t.size <= sweep_execute.MAX_RUNS_PER_TASK for t in tasks])


def _parts_on_disk(out) -> int:
    """Complete part files in a sweep folder (temporary files of interrupted writes excluded)."""
    return len(list((out / PARTS).glob("part-*.parquet"))) if (out / PARTS).is_dir() else 0


def _kill_at(command, env, cwd, reached, deadline_s: float = 300.0) -> bool:
    """Start the sweep, wait until ``reached()`` holds, freeze it (SIGSTOP), then SIGKILL it.

    Waits for an observed state, never for a guessed time. Returns True when the process
    was killed (it had not finished), False when it finished before the state was reached.
    """
    process = subprocess.Popen(command, cwd=cwd, env=env, start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + deadline_s
    try:
        while process.poll() is None and not reached():
            assert time.monotonic() < deadline, "the sweep never reached the state to kill it at"
            time.sleep(0.002)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGSTOP)        # frozen: nothing moves between the check and the kill
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    return process.returncode == -signal.SIGKILL


@pytest.mark.slow
def test_sigkill_at_observed_moments_never_loses_or_duplicates_runs(sweep_path, tmp_path):
    """Ten seeded trials: kill the sweep at an observed state, check every visible part is whole, resume.

    The states: the folder just begun (manifest written, no part yet), or a number of the
    four parts on disk, always leaving at least two tasks to run. Every other trial is
    killed twice before it may finish. A trial whose sweep finished before its state (not
    expected: two tasks were left) starts again from an empty folder.
    """
    import shutil

    import pyarrow.parquet as pq

    (tmp_path / "base.yaml").write_text(BASE.replace("agents: 300", "agents: 1000").replace("months: 4", "months: 8"))
    path = tmp_path / "sweep.yaml"
    path.write_text(SWEEP.replace("agents: [200, 300]", "agents: [1000]").replace("samples: 3", "samples: 16"))
    reference = tmp_path / "whole"
    assert main(["sweep", str(path), "--out", str(reference), "--workers", "1", "--quiet"]) == 0
    expected = load_results(reference)
    tasks = _parts_on_disk(reference)
    assert tasks == 4                                     # 64 runs in tasks of 16
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    rng = np.random.default_rng(20261123)
    kills = 0
    for trial in range(10):
        out = tmp_path / f"trial{trial}"
        command = [sys.executable, "-m", "sim.cli", "sweep", str(path), "--out", str(out), "--workers", "1", "--quiet"]
        targets = [int(t) for t in rng.integers(0, tasks - 1, size=1 + trial % 2)]
        for _attempt in range(5):
            shutil.rmtree(out, ignore_errors=True)
            cut_short = True
            for target in sorted(targets):
                def reached(target=target, out=out):
                    return _parts_on_disk(out) >= target and (out / "manifest.json").is_file()
                cut_short = _kill_at(command, env, tmp_path, reached)
                if not cut_short:
                    break
                kills += 1
                assert _parts_on_disk(out) < tasks        # the kill really cut the sweep short
                for part in (out / PARTS).glob("part-*.parquet"):
                    pq.read_table(part)                   # a part under its final name is always whole
            if cut_short:
                break
        else:
            pytest.fail(f"trial {trial}: five times the sweep finished before the state it was to be killed at")
        assert main(["sweep", str(path), "--out", str(out), "--workers", "1", "--quiet"]) == 0
        resumed = load_results(out)
        pd.testing.assert_frame_equal(resumed, expected)
        assert not resumed.duplicated(["run_id", "month", "nationality", "location", "metric"]).any()
        assert not list(out.rglob("*.tmp"))
    assert kills == 15                                    # every planned kill cut a sweep short
