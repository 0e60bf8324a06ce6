"""A batch of runs in one set of arrays: shared inputs, the agents' initial state, draws and event counts.

Rows of the agent state are found by position. Per-agent engine: run ``b`` of a batch
owns rows ``b*N .. b*N+N-1``, one per agent, and an agent's number within its run
(``position - b*N``) keys its random draws. Grouped engine: rows exist only for people
who have left home, and the rows of the ``B`` runs are interleaved (``position = person
* B + b``), so a run's table can grow without moving anyone. Either way a run's numbers
do not depend on the batch it is part of.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ...core import rules
from ...core.inputs import RunInputs
from ...core.random import Purpose, seed_keys, stream_key, stream_keys, uniform
from ...core.world import World, route_tables
from ..state import EXPECTED_METRICS, LOCATED_METRICS, NATIONAL_METRICS, NO_ROUTE, AgentState

INIT_CHUNK = 1 << 17           # agents per chunk when drawing initial traits (small temporaries)
PURPOSE_CODES = 128            # purpose codes whose stream keys are made together at the start of a month


def _stack(arrays: list[np.ndarray]) -> np.ndarray:
    """Stack per-run arrays along a new run axis, zero-padding ragged ones (e.g. parole pools)."""
    shape = tuple(max(sizes) for sizes in zip(*(a.shape for a in arrays), strict=True))
    if all(a.shape == shape for a in arrays):
        return np.stack(arrays)
    out = np.zeros((len(arrays), *shape), dtype=arrays[0].dtype)
    for b, a in enumerate(arrays):
        out[b][tuple(slice(0, k) for k in a.shape)] = a
    return out


class Batch:
    """Shared, stacked inputs of a batch of runs and the route tables the phases use.

    Every array field of ``RunInputs`` becomes an attribute with a leading run axis
    (``batch.route_open[b, t, r]``); per-run scalars become arrays of one value per run.
    """

    def __init__(self, world: World, inputs: list[RunInputs], seeds: list[int], grouped: bool = False):
        self.world, self.seeds, self.grouped = world, [int(s) for s in seeds], grouped
        self._seed_keys = seed_keys(self.seeds)
        self._keys_of_step = (-1, np.zeros((0, len(seeds)), np.uint64))   # this month's keys by purpose and run
        self.B, self.n = len(seeds), int(world.agents_per_pool.sum())
        self.T, self.warmup = len(inputs[0].calendar), inputs[0].warmup
        self.O, self.nodes = len(world.pools), len(world.node_ids)      # O: pools, the engine's origin axis
        self.pool_origin = world.pool_origin.astype(np.intp)           # nationality of each pool
        for name in inputs[0].stack_fields():
            setattr(self, name, _stack([getattr(i, name) for i in inputs]))
        for name in ("b_network", "b_recent", "recent_half_life", "b_tie", "b_legal", "b_risk", "route_b_cost",
                     "route_b_risk", "route_b_containment", "route_b_months", "attempt_probability", "give_up_parole"):
            setattr(self, name, np.array([getattr(i, name) for i in inputs]))
        self.weight = world.persons_per_agent
        tables = route_tables(world)
        self.node_country, self.own_country = tables.node_transit, tables.origin_transit
        self.route_edge_risk, self.entry_leg, self.max_slots = tables.edge_risk, tables.entry_leg, tables.max_slots
        self.leg_edge, self.leg_risk, self.leg_node = tables.leg_edge, tables.leg_risk, tables.leg_node

    if TYPE_CHECKING:
        def __getattr__(self, name: str) -> np.ndarray:
            """The stacked ``RunInputs`` arrays and per-run scalars set in ``__init__``."""

    def keys(self, step: int, purpose: int) -> np.ndarray:
        """Stream key of every run for one month step and purpose (``stream_key``).

        The keys of every purpose code below ``PURPOSE_CODES`` are made at once, the first time a month asks.
        """
        month, keys = self._keys_of_step
        if month != step:
            keys = stream_keys(self._seed_keys[None, :], step, np.arange(PURPOSE_CODES, dtype=np.uint64)[:, None])
            self._keys_of_step = (step, keys)
        return keys[purpose] if purpose < PURPOSE_CODES else stream_keys(self._seed_keys, step, purpose)

    def locate(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Run and person number within the run (the key of the person's draws) of the rows at positions ``idx``."""
        if self.grouped:
            if self.B == 1:
                return np.zeros(idx.size, dtype=np.intp), idx.astype(np.uint64)
            return idx % self.B, (idx // self.B).astype(np.uint64)
        run = idx // self.n
        return run, (idx - run * self.n).astype(np.uint64)

    def run_of(self, idx: np.ndarray) -> np.ndarray:
        """Run of the rows at positions ``idx``."""
        if self.grouped:
            return np.zeros(idx.size, dtype=np.intp) if self.B == 1 else idx % self.B
        return idx // self.n

    def draw(self, step: int, purpose: int, idx: np.ndarray) -> np.ndarray:
        """Uniform draws of the rows at positions ``idx`` (each keyed by its person's number within its run)."""
        run, ids = self.locate(idx)
        return uniform(self.keys(step, purpose)[run], ids)


def parole_is_open(batch: Batch, t: int) -> np.ndarray:
    """Whether each run's parole pool of each pool's nationality has places in month step ``t``: (B, P) bool."""
    pool = batch.parole_pool[:, t]                               # (B, P)
    places = np.take_along_axis(batch.parole_places[:, t], np.maximum(pool, 0), axis=1)
    return (pool >= 0) & (places > 0)


def initial_state(world: World, inputs: list[RunInputs], seeds: list[int]) -> AgentState:
    """Everyone in their pool (abroad: from the month they arrive, ``World.arrival_step``); traits drawn
    from each run's own stream (month 0)."""
    n = int(world.agents_per_pool.sum())
    B = len(seeds)
    pool = np.tile(world.agent_pool, B)
    savings = np.empty(B * n, dtype=np.float32)
    risk = np.empty(B * n, dtype=np.uint8)
    tie = np.empty(B * n, dtype=np.uint8)
    agent_pool = pool[:n]
    for b, (inp, seed) in enumerate(zip(inputs, seeds, strict=True)):
        p_tie = rules.tie_probability(world.diaspora, world.home_population, inp.tie_scale)[world.pool_origin]
        for first in range(0, n, INIT_CHUNK):            # in chunks: temporaries stay small for huge samples
            ids = np.arange(first, min(first + INIT_CHUNK, n), dtype=np.uint64)
            o = agent_pool[first: first + ids.size]
            part = slice(b * n + first, b * n + first + ids.size)
            savings[part] = rules.initial_savings(world.gdp_per_capita[o], inp.savings_to_income, inp.savings_sigma,
                                                  uniform(stream_key(seed, 0, Purpose.SAVINGS), ids))
            risk[part] = rules.risk_tolerance_level(uniform(stream_key(seed, 0, Purpose.RISK_TOLERANCE), ids))
            tie[part] = uniform(stream_key(seed, 0, Purpose.TIE), ids) < p_tie[o]
    size = B * n
    return AgentState(pool=pool, status=np.zeros(size, np.uint8), route=np.full(size, NO_ROUTE, np.uint8),
                      leg=np.zeros(size, np.uint8), savings=savings, risk_level=risk, tie=tie,
                      attempts=np.zeros(size, np.uint8), since=np.zeros(size, np.int16),
                      blocked_until=np.tile(world.arrival_step(), B))


class Events:
    """Counts of this month's events by run, pool (and node); ``idx`` are positions of rows of ``state``."""

    def __init__(self, batch: Batch, state: AgentState):
        self.batch, self.state = batch, state      # the state's arrays are read at each call (a table may grow)
        B, n_origins, N = batch.B, batch.O, batch.nodes
        self.national = {m: np.zeros((B, n_origins), np.int64) for m in NATIONAL_METRICS}
        self.located = {m: np.zeros((B, n_origins, N), np.int64) for m in LOCATED_METRICS
                        if m not in EXPECTED_METRICS}
        self.exposures = np.zeros((B, n_origins, len(batch.leg_risk)), np.int64)   # agents exposed to each death risk

    def national_add(self, metric: str, idx: np.ndarray) -> None:
        """Count one event of ``metric`` for each agent at global positions ``idx``."""
        if idx.size:
            key = self.batch.run_of(idx) * self.batch.O + self.state.pool[idx]
            self.national[metric] += np.bincount(key, minlength=self.national[metric].size).reshape(
                self.national[metric].shape)

    def located_add(self, metric: str, idx: np.ndarray, node: np.ndarray) -> None:
        """Count one event of ``metric`` at node ``node`` for each agent at global positions ``idx``."""
        if idx.size:
            key = (self.batch.run_of(idx) * self.batch.O + self.state.pool[idx]) * self.batch.nodes + node
            self.located[metric] += np.bincount(key, minlength=self.located[metric].size).reshape(
                self.located[metric].shape)

    def exposed(self, idx: np.ndarray, leg: np.ndarray | int) -> None:
        """Rows at positions ``idx`` travelled exposure leg ``leg`` (an edge, or the border crossing)."""
        if idx.size:
            legs = self.exposures.shape[2]
            key = (self.batch.run_of(idx) * self.batch.O + self.state.pool[idx]) * legs + leg
            self.exposures += np.bincount(key, minlength=self.exposures.size).reshape(self.exposures.shape)

    def result(self) -> dict[str, np.ndarray]:
        """This month's counts by metric (deaths: expected, from the exposures)."""
        deaths = rules.expected_deaths(self.exposures, self.batch.leg_risk, self.batch.leg_node, self.batch.nodes)
        return {**self.national, **self.located, "deaths": deaths}
