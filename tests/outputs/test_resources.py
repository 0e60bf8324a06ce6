"""Resource limits and write failures: refused early and clearly, earlier results never lost.

- a run that would not fit in memory is refused before anything is allocated (exit code 2);
- a full disk or a read-only results folder ends `migsim run` and `migsim sweep` with a
  clear error (exit code 2), and leaves the results of earlier runs as they were;
- a folder that does not hold a run's results is never replaced by `migsim run --out`.
"""
from __future__ import annotations

import errno
import os
import stat
import tracemalloc
from pathlib import Path

import matplotlib.figure
import pandas as pd
import pytest

import sim
import sim.engines.memory as memory
import sim.engines.mesa  # noqa: F401
import sim.experiments.comparisons.comparison  # noqa: F401  (imported before measuring memory)
import sim.experiments.sweeps.execute as sweep_execute
import sim.experiments.sweeps.parts as sweep_parts
import sim.experiments.sweeps.store as sweep_store
import sim.outputs.files as output_files
import sim.outputs.guarded as guarded
import sim.simulation as simulation
from sim.cli import main
from sim.core.errors import ResourceError
from sim.experiments.sweeps import load_results, run_sweep
from sim.experiments.sweeps.store import PARTS, part_run_ids

from helpers import SMALL_RUN

SCENARIO = SMALL_RUN
SWEEP = """\
schema_version: 1
extends: small.yaml
name: small_sweep
sweep:
  replications: 2
  levers:
    parameters:
      policies.us.apprehension_probability: [0.5, 0.7, 0.9]
"""
SWEEP_RUNS = 6
TRILLION = 10**12


@pytest.fixture
def files(tmp_path, monkeypatch) -> Path:
    """A working folder (the current directory) holding small.yaml and sweep.yaml."""
    (tmp_path / "small.yaml").write_text(SCENARIO)
    (tmp_path / "sweep.yaml").write_text(SWEEP)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def leftovers(folder: Path) -> list[str]:
    """Temporary files or folders of interrupted writes."""
    return sorted(str(p) for p in folder.rglob("*") if p.name.startswith(".") or p.suffix in (".tmp", ".partial"))


# ---------------------------------------------------------------- memory

def trillion_commands(folder: Path) -> dict[str, list[str]]:
    (folder / "huge.yaml").write_text(SCENARIO.replace("agents: 300", f"agents: {TRILLION}"))
    return {
        "run, agents in the file": ["run", "huge.yaml", "--quiet"],
        "run, progress bar": ["run", "huge.yaml"],
        "run --agents": ["run", "small.yaml", "--agents", str(TRILLION), "--quiet"],
        "run --engine mesa": ["run", "huge.yaml", "--engine", "mesa", "--quiet"],
        "sweep --agents": ["sweep", "sweep.yaml", "--agents", str(TRILLION), "--quiet", "--workers", "1"],
        "compare --agents": ["compare", "study.yaml", "--agents", str(TRILLION), "--quiet"],
    }


@pytest.mark.parametrize("case", ["run, agents in the file", "run, progress bar", "run --agents", "run --engine mesa",
                                  "sweep --agents", "compare --agents"])
def test_a_trillion_agents_is_refused_before_allocating(files, capsys, case):
    (files / "study.yaml").write_text("schema_version: 1\nname: study\nbaseline: small.yaml\n"
                                      "scenarios:\n  strict: {policies: {us: {apprehension_probability: 0.9}}}\n")
    argv = trillion_commands(files)[case]
    tracemalloc.start()
    try:
        code = main(argv)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    err = capsys.readouterr().err
    assert code == 2, err
    assert "1,000,000,000,000 agents need about" in err and "GiB" in err and "Use fewer agents" in err
    assert "Traceback" not in err
    assert peak < 64 * 2**20, f"{peak / 2**20:.0f} MiB allocated before refusing"
    assert not (files / "results").exists()


def test_the_memory_check_uses_the_memory_available_now(files, monkeypatch, capsys):
    """The same run is refused on a machine with less memory free (here, 1 MiB)."""
    monkeypatch.setattr(memory, "available_bytes", lambda: 2**20)
    monkeypatch.setattr(simulation, "available_bytes", lambda: 2**20)
    assert main(["run", "small.yaml", "--quiet", "--agents", "100000", "--out", "second"]) == 2
    err = capsys.readouterr().err
    assert "100,000 agents need about" in err and "only 0.0 GiB of memory is available" in err
    assert not (files / "second").exists()
    with pytest.raises(ResourceError):
        sim.run(sim.load_scenario("small.yaml"), agents=100_000)


# ---------------------------------------------------------------- migsim run: full disk, read-only folder

@pytest.fixture(scope="module")
def result() -> sim.Result:
    from helpers import small

    return sim.run(small(agents=300, months=2, warmup_months=1, replications=1, seed=11))


@pytest.fixture
def earlier(result, tmp_path) -> Path:
    """The results folder of an earlier run."""
    out = tmp_path / "results" / "small"
    simulation.save_result(result, out, plot=False)
    return out


def disk_full_after(monkeypatch, writes: int) -> None:
    """Every file write after the first ``writes`` fails with ENOSPC (as a full disk does)."""
    real, calls = os.fsync, [0]

    def fsync(fd):
        calls[0] += 1
        if calls[0] > writes:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(fd)

    monkeypatch.setattr(os, "fsync", fsync)


STAGES = ["outcomes", "scenario.yaml", "manifest.json", "figure", "moving into place",
          "moving into place (two renames)"]


@pytest.mark.parametrize("stage", STAGES)
def test_a_full_disk_while_saving_keeps_the_earlier_results(result, earlier, monkeypatch, stage):
    before = snapshot(earlier)
    if stage in STAGES[:3]:
        disk_full_after(monkeypatch, STAGES.index(stage))
    elif stage == "figure":
        def savefig(*args, **kwargs):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        monkeypatch.setattr(matplotlib.figure.Figure, "savefig", savefig)
    elif stage == "moving into place":
        def exchange(a, b):                        # the new folder cannot take the old one's place
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        monkeypatch.setattr(guarded, "_exchange", exchange)
    else:                                          # a file system without atomic exchange: two renames
        real_rename = os.rename

        def rename(source, target):
            if Path(source).name == "new":         # the staging folder cannot take the old one's place
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return real_rename(source, target)
        monkeypatch.setattr(guarded, "_exchange", lambda a, b: False)
        monkeypatch.setattr(os, "rename", rename)
    with pytest.raises(OSError) as info:
        simulation.save_result(result, earlier, plot=(stage == "figure"))
    message = str(info.value)
    assert info.value.errno == errno.ENOSPC
    assert f"cannot write the results into {earlier}" in message and "No space left on device" in message
    assert "the earlier results there are unchanged" in message
    assert snapshot(earlier) == before
    assert leftovers(earlier.parent) == []


def test_a_full_disk_ends_migsim_run_with_exit_2(files, monkeypatch, capsys):
    assert main(["run", "small.yaml", "--quiet"]) == 0
    out = files / "results" / "small"
    before = snapshot(out)
    disk_full_after(monkeypatch, 1)
    assert main(["run", "small.yaml", "--quiet", "--seed", "99"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot write the results into results/small (No space left on device)")
    assert "the earlier results there are unchanged" in err and "Traceback" not in err
    assert snapshot(out) == before
    assert leftovers(files / "results") == []


def test_a_full_disk_on_the_first_run_writes_nothing(result, tmp_path, monkeypatch):
    disk_full_after(monkeypatch, 0)
    with pytest.raises(OSError, match="nothing was written"):
        simulation.save_result(result, tmp_path / "results" / "new", plot=False)
    assert not (tmp_path / "results").exists()           # not even the folder it would have made


def test_a_read_only_results_folder_is_a_clear_error(files, monkeypatch, capsys):
    """A read-only file system (EROFS): nothing can be created under results/."""
    assert main(["run", "small.yaml", "--quiet"]) == 0
    before = snapshot(files / "results")
    real_mkdir, real_mkstemp = Path.mkdir, output_files.tempfile.mkstemp

    def refuse(*args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(files / "results"))
    monkeypatch.setattr(Path, "mkdir", lambda self, *a, **k: refuse() if "results" in str(self) else
                        real_mkdir(self, *a, **k))
    monkeypatch.setattr(output_files.tempfile, "mkstemp",
                        lambda *a, **k: refuse() if "results" in str(k.get("dir")) else real_mkstemp(*a, **k))
    assert main(["run", "small.yaml", "--quiet", "--seed", "5"]) == 2
    err = capsys.readouterr().err
    assert "cannot write the results into results/small (Read-only file system" in err
    assert snapshot(files / "results") == before
    assert main(["sweep", "sweep.yaml", "--quiet", "--workers", "1"]) == 2
    assert "Read-only file system" in capsys.readouterr().err
    assert sorted(p.name for p in (files / "results").iterdir()) == ["small"]


@pytest.mark.skipif(os.geteuid() == 0, reason="permissions do not stop root")
def test_a_results_folder_without_write_permission(files, capsys):
    assert main(["run", "small.yaml", "--quiet"]) == 0
    results = files / "results"
    before = snapshot(results)
    results.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        assert main(["run", "small.yaml", "--quiet", "--seed", "5"]) == 2
        err = capsys.readouterr().err
        assert "cannot write the results into results/small (Permission denied" in err and "Traceback" not in err
        assert main(["sweep", "sweep.yaml", "--quiet", "--workers", "1"]) == 2
        assert "Permission denied" in capsys.readouterr().err
    finally:
        results.chmod(stat.S_IRWXU)
    assert snapshot(results) == before


def test_a_folder_that_is_not_a_run_is_never_replaced(files, monkeypatch, capsys):
    precious = files / "thesis"
    precious.mkdir()
    (precious / "chapter1.tex").write_text("months of work")
    monkeypatch.setattr(simulation, "run", lambda *a, **k: pytest.fail("refused before simulating"))
    assert main(["run", "small.yaml", "--quiet", "--out", "thesis"]) == 2
    err = capsys.readouterr().err
    assert "thesis exists and does not hold the results of a run" in err
    assert snapshot(precious) == {"chapter1.tex": b"months of work"}


def test_the_results_of_a_run_are_replaced_by_the_next_run(files):
    assert main(["run", "small.yaml", "--quiet"]) == 0
    assert main(["run", "small.yaml", "--quiet", "--seed", "12"]) == 0
    manifest = (files / "results" / "small" / "manifest.json").read_text()
    assert '"seed": 12' in manifest
    assert leftovers(files / "results") == []


# ---------------------------------------------------------------- migsim sweep: full disk

def test_a_full_disk_during_a_sweep_keeps_finished_parts_and_resumes(files, monkeypatch, capsys):
    monkeypatch.setattr(sweep_execute, "MAX_RUNS_PER_TASK", 1)       # one part per run
    whole = run_sweep("sweep.yaml", out="whole", workers=1)
    assert whole.done == SWEEP_RUNS
    real, parts = sweep_store.atomic_write_bytes, [0]

    def write(path, data):
        """The disk fills up after two parts: every later write fails."""
        if Path(path).name.startswith("part-") and Path(path).suffix == ".parquet":
            parts[0] += 1
        if parts[0] > 2:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(path, data)
    monkeypatch.setattr(sweep_store, "atomic_write_bytes", write)
    monkeypatch.setattr(sweep_parts, "atomic_write_bytes", write)
    assert main(["sweep", "sweep.yaml", "--out", "full", "--quiet", "--workers", "1"]) == 2
    err = capsys.readouterr().err
    assert "No space left on device" in err and "Traceback" not in err
    found = sorted((files / "full" / PARTS).glob("part-*.parquet"))
    assert len(found) == 2
    for part in found:                                        # complete files, readable
        assert len(part_run_ids(part)) == 1
    assert not list((files / "full").rglob("*.tmp"))
    monkeypatch.setattr(sweep_store, "atomic_write_bytes", real)       # space freed: resume
    monkeypatch.setattr(sweep_parts, "atomic_write_bytes", real)
    summary = run_sweep("sweep.yaml", out="full", workers=1)
    assert summary.skipped == 2 and summary.ran == SWEEP_RUNS - 2
    pd.testing.assert_frame_equal(load_results("full"), load_results("whole"))


def test_a_sweep_whose_first_write_failed_can_be_rerun(files, monkeypatch):
    real, full = os.fsync, [True]

    def fsync(fd):
        if full[0]:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(fd)
    monkeypatch.setattr(os, "fsync", fsync)
    with pytest.raises(OSError):
        run_sweep("sweep.yaml", out="first", workers=1)
    full[0] = False                                   # space freed
    assert run_sweep("sweep.yaml", out="first", workers=1).done == SWEEP_RUNS


# ---------------------------------------------------------------- network

def test_a_local_sweep_listens_on_no_network_port(files):
    """Local workers are processes fed through pipes: nothing listens on any address (Dask only when asked)."""
    psutil = pytest.importorskip("psutil")

    def listening() -> set:
        me = psutil.Process()
        found = set()
        for process in [me, *me.children(recursive=True)]:
            try:
                found |= {(process.pid, c.laddr) for c in process.net_connections(kind="inet")
                          if c.status == psutil.CONN_LISTEN}
            except psutil.Error:
                continue
        return found

    before = listening()
    during: set = set()
    summary = run_sweep("sweep.yaml", out="net", workers=2, progress=lambda done, failed: during.update(listening()))
    assert summary.executor == "processes" and summary.workers == 2 and summary.done == SWEEP_RUNS
    assert during - before == set()


# ---------------------------------------------------------------- Ctrl-C

@pytest.mark.parametrize("when", ["simulating", "saving"])
def test_ctrl_c_leaves_earlier_results_and_exits_130(files, monkeypatch, capsys, when):
    assert main(["run", "small.yaml", "--quiet"]) == 0
    before = snapshot(files / "results")

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(simulation, "simulate" if when == "simulating" else "write_outcomes", interrupt)
    assert main(["run", "small.yaml", "--quiet", "--seed", "3"]) == 130
    assert "interrupted: nothing was written for the unfinished run" in capsys.readouterr().err
    assert snapshot(files / "results") == before
    assert leftovers(files / "results") == []
