"""The transit and border phases of the vector engine's month.

2. transit: people on the way travel one month: death risk on each leg, containment at
   each policed node (capacity shared out from start-of-month passages);
3. border: appointments (capacity shared), crossing attempts, apprehension and its outcome.

Both act on the agents chosen at the start of the month (``idx``: positions of their rows in the
agent state; ``Batch.locate`` gives each row's run and person).
"""
from __future__ import annotations

import numpy as np

from ...core import rules
from ...core.random import Purpose
from ..state import AgentState, Event
from .batch import Batch, Events, parole_is_open


def transit_phase(batch: Batch, state: AgentState, step: int, idx: np.ndarray, events: Events) -> None:
    """People on the way travel one month: death risk on each leg, containment at each node."""
    if idx.size == 0:
        return
    world, t = batch.world, step
    run, o = batch.run_of(idx), state.pool[idx].astype(np.intp)
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
    # capacity shared out from start-of-month passages (persons, weighted by each node's share), by run and country
    C, N = len(world.transit_countries), batch.nodes
    passages = np.zeros(batch.B * C * batch.O * N, dtype=np.int64)
    for _, _, node, country in slots:
        hit = country >= 0
        passages += np.bincount(((run[hit] * C + country[hit]) * batch.O + o[hit]) * N + node[hit],
                                minlength=passages.size)
    share = batch.node_share[:, t]                                # (B, nodes)
    demand = rules.weighted_passages(passages.reshape(batch.B, C, batch.O, N), share[:, None, None, :])
    p_eff = rules.capacity_share(batch.containment_probability[:, t], batch.containment_capacity[:, t],
                                 rules.persons(demand, batch.weight))
    moving = np.ones(idx.size, dtype=bool)
    death_slot = np.zeros(idx.size, dtype=np.intp)
    caught_slot = np.zeros(idx.size, dtype=np.intp)
    for s, (position, reached, node, country) in enumerate(slots, start=1):
        active = np.flatnonzero(reached & moving)            # draws only for those on this leg (same numbers)
        events.exposed(idx[active], batch.leg_edge[r[active], position[active]])   # each leg adds its death risk
        die = active[batch.draw(step, Purpose.DEATH + s, idx[active]) < batch.route_edge_risk[r[active],
                                                                                             position[active]]]
        death_slot[die] = s
        moving[die] = False
        arrive = active[moving[active]]                      # reached the node alive (caught or not)
        events.located_add("transits", idx[arrive], node[arrive])
        policed = arrive[country[arrive] >= 0]
        p = p_eff[run[policed], country[policed]] * share[run[policed], node[policed]]
        caught = policed[batch.draw(step, Purpose.INTERCEPT + s, idx[policed]) < p]
        caught_slot[caught] = s
        moving[caught] = False
    node_of = np.stack([sl[2] for sl in slots], axis=1)          # (k, slots): node reached in each slot
    died = np.flatnonzero(death_slot)
    state.enter(idx[died], Event.DIED, step)
    caught = np.flatnonzero(caught_slot)
    if caught.size:
        where = node_of[caught, caught_slot[caught] - 1]
        country = batch.node_country[where]
        events.located_add("intercepted", idx[caught], where)
        outcome = rules.pick_outcome(batch.containment_outcome[run[caught], t, country],
                                     batch.draw(step, Purpose.INTERCEPT_OUTCOME, idx[caught]))
        deport, hold, push = (outcome == 0), (outcome == 1), (outcome == 2)
        events.located_add("deported", idx[caught[deport]], where[deport])
        state.enter(idx[caught[deport]], Event.DEPORTED, step)
        state.leg[idx[caught[hold]]] = (leg[caught[hold]] + caught_slot[caught[hold]]).astype(np.uint8)
        state.leg[idx[caught[push]]] = batch.entry_leg[r[caught[push]], country[push]]
    arrived = np.flatnonzero(moving)
    state.leg[idx[arrived]] = target[arrived].astype(np.uint8)
    at_border = arrived[world.route_nodes[r[arrived], target[arrived]] == world.border]
    state.enter(idx[at_border], Event.REACHED_BORDER, step)


def border_phase(batch: Batch, state: AgentState, step: int, idx: np.ndarray, events: Events) -> None:
    """People at the US border (waiting there, or arrived this month): appointments, crossing attempts and what
    follows. Someone expelled to Mexico decides whether to go home (``rules.give_up_probability``)."""
    if idx.size == 0:
        return
    t = step
    run, o = batch.run_of(idx), state.pool[idx].astype(np.intp)
    eligible = batch.appointment_eligible[run, t, o]
    demand = np.bincount(run[eligible] * batch.O + o[eligible], minlength=batch.B * batch.O).reshape(
        batch.B, batch.O).astype(np.float64)
    share = rules.capacity_share(1.0, batch.appointment_places[:, t], rules.persons(demand, batch.weight))
    appointment = eligible & (batch.draw(step, Purpose.APPOINTMENT, idx) < share[run])
    got = idx[appointment]
    state.enter(got, Event.APPOINTMENT, step)
    events.national_add("encounters", got)
    events.national_add("entries_legal", got)
    attempt = ~appointment & (batch.draw(step, Purpose.ATTEMPT, idx) < batch.attempt_probability[run])
    events.exposed(idx[attempt], len(batch.leg_risk) - 1)        # the crossing: the last exposure leg
    die = attempt & (batch.draw(step, Purpose.BORDER_DEATH, idx) < batch.world.border_death_risk)
    state.enter(idx[die], Event.DIED, step)
    crossing = attempt & ~die
    apprehended = crossing & (batch.draw(step, Purpose.APPREHEND, idx) < batch.apprehension[run, t, o])
    evaded = idx[crossing & ~apprehended]
    state.enter(evaded, Event.EVADED, step)
    events.national_add("entries_irregular", evaded)
    caught = np.flatnonzero(apprehended)
    if caught.size == 0:
        return
    events.national_add("encounters", idx[caught])
    outcome = rules.pick_outcome(batch.border_outcome[run[caught], t, o[caught]],
                                 batch.draw(step, Purpose.BORDER_OUTCOME, idx[caught]))
    expel, remove, release = caught[outcome == 0], caught[outcome == 1], caught[outcome == 2]
    events.national_add("expelled", idx[expel])
    state.attempts[idx[expel]] = np.minimum(state.attempts[idx[expel]].astype(np.int64) + 1, 255).astype(np.uint8)
    r_e, o_e = run[expel], o[expel]
    p_give_up = rules.give_up_probability(batch.give_up_logit[r_e, t, o_e], batch.give_up_parole[r_e],
                                          state.tie[idx[expel]], parole_is_open(batch, t)[r_e, o_e],
                                          batch.parole_bar[r_e, t, o_e], state.savings[idx[expel]],
                                          batch.way_home_usd[r_e, t, o_e])
    give_up = expel[batch.draw(step, Purpose.GIVE_UP, idx[expel]) < p_give_up]
    state.enter(idx[give_up], Event.GAVE_UP, step)
    events.located_add("deported", idx[remove], np.full(remove.size, batch.world.node_ids.index("USA")))
    state.enter(idx[remove], Event.REMOVED, step, batch.reentry_bar[run[remove], t, o[remove]])
    state.enter(idx[release], Event.RELEASED, step)
    events.national_add("entries_irregular", idx[release])
