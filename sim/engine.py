"""The vectorized engine: agent state as NumPy arrays, an explicit monthly loop.

Several runs (replications or sweep points sharing agent counts and months) are
batched in one set of arrays: run ``b`` owns agents ``b*N .. b*N+N-1``. Each month has
three phases over disjoint sets of agents, all chosen from the state at the start of
the month (synchronous update), so no result depends on agent order:

1. home: decide to leave, apply for parole, choose a route;
2. transit: travel, risk death, meet containment (capacity shared from start-of-month counts);
3. border: appointments (capacity shared), crossing attempts, apprehension and its outcome.

Every formula comes from ``sim.rules``; every draw from ``sim.random``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from enum import IntEnum

import numpy as np

from . import rules
from .countries import TRANSIT_COUNTRIES
from .errors import ResourceError
from .inputs import RunInputs
from .random import Purpose, stream_key, uniform
from .home_pools import POOL_BYTES_PER_AGENT, HomePools
from .world import World, route_tables


class Status(IntEnum):
    """Where a person stands in the migration process."""

    HOME = 0
    TRANSIT = 1
    BORDER = 2
    ENTERED_IRREGULAR = 3
    ENTERED_LEGAL = 4
    RETURNED = 5
    DEAD = 6


NATIONAL_METRICS = ("encounters", "entries_irregular", "entries_legal", "expelled")
LOCATED_METRICS = ("intercepted", "deported", "deaths", "in_transit")
STATE_BYTES_PER_AGENT = 15
WORK_BYTES_PER_AGENT = 48      # temporaries of the home phase, per agent of the largest run slice
NO_ROUTE = 255
INIT_CHUNK = 1 << 17           # agents per chunk when drawing initial traits (small temporaries)


@dataclass
class AgentState:
    """Structure of arrays for every agent of a batch (length runs x agents)."""

    origin: np.ndarray          # uint8 origin position
    status: np.ndarray          # uint8 Status
    route: np.ndarray           # uint8 route position (255 = none)
    leg: np.ndarray             # uint8 position on the route
    savings: np.ndarray         # float32 USD
    risk_level: np.ndarray      # uint8 0..7
    tie: np.ndarray             # uint8 0/1: a relative or friend in the US
    attempts: np.ndarray        # uint8 crossing attempts ended in expulsion
    since: np.ndarray           # int16 month step the current status began
    blocked_until: np.ndarray   # int16 month step before which the person cannot leave

    def months_in_state(self, step: int) -> np.ndarray:
        """Months each agent has spent in its current status at month step ``step``."""
        return step - self.since.astype(np.int64)


@dataclass
class Counts:
    """Agent counts of every metric, by run, reported month, origin (and node)."""

    national: dict[str, np.ndarray]     # (B, T, O) int64
    located: dict[str, np.ndarray]      # (B, T, O, nodes) int64
    aid_spent: np.ndarray               # (B, T, O) USD
    enforcement_spent: np.ndarray       # (B, T, K) USD


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
    """Refuse a batch that would not fit in available memory, with a clear message."""
    need, have = estimate_bytes(agents, runs, grouped), available_bytes()
    if need > 0.8 * have:
        raise ResourceError(f"{runs} run(s) of {agents:,} agents need about {need / 2**30:,.1f} GiB; "
                            f"only {have / 2**30:,.1f} GiB of memory is available. Use fewer agents "
                            "(or fewer replications per batch).")


def initial_state(world: World, inputs: list[RunInputs], seeds: list[int]) -> AgentState:
    """Everyone at home; traits drawn from each run's own stream (month 0)."""
    n = int(world.agents_per_origin.sum())
    B = len(seeds)
    origin = np.tile(world.agent_origin, B)
    savings = np.empty(B * n, dtype=np.float32)
    risk = np.empty(B * n, dtype=np.uint8)
    tie = np.empty(B * n, dtype=np.uint8)
    agent_origin = origin[:n]
    for b, (inp, seed) in enumerate(zip(inputs, seeds)):
        p_tie = rules.tie_probability(world.diaspora, world.population, inp.tie_scale)
        for first in range(0, n, INIT_CHUNK):            # in chunks: temporaries stay small for huge samples
            ids = np.arange(first, min(first + INIT_CHUNK, n), dtype=np.uint64)
            o = agent_origin[first: first + ids.size]
            part = slice(b * n + first, b * n + first + ids.size)
            savings[part] = rules.initial_savings(world.gdp_per_capita[o], inp.savings_to_income, inp.savings_sigma,
                                                  uniform(stream_key(seed, 0, Purpose.SAVINGS), ids))
            risk[part] = rules.risk_tolerance_level(uniform(stream_key(seed, 0, Purpose.RISK_TOLERANCE), ids))
            tie[part] = uniform(stream_key(seed, 0, Purpose.TIE), ids) < p_tie[o]
    size = B * n
    return AgentState(origin=origin, status=np.zeros(size, np.uint8), route=np.full(size, NO_ROUTE, np.uint8),
                      leg=np.zeros(size, np.uint8), savings=savings, risk_level=risk, tie=tie,
                      attempts=np.zeros(size, np.uint8), since=np.zeros(size, np.int16),
                      blocked_until=np.zeros(size, np.int16))


def _stack(arrays: list[np.ndarray]) -> np.ndarray:
    """Stack per-run arrays along a new run axis, zero-padding ragged ones (e.g. parole pools)."""
    shape = tuple(max(sizes) for sizes in zip(*(a.shape for a in arrays)))
    if all(a.shape == shape for a in arrays):
        return np.stack(arrays)
    out = np.zeros((len(arrays),) + shape, dtype=arrays[0].dtype)
    for b, a in enumerate(arrays):
        out[(b,) + tuple(slice(0, k) for k in a.shape)] = a
    return out


class Batch:
    """Shared, stacked inputs of a batch of runs and the route tables the phases use."""

    def __init__(self, world: World, inputs: list[RunInputs], seeds: list[int]):
        self.world, self.seeds = world, [int(s) for s in seeds]
        self.B, self.n = len(seeds), int(world.agents_per_origin.sum())
        self.T, self.warmup = len(inputs[0].calendar), inputs[0].warmup
        self.O, self.nodes = len(world.origins), len(world.node_ids)
        for name in inputs[0].stack_fields():
            setattr(self, name, _stack([getattr(i, name) for i in inputs]))
        for name in ("b_network", "b_tie", "b_legal", "b_risk", "route_b_cost", "route_b_risk",
                     "route_b_containment", "route_b_months", "attempt_probability", "give_up_probability"):
            setattr(self, name, np.array([getattr(i, name) for i in inputs]))
        self.weight = world.persons_per_agent
        self.agent_origin = world.agent_origin      # origin of each agent of a run, built once per batch
        # row of each agent's (origin, tie=0, risk level 0) entry in a run's flattened leave table
        self.leave_row = self.agent_origin.astype(np.int16) * np.int16(2 * rules.RISK_LEVELS)
        tables = route_tables(world)
        self.node_country, self.own_country = tables.node_transit, tables.origin_transit
        self.route_edge_risk, self.entry_leg, self.max_slots = tables.edge_risk, tables.entry_leg, tables.max_slots

    def keys(self, step: int, purpose: int) -> np.ndarray:
        """Stream key of every run for one month step and purpose."""
        return np.array([stream_key(s, step, purpose) for s in self.seeds], dtype=np.uint64)


def simulate(world: World, inputs: list[RunInputs], seeds: list[int], progress=None, grouped: bool = False) -> Counts:
    """Run a batch: one ``RunInputs`` and one seed per run; returns agent counts of every metric.

    ``grouped``: draw home decisions per group (``sim.home_pools``): the same distribution
    as per-agent draws at a cost that follows the movers; per-agent draws (the default) are
    the ones the Mesa engine reproduces exactly.
    """
    n = int(world.agents_per_origin.sum())
    check_memory(n, len(seeds), grouped)
    batch = Batch(world, inputs, seeds)
    state = initial_state(world, inputs, seeds)
    pools = HomePools(batch, state) if grouped else None
    T_out = batch.T - batch.warmup
    shape = (batch.B, T_out, batch.O)
    counts = Counts({m: np.zeros(shape, np.int64) for m in NATIONAL_METRICS},
                    {m: np.zeros(shape + (batch.nodes,), np.int64) for m in LOCATED_METRICS},
                    batch.aid_spent[:, batch.warmup:].copy(), batch.enforcement_spent[:, batch.warmup:].copy())
    diaspora = np.tile(world.diaspora, (batch.B, 1))
    for step in range(batch.T):
        month_counts = step_month(batch, state, step, diaspora, pools)
        if step >= batch.warmup:
            t = step - batch.warmup
            for name, value in month_counts.items():
                (counts.national if name in counts.national else counts.located)[name][:, t] = value
        if progress is not None:
            progress(batch.B)           # run-months done
    return counts


def step_month(batch: Batch, state: AgentState, step: int, diaspora: np.ndarray,
               pools: HomePools | None = None) -> dict[str, np.ndarray]:
    """Advance every agent of the batch by one month; returns this month's counts by metric.

    ``pools``: grouped home decisions (``sim.home_pools``); None draws for every agent.
    """
    world, B, n, O = batch.world, batch.B, batch.n, batch.O
    status = state.status
    if pools is None:
        transit = np.flatnonzero(status == Status.TRANSIT)
        border = np.flatnonzero(status == Status.BORDER)
    else:
        transit, border = pools.on_the_way()
    events = _Events(batch)

    travellers = _home_phase(batch, state, step, diaspora, events, pools)
    _transit_phase(batch, state, step, transit, events)
    _border_phase(batch, state, step, border, events)
    if pools is not None:
        for idx in (transit, border):
            pools.bar(idx[(status[idx] == Status.RETURNED)])

    entered = events.national["entries_irregular"] + events.national["entries_legal"]
    diaspora += entered * batch.weight[None, :]
    if pools is None:
        moving = np.flatnonzero((status == Status.TRANSIT) | (status == Status.BORDER))
    else:
        moving = pools.end_month(travellers)
    location = np.where(status[moving] == Status.BORDER, world.border,
                        world.route_nodes[state.route[moving], state.leg[moving]])
    events.located_add("in_transit", moving, location)
    return events.result()


class _Events:
    """Counts of this month's events by run, origin (and node)."""

    def __init__(self, batch: Batch):
        self.batch = batch
        B, O, N = batch.B, batch.O, batch.nodes
        self.national = {m: np.zeros((B, O), np.int64) for m in NATIONAL_METRICS}
        self.located = {m: np.zeros((B, O, N), np.int64) for m in LOCATED_METRICS}

    def national_add(self, metric: str, idx: np.ndarray) -> None:
        if idx.size:
            key = (idx // self.batch.n) * self.batch.O + self.batch_origin(idx)
            self.national[metric] += np.bincount(key, minlength=self.national[metric].size).reshape(
                self.national[metric].shape)

    def located_add(self, metric: str, idx: np.ndarray, node: np.ndarray) -> None:
        if idx.size:
            key = ((idx // self.batch.n) * self.batch.O + self.batch_origin(idx)) * self.batch.nodes + node
            self.located[metric] += np.bincount(key, minlength=self.located[metric].size).reshape(
                self.located[metric].shape)

    def batch_origin(self, idx: np.ndarray) -> np.ndarray:
        return self.batch.agent_origin[idx % self.batch.n].astype(np.int64)

    def result(self) -> dict[str, np.ndarray]:
        return {**self.national, **self.located}


def _runs_of(idx: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Run index and agent id (within its run) of global agent positions."""
    run = idx // n
    return run, (idx - run * n).astype(np.uint64)


def _draw(batch: Batch, step: int, purpose: int, idx: np.ndarray) -> np.ndarray:
    """Uniform draws of the agents at global positions ``idx``."""
    run, ids = _runs_of(idx, batch.n)
    return uniform(batch.keys(step, purpose)[run], ids)


def _set_status(state: AgentState, idx: np.ndarray, value: Status, step: int) -> None:
    state.status[idx] = value
    state.since[idx] = step


def leave_table(batch: Batch, step: int, diaspora: np.ndarray) -> np.ndarray:
    """Leave probability by run, origin, tie (0/1) and risk level: (B, O, 2, levels)."""
    t = step
    shared = batch.origin_logit[:, t] + rules.network_logit(batch.b_network[:, None], diaspora,
                                                            batch.world.population[None, :])
    parole_open = _parole_open(batch, t)
    tie = np.arange(2)[None, None, :, None]
    level = np.arange(rules.RISK_LEVELS)[None, None, None, :]
    return rules.leave_probability(shared[:, :, None, None], batch.b_tie[:, None, None, None],
                                   batch.b_legal[:, None, None, None], batch.b_risk[:, None, None, None],
                                   tie, parole_open[:, :, None, None].astype(float), level,
                                   batch.journey_risk[:, t, :, None, None])


def _parole_open(batch: Batch, t: int) -> np.ndarray:
    pool = batch.parole_pool[:, t]                               # (B, O)
    places = np.take_along_axis(batch.parole_places[:, t], np.maximum(pool, 0), axis=1)
    return (pool >= 0) & (places > 0)


def _home_phase(batch: Batch, state: AgentState, step: int, diaspora: np.ndarray, events: _Events,
                pools: HomePools | None = None) -> np.ndarray:
    """People at home (or returned and no longer barred) decide whether and how to leave.

    Returns the global positions of those who set out (now on the way).
    """
    table = leave_table(batch, step, diaspora)                   # (B, O, 2, levels)
    threshold = rules.affordability_threshold(batch.cheapest_route_usd[:, step], batch.savings_multiplier[:, step])
    if pools is None:
        leave = _leavers_per_agent(batch, state, step, table, threshold)
    else:
        pools.release(step)
        leave = pools.draw_leavers(step, table, threshold)
    _set_out(batch, state, step, leave, events)
    status = state.status[leave]
    if pools is not None:                                        # no parole and no affordable open route: stay
        pools.stay(leave[(status == Status.HOME) | (status == Status.RETURNED)])
    return leave[status == Status.TRANSIT]


def _leavers_per_agent(batch: Batch, state: AgentState, step: int, table: np.ndarray,
                       threshold: np.ndarray) -> np.ndarray:
    """Global positions of the people who decide to leave, one draw per person free to leave."""
    n = batch.n
    ids = np.arange(n, dtype=np.uint64)
    origin = batch.agent_origin
    leavers = []
    for b, seed in enumerate(batch.seeds):
        part = slice(b * n, (b + 1) * n)
        status = state.status[part]
        u = uniform(stream_key(seed, step, Purpose.LEAVE), ids)
        p = table[b].reshape(-1)[batch.leave_row + state.tie[part] * rules.RISK_LEVELS + state.risk_level[part]]
        decide = u < p
        decide &= (status == Status.HOME) | ((status == Status.RETURNED) & (state.blocked_until[part] <= step))
        decide &= rules.can_afford(state.savings[part], threshold[b][origin])
        leavers.append(np.flatnonzero(decide) + b * n)
    return np.concatenate(leavers)


def _set_out(batch: Batch, state: AgentState, step: int, leave: np.ndarray, events: _Events) -> None:
    """Leavers apply for parole (with a sponsor, when their nationality has places) or choose a route."""
    n, t = batch.n, step
    origin = batch.agent_origin
    if leave.size == 0:
        return
    run = leave // n
    o = origin[leave % n]
    # parole: people with a sponsor whose nationality has parole places apply instead of travelling
    pool = batch.parole_pool[run, t, o]
    applies = (pool >= 0) & (state.tie[leave] == 1) & _parole_open(batch, t)[run, o]
    applicants = leave[applies]
    if applicants.size:
        a_run, a_pool, a_origin = run[applies], pool[applies], o[applies]
        demand = np.zeros((batch.B, batch.parole_places.shape[2], batch.O))
        np.add.at(demand, (a_run, a_pool, a_origin), 1)
        share = rules.capacity_share(1.0, batch.parole_places[:, t], rules.persons(demand, batch.weight))
        granted = _draw(batch, step, Purpose.PAROLE, applicants) < share[a_run, a_pool]
        _set_status(state, applicants[granted], Status.ENTERED_LEGAL, step)
        events.national_add("entries_legal", applicants[granted])
        applies[np.flatnonzero(applies)[~granted]] = False    # not granted: travel irregularly instead
    travel = leave[~applies]
    if travel.size == 0:
        return
    run, o = travel // n, origin[travel % n]
    routes = batch.world.origin_routes[o]                        # (k, max routes)
    valid = routes >= 0
    r = np.maximum(routes, 0)
    available = valid & batch.route_open[run[:, None], t, r]
    available &= rules.can_afford(state.savings[travel, None], rules.affordability_threshold(
        batch.route_cost[run[:, None], r], batch.savings_multiplier[run, t, o][:, None]))
    utility = rules.route_utility(batch.route_b_cost[run, None], batch.route_b_risk[run, None],
                                  batch.route_b_containment[run, None], batch.route_cost[run[:, None], r],
                                  batch.route_risk[run[:, None], r], batch.route_interception[run[:, None], t, r],
                                  state.risk_level[travel, None], batch.route_b_months[run, None],
                                  batch.route_months[run[:, None], r])
    pick = rules.choose(utility, available, _draw(batch, step, Purpose.ROUTE, travel))
    go = pick >= 0
    travel, chosen = travel[go], routes[np.flatnonzero(go), pick[go]]
    state.route[travel] = chosen
    state.leg[travel] = 0
    state.savings[travel] = rules.savings_after_journey(state.savings[travel], batch.route_cost[travel // n, chosen])
    _set_status(state, travel, Status.TRANSIT, step)


def _transit_phase(batch: Batch, state: AgentState, step: int, idx: np.ndarray, events: _Events) -> None:
    """People on the way travel one month: death risk on each leg, containment at each node."""
    if idx.size == 0:
        return
    world, n, t = batch.world, batch.n, step
    run = idx // n
    o = batch.agent_origin[idx % n]
    r, leg = state.route[idx].astype(np.intp), state.leg[idx].astype(np.intp)
    target = world.next_leg[r, leg].astype(np.intp)
    slots = []
    for s in range(1, batch.max_slots + 1):
        position = np.minimum(leg + s, world.route_nodes.shape[1] - 1)
        reached = leg + s <= target
        node = np.where(reached, world.route_nodes[r, position], -1)
        country = np.where(reached, batch.node_country[np.maximum(node, 0)], -1)
        country = np.where(country == batch.own_country[o], -1, country)
        slots.append((position, reached, node, country))
    # capacity shared out from start-of-month passages (persons), by run and country
    C = len(TRANSIT_COUNTRIES)
    demand = np.zeros((batch.B, C, batch.O))
    for _, reached, _, country in slots:
        hit = country >= 0
        np.add.at(demand, (run[hit], country[hit], o[hit]), 1)
    p_eff = rules.capacity_share(batch.containment_probability[:, t], batch.containment_capacity[:, t],
                                 rules.persons(demand, batch.weight))
    moving = np.ones(idx.size, dtype=bool)
    death_slot = np.zeros(idx.size, dtype=np.intp)
    caught_slot = np.zeros(idx.size, dtype=np.intp)
    for s, (position, reached, node, country) in enumerate(slots, start=1):
        active = reached & moving
        die = active & (_draw(batch, step, Purpose.DEATH + s, idx) < batch.route_edge_risk[r, position])
        death_slot[die] = s
        policed = active & ~die & (country >= 0)
        p = np.where(policed, p_eff[run, np.maximum(country, 0)], 0.0)
        caught = policed & (_draw(batch, step, Purpose.INTERCEPT + s, idx) < p)
        caught_slot[caught] = s
        moving &= ~(die | caught)
    node_of = np.stack([sl[2] for sl in slots], axis=1)          # (k, slots): node reached in each slot
    died = np.flatnonzero(death_slot)
    events.located_add("deaths", idx[died], node_of[died, death_slot[died] - 1])
    _set_status(state, idx[died], Status.DEAD, step)
    caught = np.flatnonzero(caught_slot)
    if caught.size:
        where = node_of[caught, caught_slot[caught] - 1]
        country = batch.node_country[where]
        events.located_add("intercepted", idx[caught], where)
        outcome = rules.pick_outcome(batch.containment_outcome[run[caught], t, country],
                                     _draw(batch, step, Purpose.INTERCEPT_OUTCOME, idx[caught]))
        deport, hold, push = (outcome == 0), (outcome == 1), (outcome == 2)
        events.located_add("deported", idx[caught[deport]], where[deport])
        _set_status(state, idx[caught[deport]], Status.RETURNED, step)
        state.route[idx[caught[deport]]] = NO_ROUTE
        state.blocked_until[idx[caught[deport]]] = step + 1
        state.leg[idx[caught[hold]]] = (leg[caught[hold]] + caught_slot[caught[hold]]).astype(np.uint8)
        state.leg[idx[caught[push]]] = batch.entry_leg[r[caught[push]], country[push]]
    arrived = np.flatnonzero(moving)
    state.leg[idx[arrived]] = target[arrived].astype(np.uint8)
    at_border = arrived[world.route_nodes[r[arrived], target[arrived]] == world.border]
    _set_status(state, idx[at_border], Status.BORDER, step)


def _border_phase(batch: Batch, state: AgentState, step: int, idx: np.ndarray, events: _Events) -> None:
    """People waiting at the US border: appointments, crossing attempts and what follows."""
    if idx.size == 0:
        return
    n, t = batch.n, step
    run, o = idx // n, batch.agent_origin[idx % n]
    eligible = batch.appointment_eligible[run, t, o]
    demand = np.zeros((batch.B, batch.O))
    np.add.at(demand, (run[eligible], o[eligible]), 1)
    share = rules.capacity_share(1.0, batch.appointment_places[:, t], rules.persons(demand, batch.weight))
    appointment = eligible & (_draw(batch, step, Purpose.APPOINTMENT, idx) < share[run])
    got = idx[appointment]
    _set_status(state, got, Status.ENTERED_LEGAL, step)
    events.national_add("encounters", got)
    events.national_add("entries_legal", got)
    attempt = ~appointment & (_draw(batch, step, Purpose.ATTEMPT, idx) < batch.attempt_probability[run])
    die = attempt & (_draw(batch, step, Purpose.BORDER_DEATH, idx) < batch.world.border_death_risk)
    events.located_add("deaths", idx[die], np.full(die.sum(), batch.world.border))
    _set_status(state, idx[die], Status.DEAD, step)
    crossing = attempt & ~die
    apprehended = crossing & (_draw(batch, step, Purpose.APPREHEND, idx) < batch.apprehension[run, t, o])
    evaded = idx[crossing & ~apprehended]
    _set_status(state, evaded, Status.ENTERED_IRREGULAR, step)
    events.national_add("entries_irregular", evaded)
    caught = np.flatnonzero(apprehended)
    if caught.size == 0:
        return
    events.national_add("encounters", idx[caught])
    outcome = rules.pick_outcome(batch.border_outcome[run[caught], t, o[caught]],
                                 _draw(batch, step, Purpose.BORDER_OUTCOME, idx[caught]))
    expel, remove, release = caught[outcome == 0], caught[outcome == 1], caught[outcome == 2]
    events.national_add("expelled", idx[expel])
    state.attempts[idx[expel]] = np.minimum(state.attempts[idx[expel]].astype(np.int64) + 1, 255).astype(np.uint8)
    give_up = expel[_draw(batch, step, Purpose.GIVE_UP, idx[expel]) < batch.give_up_probability[run[expel]]]
    _set_status(state, idx[give_up], Status.RETURNED, step)
    state.blocked_until[idx[give_up]] = step + 1
    events.located_add("deported", idx[remove], np.full(remove.size, batch.world.node_ids.index("USA")))
    _set_status(state, idx[remove], Status.RETURNED, step)
    state.blocked_until[idx[remove]] = np.minimum(step + 1 + batch.reentry_bar[run[remove], t, o[remove]], 32767)
    _set_status(state, idx[release], Status.ENTERED_IRREGULAR, step)
    events.national_add("entries_irregular", idx[release])
    for returned in (idx[give_up], idx[remove]):
        state.route[returned] = NO_ROUTE
