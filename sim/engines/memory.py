"""How much memory a batch of runs needs with each engine, how much there is, and the check that refuses a batch
that would not fit.

The bytes per agent of each engine are rounded up from the traced peaks (``tracemalloc``)
of small runs; ``tests/engines/test_memory.py`` checks that no estimate falls below the
peak of a run. Mesa needs about nine times the vector engine's bytes per agent: a Python
object per agent, its attributes and the model's lists.
"""
from __future__ import annotations

import os

from ..core.errors import ResourceError
from .state import STATE_BYTES_PER_AGENT
from .vector.pools import POOL_BYTES_PER_AGENT

WORK_BYTES_PER_AGENT = 48      # temporaries of the home phase, per agent of the largest run slice
ENGINE_BYTES_PER_AGENT = {
    # engine: (bytes per agent of each run held at once, bytes per agent of the batch's largest run: temporaries)
    "vector": (STATE_BYTES_PER_AGENT + 17, WORK_BYTES_PER_AGENT - 8),
    "grouped": (STATE_BYTES_PER_AGENT + 17 + POOL_BYTES_PER_AGENT, WORK_BYTES_PER_AGENT - 8),
    "mesa": (700, 0),
}
FIXED_BYTES = 1 << 20          # world, inputs and tables that do not grow with the sample
RUN_MONTH_BYTES = 64 << 10     # counts and rows of the outcomes table, per run and reported month


def estimate_bytes(agents: int, runs: int, engine: str = "vector", months: int = 0) -> int:
    """Memory (bytes) ``runs`` runs of ``agents`` agents need at once with ``engine`` (vector, grouped, mesa),
    ``months`` reported months each: never less than the traced peak of a run."""
    per_run, work = ENGINE_BYTES_PER_AGENT[engine]
    return FIXED_BYTES + agents * (runs * per_run + work) + runs * months * RUN_MONTH_BYTES


def available_bytes() -> int:
    """Physical memory available now (bytes)."""
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
