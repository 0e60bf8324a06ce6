"""No process outlives the command that started it (``sim.core.lifeline``): sweep workers and their helpers after
SIGKILL or SIGTERM of ``migsim sweep``, the web server after SIGTERM or SIGKILL of ``migsim app``.

Every wait is for an observed state (a part on disk, worker processes seen, a port that
answers, processes gone), with a generous deadline that only a hang reaches.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sim.experiments.sweeps import load_results
from sim.experiments.sweeps.parts import PARTS

from helpers import BASELINE, REPO_ROOT, TINY_SWEEP_BASE, tiny_sweep

ENV = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
DEADLINE_S = 300.0
SWEEP = tiny_sweep(samples=32)
pytestmark = pytest.mark.slow             # processes started and stopped: about 10 s or more each


def session_processes(session: int) -> dict[int, str]:
    """Processes (pid -> command line) of a session, read from /proc."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        if int(fields[3]) == session and fields[0] != "Z":
            found[int(entry.name)] = command
    return found


def running(pid: int) -> bool:
    """Whether a process runs (a zombie has ended: only its exit status waits to be collected)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2:].split()[0] != "Z"


def wait_for(condition, what: str, deadline_s: float = DEADLINE_S):
    deadline = time.monotonic() + deadline_s
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"never observed: {what}"
        time.sleep(0.02)


def reap_session(session: int) -> None:
    """After a test: end whatever of the session is left (only reached when the test failed)."""
    for pid in session_processes(session):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


SWEEP_RUNS = 2 * 32 * 2            # lever points x samples x replicates: 8 tasks of 16 runs on two workers


@pytest.fixture
def sweep_files(tmp_path):
    (tmp_path / "base.yaml").write_text(TINY_SWEEP_BASE.replace("agents: 300", "agents: 1000")
                                        .replace("months: 3", "months: 8"))
    (tmp_path / "sweep.yaml").write_text(SWEEP)
    return tmp_path


def start_sweep(folder: Path, out: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "sim.cli", "sweep", str(folder / "sweep.yaml"), "--out", str(out),
                             "--workers", "2", "--quiet"], cwd=folder, env=ENV, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def workers_and_a_part(process: subprocess.Popen, out: Path):
    """The state to stop the sweep in: a part on disk and both worker processes running (or the sweep ended)."""
    if process.poll() is not None:
        return "ended"
    parts = list((out / PARTS).glob("part-*.parquet")) if (out / PARTS).is_dir() else []
    workers = [p for p, c in session_processes(process.pid).items() if p != process.pid and "forkserver" in c]
    return parts and len(workers) >= 3 and workers          # the fork server and two workers it forked


def stopped_sweep(folder: Path, out: Path, signum: int) -> tuple[subprocess.Popen, list[int]]:
    """Start the sweep, wait for the state, send ``signum`` to its process (not its group). Started again from an
    empty folder if it ended first (six tasks were left: not expected)."""
    import shutil

    for _attempt in range(3):
        shutil.rmtree(out, ignore_errors=True)
        process = start_sweep(folder, out)
        try:
            helpers = wait_for(lambda process=process: workers_and_a_part(process, out),
                               "a part on disk and the workers running")
            if helpers == "ended":
                continue
            assert len(session_processes(process.pid)) >= 4   # the sweep, the fork server, two workers (a tracker)
            os.kill(process.pid, signum)
            process.wait(timeout=DEADLINE_S)
            return process, helpers
        except BaseException:
            reap_session(process.pid)
            raise
    pytest.fail("three times the sweep ended before the state it was to be stopped in")


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM])
def test_no_worker_or_helper_outlives_a_stopped_sweep(sweep_files, signum):
    out = sweep_files / "out"
    process, helpers = stopped_sweep(sweep_files, out, signum)
    try:
        assert process.returncode == (-signal.SIGKILL if signum == signal.SIGKILL else 128 + signal.SIGTERM)
        wait_for(lambda: not session_processes(process.pid), f"every helper gone ({session_processes(process.pid)})")
        assert not any(running(pid) for pid in helpers)
    finally:
        reap_session(process.pid)
    if signum == signal.SIGTERM:
        assert "stopped (SIGTERM)" in process.stderr.read()
    done = subprocess.run([sys.executable, "-m", "sim.cli", "sweep", str(sweep_files / "sweep.yaml"), "--out",
                           str(out), "--workers", "1", "--quiet"], cwd=sweep_files, env=ENV, capture_output=True,
                          text=True, timeout=DEADLINE_S)
    assert done.returncode == 0, done.stderr
    table = load_results(out)
    assert not table.duplicated(["run_id", "month", "nationality", "location", "metric"]).any()
    assert table.run_id.nunique() == SWEEP_RUNS


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


@pytest.mark.parametrize("signum", [signal.SIGTERM])
def test_the_web_server_stops_with_migsim_app(tmp_path, signum):
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "sim.cli", "app", str(BASELINE), "--port", str(port),
                                "--agents", "300"], cwd=tmp_path, env=ENV, start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: answers(port) or process.poll() is not None, "the app listening")
        assert process.poll() is None, f"the app ended with code {process.returncode}"
        assert len(session_processes(process.pid)) >= 2          # migsim app and its web server
        os.kill(process.pid, signum)                             # migsim app only, not the server
        process.wait(timeout=DEADLINE_S)
        wait_for(lambda: not session_processes(process.pid), "the web server gone")
        assert not answers(port)
    finally:
        reap_session(process.pid)
    if signum == signal.SIGTERM:
        assert process.returncode == 128 + signal.SIGTERM
