"""Counter-based random numbers: a draw is a pure function of (seed, month, agent, purpose).

Any engine, batch size, chunking or worker count that asks for the draw of agent 17 in
month 40 for purpose ``INTERCEPT`` gets the same number. The mixing function is
SplitMix64's finalizer (Steele, Lea & Flood 2014), applied to a key built from the
seed, the month and the purpose, plus the agent id times the golden-ratio constant.
"""
from __future__ import annotations

from enum import IntEnum

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)
_TO_UNIT = 1.0 / float(1 << 53)
_MASK = (1 << 64) - 1


class Purpose(IntEnum):
    """What a draw is for; each purpose is an independent stream."""

    SAVINGS = 1
    RISK_TOLERANCE = 2
    TIE = 3
    LEAVE = 10
    PAROLE = 11
    ROUTE = 12
    DEATH = 20          # + slot of the leg travelled this month
    INTERCEPT = 40      # + slot of the node reached this month
    INTERCEPT_OUTCOME = 60
    APPOINTMENT = 70
    ATTEMPT = 71
    BORDER_DEATH = 72
    APPREHEND = 73
    BORDER_OUTCOME = 74
    GIVE_UP = 75


def _mix_int(x: int) -> int:
    """SplitMix64 finalizer on a Python int (for keys)."""
    x &= _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


def stream_key(seed: int, month: int, purpose: int) -> int:
    """Key of the stream of draws for one (seed, month, purpose); month counts from 0."""
    return _mix_int(_mix_int(_mix_int(int(seed)) ^ (int(month) + 1) * 0x632BE59BD9B4E019) ^ int(purpose))


def _mix_array(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finalizer on uint64 arrays (wrapping arithmetic, as ``_mix_int``)."""
    with np.errstate(over="ignore"):
        x = (x ^ (x >> _S30)) * _M1
        x = (x ^ (x >> _S27)) * _M2
    return x ^ (x >> _S31)


def seed_keys(seeds: list[int]) -> np.ndarray:
    """The first stage of ``stream_key`` for several seeds, once (uint64)."""
    return np.array([_mix_int(int(s)) for s in seeds], dtype=np.uint64)


def stream_keys(seed_key: np.ndarray, month: int, purpose: int | np.ndarray) -> np.ndarray:
    """``stream_key(seed, month, purpose)`` for many seeds (and purposes) at once, from ``seed_keys(seeds)``.

    ``purpose``: one code, or a uint64 array of codes broadcasting with ``seed_key``. Returns uint64.
    """
    month_mix = np.uint64(((int(month) + 1) * 0x632BE59BD9B4E019) & _MASK)
    return _mix_array(_mix_array(seed_key ^ month_mix) ^ np.asarray(purpose, dtype=np.uint64))


def replicate_seed(seed: int, replicate: int) -> int:
    """Seed of replicate ``replicate`` of a scenario seeded with ``seed`` (0 <= result < 2**63)."""
    return _mix_int(int(seed) * 0x9E3779B97F4A7C15 + int(replicate) + 1) >> 1


def uniform(key: int | np.ndarray, agent_ids: np.ndarray | np.unsignedinteger) -> np.ndarray:
    """Uniform draws in [0, 1) for ``agent_ids`` on the stream ``key``.

    ``key`` is a stream key (int) or an array of keys broadcastable with ``agent_ids``
    (one key per run in a batch). Returns float64; the same (key, id) always gives
    the same number.
    """
    ids = np.asarray(agent_ids, dtype=np.uint64)
    keys = np.asarray(key, dtype=np.uint64)
    with np.errstate(over="ignore"):
        x = ids * _GOLDEN
        x += keys
        x ^= x >> _S30
        x *= _M1
        x ^= x >> _S27
        x *= _M2
        x ^= x >> _S31
    x >>= _S11
    return x * _TO_UNIT


def uniform_one(seed: int, month: int, purpose: int, agent_id: int) -> float:
    """The single draw of one agent (used by the agent-by-agent engine and in tests)."""
    return float(uniform(stream_key(seed, month, purpose), np.array([agent_id]))[0])
