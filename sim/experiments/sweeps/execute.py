"""Running a sweep: batches of runs through the vector engine, on local processes or Dask.

Runs that share a World (agents, origins, world overrides, month axis) are cut into
tasks of up to ``MAX_RUNS_PER_TASK`` runs; a task simulates its runs as one engine
batch, turns the counts into the tidy table and returns a compressed Parquet part.
The parent writes each part as it arrives (``store.py``). Worlds and the base
scenario are sent to each worker once (process-pool initializer, or Dask ``scatter``
with ``broadcast``); a task carries only parameter values, run ids and seeds.

Results do not depend on the executor, the number of workers or the task size: the
engine's draws are a function of (seed, month, purpose, agent), and seeds come from
the design (``design.py``).
"""
from __future__ import annotations

import json
import math
import os
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from ...core.allocation import sampled_world
from ...core.calendar import parse_month
from ...core.inputs import compile_inputs
from ...core.paths import apply_values
from ...core.scenario import Scenario
from ...core.world import World
from ...engines.vector import available_bytes, check_memory, estimate_bytes, simulate
from ...outputs.table import months_of, tidy
from .design import Design, build_design, stable_hash
from .spec import load_sweep
from .store import OUTCOME_COLUMNS, SweepStore, open_store, part_bytes

MAX_RUNS_PER_TASK = 64          # runs simulated together; beyond ~32 the engine gains little per run
MIN_RUNS_PER_TASK = 16          # below ~16 runs a batch the engine's per-month overhead shows
MAX_AGENTS_PER_TASK = 4_000_000  # as sim.simulation.run
TASKS_PER_WORKER = 8            # enough tasks to balance the load and show progress
CONNECT_TIMEOUT_S = 15          # how long to try reaching a Dask scheduler


@dataclass(frozen=True)
class PointTask:
    """Runs of one point in a task: the values the point sets, and (run id, seed) of each run."""

    values: tuple
    runs: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class Task:
    """A batch of runs sharing one World."""

    name: str
    world: str
    points: tuple[PointTask, ...]

    @property
    def size(self) -> int:
        """Runs in the task."""
        return sum(len(p.runs) for p in self.points)


@dataclass
class Shared:
    """Inputs every task needs, sent to each worker once: the base scenario and the worlds."""

    name: str
    base: dict
    worlds: dict[str, World]


@dataclass
class TaskResult:
    """What a task sends back: a part file's bytes, the runs it holds, the runs that failed."""

    name: str
    part: bytes | None
    done: list[str]
    failed: list[tuple[str, str, str]]      # run id, error, traceback
    seconds: float                          # time spent in the task, in the worker


@dataclass
class SweepSummary:
    """How a sweep went."""

    name: str
    out: Path
    runs: int                  # distinct runs in the design
    done: int                  # runs with results (this session and earlier)
    failed: int                # runs that raised
    ran: int                   # runs attempted in this session
    skipped: int               # runs found done from an earlier session
    seconds: float             # wall-clock time of this session
    executor: str
    workers: int
    tasks: int
    busy_seconds: float = 0.0  # time spent inside tasks, summed over workers
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def runs_per_second(self) -> float:
        """Runs attempted per second of wall-clock time in this session."""
        return self.ran / self.seconds if self.seconds > 0 else 0.0


# ---------------------------------------------------------------- tasks

def plan_tasks(design: Design, pending: list[str], workers: int, agents: dict[str, int]) -> list[Task]:
    """Cut the pending runs into tasks: by World, then in design order, ``runs_per_task`` each."""
    runs = design.runs[design.runs.run_id.isin(set(pending))].drop_duplicates("run_id")
    tasks: list[Task] = []
    for world, group in runs.groupby("world", sort=False):
        per_task = runs_per_task(len(group), agents[world], workers)
        rows = list(zip(group.point, group.run_id, group.seed))
        for first in range(0, len(rows), per_task):
            chunk = rows[first: first + per_task]
            points: dict[int, list] = {}
            for point, run_id, seed in chunk:
                points.setdefault(int(point), []).append((str(run_id), int(seed)))
            name = stable_hash(sorted(r for _, r, _ in chunk))[:16]
            tasks.append(Task(name, str(world), tuple(PointTask(design.point_values(p), tuple(r))
                                                      for p, r in points.items())))
    return tasks


def runs_per_task(runs: int, agents: int, workers: int) -> int:
    """Runs per task: about ``TASKS_PER_WORKER`` tasks per worker, but batches of at least
    ``MIN_RUNS_PER_TASK`` runs while every worker still gets one; within the batch and memory limits."""
    workers = max(workers, 1)
    memory = int(0.5 * available_bytes() / workers) // max(estimate_bytes(agents, 1), 1)
    cap = max(1, min(MAX_RUNS_PER_TASK, MAX_AGENTS_PER_TASK // max(agents, 1), memory))
    wanted = max(math.ceil(runs / (TASKS_PER_WORKER * workers)), min(MIN_RUNS_PER_TASK, math.ceil(runs / workers)))
    return max(1, min(cap, wanted))


def run_task(task: Task, shared: Shared | None = None) -> TaskResult:
    """Simulate the runs of one task (in a worker); failures are caught run by run."""
    start = time.perf_counter()
    shared = shared if shared is not None else _WORKER_SHARED
    world = shared.worlds[task.world]
    prepared: list[tuple[str, int, object]] = []
    failed: list[tuple[str, str, str]] = []
    months = None
    for point in task.points:
        try:
            scenario = Scenario.model_validate(apply_values(shared.base, point.values))
            inputs = compile_inputs(scenario, world)
        except Exception as exc:
            failed += [(run_id, _message(exc), traceback.format_exc()) for run_id, _ in point.runs]
            continue
        months = months_of(parse_month(scenario.start), scenario.months)
        prepared += [(run_id, seed, inputs) for run_id, seed in point.runs]
    tables = []
    for ids, seeds, counts in _simulate_isolating(world, prepared, failed):
        try:
            frame = tidy(counts, world, months, shared.name, list(range(len(ids))), seeds)
            run_ids = np.asarray(ids, dtype=object)[frame["replicate"].to_numpy()]
            tables.append(pa.table({"run_id": pa.array(run_ids, pa.string()),
                                    **{c: pa.array(frame[c].to_numpy(), pa.float64() if c == "value" else pa.string())
                                       for c in OUTCOME_COLUMNS}}))
        except Exception as exc:
            failed += [(run_id, _message(exc), traceback.format_exc()) for run_id in ids]
    done = [r for r, _, _ in prepared if r not in {f[0] for f in failed}]
    part = part_bytes(pa.concat_tables(tables), done) if tables else None
    return TaskResult(task.name, part, done, failed, time.perf_counter() - start)


def _simulate_isolating(world: World, prepared: list, failed: list) -> Iterator[tuple[list, list, object]]:
    """Simulate all runs as one batch; if the batch raises, run each alone and record those that raise."""
    if not prepared:
        return
    try:
        counts = simulate(world, [p[2] for p in prepared], [p[1] for p in prepared])
    except Exception as exc:
        if len(prepared) == 1:
            failed.append((prepared[0][0], _message(exc), traceback.format_exc()))
            return
    else:
        yield [p[0] for p in prepared], [p[1] for p in prepared], counts
        return
    for run in prepared:
        try:
            counts = simulate(world, [run[2]], [run[1]])
        except Exception as exc:
            failed.append((run[0], _message(exc), traceback.format_exc()))
        else:
            yield [run[0]], [run[1]], counts


def _message(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


_WORKER_SHARED: Shared | None = None


def _init_worker(shared: Shared, owner: int | None = None) -> None:
    """Process-pool initializer: keep the shared inputs for every task of this worker, and end the
    worker when the sweep's process ``owner`` ends (``sim.core.lifeline``), even if it is killed."""
    global _WORKER_SHARED
    _WORKER_SHARED = shared
    if owner is not None:
        from ...core.lifeline import bind_to
        bind_to(owner)


# ---------------------------------------------------------------- executors

class WorkerLost(OSError):
    """A worker process died under a task (not an error of the run: the task can be run again)."""


class InProcess:
    """Runs tasks one after the other in this process (``--workers 1``)."""

    kind = "in-process"

    def __init__(self):
        self.workers = 1

    def describe(self) -> dict:
        return {"executor": self.kind, "workers": 1}

    def results(self, tasks: list[Task], shared: Shared) -> Iterator[TaskResult]:
        for task in tasks:
            yield run_task(task, shared)

    def close(self) -> None:
        pass


class LocalProcesses:
    """A pool of local worker processes (forkserver), each given the shared inputs once."""

    kind = "processes"

    def __init__(self, workers: int):
        self.workers = workers

    def describe(self) -> dict:
        return {"executor": self.kind, "workers": self.workers}

    def results(self, tasks: list[Task], shared: Shared) -> Iterator[TaskResult]:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["sim.experiments.sweeps.execute"])
        pool = ProcessPoolExecutor(max_workers=min(self.workers, max(len(tasks), 1)), mp_context=context,
                                   initializer=_init_worker, initargs=(shared, os.getpid()))
        from concurrent.futures.process import BrokenProcessPool

        finished = False
        try:
            futures = [pool.submit(run_task, task) for task in tasks]
            for future in as_completed(futures):
                try:
                    result = future.result()
                except BrokenProcessPool:
                    raise WorkerLost("a worker process died (out of memory?); the finished runs are kept: "
                                     "rerun the same command to resume") from None
                yield result
            finished = True
        finally:
            pool.shutdown(wait=finished, cancel_futures=True)

    def close(self) -> None:
        pass


class DaskCluster:
    """A Dask distributed cluster reached through its scheduler; shared inputs are scattered once."""

    kind = "dask"

    def __init__(self, address: str | None = None, scheduler_file: str | Path | None = None,
                 timeout: float | None = None):
        if not address:
            check_scheduler_file(Path(scheduler_file))
        try:
            from distributed import Client
        except ImportError:
            raise OSError("Dask is not installed: pip install 'migsim[dask]'") from None
        where = address or str(scheduler_file)
        timeout = CONNECT_TIMEOUT_S if timeout is None else timeout
        try:
            self.client = (Client(address, timeout=timeout, set_as_default=False) if address else
                           Client(scheduler_file=str(scheduler_file), timeout=timeout, set_as_default=False))
        except (OSError, TimeoutError, ValueError) as exc:
            raise OSError(f"cannot reach the Dask scheduler at {where}: {exc}") from None
        self.address = self.client.scheduler.address
        self.workers = max(1, sum(self.client.nthreads().values()))

    def describe(self) -> dict:
        return {"executor": self.kind, "workers": self.workers, "scheduler": self.address}

    def results(self, tasks: list[Task], shared: Shared) -> Iterator[TaskResult]:
        from distributed import as_completed

        shared_future = self.client.scatter(shared, broadcast=True, hash=False)
        futures = [self.client.submit(run_task, task, shared_future, pure=False) for task in tasks]
        from distributed import KilledWorker

        try:
            with self.client.as_current():
                for future in as_completed(futures):
                    try:
                        result = future.result()
                    except KilledWorker as exc:
                        raise WorkerLost(f"Dask workers died running a task ({exc}); the finished runs are kept: "
                                         "rerun the same command to resume") from None
                    yield result
        finally:
            self.client.cancel(futures)

    def close(self) -> None:
        self.client.close()


MAX_SCHEDULER_FILE_BYTES = 1_000_000


def check_scheduler_file(path: Path) -> None:
    """Refuse a ``--scheduler-file`` that is not one a Dask scheduler writes (JSON naming its ``address``)."""
    from ...core.errors import Problem, ScenarioError

    def refuse(message: str):
        return ScenarioError([Problem(str(path), None, "--scheduler-file", message)])

    if not path.is_file():
        raise OSError(2, "Dask scheduler file not found", str(path))
    if path.stat().st_size > MAX_SCHEDULER_FILE_BYTES:
        raise refuse(f"not a Dask scheduler file: {path.stat().st_size:,} bytes (one is a few hundred)")
    try:
        info = json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise refuse("not a Dask scheduler file: expected the JSON a scheduler writes with "
                     "--scheduler-file (with its \"address\")") from None
    address = info.get("address") if isinstance(info, dict) else None
    if not isinstance(address, str) or "://" not in address:
        raise refuse("not a Dask scheduler file: it has no \"address\" of a scheduler (such as tcp://host:8786)")


def make_executor(workers: int | None = None, scheduler: str | None = None, scheduler_file=None):
    """The executor the options ask for: Dask when a scheduler is given, else local processes."""
    if scheduler or scheduler_file:
        return DaskCluster(scheduler, scheduler_file)
    workers = workers or os.cpu_count() or 1
    return InProcess() if workers == 1 else LocalProcesses(workers)


# ---------------------------------------------------------------- the whole sweep

@dataclass
class Prepared:
    """A sweep ready to run: its design, its open folder and what is left to do."""

    design: Design
    store: SweepStore
    pending: list[str]

    @property
    def total(self) -> int:
        """Distinct runs in the design."""
        return int(self.design.runs.run_id.nunique())


def prepare_sweep(path: str | Path, *, agents: int | None = None, months: int | None = None,
                  out: str | Path | None = None, overwrite: bool = False) -> Prepared:
    """Load and check a sweep file, draw its design, open (or resume) its results folder."""
    sweep = load_sweep(path, agents=agents, months=months)
    design = build_design(sweep)
    store = open_store(Path(out) if out else Path("results") / sweep.name, design, overwrite=overwrite)
    return Prepared(design, store, store.pending())


def execute(prepared: Prepared, *, workers: int | None = None, scheduler: str | None = None,
            scheduler_file=None, progress: Callable[[int, int], None] | None = None) -> SweepSummary:
    """Run the pending runs of a prepared sweep; ``progress(done, failed)`` is called after each task."""
    try:
        return _execute(prepared, workers, scheduler, scheduler_file, progress)
    finally:
        prepared.store.close()           # the folder's lock


def _execute(prepared: Prepared, workers, scheduler, scheduler_file, progress) -> SweepSummary:
    design, store = prepared.design, prepared.store
    start = time.perf_counter()
    runs = design.runs[design.runs.run_id.isin(set(prepared.pending))]
    worlds = {}
    for world, first in runs.drop_duplicates("world")[["world", "point"]].itertuples(index=False):
        scenario = Scenario.model_validate(apply_values(design.base, design.point_values(int(first))))
        worlds[world] = sampled_world(scenario)
        check_memory(int(worlds[world].agents_per_pool.sum()), 1, "vector", scenario.months)
    shared = Shared(design.sweep.name, design.base, worlds)
    executor = make_executor(workers, scheduler, scheduler_file) if prepared.pending else InProcess()
    busy, tasks, ran = 0.0, [], 0
    try:
        store.begin()                      # the first write: after the file, the folder and the executor are fine
        agents = {k: int(w.agents_per_pool.sum()) for k, w in worlds.items()}
        tasks = plan_tasks(design, prepared.pending, executor.workers, agents)
        store.start_session({**executor.describe(), "tasks": len(tasks), "runs_to_do": len(prepared.pending)})
        try:
            for result in executor.results(tasks, shared):
                if result.part is not None:
                    store.write_part(result.name, result.part, result.done)
                for run_id, message, details in result.failed:
                    store.write_failure(run_id, message, details)
                busy += result.seconds
                ran += len(result.done) + len(result.failed)
                if progress is not None:
                    progress(len(result.done), len(result.failed))
        except BaseException as exc:
            store.finish_session(runs_ran=ran, stopped=f"{type(exc).__name__}: {exc}".strip().rstrip(":"),
                                 seconds=round(time.perf_counter() - start, 3))
            raise
    finally:
        executor.close()
    seconds = time.perf_counter() - start
    total = prepared.total
    failed = {r: m for r, m in store.failed.items() if r not in store.done}
    summary = SweepSummary(design.sweep.name, store.root, total, len(store.done & set(design.runs.run_id)),
                           len(failed), ran, total - len(prepared.pending), seconds,
                           executor.kind, executor.workers, len(tasks), busy, failed)
    store.finish_session(runs_ran=summary.ran, runs_failed=summary.failed, seconds=round(seconds, 3),
                         runs_per_second=round(summary.runs_per_second, 3), busy_seconds=round(busy, 3))
    return summary


def run_sweep(path: str | Path, *, agents: int | None = None, months: int | None = None,
              out: str | Path | None = None, overwrite: bool = False, workers: int | None = None,
              scheduler: str | None = None, scheduler_file=None,
              progress: Callable[[int, int], None] | None = None) -> SweepSummary:
    """Run (or resume) a sweep file into ``out`` (default ``results/<name>/``); returns a summary.

    ``workers``: local processes (default: all cores; 1 runs in this process);
    ``scheduler`` / ``scheduler_file``: a Dask distributed scheduler to run on instead.
    Raises ``ScenarioError`` for a bad sweep file or a folder written by another sweep.
    """
    prepared = prepare_sweep(path, agents=agents, months=months, out=out, overwrite=overwrite)
    return execute(prepared, workers=workers, scheduler=scheduler, scheduler_file=scheduler_file, progress=progress)
