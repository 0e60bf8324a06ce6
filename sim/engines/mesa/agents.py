"""Mesa agents of the migration model: migrants and the countries they deal with.

Each agent applies the formulas of ``sim.core.rules`` to its own values, draws its random
numbers from ``sim.core.random`` keyed by (run seed, month, purpose, person) and changes
status through the transitions of ``sim.engines.state``, exactly as the vector engine
does for whole arrays; so both engines give the same numbers.

- ``Migrant``: a person (or the persons one agent stands for) who may leave, travel and cross.
- ``OriginCountry``: a pool of people (a nationality in its own country or abroad): drivers and
  aid of a month; the diaspora in the US is the model's, by nationality.
- ``TransitCountry``: containment: the chance of interception given its capacity.
- ``Destination``: the US: appointments, parole, apprehension and what follows.
"""
from __future__ import annotations

import mesa
import numpy as np

from ...core import rules
from ...core.random import Purpose
from ..state import TRANSITIONS, Event, Status, barred_until, free_to_leave


class OriginCountry(mesa.Agent):
    """A pool of people who may leave: one nationality living in one country (its own, or a host).

    ``position`` is the pool's position in ``World.pools``, ``iso3`` its name; ``nationality``
    the position of its nationality (the diaspora in the US is the model's, by nationality).
    """

    def __init__(self, model: mesa.Model, position: int, iso3: str):
        super().__init__(model)
        world = model.world
        self.position, self.iso3 = position, iso3
        self.nationality = int(world.pool_origin[position])
        self.home_population = world.home_population[self.nationality]    # persons living in the origin
        self.persons_per_agent = world.persons_per_agent[position]
        self.gdp_per_capita = world.gdp_per_capita[position]      # USD per person per year
        self.tie_probability = rules.tie_probability(world.diaspora, world.home_population,
                                                     model.inputs.tie_scale)[self.nationality]
        self.entered_this_month = 0                               # agents

    def begin_month(self) -> None:
        """Read this month's drivers, aid and policies; compute what every person of the pool shares."""
        inputs, t, o = self.model.inputs, self.model.month_step, self.position
        self.shared_logit = (inputs.origin_logit[t, o]
                             + rules.network_logit(inputs.b_network, self.model.diaspora[self.nationality],
                                                   self.home_population)
                             + rules.recent_entries_logit(inputs.b_recent, self.model.recent[self.nationality],
                                                          inputs.recent_half_life, self.home_population))
        self.journey_risk = inputs.journey_risk[t, o]
        self.savings_multiplier = inputs.savings_multiplier[t, o]
        self.threshold_usd = rules.affordability_threshold(inputs.cheapest_route_usd[t, o], self.savings_multiplier)
        self.parole_pool = int(inputs.parole_pool[t, o])
        self.parole_open = self.parole_pool >= 0 and inputs.parole_places[t, self.parole_pool] > 0
        self.entered_this_month = 0


class TransitCountry(mesa.Agent):
    """A transit country applying containment: checkpoints with a capacity (persons per month)."""

    def __init__(self, model: mesa.Model, position: int, iso3: str):
        super().__init__(model)
        self.position, self.iso3 = position, iso3
        self.interception_probability = 0.0

    def set_interception_probability(self, travellers: mesa.agent.AgentSet) -> None:
        """Share this month's capacity among the passages planned through the country (start of month)."""
        inputs, t, n_pools = self.model.inputs, self.model.month_step, len(self.model.origins)
        passages = np.zeros((n_pools, len(self.model.world.node_ids)))
        for m in travellers:
            for p in m.passages:
                if p.country == self.position:
                    passages[m.pool_position, p.node] += 1
        demand = rules.weighted_passages(passages, inputs.node_share[t])
        self.interception_probability = rules.capacity_share(
            inputs.containment_probability[t, self.position], inputs.containment_capacity[t, self.position],
            rules.persons(demand, self.model.world.persons_per_agent))

    def outcome_for(self, u: float) -> int:
        """What happens to an intercepted person: 0 deported, 1 held, 2 pushed back."""
        inputs = self.model.inputs
        return int(rules.pick_outcome(inputs.containment_outcome[self.model.month_step, self.position], u))


class Destination(mesa.Agent):
    """The United States: legal pathways (parole, appointments) and enforcement at the border."""

    def __init__(self, model):
        super().__init__(model)
        self.parole_share = np.zeros(0)
        self.appointment_share = 0.0

    def open_parole(self, applicants: mesa.agent.AgentSet) -> None:
        """Share each parole pool's places among this month's applicants (persons)."""
        inputs, t = self.model.inputs, self.model.month_step
        demand = np.zeros((inputs.parole_places.shape[1], len(self.model.origins)))
        by_pool = applicants.groupby(lambda m: (m.country.parole_pool, m.pool_position)).count()
        for (pool, origin), count in by_pool.items():
            demand[pool, origin] = count
        self.parole_share = rules.capacity_share(1.0, inputs.parole_places[t],
                                                 rules.persons(demand, self.model.world.persons_per_agent))

    def open_appointments(self, waiting: mesa.agent.AgentSet) -> None:
        """Share this month's appointment places among eligible people waiting at the border."""
        inputs, t = self.model.inputs, self.model.month_step
        demand = np.zeros(len(self.model.origins))
        eligible = waiting.select(lambda m: m.eligible_for_appointment())
        for origin, count in eligible.groupby("pool_position").count().items():
            demand[origin] = count
        self.appointment_share = rules.capacity_share(1.0, inputs.appointment_places[t],
                                                      rules.persons(demand, self.model.world.persons_per_agent))


class Passage:
    """One route position a traveller would reach this month, and who polices it (-1: nobody)."""

    __slots__ = ("slot", "position", "node", "country")

    def __init__(self, slot: int, position: int, node: int, country: int):
        self.slot, self.position, self.node, self.country = slot, position, node, country


class Migrant(mesa.Agent):
    """A person who may leave home, travel a route north and try to enter the US.

    ``person`` is the agent's number within its run (the key of its random draws);
    ``savings`` are float32 USD, as in the vector engine.
    """

    def __init__(self, model: mesa.Model, person: int, country: OriginCountry):
        super().__init__(model)
        self.person, self.country, self.pool_position = person, country, country.position
        # traits drawn from the run's stream at month 0: savings (USD), risk tolerance level, a tie in the US
        inputs = model.inputs
        self.savings = np.float32(rules.initial_savings(country.gdp_per_capita, inputs.savings_to_income,
                                                        inputs.savings_sigma, self.draw(Purpose.SAVINGS)))
        self.risk_level = int(rules.risk_tolerance_level(self.draw(Purpose.RISK_TOLERANCE)))
        self.tie = int(self.draw(Purpose.TIE) < country.tie_probability)
        self.status, self.since, self.blocked_until = Status.HOME, 0, int(model.arrival_step[person])
        self.route: int | None = None
        self.leg, self.attempts = 0, 0
        self.passages: list[Passage] = []
        self.waits_for_parole = False         # this month: not granted parole, and an irregular crossing would bar it
        self.target = 0                       # route position this month's travel reaches

    # ------------------------------------------------------------- helpers
    def draw(self, purpose: int) -> float:
        """This agent's uniform draw for ``purpose`` this month."""
        return self.model.draw(purpose, self.person)

    def enter(self, event: Event, bar_months: int = 0) -> None:
        """Change status after ``event`` this month (``sim.engines.state.TRANSITIONS``); a journey that ends
        gives up the route and bars leaving again until next month plus ``bar_months``."""
        transition = TRANSITIONS[event]
        self.status, self.since = transition.status, self.model.month_step
        if transition.ends_journey:
            self.route, self.blocked_until = None, int(barred_until(self.model.month_step, bar_months))

    def location(self) -> int:
        """Node position where the person is (the border while waiting there)."""
        world = self.model.world
        return world.border if self.status == Status.BORDER else int(world.route_nodes[self.route, self.leg])

    def report_location(self) -> None:
        """Count the person among those on the way, at the node where they are."""
        self.model.record("in_transit", self, self.location())

    # ------------------------------------------------------------- at home
    def free_to_leave(self) -> bool:
        """At home or returned, and neither barred nor (abroad) yet to arrive."""
        return bool(free_to_leave(self.status, self.blocked_until, self.model.month_step))

    def decides_to_leave(self) -> bool:
        """Desire (leave probability) and capability (savings cover the cheapest open route)."""
        c, inputs = self.country, self.model.inputs
        if not rules.can_afford(self.savings, c.threshold_usd):
            return False
        p = rules.leave_probability(c.shared_logit, inputs.b_tie, inputs.b_legal, inputs.b_risk, self.tie,
                                    float(c.parole_open), self.risk_level, c.journey_risk)
        return bool(self.draw(Purpose.LEAVE) < p)

    def applies_for_parole(self) -> bool:
        """People with a sponsor whose nationality has parole places apply instead of travelling."""
        return self.tie == 1 and self.country.parole_open

    def await_parole(self) -> None:
        """Parole granted (with the pool's share of places): enter legally; else travel irregularly,
        unless an irregular crossing would bar them from parole: then wait where they live."""
        share = self.model.destination.parole_share[self.country.parole_pool]
        if self.draw(Purpose.PAROLE) < share:
            self.enter(Event.PAROLE_GRANTED)
            self.model.record("entries_legal", self)
        elif self.model.inputs.parole_bar[self.model.month_step, self.pool_position]:
            self.waits_for_parole = True

    def sets_out(self) -> bool:
        """Whether a person who decided to leave travels this month (not after parole, nor waiting for it)."""
        waiting, self.waits_for_parole = self.waits_for_parole, False
        return self.status != Status.ENTERED_LEGAL and not waiting

    def set_out(self) -> None:
        """Choose a route among the open, affordable ones (logit), pay for it and start travelling."""
        model, inputs, t, o = self.model, self.model.inputs, self.model.month_step, self.pool_position
        routes = model.world.pool_routes[o]
        r = np.maximum(routes, 0)
        available = (routes >= 0) & inputs.route_open[t, r] & rules.can_afford(
            self.savings, rules.affordability_threshold(inputs.route_cost[r], inputs.savings_multiplier[t, o]))
        utility = rules.route_utility(inputs.route_b_cost, inputs.route_b_risk, inputs.route_b_containment,
                                      inputs.route_cost[r], inputs.route_risk[r], inputs.route_interception[t, r],
                                      self.risk_level, inputs.route_b_months, inputs.route_months[r])
        pick = int(rules.choose(utility, available, self.draw(Purpose.ROUTE)))
        if pick < 0:
            return
        self.route, self.leg = int(routes[pick]), 0
        self.savings = rules.savings_after_journey(self.savings, inputs.route_cost[self.route])
        self.enter(Event.SET_OUT)

    # ------------------------------------------------------------- on the way
    def plan_passages(self) -> None:
        """The route positions this month's travel would reach (start of month), with who polices them."""
        world, tables = self.model.world, self.model.route_tables
        target = self.target = int(world.next_leg[self.route, self.leg])
        self.passages = []
        for slot, position in enumerate(range(self.leg + 1, target + 1), start=1):
            node = int(world.route_nodes[self.route, position])
            country = int(tables.node_transit[node])
            if country == tables.origin_transit[self.pool_position]:
                country = -1
            self.passages.append(Passage(slot, position, node, country))

    def travel(self) -> None:
        """Travel one month: risk death on each leg, meet containment at each policed node."""
        model, tables = self.model, self.model.route_tables
        for p in self.passages:
            model.expose(self, int(tables.leg_edge[self.route, p.position]))    # every leg adds its death risk
            if self.draw(Purpose.DEATH + p.slot) < tables.edge_risk[self.route, p.position]:
                self.enter(Event.DIED)
                return
            model.record("transits", self, p.node)
            if p.country < 0:
                continue
            country = model.transit_countries_by_position[p.country]
            share = model.inputs.node_share[model.month_step, p.node]
            if self.draw(Purpose.INTERCEPT + p.slot) < country.interception_probability * share:
                self.intercepted(country, p)
                return
        self.leg = self.target
        if int(model.world.route_nodes[self.route, self.leg]) == model.world.border:
            self.enter(Event.REACHED_BORDER)

    def intercepted(self, country: TransitCountry, passage: Passage) -> None:
        """Deported home, held where caught, or pushed back to where the route entered the country."""
        model = self.model
        model.record("intercepted", self, passage.node)
        outcome = country.outcome_for(self.draw(Purpose.INTERCEPT_OUTCOME))
        if outcome == 0:
            model.record("deported", self, passage.node)
            self.enter(Event.DEPORTED)
        elif outcome == 1:
            self.leg = passage.position
        else:
            self.leg = int(model.route_tables.entry_leg[self.route, country.position])

    # ------------------------------------------------------------- at the border
    def eligible_for_appointment(self) -> bool:
        return bool(self.model.inputs.appointment_eligible[self.model.month_step, self.pool_position])

    def try_to_cross(self) -> None:
        """Appointment if one is given; otherwise perhaps attempt an irregular crossing."""
        model, inputs, t, o = self.model, self.model.inputs, self.model.month_step, self.pool_position
        if self.eligible_for_appointment() and self.draw(Purpose.APPOINTMENT) < model.destination.appointment_share:
            self.enter(Event.APPOINTMENT)
            model.record("encounters", self)
            model.record("entries_legal", self)
            return
        if not self.draw(Purpose.ATTEMPT) < inputs.attempt_probability:
            return
        model.expose(self, len(model.route_tables.leg_risk) - 1)     # the crossing: the last exposure leg
        if self.draw(Purpose.BORDER_DEATH) < model.world.border_death_risk:
            self.enter(Event.DIED)
        elif self.draw(Purpose.APPREHEND) < inputs.apprehension[t, o]:
            model.record("encounters", self)
            self.apprehended()
        else:
            self.enter(Event.EVADED)
            model.record("entries_irregular", self)

    def gives_up(self) -> float:
        """Chance of going home after an expulsion to Mexico: what the person faces (``rules.give_up_probability``)."""
        inputs, t, o = self.model.inputs, self.model.month_step, self.pool_position
        return float(rules.give_up_probability(inputs.give_up_logit[t, o], inputs.give_up_parole, self.tie,
                                               self.country.parole_open, inputs.parole_bar[t, o], self.savings,
                                               inputs.way_home_usd[t, o]))

    def apprehended(self) -> None:
        """Expelled to Mexico (may give up), removed to the origin (barred from re-entry) or released."""
        model, inputs, t, o = self.model, self.model.inputs, self.model.month_step, self.pool_position
        outcome = int(rules.pick_outcome(inputs.border_outcome[t, o], self.draw(Purpose.BORDER_OUTCOME)))
        if outcome == 0:
            model.record("expelled", self)
            self.attempts = min(self.attempts + 1, 255)
            if self.draw(Purpose.GIVE_UP) < self.gives_up():
                self.enter(Event.GAVE_UP)
        elif outcome == 1:
            model.record("deported", self, model.world.node_ids.index("USA"))
            self.enter(Event.REMOVED, int(inputs.reentry_bar[t, o]))
        else:
            self.enter(Event.RELEASED)
            model.record("entries_irregular", self)

