"""Grouped home decisions: people who have never left are counts, not rows; time and memory follow the movers.

People who have never left home differ only in their group (pool, tie, risk level),
which fixes their leave probability, and in their savings, which decide whether they
can afford the journey. Savings are drawn once, from the uniform ``u = k / 2**53`` of
``sim.core.random`` through ``rules.initial_savings``, which increases with ``u``: a
person can afford this month's journey when ``k`` is at or above a *cut*. So the engine
keeps, per run, pool and group, counts of people by *interval* of ``k``. The intervals
are split at every month's cut, so everyone in an interval has had the same chances to
leave so far, and their ``k`` are still independent and uniform on it. A month, per run:

1. each pool's cut (the smallest ``k`` whose savings cover the threshold; a bisection
   over ``k``, the same float32 savings and comparison as in per-agent mode) splits the
   interval it falls in: ``Binomial(count, share of the interval above the cut)``;
2. in each interval at or above the cut, ``Binomial(count, p)`` people leave, ``p`` the
   group's leave probability: the distribution of one draw per person;
3. each leaver gets a row of the agent state (``AgentState``, 15 bytes): ``k`` uniform on
   their interval, hence their savings, as the per-agent engine would have drawn them;
   tie and risk level from the group.

People with a row who are home again (returned once their bar ends, leavers who found no
way out) wait in a *side pool* and draw one by one, as in per-agent mode. Memory: the
counts (pools x 16 groups x intervals, at most one interval more a month, per run) and
a row per person who has left at least once; time follows the movers. Rows of the runs
are interleaved (``Batch.locate``) and each run numbers its people in the order they
first leave, so the table grows without moving anyone and a run's draws do not depend
on its batch. Draws of counts come from a generator keyed by (run seed, month, purpose).

People who come to live in a pool abroad during a run (``World.arrivals``) join the counts
at the start of the month they arrive (``HomePools.arrive``, through ``add_people``); per-agent
mode holds them back with ``blocked_until`` instead.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ...core import rules
from ...core.random import Purpose, stream_key
from ..memory import check_growth
from ..state import NO_ROUTE, STATE_BYTES_PER_AGENT, AgentState, Status, on_the_way

if TYPE_CHECKING:
    from ...core.inputs import RunInputs
    from .batch import Batch

U_STEPS = 1 << 53
"""Uniform draws are ``k / 2**53`` with ``k`` in ``0 .. 2**53 - 1`` (``sim.core.random.uniform``)."""
GROUPS = 2 * rules.RISK_LEVELS       # (tie, risk level) groups of a pool
GROWTH = 1.5                         # the table of rows grows by this factor (never past the run's agents)
FIRST_ROWS = 4096                    # rows per run at the start


def savings_at(gdp_per_capita_usd: Any, savings_to_income: Any, sigma: Any, k: Any) -> np.ndarray:
    """Savings (float32 USD) of a person whose savings draw is ``u = k / 2**53``, as ``initial_state`` stores them."""
    u = np.asarray(k, dtype=np.uint64) * (1.0 / U_STEPS)
    return rules.initial_savings(gdp_per_capita_usd, savings_to_income, sigma, u).astype(np.float32)


def affordability_cut(gdp_per_capita_usd: Any, savings_to_income: Any, sigma: Any, threshold_usd: Any) -> np.ndarray:
    """Smallest ``k`` whose savings can afford ``threshold_usd`` (``U_STEPS``: nobody), by bisection over ``k``.

    ``rules.can_afford`` on the float32 savings of ``savings_at`` is monotone in ``k``, so the
    people who can afford the journey are exactly those with ``k`` at or above the cut.
    """
    below = np.full(np.shape(threshold_usd), -1, dtype=np.int64)       # cannot afford (or -1)
    above = np.full(np.shape(threshold_usd), U_STEPS, dtype=np.int64)  # can afford (or 2**53)
    while True:
        open_ = above - below > 1
        if not open_.any():
            return above
        mid = np.where(open_, (below + above) // 2, 0)
        ok = rules.can_afford(savings_at(gdp_per_capita_usd, savings_to_income, sigma, mid), threshold_usd)
        above = np.where(open_ & ok, mid, above)
        below = np.where(open_ & ~ok, mid, below)


class RunCounts:
    """People of one run who have never left: counts by pool, tie, risk level and interval of ``k``."""

    def __init__(self, pools: int, columns: int):
        self.lo = np.zeros((pools, columns), dtype=np.int64)     # interval [lo, hi) of k
        self.hi = np.zeros((pools, columns), dtype=np.int64)
        self.count = np.zeros((pools, 2, rules.RISK_LEVELS, columns), dtype=np.int64)
        self.lo[:, 0], self.hi[:, 0] = 0, U_STEPS
        self.columns = 1                                           # intervals in use (per pool)

    def split(self, cut: np.ndarray, rng: np.random.Generator) -> None:
        """Split each pool's interval that holds its ``cut`` strictly inside, binomially by length."""
        K = self.columns
        lo, hi = self.lo[:, :K], self.hi[:, :K]
        rows, cols = np.nonzero((lo < cut[:, None]) & (cut[:, None] < hi))
        if rows.size == 0:
            return
        if K == self.lo.shape[1]:
            self._widen()
        upper = (self.hi[rows, cols] - cut[rows]) / (self.hi[rows, cols] - self.lo[rows, cols])
        up = rng.binomial(self.count[rows, :, :, cols], upper[:, None, None])
        self.count[rows, :, :, cols] -= up
        self.count[rows, :, :, K] = up
        self.lo[rows, K], self.hi[rows, K] = cut[rows], self.hi[rows, cols]
        self.hi[rows, cols] = cut[rows]
        self.columns = K + 1

    def _widen(self) -> None:
        extra = max(8, self.lo.shape[1] // 2)
        self.lo = np.pad(self.lo, ((0, 0), (0, extra)))
        self.hi = np.pad(self.hi, ((0, 0), (0, extra)))
        self.count = np.pad(self.count, ((0, 0), (0, 0), (0, 0), (0, extra)))

    def people(self) -> np.ndarray:
        """People who have never left, by pool."""
        return self.count.sum(axis=(1, 2, 3))

    def nbytes(self) -> int:
        return self.lo.nbytes + self.hi.nbytes + self.count.nbytes


class HomePools:
    """People free to leave, by run: never left (``RunCounts``) or with a row (side pool); barred; on the way.

    The grouped implementation of the home phase's ``Home`` interface (``home.py``); it owns
    the agent state of the batch (``state``: rows only for people who have left).
    """

    def __init__(self, batch: Batch, inputs: list[RunInputs]):
        self.batch, self.B, self.n = batch, batch.B, batch.n
        world = batch.world
        self.gdp = world.gdp_per_capita                 # (P,) USD per person per year, by pool (its nationality's)
        self.arrivals = world.arrivals()                # (T, P) agents who come to live in each pool in each month
        self.savings_to_income = np.array([i.savings_to_income for i in inputs])
        self.savings_sigma = np.array([i.savings_sigma for i in inputs])
        self.capacity = min(FIRST_ROWS, self.n)                  # rows per run in the table
        self.state = _empty_state(self.B * self.capacity)
        self.rows = np.zeros(self.B, dtype=np.int64)            # rows used by each run (people who have left)
        self.runs = [RunCounts(batch.O, batch.T + 1) for _ in range(self.B)]
        # chance of a tie in the US by run and pool (its nationality's)
        self.p_tie = np.array([rules.tie_probability(world.diaspora, world.home_population, inp.tie_scale)
                               for inp in inputs])[:, world.pool_origin]
        self.arrive(0)
        self.cut = np.full((self.B, batch.O), -1, dtype=np.int64)          # this month's cut by run and pool
        self._threshold = np.full((self.B, batch.O), np.nan)                # threshold the cut was computed for
        self.side = np.zeros(0, dtype=np.int64)       # rows of people free to leave again (one draw each)
        self.barred = np.zeros(0, dtype=np.int64)     # rows of people barred from leaving for now
        self.movers = np.zeros(0, dtype=np.int64)     # rows of people on the way or at the border

    def arrive(self, step: int) -> None:
        """People who come to live in their pool in month step ``step`` join the counts of every run: at step 0
        everyone there at the start, later those arriving in a pool abroad (``World.arrivals``, the people that
        per-agent mode holds back with ``blocked_until``). Their traits come from the run's stream of ties of
        that month."""
        pools = np.flatnonzero(self.arrivals[step]) if step < len(self.arrivals) else np.zeros(0, np.intp)
        if pools.size == 0:
            return
        for b, seed in enumerate(self.batch.seeds):
            rng = np.random.Generator(np.random.Philox(key=stream_key(seed, step, Purpose.TIE)))
            self.add_people(b, pools, self.arrivals[step, pools], self.p_tie[b], rng)

    def add_people(self, b: int, pools: np.ndarray, people: np.ndarray, p_tie: np.ndarray,
                   rng: np.random.Generator) -> None:
        """``people[i]`` new people of pool ``pools[i]`` in run ``b``, with a tie with probability ``p_tie``
        of their pool, risk levels equally likely and savings drawn afresh: shared among (tie, level) groups
        and among the intervals of ``k`` by length (multinomial)."""
        counts = self.runs[b]
        K = counts.columns
        for o, m in zip(pools, people, strict=True):
            share = np.concatenate([np.full(rules.RISK_LEVELS, (1.0 - p_tie[o]) / rules.RISK_LEVELS),
                                    np.full(rules.RISK_LEVELS, p_tie[o] / rules.RISK_LEVELS)])
            length = (counts.hi[o, :K] - counts.lo[o, :K]) / U_STEPS
            cells = rng.multinomial(int(m), (share[:, None] * length[None, :]).ravel())
            counts.count[o, :, :, :K] += cells.reshape(2, rules.RISK_LEVELS, K)

    # ------------------------------------------------------------- the month
    def leavers(self, step: int, table: np.ndarray, threshold: np.ndarray) -> np.ndarray:
        """Rows of this month's leavers: people arriving this month join the counts, people whose bar ended join
        the side pool, then everyone free draws.

        ``table``: leave probability (B, P, 2, levels); ``threshold``: savings needed (B, P), USD.
        """
        if step > 0:
            self.arrive(step)
        self.release(step)
        from_side = self._draw_side(step, table, threshold)
        self._update_cuts(threshold)
        new = [self._draw_counts(b, step, table[b]) for b in range(self.B)]
        return np.concatenate([from_side, *new])

    def _update_cuts(self, threshold: np.ndarray) -> None:
        """Affordability cut of every run and pool whose threshold changed since the last month."""
        changed = self._threshold != threshold
        if changed.any():
            run, o = np.nonzero(changed)
            self.cut[run, o] = affordability_cut(self.gdp[o], self.savings_to_income[run], self.savings_sigma[run],
                                                 threshold[run, o])
            self._threshold[run, o] = threshold[run, o]

    def _draw_counts(self, b: int, step: int, p: np.ndarray) -> np.ndarray:
        """Leavers of run ``b`` among people who have never left (binomial per interval); returns their new rows."""
        counts, cut = self.runs[b], self.cut[b]
        rng = np.random.Generator(np.random.Philox(key=stream_key(self.batch.seeds[b], step, Purpose.LEAVE)))
        counts.split(cut, rng)
        K = counts.columns
        affordable = (counts.lo[:, :K] >= cut[:, None]) & (counts.hi[:, :K] > counts.lo[:, :K])
        able = np.where(affordable[:, None, None, :], counts.count[..., :K], 0)
        cells = np.flatnonzero(able)                                    # (pool, tie, level, interval) cells
        group = cells // K                                              # (pool, tie, level) of each cell
        leave = rng.binomial(able.ravel()[cells], p.ravel()[group])
        cells, leave = cells[leave > 0], leave[leave > 0]
        if cells.size == 0:
            return np.zeros(0, dtype=np.int64)
        view = counts.count[..., :K]
        o, tie, level, col = np.unravel_index(cells, view.shape)
        view[o, tie, level, col] -= leave
        o, tie, level, col = (np.repeat(a, leave) for a in (o, tie, level, col))
        k = rng.integers(counts.lo[o, col], counts.hi[o, col])
        savings = savings_at(self.gdp[o], self.savings_to_income[b], self.savings_sigma[b], k)
        return self._new_rows(b, o, tie, level, savings)

    def _new_rows(self, b: int, pool: np.ndarray, tie: np.ndarray, level: np.ndarray,
                  savings: np.ndarray) -> np.ndarray:
        """Rows for people of run ``b`` leaving for the first time (at home, with these traits); their positions."""
        first = int(self.rows[b])
        if first + pool.size > self.capacity:
            self._grow(first + pool.size)
        idx = np.arange(first, first + pool.size, dtype=np.int64) * self.B + b
        self.rows[b] = first + pool.size
        s = self.state
        s.pool[idx], s.tie[idx], s.risk_level[idx], s.savings[idx] = pool, tie, level, savings
        s.status[idx], s.route[idx], s.leg[idx], s.attempts[idx] = Status.HOME, NO_ROUTE, 0, 0
        s.since[idx], s.blocked_until[idx] = 0, 0
        return idx

    def _grow(self, needed: int) -> None:
        """More rows per run (field by field: the old and new copies of one field at a time)."""
        capacity = min(self.n, max(needed, int(self.capacity * GROWTH)))
        check_growth((capacity - self.capacity) * self.B * STATE_BYTES_PER_AGENT)
        for name in AgentState.__dataclass_fields__:
            old = getattr(self.state, name)
            new = np.zeros(self.B * capacity, dtype=old.dtype)
            new[: old.size] = old
            setattr(self.state, name, new)
        self.capacity = capacity

    def _draw_side(self, step: int, table: np.ndarray, threshold: np.ndarray) -> np.ndarray:
        """Rows of the side pool's leavers: one draw each for those who can afford to go, as in per-agent mode."""
        side = self.side
        if side.size == 0:
            return side
        state, pools = self.state, self.batch.O
        run = self.batch.run_of(side)
        o = state.pool[side].astype(np.intp)
        able = np.flatnonzero(rules.can_afford(state.savings[side], threshold.reshape(-1).take(run * pools + o)))
        rows = side[able]
        group = (o[able] * 2 + state.tie[rows]) * rules.RISK_LEVELS + state.risk_level[rows]
        u = self.batch.draw(step, Purpose.LEAVE, rows)
        leave = u < table.reshape(-1).take(run[able] * (pools * GROUPS) + group)
        stay = np.ones(side.size, dtype=bool)
        stay[able[leave]] = False
        self.side = side[stay]
        return rows[leave]

    def stay(self, idx: np.ndarray) -> None:
        """Leavers who did not set out this month: free to leave again next month (side pool)."""
        self.side = np.concatenate([self.side, idx.astype(np.int64)])

    def returned(self, idx: np.ndarray) -> None:
        """People who came back this month: in the side pool once their bar ends (``release``)."""
        self.barred = np.concatenate([self.barred, idx.astype(np.int64)])

    def release(self, step: int) -> None:
        """Start of month: people back home whose bar has ended become free to leave again."""
        if self.barred.size:
            free = self.state.blocked_until[self.barred] <= step
            self.side = np.concatenate([self.side, self.barred[free]])
            self.barred = self.barred[~free]

    def on_the_way(self) -> tuple[np.ndarray, np.ndarray]:
        """Start of month: who is on the way and who is at the border (rows)."""
        status = self.state.status[self.movers]
        return self.movers[status == Status.TRANSIT], self.movers[status == Status.BORDER]

    def end_month(self, travellers: np.ndarray) -> np.ndarray:
        """End of month: everyone on the way or at the border now (those still moving, and new travellers)."""
        still = on_the_way(self.state.status[self.movers])
        self.movers = np.sort(np.concatenate([self.movers[still], travellers]))
        return self.movers

    # ------------------------------------------------------------- books
    def never_left(self) -> np.ndarray:
        """People who have never left, by run and pool (agents)."""
        return np.stack([c.people() for c in self.runs])

    def row_positions(self) -> np.ndarray:
        """Positions of the rows in use (people who have left at least once), ascending."""
        person = np.arange(self.capacity, dtype=np.int64)[:, None]
        used = person < self.rows[None, :]
        return np.flatnonzero(used.ravel())

    def nbytes(self) -> int:
        """Memory held by the counts, the table of rows and the lists (bytes)."""
        table = sum(getattr(self.state, f).nbytes for f in AgentState.__dataclass_fields__)
        return table + sum(c.nbytes() for c in self.runs) + self.side.nbytes + self.barred.nbytes \
            + self.movers.nbytes


def _empty_state(size: int) -> AgentState:
    """A table of ``size`` unused rows (zeroed pages: memory is taken as rows are written)."""
    return AgentState(pool=np.zeros(size, np.uint8), status=np.zeros(size, np.uint8),
                      route=np.full(size, NO_ROUTE, np.uint8), leg=np.zeros(size, np.uint8),
                      savings=np.zeros(size, np.float32), risk_level=np.zeros(size, np.uint8),
                      tie=np.zeros(size, np.uint8), attempts=np.zeros(size, np.uint8),
                      since=np.zeros(size, np.int16), blocked_until=np.zeros(size, np.int16))
