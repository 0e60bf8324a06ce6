"""The home phase: who decides to leave this month, and how they set out (parole or a route).

Who decides is found in one of two ways, chosen once per run (``make_home``):

- ``PerAgentHome``: one draw per person free to leave (the reference; the Mesa engine
  reproduces it exactly);
- ``HomePools`` (``pools.py``): people who have never left held as counts in groups of
  equal leave probability, with binomial draws per group (the same distribution; the cost
  and the memory follow the people who move).

Both implement ``Home``, which also keeps the books the other phases need: who is on the
way at the start of the month, and who is on the way at its end. Positions are those of
rows of the agent state (``Batch.locate``).
"""
from __future__ import annotations

from typing import Protocol

import numpy as np

from ...core import rules
from ...core.inputs import RunInputs
from ...core.random import Purpose, uniform
from ..state import AgentState, Event, Status, free_to_leave, on_the_way
from .batch import Batch, Events, initial_state, parole_is_open
from .pools import HomePools

CHUNK = 1 << 16                # agents drawn at a time by the per-agent home phase


class Home(Protocol):
    """How the home phase finds this month's leavers, and who is on the way (positions of rows)."""

    def on_the_way(self) -> tuple[np.ndarray, np.ndarray]:
        """Start of month: who is travelling and who is waiting at the border (ascending)."""

    def leavers(self, step: int, table: np.ndarray, threshold: np.ndarray) -> np.ndarray:
        """Who decides to leave: leave probability ``table`` (B, P, 2, levels), savings ``threshold`` (B, P) USD."""

    def stay(self, idx: np.ndarray) -> None:
        """Leavers who did not set out this month (no parole, no affordable open route)."""

    def returned(self, idx: np.ndarray) -> None:
        """People who came back home this month (deported, removed or given up)."""

    def end_month(self, travellers: np.ndarray) -> np.ndarray:
        """End of month: everyone on the way or at the border now (``travellers``: those who set out)."""


class PerAgentHome:
    """One draw per person free to leave, read straight from the agent state."""

    def __init__(self, batch: Batch, state: AgentState):
        self.batch, self.state = batch, state
        # each agent's (pool, tie 0, risk level 0) entry in a run's flattened leave table (agents of a run)
        self.leave_row = state.pool[:batch.n].astype(np.int16) * np.int16(2 * rules.RISK_LEVELS)
        self.movers = np.flatnonzero(on_the_way(state.status))     # as found at the end of the last month

    def on_the_way(self) -> tuple[np.ndarray, np.ndarray]:
        status = self.state.status[self.movers]
        return self.movers[status == Status.TRANSIT], self.movers[status == Status.BORDER]

    def leavers(self, step: int, table: np.ndarray, threshold: np.ndarray) -> np.ndarray:
        """Every agent drawn, run by run, in chunks of at most ``CHUNK`` agents (cache-sized temporaries)."""
        batch, state, n = self.batch, self.state, self.batch.n
        leavers = []
        for b, key in enumerate(batch.keys(step, Purpose.LEAVE)):
            p_table, threshold_b = table[b].reshape(-1), threshold[b]
            for first in range(0, n, CHUNK):
                agents = slice(first, min(first + CHUNK, n))
                rows = slice(b * n + agents.start, b * n + agents.stop)
                u = uniform(key, np.arange(agents.start, agents.stop, dtype=np.uint64))
                # ``take`` with small integer codes: much faster than fancy indexing with uint8/int16 indices
                p = p_table.take(self.leave_row[agents] + state.tie[rows] * rules.RISK_LEVELS + state.risk_level[rows])
                decide = u < p
                decide &= free_to_leave(state.status[rows], state.blocked_until[rows], step)
                decide &= rules.can_afford(state.savings[rows], threshold_b.take(state.pool[rows]))
                leavers.append(np.flatnonzero(decide) + rows.start)
        return np.concatenate(leavers)

    def stay(self, idx: np.ndarray) -> None:
        """Nothing to do: next month's draw reads the state again."""

    def returned(self, idx: np.ndarray) -> None:
        """Nothing to do: next month's draw reads the state again."""

    def end_month(self, travellers: np.ndarray) -> np.ndarray:
        """Those still on the way and those who set out this month (nobody else can have started moving)."""
        still = on_the_way(self.state.status[self.movers])
        self.movers = np.sort(np.concatenate([self.movers[still], travellers]))
        return self.movers


def make_home(batch: Batch, inputs: list[RunInputs]) -> tuple[AgentState, Home]:
    """The agent state and the home phase of a batch, chosen once: grouped draws (``HomePools``: rows only for
    people who leave) when ``batch.grouped``, else one row and one draw per person (``PerAgentHome``)."""
    if batch.grouped:
        pools = HomePools(batch, inputs)
        return pools.state, pools
    state = initial_state(batch.world, inputs, batch.seeds)
    return state, PerAgentHome(batch, state)


def leave_table(batch: Batch, step: int, diaspora: np.ndarray, recent: np.ndarray | None = None) -> np.ndarray:
    """Leave probability by run, pool, tie (0/1) and risk level: (B, P, 2, levels).

    ``diaspora`` and ``recent`` (B, nationalities) persons: each pool's network and word-of-mouth
    terms read its nationality's (``recent`` None: no recent entries).
    """
    t, nat = step, batch.pool_origin
    population = batch.world.home_population[None, nat]
    recent = np.zeros_like(diaspora) if recent is None else recent
    shared = (batch.origin_logit[:, t] + rules.network_logit(batch.b_network[:, None], diaspora[:, nat], population)
              + rules.recent_entries_logit(batch.b_recent[:, None], recent[:, nat], batch.recent_half_life[:, None],
                                           population))
    parole_open = parole_is_open(batch, t)
    tie = np.arange(2)[None, None, :, None]
    level = np.arange(rules.RISK_LEVELS)[None, None, None, :]
    return rules.leave_probability(shared[:, :, None, None], batch.b_tie[:, None, None, None],
                                   batch.b_legal[:, None, None, None], batch.b_risk[:, None, None, None],
                                   tie, parole_open[:, :, None, None].astype(float), level,
                                   batch.journey_risk[:, t, :, None, None])


def home_phase(batch: Batch, state: AgentState, step: int, diaspora: np.ndarray, events: Events,
               home: Home, recent: np.ndarray | None = None) -> np.ndarray:
    """People at home (or returned and no longer barred) decide whether and how to leave.

    Returns the positions of those who set out (now on the way).
    """
    table = leave_table(batch, step, diaspora, recent)           # (B, P, 2, levels)
    threshold = rules.affordability_threshold(batch.cheapest_route_usd[:, step], batch.savings_multiplier[:, step])
    leave = home.leavers(step, table, threshold)
    set_out(batch, state, step, leave, events)
    status = state.status[leave]
    home.stay(leave[(status == Status.HOME) | (status == Status.RETURNED)])
    return leave[status == Status.TRANSIT]


def set_out(batch: Batch, state: AgentState, step: int, leave: np.ndarray, events: Events) -> None:
    """Leavers apply for parole (with a sponsor, when their nationality has places) or choose a route.

    An applicant not granted parole travels irregularly, unless an irregular crossing would bar
    them from parole (``parole_bar``): then they stay where they live and may apply again.
    """
    t = step
    pool_of = state.pool
    if leave.size == 0:
        return
    run, o = batch.run_of(leave), pool_of[leave]
    # parole: people with a sponsor whose nationality has parole places apply instead of travelling
    pool = batch.parole_pool[run, t, o]
    applies = (pool >= 0) & (state.tie[leave] == 1) & parole_is_open(batch, t)[run, o]
    applicants = leave[applies]
    if applicants.size:
        a_run, a_pool, a_origin = run[applies], pool[applies], o[applies]
        demand = np.zeros((batch.B, batch.parole_places.shape[2], batch.O))
        np.add.at(demand, (a_run, a_pool, a_origin), 1)
        share = rules.capacity_share(1.0, batch.parole_places[:, t], rules.persons(demand, batch.weight))
        granted = batch.draw(step, Purpose.PAROLE, applicants) < share[a_run, a_pool]
        state.enter(applicants[granted], Event.PAROLE_GRANTED, step)
        events.national_add("entries_legal", applicants[granted])
        # not granted: travel irregularly instead, unless that would bar them from parole (then wait at home)
        waits = batch.parole_bar[a_run, t, a_origin]
        applies[np.flatnonzero(applies)[~granted & ~waits]] = False
    travel = leave[~applies]
    if travel.size == 0:
        return
    run, o = batch.run_of(travel), pool_of[travel]
    routes = batch.world.pool_routes[o]                          # (k, max routes)
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
    pick = rules.choose(utility, available, batch.draw(step, Purpose.ROUTE, travel))
    go = pick >= 0
    travel, chosen = travel[go], routes[np.flatnonzero(go), pick[go]]
    state.route[travel] = chosen
    state.leg[travel] = 0
    state.savings[travel] = rules.savings_after_journey(state.savings[travel], batch.route_cost[run[go], chosen])
    state.enter(travel, Event.SET_OUT, step)
