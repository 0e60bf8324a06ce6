"""The vectorized engine: agent state as NumPy arrays, an explicit monthly loop.

Several runs (replications or sweep points sharing agent counts and months) are
batched in one set of arrays: run ``b`` owns agents ``b*N .. b*N+N-1``. Each month has
three phases over disjoint sets of agents, all chosen from the state at the start of
the month (synchronous update), so no result depends on agent order:

1. home: decide to leave, apply for parole, choose a route (``home.py``);
2. transit: travel, risk death, meet containment (capacity shared from start-of-month counts);
3. border: appointments (capacity shared), crossing attempts, apprehension and its outcome
   (``phases.py``).

Every formula comes from ``sim.core.rules``; every draw from ``sim.core.random``; every
change of status from the transitions of ``sim.engines.state``.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ...core import rules
from ...core.inputs import RunInputs
from ...core.world import World
from ..memory import check_memory
from ..state import EXPECTED_METRICS, LOCATED_METRICS, NATIONAL_METRICS, AgentState, Counts, Status
from .batch import Batch, Events, initial_state
from .home import Home, home_phase, make_home
from .phases import border_phase, transit_phase


def simulate(world: World, inputs: list[RunInputs], seeds: list[int], progress: Callable[[int], object] | None = None,
             grouped: bool = False) -> Counts:
    """Run a batch: one ``RunInputs`` and one seed per run; returns agent counts of every metric.

    ``grouped``: draw home decisions per group (``HomePools``): the same distribution as
    per-agent draws at a cost that follows the movers; per-agent draws (the default) are
    the ones the Mesa engine reproduces exactly. ``progress(k)`` is called with the
    run-months done after each month.
    """
    n = int(world.agents_per_origin.sum())
    check_memory(n, len(seeds), "grouped" if grouped else "vector")
    batch = Batch(world, inputs, seeds)
    state = initial_state(world, inputs, seeds)
    home = make_home(batch, state, grouped)
    T_out = batch.T - batch.warmup
    shape = (batch.B, T_out, batch.O)
    counts = Counts({m: np.zeros(shape, np.int64) for m in NATIONAL_METRICS},
                    {m: np.zeros((*shape, batch.nodes), np.float64 if m in EXPECTED_METRICS else np.int64)
                     for m in LOCATED_METRICS},
                    batch.aid_spent[:, batch.warmup:].copy(), batch.enforcement_spent[:, batch.warmup:].copy())
    diaspora = np.tile(world.diaspora, (batch.B, 1))
    for step in range(batch.T):
        month_counts = step_month(batch, state, step, diaspora, home)
        if step >= batch.warmup:
            t = step - batch.warmup
            for name, value in month_counts.items():
                (counts.national if name in counts.national else counts.located)[name][:, t] = value
        if progress is not None:
            progress(batch.B)           # run-months done
    return counts


def step_month(batch: Batch, state: AgentState, step: int, diaspora: np.ndarray, home: Home) -> dict[str, np.ndarray]:
    """Advance every agent of the batch by one month; returns this month's counts by metric.

    ``home``: how the home phase draws its leavers (``make_home``); ``diaspora`` (B, O)
    persons grows with this month's entries.
    """
    world, status = batch.world, state.status
    transit, border = home.on_the_way()
    events = Events(batch)

    travellers = home_phase(batch, state, step, diaspora, events, home)
    transit_phase(batch, state, step, transit, events)
    border_phase(batch, state, step, border, events)
    for idx in (transit, border):
        home.returned(idx[(status[idx] == Status.RETURNED)])

    entered = events.national["entries_irregular"] + events.national["entries_legal"]
    diaspora[...] = rules.diaspora_after_entries(diaspora, entered, batch.weight[None, :])
    moving = home.end_month(travellers)
    location = np.where(status[moving] == Status.BORDER, world.border,
                        world.route_nodes[state.route[moving], state.leg[moving]])
    events.located_add("in_transit", moving, location)
    return events.result()
