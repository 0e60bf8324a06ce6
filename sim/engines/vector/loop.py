"""The vectorized engine: agent state as NumPy arrays, an explicit monthly loop.

Several runs (replications or sweep points sharing agent counts and months) are
batched in one set of arrays: run ``b`` owns agents ``b*N .. b*N+N-1``. Each month has
three phases over disjoint sets of agents, chosen from the state at the start of the
month (synchronous update), so no result depends on agent order:

1. home: decide to leave, apply for parole, choose a route (``home.py``);
2. transit: travel, risk death, meet containment (capacity shared from start-of-month counts);
3. border: appointments (capacity shared), crossing attempts, apprehension and its outcome
   (``phases.py``), for the people waiting at the border at the start of the month and those
   who reached it in phase 2 (a journey's last leg and the crossing can fall in one month).

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
from .batch import Batch, Events
from .home import Home, home_phase, make_home
from .phases import border_phase, transit_phase


def simulate(world: World, inputs: list[RunInputs], seeds: list[int], progress: Callable[[int], object] | None = None,
             grouped: bool = False) -> Counts:
    """Run a batch: one ``RunInputs`` and one seed per run; returns agent counts of every metric.

    ``grouped``: draw home decisions per group (``HomePools``): the same distribution as
    per-agent draws at a cost, in time and memory, that follows the movers; per-agent draws
    (the default) are the ones the Mesa engine reproduces exactly. ``progress(k)`` is called
    with the run-months done after each month.
    """
    n = int(world.agents_per_pool.sum())
    check_memory(n, len(seeds), "grouped" if grouped else "vector")
    batch = Batch(world, inputs, seeds, grouped)
    state, home = make_home(batch, inputs)
    T_out = batch.T - batch.warmup
    shape = (batch.B, T_out, batch.O)
    counts = Counts({m: np.zeros(shape, np.int64) for m in NATIONAL_METRICS},
                    {m: np.zeros((*shape, batch.nodes), np.float64 if m in EXPECTED_METRICS else np.int64)
                     for m in LOCATED_METRICS},
                    batch.aid_spent[:, batch.warmup:].copy(), batch.enforcement_spent[:, batch.warmup:].copy(),
                    np.zeros((batch.B, batch.T), np.int64))
    diaspora = np.tile(world.diaspora, (batch.B, 1))           # (B, nationalities) persons
    recent = np.zeros_like(diaspora)                           # (B, nationalities) persons: recent entries
    for step in range(batch.T):
        month_counts = step_month(batch, state, step, diaspora, home, recent)
        counts.active[:, step] = month_counts.pop("active")
        if step >= batch.warmup:
            t = step - batch.warmup
            for name, value in month_counts.items():
                (counts.national if name in counts.national else counts.located)[name][:, t] = value
        if progress is not None:
            progress(batch.B)           # run-months done
    return counts


def step_month(batch: Batch, state: AgentState, step: int, diaspora: np.ndarray, home: Home,
               recent: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Advance every agent of the batch by one month; returns this month's counts by metric, and ``active``:
    agents on the way or at the border at the start of the month, by run.

    ``home``: how the home phase draws its leavers (``make_home``); ``diaspora`` (B,
    nationalities) persons grows with this month's entries, ``recent`` (the same shape: recent
    entries, word of mouth) too (None: no recent entries kept, as zeros).
    """
    world = batch.world
    transit, border = home.on_the_way()
    events = Events(batch, state)
    active = np.bincount(batch.run_of(transit), minlength=batch.B) + np.bincount(batch.run_of(border),
                                                                                minlength=batch.B)

    recent = np.zeros_like(diaspora) if recent is None else recent
    travellers = home_phase(batch, state, step, diaspora, events, home, recent)
    status = state.status             # read after the home phase: the grouped engine's table may have grown
    transit_phase(batch, state, step, transit, events)
    arrived = transit[status[transit] == Status.BORDER]          # reached the border this month
    border = np.union1d(border, arrived) if arrived.size else border
    border_phase(batch, state, step, border, events)
    moved = np.union1d(transit, border)                          # each person once (arrivals are in both)
    home.returned(moved[status[moved] == Status.RETURNED])

    entered = events.national["entries_irregular"] + events.national["entries_legal"]
    persons = rules.entered_by_nationality(entered, batch.weight, batch.pool_origin, diaspora.shape[1])
    diaspora[...] = rules.diaspora_after_entries(diaspora, persons)
    recent[...] = rules.recent_after_entries(recent, persons, batch.recent_half_life[:, None])
    moving = home.end_month(travellers)
    location = np.where(status[moving] == Status.BORDER, world.border,
                        world.route_nodes[state.route[moving], state.leg[moving]])
    events.located_add("in_transit", moving, location)
    return {**events.result(), "active": active}
