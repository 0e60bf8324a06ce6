"""Grouped home decisions: the cost of a month follows the people who move, not the population.

Everyone free to leave is kept per run, grouped by (origin, tie, risk level): inside a
group the leave probability ``p`` is the same for all and only the savings differ. The
*main pool* of a run holds each group sorted by savings (richest first), so the people
who can afford the journey are a prefix of the group. Instead of one draw per person the
engine draws how many of the ``n`` who can afford it leave, ``k ~ Binomial(n, p)``, and
then which ``k``, uniformly without replacement: the same distribution as ``n``
independent draws with probability ``p`` (tests/engines/test_home_pools.py checks it).

Leavers are not cut out of the main pool at once: they are marked (*tombstones*) and
skipped when drawing. People who come back (returned migrants whose bar has ended,
leavers who found no way out) wait in a small *side pool*, where each person gets their
own draw (``sim.core.random``), as in per-agent mode. Now and then (many tombstones or a large
side pool) the main pool is rebuilt. So a month costs in proportion to the groups, the
leavers and the side pool; the population is touched only at rebuilds.

Draws for the main pool come from a generator keyed by (run seed, month, purpose), so
they do not depend on the batch. Pool keys are ``group << 32 | order(-savings)`` (uint64).
"""
from __future__ import annotations

import numpy as np

from ...core import rules
from ...core.random import Purpose, stream_key, uniform
from ..state import Status, on_the_way

POOL_BYTES_PER_AGENT = 12          # uint64 key + uint32 agent number
REBUILD_DEAD_SHARE = 0.05          # rebuild when tombstones exceed this share of the main pool
REBUILD_SIDE_SHARE = 0.05          # ... or when the side pool exceeds this share of it
BUILD_CHUNK = 1 << 20              # agents sorted at a time when building a pool
_EMPTY_KEYS = np.zeros(0, dtype=np.uint64)


def _order(neg_savings: np.ndarray) -> np.ndarray:
    """uint64 codes of float32 values that sort like the values."""
    bits = np.ascontiguousarray(neg_savings, dtype=np.float32).view(np.uint32)
    return np.where(bits >> 31 == 1, ~bits, bits | np.uint32(0x80000000)).astype(np.uint64)


def _float32_at_least(threshold: np.ndarray) -> np.ndarray:
    """The smallest float32 >= each float64 threshold: ``s >= t`` (float64) iff ``s >= that`` for float32 ``s``."""
    with np.errstate(over="ignore"):
        low = threshold.astype(np.float32)
    return np.where(low.astype(np.float64) < threshold, np.nextafter(low, np.float32(np.inf)), low)


class RunPool:
    """The people of one run who are free to leave: main pool (sorted, with tombstones) and side pool."""

    def __init__(self, keys: np.ndarray, members: np.ndarray):
        self.keys, self.members = keys, members
        self.dead = np.zeros(0, dtype=np.int64)      # sorted positions in keys/members of people who left
        self.side = np.zeros(0, dtype=np.int64)      # agent numbers (within the run) waiting in the side pool


class HomePools:
    """Agents free to leave, by run and (origin, tie, risk level); those barred for now; those on the way.

    The grouped implementation of the home phase's ``Home`` interface (``home.py``).
    """

    def __init__(self, batch, state):
        self.n, self.B = batch.n, batch.B
        self.groups = batch.O * 2 * rules.RISK_LEVELS
        self.seeds = batch.seeds
        self.group_of = batch.leave_row       # (origin, tie 0, level 0) row; tie and level added per agent
        self.state = state
        group_ids = np.arange(self.groups)
        self.shifted = group_ids.astype(np.uint64) << np.uint64(32)
        self.origin_of_group = group_ids // (2 * rules.RISK_LEVELS)
        self.block_ends = np.cumsum(batch.world.agents_per_origin)      # agents are grouped by origin
        self.runs = [self._initial_pool(b) for b in range(self.B)]
        self.barred = np.zeros(0, dtype=np.int64)         # global positions of people barred from leaving
        self.movers = np.zeros(0, dtype=np.int64)         # global positions of people on the way or at the border

    def _group(self, b: int, local: np.ndarray) -> np.ndarray:
        part = slice(b * self.n, (b + 1) * self.n)
        return (self.group_of[local].astype(np.int64) + self.state.tie[part][local].astype(np.int64) * rules.RISK_LEVELS
                + self.state.risk_level[part][local].astype(np.int64))

    def _initial_pool(self, b: int) -> RunPool:
        """Everyone of run ``b``, sorted origin block by origin block (blocks follow the group order)."""
        keys = np.empty(self.n, dtype=np.uint64)
        members = np.empty(self.n, dtype=np.uint32 if self.n < 2**32 else np.int64)
        start = 0
        for end in self.block_ends:                # temporaries of one origin's block at a time
            for first in range(start, end, BUILD_CHUNK):
                block = self._sorted_pool(b, np.arange(first, min(first + BUILD_CHUNK, end), dtype=np.int64))
                keys[first: first + block.keys.size] = block.keys
                members[first: first + block.keys.size] = block.members
            # chunks of one origin are sorted each on its own: merge them when there are several
            if end - start > BUILD_CHUNK:
                order = np.argsort(keys[start:end], kind="stable")
                keys[start:end] = keys[start:end][order]
                members[start:end] = members[start:end][order]
            start = end
        return RunPool(keys, members)

    def _sorted_pool(self, b: int, local: np.ndarray) -> RunPool:
        keys = np.empty(local.size, dtype=np.uint64)
        savings = self.state.savings[b * self.n: (b + 1) * self.n]
        for first in range(0, local.size, BUILD_CHUNK):    # in chunks: small temporaries for huge pools
            part = local[first: first + BUILD_CHUNK]
            keys[first: first + part.size] = (self._group(b, part).astype(np.uint64) << np.uint64(32)
                                              | _order(-savings[part] + np.float32(0)))
        members = local[np.argsort(keys, kind="stable")].astype(np.uint32)
        keys.sort(kind="stable")
        return RunPool(keys, members)

    def leavers(self, step: int, table: np.ndarray, threshold: np.ndarray) -> np.ndarray:
        """Start of month: release those whose bar has ended, then draw this month's leavers."""
        self.release(step)
        return self.draw_leavers(step, table, threshold)

    def draw_leavers(self, step: int, table: np.ndarray, threshold: np.ndarray) -> np.ndarray:
        """Global positions of this month's leavers, taken out of the pools.

        ``table``: leave probability (B, O, 2, levels); ``threshold``: savings needed (B, O), USD.
        """
        out = []
        for b, pool in enumerate(self.runs):
            p = table[b].reshape(-1)
            picked = self._draw_main(b, pool, step, p, threshold[b])
            from_side = self._draw_side(b, pool, step, p, threshold[b])
            out += [pool.members[picked].astype(np.int64) + b * self.n, from_side + b * self.n]
            if picked.size:
                picked = np.sort(picked)
                pool.dead = np.insert(pool.dead, np.searchsorted(pool.dead, picked), picked)
            if pool.dead.size > REBUILD_DEAD_SHARE * pool.keys.size or \
                    pool.side.size > REBUILD_SIDE_SHARE * pool.keys.size:
                self._rebuild(b)
        return np.concatenate(out)

    def _draw_main(self, b: int, pool: RunPool, step: int, p: np.ndarray, threshold: np.ndarray) -> np.ndarray:
        """Positions in the main pool of its leavers: Binomial count per group, then a uniform choice."""
        limit = _float32_at_least(threshold[self.origin_of_group])
        affordable = np.isfinite(limit)
        bound = self.shifted | _order(-np.where(affordable, limit, np.float32(0)) + np.float32(0))
        first = np.searchsorted(pool.keys, self.shifted, side="left")
        end = np.where(affordable, np.searchsorted(pool.keys, bound, side="right"), first)
        dead = np.searchsorted(pool.dead, end) - np.searchsorted(pool.dead, first)
        rng = np.random.Generator(np.random.Philox(key=stream_key(self.seeds[b], step, Purpose.LEAVE)))
        k = rng.binomial(end - first - dead, p)
        if not k.any():
            return np.zeros(0, dtype=np.int64)
        has = k > 0
        return _distinct_live(rng, first[has], end[has], k[has], pool.dead)

    def _draw_side(self, b: int, pool: RunPool, step: int, p: np.ndarray, threshold: np.ndarray) -> np.ndarray:
        """Agent numbers of the side pool's leavers: one draw each (as in per-agent mode)."""
        if pool.side.size == 0:
            return pool.side
        side, part = pool.side, slice(b * self.n, (b + 1) * self.n)
        group = self._group(b, side)
        u = uniform(stream_key(self.seeds[b], step, Purpose.LEAVE), side.astype(np.uint64))
        affordable = rules.can_afford(self.state.savings[part][side], threshold[self.origin_of_group[group]])
        leave = (u < p[group]) & affordable
        pool.side = side[~leave]
        return side[leave]

    def _rebuild(self, b: int) -> None:
        """Drop tombstones and merge the side pool into the sorted main pool (a pass over the run's pool)."""
        pool = self.runs[b]
        alive = np.ones(pool.keys.size, dtype=bool)
        alive[pool.dead] = False
        merged = self._sorted_pool(b, pool.side) if pool.side.size else None
        keys = pool.keys[alive]
        pool.keys = _EMPTY_KEYS                  # let each old array go before the next copy (peak memory)
        members = pool.members[alive]
        pool.members = _EMPTY_KEYS
        del alive
        if merged is not None:
            at = np.searchsorted(keys, merged.keys, side="right")
            keys = np.insert(keys, at, merged.keys)
            members = np.insert(members, at, merged.members)
        self.runs[b] = RunPool(keys, members)

    def stay(self, idx: np.ndarray) -> None:
        """Leavers who did not set out this month (global positions): free to leave again next month."""
        self._to_side(idx)

    def returned(self, idx: np.ndarray) -> None:
        """People who returned this month: back in a pool once their bar ends (``release``)."""
        self.barred = np.concatenate([self.barred, idx.astype(np.int64)])

    def release(self, step: int) -> None:
        """Start of month: returned people whose bar has ended become free to leave again."""
        if self.barred.size:
            free = self.state.blocked_until[self.barred] <= step
            self._to_side(self.barred[free])
            self.barred = self.barred[~free]

    def _to_side(self, idx: np.ndarray) -> None:
        if idx.size:
            run = idx // self.n
            for b in np.unique(run):
                pool = self.runs[b]
                pool.side = np.concatenate([pool.side, idx[run == b] - b * self.n])

    def on_the_way(self) -> tuple[np.ndarray, np.ndarray]:
        """Start of month: who is on the way and who is at the border (global positions, ascending)."""
        status = self.state.status[self.movers]
        return self.movers[status == Status.TRANSIT], self.movers[status == Status.BORDER]

    def end_month(self, travellers: np.ndarray) -> np.ndarray:
        """End of month: everyone on the way or at the border now (those still moving, and new travellers)."""
        still = on_the_way(self.state.status[self.movers])
        self.movers = np.sort(np.concatenate([self.movers[still], travellers]))
        return self.movers

    def nbytes(self) -> int:
        """Memory held by the pools (bytes)."""
        return sum(p.keys.nbytes + p.members.nbytes + p.dead.nbytes + p.side.nbytes for p in self.runs) \
            + self.barred.nbytes + self.movers.nbytes


def _distinct_live(rng: np.random.Generator, first: np.ndarray, end: np.ndarray, k: np.ndarray,
                   dead: np.ndarray) -> np.ndarray:
    """For each group, ``k`` distinct positions drawn uniformly among ``first .. end-1`` that are not ``dead``.

    Positions are drawn independently; dead or repeated ones are drawn again until all are
    live and distinct: a uniformly random k-subset of the live positions (every live
    position is treated alike). Groups where most leave take a permutation of the live ones.
    """
    n = end - first
    group = np.repeat(np.arange(n.size), k)
    positions = np.empty(group.size, dtype=np.int64)
    live = n - (np.searchsorted(dead, end) - np.searchsorted(dead, first))
    # enumerate the live positions where rejection would be slow: most leave, or most are gone
    dense = (2 * k > live) | (2 * live < n)
    for g in np.flatnonzero(dense):
        alive = np.ones(n[g], dtype=bool)
        alive[dead[np.searchsorted(dead, first[g]): np.searchsorted(dead, end[g])] - first[g]] = False
        positions[group == g] = rng.permutation(first[g] + np.flatnonzero(alive))[: k[g]]
    sparse = np.flatnonzero(~dense[group])
    redo = sparse
    while redo.size:
        positions[redo] = first[group[redo]] + (rng.random(redo.size) * n[group[redo]]).astype(np.int64)
        _, once = np.unique(positions[sparse], return_index=True)
        bad = np.ones(sparse.size, dtype=bool)
        bad[once] = False                                             # repeats: all but the first
        bad |= _member(positions[sparse], dead)                        # already gone
        redo = sparse[bad]
    return positions


def _member(values: np.ndarray, sorted_set: np.ndarray) -> np.ndarray:
    """Whether each value is in ``sorted_set`` (ascending)."""
    if sorted_set.size == 0:
        return np.zeros(values.shape, dtype=bool)
    at = np.minimum(np.searchsorted(sorted_set, values), sorted_set.size - 1)
    return sorted_set[at] == values
