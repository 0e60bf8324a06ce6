"""The Mesa model: ``MigrationModel`` runs one replication of a scenario with Mesa agents.

It follows the vector engine's month exactly (see ``sim/engines/vector/loop.py``): the sets of people
at home, on the way and at the border are fixed at the start of the month; capacities
are shared out from start-of-month demand; then each set acts. Formulas come from
``sim.core.rules`` and draws from ``sim.core.random``, so with the same seed both engines give the
same outcome table, value for value.
"""
from __future__ import annotations

from collections.abc import Callable

import mesa
import numpy as np

from ...core import rules
from ...core.allocation import sampled_world
from ...core.calendar import format_month
from ...core.countries import TRANSIT_COUNTRIES
from ...core.inputs import RunInputs, compile_inputs
from ...core.random import replicate_seed, stream_key, uniform
from ...core.scenario import Scenario
from ...core.world import World, route_tables
from ..state import EXPECTED_METRICS, LOCATED_METRICS, NATIONAL_METRICS, Counts, Status, on_the_way
from .agents import Destination, Migrant, OriginCountry, TransitCountry

ENTRY_METRICS = ("entries_irregular", "entries_legal")


def _events_of(metric: str) -> Callable[[MigrationModel], np.ndarray]:
    """Model reporter of one metric: this month's counts by origin (and node)."""
    return lambda model: model.events[metric].copy()


class MigrationModel(mesa.Model):
    """One replication of a scenario, agent by agent.

    ``scenario``: a validated ``Scenario``; ``replicate``: which replication (its seed is
    ``replicate_seed(scenario.seed, replicate)``, as in the vector engine). ``world`` and
    ``inputs`` may be passed when already built. Call ``step()`` once per month (warm-up
    months first) or ``run()``; ``counts()`` gives the engine-neutral ``Counts``.
    """

    def __init__(self, scenario: Scenario, replicate: int = 0, world: World | None = None,
                 inputs: RunInputs | None = None):
        self.run_seed = replicate_seed(scenario.seed, replicate)
        super().__init__(rng=self.run_seed)
        self.config, self.replicate = scenario, replicate
        self.world = world if world is not None else sampled_world(scenario)
        self.inputs = inputs if inputs is not None else compile_inputs(scenario, self.world)
        self.route_tables = route_tables(self.world)
        self.months_total = len(self.inputs.calendar)     # warm-up + reported months
        self.month_step = 0
        self._keys: dict[int, int] = {}

        self.origins = [OriginCountry(self, o, iso3) for o, iso3 in enumerate(self.world.origins)]
        self.transit_countries_by_position = [TransitCountry(self, c, iso3) for c, iso3 in enumerate(TRANSIT_COUNTRIES)]
        self.destination = Destination(self)
        self._create_migrants()
        self.migrants = self.agents_by_type[Migrant]
        self.countries = self.agents_by_type[OriginCountry]
        self.transit_countries = self.agents_by_type[TransitCountry]

        self.datacollector = mesa.DataCollector(model_reporters={
            **{m: _events_of(m) for m in NATIONAL_METRICS + LOCATED_METRICS},
            "aid_spent_usd": lambda model: np.array(model.countries.get("aid_spent_usd")),
            "enforcement_spent_usd": lambda model: model.inputs.enforcement_spent[model.month_step].copy(),
        })
        self.events = self._empty_events()
        self.active: list[int] = []       # agents on the way or at the border at the start of each month

    # ------------------------------------------------------------- set-up
    def _create_migrants(self) -> None:
        """Everyone at home, in the vector engine's order; each draws its traits from the run's stream."""
        origin = self.world.agent_origin
        Migrant.create_agents(self, len(origin), person=np.arange(len(origin)),
                              country=[self.origins[o] for o in origin])

    def _empty_events(self) -> dict[str, np.ndarray]:
        n_origins, N = len(self.world.origins), len(self.world.node_ids)
        self.exposures = np.zeros((n_origins, len(self.route_tables.leg_risk)), np.int64)   # per origin and leg
        return {**{m: np.zeros(n_origins, np.int64) for m in NATIONAL_METRICS},
                **{m: np.zeros((n_origins, N), np.float64 if m in EXPECTED_METRICS else np.int64)
                   for m in LOCATED_METRICS}}

    # ------------------------------------------------------------- services for agents
    def draw(self, purpose: int, person: int) -> float:
        """Uniform draw of ``person`` for ``purpose`` this month (same stream as the vector engine)."""
        key = self._keys.get(purpose)
        if key is None:
            key = self._keys[purpose] = stream_key(self.run_seed, self.month_step, purpose)
        return float(uniform(key, np.uint64(person)))

    def expose(self, migrant: Migrant, leg: int) -> None:
        """The migrant travels exposure leg ``leg`` (an edge, or the border crossing) this month."""
        self.exposures[migrant.origin_position, leg] += 1

    def record(self, metric: str, migrant: Migrant, node: int | None = None) -> None:
        """Count one event of this month for the migrant's origin (and node)."""
        if node is None:
            self.events[metric][migrant.origin_position] += 1
        else:
            self.events[metric][migrant.origin_position, node] += 1
        if metric in ENTRY_METRICS:
            migrant.country.entered_this_month += 1

    # ------------------------------------------------------------- the month
    def step(self) -> None:
        """One month: home, transit and border phases from start-of-month sets, then the counts."""
        self.month_step = self.steps - 1
        self._keys = {}
        self.events = self._empty_events()
        self.countries.do("begin_month")

        at_home = self.migrants.select(lambda m: m.free_to_leave())
        travelling = self.migrants.select(lambda m: m.status == Status.TRANSIT)
        at_border = self.migrants.select(lambda m: m.status == Status.BORDER)
        self.active.append(len(travelling) + len(at_border))

        # home: decide, apply for parole, set out
        leaving = at_home.select(lambda m: m.decides_to_leave())
        applicants = leaving.select(lambda m: m.applies_for_parole())
        self.destination.open_parole(applicants)
        applicants.shuffle_do("await_parole")
        leaving.select(lambda m: m.status != Status.ENTERED_LEGAL).shuffle_do("set_out")

        # transit: plan, share containment capacity, travel
        travelling.do("plan_passages")
        self.transit_countries.do("set_interception_probability", travelling)
        travelling.shuffle_do("travel")

        # border: share appointments, try to cross
        self.destination.open_appointments(at_border)
        at_border.shuffle_do("try_to_cross")

        self.countries.do("welcome_entries")
        tables = self.route_tables
        self.events["deaths"] = rules.expected_deaths(self.exposures, tables.leg_risk, tables.leg_node,
                                                      len(self.world.node_ids))
        self.migrants.select(lambda m: on_the_way(m.status)).do("report_location")
        if self.month_step >= self.inputs.warmup:
            self.datacollector.collect(self)
        if self.steps >= self.months_total:
            self.running = False

    def run(self, progress: Callable[[int], object] | None = None) -> Counts:
        """Simulate every month (warm-up included) and return the counts."""
        while self.steps < self.months_total:
            self.step()
            if progress is not None:
                progress(1)
        return self.counts()

    # ------------------------------------------------------------- results
    def reported_months(self) -> list[str]:
        """``YYYY-MM`` of each reported month simulated so far."""
        done = max(0, self.steps - self.inputs.warmup)
        return [format_month(int(m)) for m in self.inputs.calendar[self.inputs.warmup:][:done]]

    def monthly_persons(self, metric: str) -> np.ndarray:
        """Persons per reported month so far for ``metric`` (all nationalities and locations)."""
        rows = self.datacollector.model_vars.get(metric, [])
        by_origin = [np.asarray(r).reshape(len(self.world.origins), -1).sum(axis=1) for r in rows]
        return np.array([rules.persons(r, self.world.persons_per_agent) for r in by_origin], dtype=np.float64)

    def persons_at_nodes(self) -> np.ndarray:
        """Persons on the way at each node now (waiting at the border counts at the border node)."""
        located = np.zeros((len(self.world.origins), len(self.world.node_ids)), np.int64)
        moving = self.migrants.select(lambda m: on_the_way(m.status))
        for (origin, node), count in moving.groupby(lambda m: (m.origin_position, m.location())).count().items():
            located[origin, node] = count
        return rules.persons(located.T, self.world.persons_per_agent)

    def counts(self) -> Counts:
        """Agent counts of the reported months in the engine-neutral layout (one run)."""
        data = self.datacollector.model_vars
        n_origins, N = len(self.world.origins), len(self.world.node_ids)

        def stacked(metric: str, shape: tuple) -> np.ndarray:
            rows = data.get(metric, [])
            return (np.stack(rows) if rows else np.zeros((0,) + shape))[None]

        return Counts({m: stacked(m, (n_origins,)) for m in NATIONAL_METRICS},
                      {m: stacked(m, (n_origins, N)) for m in LOCATED_METRICS},
                      stacked("aid_spent_usd", (n_origins,)),
                      stacked("enforcement_spent_usd", (len(self.inputs.enforcement_spent[0]),)),
                      np.array(self.active, dtype=np.int64)[None])
