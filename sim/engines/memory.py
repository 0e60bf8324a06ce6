"""How much memory a batch of runs needs with each engine, how much there is, and the checks that refuse a batch
(or a growth of the grouped engine's table) that would not fit.

``estimate_bytes`` is the one estimate of every engine; ``tests/engines/test_memory.py``
checks that no estimate falls below the traced peak (``tracemalloc``) of a run:

- vector (per-agent draws): a row of ``AgentState`` for every agent of every run plus the
  traced extras (leave-table row, event indices), and the home phase's temporaries over
  one run's agents at a time (``WORK_BYTES_PER_AGENT``);
- grouped: rows only for people who leave home at least once. Before a run nobody knows
  how many will, so the estimate allows for everyone: a row and a place in one of the
  lists of rows (side pool, barred, on the way) per agent, plus the counts of the people
  who have never left (``COUNTS_BYTES_PER_RUN``). It is an upper bound; on
  ``baseline.yaml`` over ten years about one person in nine leaves, and the measured peak
  is a few bytes per agent (docs/benchmarks.md). The table's growth is checked against
  the memory available as it happens (``check_growth``);
- mesa: about nine times the vector engine's bytes per agent (a Python object per agent,
  its attributes and the model's lists).
"""
from __future__ import annotations

import os

from ..core.errors import ResourceError
from .state import STATE_BYTES_PER_AGENT

WORK_BYTES_PER_AGENT = 50      # temporaries of the per-agent home phase and its leave-table row, one run's agents
LIST_BYTES_PER_ROW = 8         # grouped: a row's place in the side pool, the barred or the movers (int64)
COUNTS_BYTES_PER_RUN = 1 << 20  # grouped: counts of people who never left (pools x 16 groups x intervals)
ENGINE_BYTES_PER_AGENT = {
    # engine: (bytes per agent of each run held at once, bytes per agent of one run: temporaries)
    "vector": (STATE_BYTES_PER_AGENT + 17, WORK_BYTES_PER_AGENT),
    "grouped": (STATE_BYTES_PER_AGENT + LIST_BYTES_PER_ROW, 0),
    "mesa": (700, 0),
}
FIXED_BYTES = 1 << 20          # world, inputs and tables that do not grow with the sample
RUN_MONTH_BYTES = 64 << 10     # counts and rows of the outcomes table, per run and reported month


def estimate_bytes(agents: int, runs: int, engine: str = "vector", months: int = 0) -> int:
    """Memory (bytes) ``runs`` runs of ``agents`` agents need at once with ``engine`` (vector, grouped, mesa),
    ``months`` reported months each: never less than the traced peak of a run."""
    per_run, work = ENGINE_BYTES_PER_AGENT[engine]
    counts = runs * COUNTS_BYTES_PER_RUN if engine == "grouped" else 0
    return FIXED_BYTES + agents * (runs * per_run + work) + counts + runs * months * RUN_MONTH_BYTES


def available_bytes() -> int:
    """Physical memory available now (bytes): what the kernel can give a new allocation without swapping
    (Linux ``MemAvailable``: free pages plus the page cache it can drop), else the free pages."""
    try:
        with open("/proc/meminfo", "rb") as meminfo:
            for line in meminfo:
                if line.startswith(b"MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):   # pragma: no cover - non-POSIX
        return 8 << 30


def check_memory(agents: int, runs: int, engine: str = "vector", months: int = 0) -> None:
    """Refuse a batch that would not fit in available memory, with a clear message (``ResourceError``)."""
    need, have = estimate_bytes(agents, runs, engine, months), available_bytes()
    if need > 0.8 * have:
        raise ResourceError(f"{runs} run(s) of {agents:,} agents need about {need / 2**30:,.1f} GiB; "
                            f"only {have / 2**30:,.1f} GiB of memory is available. Use fewer agents "
                            "(or fewer replications per batch).")


def check_growth(extra_bytes: int) -> None:
    """Refuse to grow the grouped engine's table of rows by ``extra_bytes`` when memory is short (``ResourceError``)."""
    have = available_bytes()
    if extra_bytes > 0.8 * have:
        raise ResourceError(f"the table of people who have left needs {extra_bytes / 2**30:,.1f} GiB more; only "
                            f"{have / 2**30:,.1f} GiB of memory is available. Use fewer agents "
                            "(or fewer replications per batch).")
