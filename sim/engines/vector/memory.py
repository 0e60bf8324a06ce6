"""How much memory a batch needs, how much there is, and the check that refuses a batch that would not fit.

``estimate_bytes`` is the one estimate of both vector modes:

- per-agent draws: a row of ``AgentState`` (15 bytes) for every agent of every run, the
  leave-table row of each agent of a run (int16), and the home phase's temporaries over
  one run's agents at a time (``WORK_BYTES_PER_AGENT``);
- grouped draws: rows only for people who leave home at least once. Before a run nobody
  knows how many will, so the estimate allows for everyone: a row and a place in one of
  the lists of rows (side pool, barred, on the way: 8 bytes) per agent, plus the counts
  of the people who have never left (``COUNTS_BYTES_PER_RUN``). It is an upper bound;
  on ``baseline.yaml`` over ten years about one person in nine leaves, and the measured
  peak is a few bytes per agent (docs/benchmarks.md). The table's growth is checked
  against the memory available as it happens (``check_growth``).
"""
from __future__ import annotations

import os

from ...core.errors import ResourceError
from ..state import STATE_BYTES_PER_AGENT

WORK_BYTES_PER_AGENT = 48      # temporaries of the per-agent home phase, per agent of one run
LEAVE_ROW_BYTES_PER_AGENT = 2  # per-agent mode: each agent's row of the leave table (int16), one run's agents
LIST_BYTES_PER_ROW = 8         # grouped mode: a row's place in the side pool, the barred or the movers (int64)
COUNTS_BYTES_PER_RUN = 1 << 20  # grouped mode: counts of people who never left (origins x 16 groups x intervals)


def estimate_bytes(agents: int, runs: int, grouped: bool = False) -> int:
    """Memory (bytes) the engine needs for ``runs`` runs of ``agents`` agents (``grouped``: grouped home draws)."""
    if grouped:
        return agents * runs * (STATE_BYTES_PER_AGENT + LIST_BYTES_PER_ROW) + runs * COUNTS_BYTES_PER_RUN
    return agents * runs * STATE_BYTES_PER_AGENT + agents * (WORK_BYTES_PER_AGENT + LEAVE_ROW_BYTES_PER_AGENT)


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


def check_memory(agents: int, runs: int, grouped: bool = False) -> None:
    """Refuse a batch that would not fit in available memory, with a clear message (``ResourceError``)."""
    need, have = estimate_bytes(agents, runs, grouped), available_bytes()
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
