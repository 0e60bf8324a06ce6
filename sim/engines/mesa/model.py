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
from ...core.inputs import RunInputs, compile_inputs
from ...core.random import replicate_seed, stream_key, uniform
from ...core.scenario import Scenario
from ...core.world import World, route_tables
from ..state import EXPECTED_METRICS, LOCATED_METRICS, NATIONAL_METRICS, Counts, Status, on_the_way
from .agents import Destination, Migrant, OriginCountry, TransitCountry

ENTRY_METRICS = ("entries_irregular", "entries_legal")


def _events_of(metric: str) -> Callable[[MigrationModel], np.ndarray]:
    """Model reporter of one metric: this month's counts by pool (and node)."""
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

        self.origins = [OriginCountry(self, p, name) for p, name in enumerate(self.world.pools)]    # one per pool
        self.diaspora = self.world.diaspora.copy()          # persons born in each origin living in the US
        self.recent = np.zeros_like(self.diaspora)          # their recent entries (persons; word of mouth)
        self.arrival_step = self.world.arrival_step()       # first month each person lives in their pool
        self.transit_countries_by_position = [TransitCountry(self, c, iso3)
                                              for c, iso3 in enumerate(self.world.transit_countries)]
        self.destination = Destination(self)
        self._create_migrants()
        self.migrants = self.agents_by_type[Migrant]
        self.countries = self.agents_by_type[OriginCountry]
        self.transit_countries = self.agents_by_type[TransitCountry]

        self.datacollector = mesa.DataCollector(model_reporters={
            **{m: _events_of(m) for m in NATIONAL_METRICS + LOCATED_METRICS},
            "aid_spent_usd": lambda model: model.inputs.aid_spent[model.month_step].copy(),
            "enforcement_spent_usd": lambda model: model.inputs.enforcement_spent[model.month_step].copy(),
        })
        self.events = self._empty_events()
        self.active: list[int] = []       # agents on the way or at the border at the start of each month

    # ------------------------------------------------------------- set-up
    def _create_migrants(self) -> None:
        """Everyone in their pool (abroad: from the month they arrive), in the vector engine's order; each
        draws its traits from the run's stream."""
        origin = self.world.agent_pool
        Migrant.create_agents(self, len(origin), person=np.arange(len(origin)),
                              country=[self.origins[o] for o in origin])

    def _empty_events(self) -> dict[str, np.ndarray]:
        n_pools, N = len(self.world.pools), len(self.world.node_ids)
        self.exposures = np.zeros((n_pools, len(self.route_tables.leg_risk)), np.int64)   # per pool and leg
        return {**{m: np.zeros(n_pools, np.int64) for m in NATIONAL_METRICS},
                **{m: np.zeros((n_pools, N), np.float64 if m in EXPECTED_METRICS else np.int64)
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
        self.exposures[migrant.pool_position, leg] += 1

    def record(self, metric: str, migrant: Migrant, node: int | None = None) -> None:
        """Count one event of this month for the migrant's pool (and node)."""
        if node is None:
            self.events[metric][migrant.pool_position] += 1
        else:
            self.events[metric][migrant.pool_position, node] += 1
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
        leaving.select(lambda m: m.sets_out()).shuffle_do("set_out")

        # transit: plan, share containment capacity, travel
        travelling.do("plan_passages")
        self.transit_countries.do("set_interception_probability", travelling)
        travelling.shuffle_do("travel")

        # border: the people waiting there and those who reached it this month share appointments, try to cross
        at_border = mesa.agent.AgentSet(list(at_border) + list(travelling.select(lambda m: m.status == Status.BORDER)),
                                        random=self.random)
        self.destination.open_appointments(at_border)
        at_border.shuffle_do("try_to_cross")

        self.welcome_entries()
        tables = self.route_tables
        self.events["deaths"] = rules.expected_deaths(self.exposures, tables.leg_risk, tables.leg_node,
                                                      len(self.world.node_ids))
        self.migrants.select(lambda m: on_the_way(m.status)).do("report_location")
        if self.month_step >= self.inputs.warmup:
            self.datacollector.collect(self)
        if self.steps >= self.months_total:
            self.running = False

    def welcome_entries(self) -> None:
        """End of month: people who entered the US join their nationality's diaspora."""
        entered = np.array([pool.entered_this_month for pool in self.origins], dtype=np.int64)
        persons = rules.entered_by_nationality(entered, self.world.persons_per_agent, self.world.pool_origin,
                                               len(self.diaspora))
        self.diaspora = rules.diaspora_after_entries(self.diaspora, persons)
        self.recent = rules.recent_after_entries(self.recent, persons, self.inputs.recent_half_life)

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
        by_origin = [np.asarray(r).reshape(len(self.world.pools), -1).sum(axis=1) for r in rows]
        return np.array([rules.persons(r, self.world.persons_per_agent) for r in by_origin], dtype=np.float64)

    def persons_at_nodes(self) -> np.ndarray:
        """Persons on the way at each node now (waiting at the border counts at the border node)."""
        located = np.zeros((len(self.world.pools), len(self.world.node_ids)), np.int64)
        moving = self.migrants.select(lambda m: on_the_way(m.status))
        for (origin, node), count in moving.groupby(lambda m: (m.pool_position, m.location())).count().items():
            located[origin, node] = count
        return rules.persons(located.T, self.world.persons_per_agent)

    def counts(self) -> Counts:
        """Agent counts of the reported months in the engine-neutral layout (one run)."""
        data = self.datacollector.model_vars
        n_pools, n_origins, N = len(self.world.pools), len(self.world.origins), len(self.world.node_ids)

        def stacked(metric: str, shape: tuple) -> np.ndarray:
            rows = data.get(metric, [])
            return (np.stack(rows) if rows else np.zeros((0,) + shape))[None]

        return Counts({m: stacked(m, (n_pools,)) for m in NATIONAL_METRICS},
                      {m: stacked(m, (n_pools, N)) for m in LOCATED_METRICS},
                      stacked("aid_spent_usd", (n_origins,)),
                      stacked("enforcement_spent_usd", (len(self.inputs.enforcement_spent[0]),)),
                      np.array(self.active, dtype=np.int64)[None])
