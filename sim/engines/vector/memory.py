"""How much memory a batch needs, how much there is, and the check that refuses a batch that would not fit."""
from __future__ import annotations

import os

from ...core.errors import ResourceError
from ..state import STATE_BYTES_PER_AGENT
from .pools import POOL_BYTES_PER_AGENT

WORK_BYTES_PER_AGENT = 48      # temporaries of the home phase, per agent of the largest run slice


def estimate_bytes(agents: int, runs: int, grouped: bool = False) -> int:
    """Memory (bytes) the engine needs for ``runs`` runs of ``agents`` agents (``grouped``: with home pools)."""
    per_agent = STATE_BYTES_PER_AGENT + (POOL_BYTES_PER_AGENT if grouped else 0)
    return agents * runs * per_agent + agents * WORK_BYTES_PER_AGENT


def available_bytes() -> int:
    """Physical memory available now (bytes)."""
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
