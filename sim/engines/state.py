"""What both engines share: status codes, the status transitions, agent state, metric names and counts.

A person's status changes only through an ``Event``; ``TRANSITIONS`` says which status
follows each event and whether the journey ends there (the route is given up and the
person may not leave home again before ``barred_until``). The vector engine applies a
transition to many agents at once (``AgentState.enter``), a Mesa ``Migrant`` to itself
(``Migrant.enter``); both read the same table, so the state machine is written once.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any

import numpy as np

NATIONAL_METRICS = ("encounters", "entries_irregular", "entries_legal", "expelled")
"""Metrics counted by nationality (agents per run, month and pool; pools add up to nationalities)."""
LOCATED_METRICS = ("intercepted", "deported", "deaths", "in_transit", "transits")
"""Metrics counted by nationality and node (agents per run, month, pool and node)."""
EXPECTED_METRICS = ("deaths",)
"""Located metrics counted as expectations (float agents): each exposure adds its probability."""
NO_ROUTE = 255
"""Route position of a person who has none (at home, returned, arrived)."""
LAST_MONTH_STEP = 32767
"""Largest month step a bar can reach (``blocked_until`` is an int16)."""
STATE_BYTES_PER_AGENT = 15
"""Bytes of ``AgentState`` per row (see its fields): per agent in the per-agent engine, per person who has
left home in the grouped engine."""


class Status(IntEnum):
    """Where a person stands in the migration process."""

    HOME = 0
    TRANSIT = 1
    BORDER = 2
    ENTERED_IRREGULAR = 3
    ENTERED_LEGAL = 4
    RETURNED = 5
    DEAD = 6


class Event(IntEnum):
    """What happens to a person in a month and changes their status."""

    SET_OUT = 0            # left home on a route
    PAROLE_GRANTED = 1     # flew in on parole
    DIED = 2               # on a leg of the route or crossing the border
    DEPORTED = 3           # intercepted in transit and sent home
    REACHED_BORDER = 4     # arrived at the US border
    APPOINTMENT = 5        # admitted at a port of entry
    EVADED = 6             # crossed without being apprehended
    RELEASED = 7           # apprehended and released into the US
    GAVE_UP = 8            # expelled to Mexico and went home
    REMOVED = 9            # apprehended and removed to the origin, with a re-entry bar


@dataclass(frozen=True)
class Transition:
    """The status an event leads to; ``ends_journey``: the route is given up and leaving again is barred."""

    status: Status
    ends_journey: bool = False


TRANSITIONS: dict[Event, Transition] = {
    Event.SET_OUT: Transition(Status.TRANSIT),
    Event.PAROLE_GRANTED: Transition(Status.ENTERED_LEGAL),
    Event.DIED: Transition(Status.DEAD),
    Event.DEPORTED: Transition(Status.RETURNED, ends_journey=True),
    Event.REACHED_BORDER: Transition(Status.BORDER),
    Event.APPOINTMENT: Transition(Status.ENTERED_LEGAL),
    Event.EVADED: Transition(Status.ENTERED_IRREGULAR),
    Event.RELEASED: Transition(Status.ENTERED_IRREGULAR),
    Event.GAVE_UP: Transition(Status.RETURNED, ends_journey=True),
    Event.REMOVED: Transition(Status.RETURNED, ends_journey=True),
}


def barred_until(step: Any, bar_months: Any = 0) -> Any:
    """First month step a person who came back in month ``step`` may leave again: the next month, plus a
    re-entry bar of ``bar_months`` months (capped at ``LAST_MONTH_STEP``). Broadcasts."""
    return np.minimum(step + 1 + bar_months, LAST_MONTH_STEP)


def free_to_leave(status: Any, blocked_until: Any, step: int) -> Any:
    """At home or returned, and neither barred nor (abroad) yet to arrive, at month step ``step``
    (arrays or one person's values)."""
    return ((status == Status.HOME) | (status == Status.RETURNED)) & (blocked_until <= step)


def on_the_way(status: Any) -> Any:
    """Travelling or waiting at the US border (arrays or one person's value)."""
    return (status == Status.TRANSIT) | (status == Status.BORDER)


@dataclass
class AgentState:
    """Structure of arrays, one row per agent (15 bytes a row).

    The per-agent engine holds a row for every agent of a batch (length runs x agents); the
    grouped engine only for the people who have left home at least once (``vector/pools.py``).
    """

    pool: np.ndarray            # uint8 pool position (nationality and country of residence)
    status: np.ndarray          # uint8 Status
    route: np.ndarray           # uint8 route position (255 = none)
    leg: np.ndarray             # uint8 position on the route
    savings: np.ndarray         # float32 USD
    risk_level: np.ndarray      # uint8 0..7
    tie: np.ndarray             # uint8 0/1: a relative or friend in the US
    attempts: np.ndarray        # uint8 crossing attempts ended in expulsion
    since: np.ndarray           # int16 month step the current status began
    blocked_until: np.ndarray   # int16 month step before which the person cannot leave (abroad: arrives)

    def months_in_state(self, step: int) -> np.ndarray:
        """Months each agent has spent in its current status at month step ``step``."""
        return step - self.since.astype(np.int64)

    def enter(self, idx: np.ndarray, event: Event, step: int, bar_months: Any = 0) -> None:
        """Apply the transition of ``event`` in month step ``step`` to the agents at positions ``idx``.

        ``bar_months``: re-entry bar (months, scalar or one per agent) of a journey that ends here.
        """
        transition = TRANSITIONS[event]
        self.status[idx] = transition.status
        self.since[idx] = step
        if transition.ends_journey:
            self.route[idx] = NO_ROUTE
            self.blocked_until[idx] = barred_until(step, bar_months)


@dataclass
class Counts:
    """Agent counts of every metric, by run, reported month, pool (and node); both engines return them."""

    national: dict[str, np.ndarray]     # (B, T, P) int64
    located: dict[str, np.ndarray]      # (B, T, P, nodes) int64; float64 expected agents for EXPECTED_METRICS
    aid_spent: np.ndarray               # (B, T, O) USD, by nationality
    enforcement_spent: np.ndarray       # (B, T, K) USD
    active: np.ndarray                  # (B, months simulated) agents on the way or at the border at the start
    #                                     of each month, warm-up included: the agent-months that travel or wait
