"""Compile a scenario into the monthly input arrays one run needs.

Everything here is known before the first agent moves: drivers by month and pool (with
shocks and the effect of aid, ``sim.core.drivers``), the state of every policy by month,
which routes are open, the route features people weigh, and how fast they learn the
chance of getting in. The engines read these arrays; nothing here depends on agents.
Month axis: ``warmup_months`` months under the start month's conditions, then the
reported months. Pool axis: ``World.pools``; a nationality's policies (visas, US
enforcement, parole) apply to every pool of that nationality.
"""
from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from . import rules
from .calendar import parse_month
from .drivers import DRIVERS, pool_drivers
from .parameters import DEFAULT_INTERCEPT
from .policies import Policy
from .scenario import Scenario
from .world import World, build_world, simulated_months

__all__ = ["DRIVERS", "RunInputs", "compile_inputs", "spending_locations"]
# Without any enforcement block: the pre-2020 Title 8 regime (documented in docs/model.md).
DEFAULT_APPREHENSION = 0.75
DEFAULT_BORDER_OUTCOME = (0.0, 0.3, 0.7)     # expel to Mexico, remove to origin, release
DEFAULT_REENTRY_BAR = 60
BY_NATIONALITY = ("apprehension", "border_outcome", "reentry_bar", "parole_bar", "parole_pool",
                  "appointment_eligible")
"""Policy settings held by nationality in ``_policy_state``, spread to every pool of the nationality."""


def spending_locations(world: World) -> tuple[str, ...]:
    """Where enforcement spending is reported: ``USA``, then the transit countries."""
    return ("USA", *world.transit_countries)


@dataclass
class RunInputs:
    """Monthly inputs of one run (T = warmup + reported months, P pools, O nationalities, C countries, R routes)."""

    calendar: np.ndarray              # (T,) month number of each simulated month
    warmup: int
    drivers: np.ndarray               # (T, P, 5) inflation %, homicides /100k, repression 0-100, unrest, disaster
    origin_logit: np.ndarray          # (T, P) shared leave log-odds without the network term
    journey_risk: np.ndarray          # (T, P) expected death risk of the journey
    journey_months: np.ndarray        # (T, P) expected months of the journey to the border
    success: np.ndarray               # (T, P) perceived chance of getting in (after learning)
    cheapest_route_usd: np.ndarray    # (T, P) USD, inf when no route is open
    savings_multiplier: np.ndarray    # (T, P) factor from aid
    route_open: np.ndarray            # (T, R) bool
    route_cost: np.ndarray            # (R,) USD
    route_risk: np.ndarray            # (R,) probability of death along the route
    route_months: np.ndarray          # (R,) months of travel along the route
    route_interception: np.ndarray    # (T, R) nominal chance of interception along the route
    containment_probability: np.ndarray  # (T, C) per passage
    containment_capacity: np.ndarray  # (T, C) persons per month
    containment_outcome: np.ndarray   # (T, C, 3) deport, hold, pushback
    node_share: np.ndarray            # (T, N) share of its country's interception probability at each node
    apprehension: np.ndarray          # (T, P)
    border_outcome: np.ndarray        # (T, P, 3) expel, remove, release
    reentry_bar: np.ndarray           # (T, P) months
    parole_bar: np.ndarray            # (T, P) bool: crossing irregularly bars from parole
    give_up_logit: np.ndarray         # (T, P) log-odds of going home after an expulsion, before the parole term
    way_home_usd: np.ndarray          # (T, P) USD a person expelled to Mexico needs to go home
    parole_pool: np.ndarray           # (T, P) parole pool index, -1 = no parole
    parole_places: np.ndarray         # (T, K) persons per month
    appointment_places: np.ndarray    # (T,) persons per month
    appointment_eligible: np.ndarray  # (T, P) bool
    aid_spent: np.ndarray             # (T, O) USD per month, by nationality
    enforcement_spent: np.ndarray     # (T, S) USD per month by spending_locations(world)
    # per-run behavioural scalars
    b_network: float
    b_recent: float
    recent_half_life: float
    b_tie: float
    b_legal: float
    b_risk: float
    route_b_cost: float
    route_b_risk: float
    route_b_containment: float
    route_b_months: float
    attempt_probability: float
    give_up_parole: float
    savings_to_income: float
    savings_sigma: float
    tie_scale: float

    def stack_fields(self) -> list[str]:
        """Names of the array fields (stacked along a run axis for batches)."""
        return [f.name for f in fields(self) if isinstance(getattr(self, f.name), np.ndarray)]


def compile_inputs(scenario: Scenario, world: World | None = None) -> RunInputs:
    """Turn a validated scenario into the ``RunInputs`` of its runs."""
    world = world or build_world(scenario)
    calendar = simulated_months(scenario)
    behaviour = scenario.behaviour
    policies = _ordered_policies(scenario)
    nat = world.pool_origin.astype(np.intp)                     # nationality of each pool

    aid_budget = _aid_budget(policies, world.origins)
    aid = behaviour.aid
    aid_per_person = np.array([rules.aid_per_person_year(aid_budget, m, aid.lag_months, world.home_population)
                               for m in calendar])[:, nat] * world.pool_home[None, :]   # USD/person/year
    drivers = pool_drivers(scenario, world, calendar)
    for d, elasticity in enumerate((aid.inflation_elasticity, aid.violence_elasticity, aid.repression_elasticity)):
        drivers[:, :, d] *= rules.aid_driver_multiplier(aid_per_person, aid.half_saturation_usd_per_person, elasticity)
    savings_multiplier = rules.aid_savings_multiplier(aid_per_person, world.gdp_per_capita[None, :],
                                                      aid.income_elasticity)

    state = {k: (v[:, nat] if k in BY_NATIONALITY else v) for k, v in _policy_state(policies, world, calendar).items()}
    transit_behaviour = behaviour.transit
    state["containment_probability"] = np.minimum(
        1.0, state["containment_probability"] * transit_behaviour.interception_scale)
    state["node_share"] = state["node_share"] * np.array(
        [transit_behaviour.node_shares.get(n, 1.0) for n in world.node_ids])[None, :]
    route_open = _route_open(policies, world, calendar)
    transit = world.transit_countries
    node_country = np.array([transit.index(c) if c in transit else -1 for c in world.node_country])
    route_cost = np.array([sum(world.edges[e].cost_usd for e in legs) for legs in world.route_edges])
    route_risk = np.array([rules.combined_probability([world.edges[e].death_risk for e in legs]
                                                      + [world.border_death_risk]) for legs in world.route_edges])
    route_months = np.array([sum(world.edges[e].travel_months for e in legs) for legs in world.route_edges])
    route_interception = np.zeros((len(calendar), len(route_cost)))
    for r in range(len(route_cost)):
        nodes = world.route_nodes[r, 1: world.route_length[r]]
        countries = node_country[nodes]
        nationality = world.origins[world.pool_origin[world.route_pool[r]]]
        own = transit.index(nationality) if nationality in transit else -2
        policed = (countries >= 0) & (countries != own)
        route_interception[:, r] = rules.combined_probability(
            state["containment_probability"][:, countries[policed]] * state["node_share"][:, nodes[policed]])

    rc = behaviour.route_choice
    entry = rules.entry_probability(state["apprehension"], state["border_outcome"][:, :, 2])   # (T, P)
    n_pools = len(world.pools)
    journey_risk = np.zeros((len(calendar), n_pools))
    nominal_success = np.zeros_like(journey_risk)
    journey_months = np.zeros_like(journey_risk)
    cheapest = np.full_like(journey_risk, np.inf)
    for k in range(n_pools):
        routes = world.pool_routes[k][world.pool_routes[k] >= 0]
        shares = rules.perceived_route_shares(rc.cost, rc.risk, rc.containment, rc.months, route_cost[None, routes],
                                              route_risk[None, routes], route_interception[:, routes],
                                              route_months[None, routes], route_open[:, routes])     # (T, routes)
        journey_risk[:, k] = rules.expected_over_routes(shares, route_risk[routes])
        journey_months[:, k] = rules.expected_over_routes(shares, route_months[routes])
        nominal_success[:, k] = rules.success_probability(shares, route_interception[:, routes], entry[:, k])
        cheapest[:, k] = np.where(route_open[:, routes], route_cost[routes], np.inf).min(axis=1)
    h, border = behaviour.hazard, behaviour.border
    success = rules.learned(nominal_success, h.learning_half_life_months)
    intercepts = np.array([h.intercept.get(o, DEFAULT_INTERCEPT) for o in world.origins])[nat] \
        + h.abroad * ~world.pool_home
    origin_logit = rules.origin_logit(intercepts[None, :], h.inflation, h.violence, h.repression, h.success,
                                      drivers[:, :, 0], drivers[:, :, 1], drivers[:, :, 2], success,
                                      h.journey_months, journey_months, h.unrest, drivers[:, :, 3],
                                      h.disaster, drivers[:, :, 4])
    give_up_logit = rules.give_up_logit(border.give_up_intercept, border.give_up_success, entry)
    aid_spent = np.array([aid_budget(m) for m in calendar])
    p = behaviour.population
    return RunInputs(
        calendar=calendar, warmup=scenario.warmup_months, drivers=drivers, origin_logit=origin_logit,
        journey_risk=journey_risk, journey_months=journey_months, success=success, cheapest_route_usd=cheapest,
        savings_multiplier=savings_multiplier, route_open=route_open, route_cost=route_cost, route_risk=route_risk,
        route_months=route_months, route_interception=route_interception, aid_spent=aid_spent, **state,
        give_up_logit=give_up_logit, way_home_usd=border.way_home_cost_share * cheapest,
        b_network=h.network, b_recent=h.recent, recent_half_life=h.recent_half_life_months,
        b_tie=h.tie, b_legal=h.legal_pathway, b_risk=h.risk,
        route_b_cost=rc.cost, route_b_risk=rc.risk, route_b_containment=rc.containment, route_b_months=rc.months,
        attempt_probability=border.attempt_probability, give_up_parole=border.give_up_parole,
        savings_to_income=p.savings_to_income, savings_sigma=p.savings_sigma, tie_scale=p.tie_scale)


def _ordered_policies(scenario: Scenario) -> list[Policy]:
    """Policy blocks in the order they take precedence: a block written later wins.

    In a scenario that ``extends`` another, the parent's blocks come first (in their
    order) and the child's new blocks after them.
    """
    return list(scenario.policies.values())


def _active(block: Policy, month: int) -> bool:
    return parse_month(block.start) <= month and (block.end is None or month < parse_month(block.end))


def _aid_budget(policies, origins):
    """Function month number -> USD per month of aid for each origin."""
    aid_blocks = [b for b in policies if b.kind == "aid"]

    def budget(month: int) -> np.ndarray:
        out = np.zeros(len(origins))
        for b in aid_blocks:
            if _active(b, month):
                for code in b.origins:
                    if code in origins:
                        out[origins.index(code)] += b.budget_usd_per_year / 12.0
        return out
    return budget


def _policy_state(policies: list[Policy], world: World, calendar: np.ndarray) -> dict[str, np.ndarray]:
    """Containment, enforcement and legal pathway settings by month (nationality settings by nationality)."""
    T, n_origins, C = len(calendar), len(world.origins), len(world.transit_countries)
    origins = world.origins
    spending = spending_locations(world)
    s = dict(
        containment_probability=np.zeros((T, C)), containment_capacity=np.zeros((T, C)),
        containment_outcome=np.tile(np.array([1.0, 0.0, 0.0]), (T, C, 1)),
        node_share=np.ones((T, len(world.node_ids))),
        apprehension=np.full((T, n_origins), DEFAULT_APPREHENSION),
        border_outcome=np.tile(np.array(DEFAULT_BORDER_OUTCOME), (T, n_origins, 1)),
        reentry_bar=np.full((T, n_origins), DEFAULT_REENTRY_BAR, dtype=np.int64),
        parole_bar=np.zeros((T, n_origins), dtype=bool),
        parole_pool=np.full((T, n_origins), -1, dtype=np.int64),
        appointment_places=np.zeros(T), appointment_eligible=np.zeros((T, n_origins), dtype=bool),
        enforcement_spent=np.zeros((T, len(spending))))
    parole_blocks = [b for b in policies if b.kind == "legal_pathway" and b.pathway == "parole"]
    s["parole_places"] = np.zeros((T, max(len(parole_blocks), 1)))
    for t, month in enumerate(calendar):
        for b in policies:
            if not _active(b, month):
                continue
            nationalities = getattr(b, "nationalities", None)
            covered = [i for i, o in enumerate(origins) if nationalities is None or o in nationalities]
            if b.kind == "containment":
                c = world.transit_countries.index(b.country)
                s["containment_probability"][t, c] = b.interception_probability
                s["containment_capacity"][t, c] = b.capacity_per_month
                s["containment_outcome"][t, c] = (b.outcome.deport, b.outcome.hold, b.outcome.pushback)
                of_country = [k for k, x in enumerate(world.node_country) if x == b.country]
                s["node_share"][t, of_country] = [b.node_shares.get(world.node_ids[k], 1.0) for k in of_country]
                s["enforcement_spent"][t, spending.index(b.country)] += b.budget_usd_per_year / 12
            elif b.kind == "enforcement":
                s["apprehension"][t, covered] = b.apprehension_probability
                s["border_outcome"][t, covered] = (b.outcome.expel_to_mexico, b.outcome.remove_to_origin,
                                                   b.outcome.release)
                s["reentry_bar"][t, covered] = b.reentry_bar_months
                s["parole_bar"][t, covered] = b.parole_bar
                s["enforcement_spent"][t, 0] += b.budget_usd_per_year / 12
            elif b.kind == "legal_pathway":
                s["enforcement_spent"][t, 0] += b.budget_usd_per_year / 12
                if b.pathway == "parole":
                    pool = parole_blocks.index(b)
                    s["parole_pool"][t, covered] = pool
                    s["parole_places"][t, pool] = b.places_per_month
                else:
                    s["appointment_places"][t] += b.places_per_month
                    s["appointment_eligible"][t, covered] = True
    return s


def _route_open(policies: list[Policy], world: World, calendar: np.ndarray) -> np.ndarray:
    """Which routes can be travelled each month: visa rules on air links (by the nationality of the
    route's pool) and closures of edges."""
    T = len(calendar)
    edge_open = np.ones((T, len(world.edges), len(world.origins)), dtype=bool)
    for e, edge in enumerate(world.edges):
        if edge.visa_free is not None:
            edge_open[:, e, :] = [o in edge.visa_free for o in world.origins]
    country_of = dict(zip(world.node_ids, world.node_country))
    for t, month in enumerate(calendar):
        for b in policies:
            if not _active(b, month):
                continue
            if b.kind == "visa":
                for e, edge in enumerate(world.edges):
                    if edge.visa_free is not None and country_of[edge.target] == b.country:
                        for i, o in enumerate(world.origins):
                            if o in b.nationalities:
                                edge_open[t, e, i] = not b.required
            elif b.kind == "closure":
                for name in b.edges:
                    source, target = (p.strip() for p in name.split("->"))
                    for e, edge in enumerate(world.edges):
                        if (edge.source, edge.target) == (source, target):
                            edge_open[t, e, :] = False
    route_open = np.zeros((T, len(world.route_edges)), dtype=bool)
    for r, legs in enumerate(world.route_edges):
        route_open[:, r] = edge_open[:, legs, world.pool_origin[world.route_pool[r]]].all(axis=1)
    return route_open
