"""Compile a scenario into the monthly input arrays one run needs.

Everything here is known before the first agent moves: drivers by month (with shocks
and the effect of aid), the state of every policy by month, which routes are open,
and the route features people weigh. The engines read these arrays; nothing here
depends on agents. Month axis: ``warmup_months`` months under the start month's
conditions, then the reported months.
"""
from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from . import datasets, rules
from .calendar import parse_month
from .countries import TRANSIT_COUNTRIES
from .policies import Policy
from .scenario import DriverChange, Scenario
from .world import World, build_world

SPENDING_LOCATIONS = ("USA",) + TRANSIT_COUNTRIES
DRIVERS = ("inflation", "violence", "repression")
# Without any enforcement block: the pre-2020 Title 8 regime (documented in docs/model.md).
DEFAULT_APPREHENSION = 0.75
DEFAULT_BORDER_OUTCOME = (0.0, 0.3, 0.7)     # expel to Mexico, remove to origin, release
DEFAULT_REENTRY_BAR = 60


@dataclass
class RunInputs:
    """Monthly inputs of one run (T = warmup + reported months, O origins, C countries, R routes)."""

    calendar: np.ndarray              # (T,) month number of each simulated month
    warmup: int
    drivers: np.ndarray               # (T, O, 3) inflation %, homicides /100k, repression 0-100
    origin_logit: np.ndarray          # (T, O) shared leave log-odds without the network term
    journey_risk: np.ndarray          # (T, O) expected death risk of the journey
    cheapest_route_usd: np.ndarray    # (T, O) USD, inf when no route is open
    savings_multiplier: np.ndarray    # (T, O) factor from aid
    route_open: np.ndarray            # (T, R) bool
    route_cost: np.ndarray            # (R,) USD
    route_risk: np.ndarray            # (R,) probability of death along the route
    route_months: np.ndarray          # (R,) months of travel along the route
    route_interception: np.ndarray    # (T, R) nominal chance of interception along the route
    containment_probability: np.ndarray  # (T, C) per passage
    containment_capacity: np.ndarray  # (T, C) persons per month
    containment_outcome: np.ndarray   # (T, C, 3) deport, hold, pushback
    apprehension: np.ndarray          # (T, O)
    border_outcome: np.ndarray        # (T, O, 3) expel, remove, release
    reentry_bar: np.ndarray           # (T, O) months
    parole_pool: np.ndarray           # (T, O) pool index, -1 = no parole
    parole_places: np.ndarray         # (T, P) persons per month
    appointment_places: np.ndarray    # (T,) persons per month
    appointment_eligible: np.ndarray  # (T, O) bool
    aid_spent: np.ndarray             # (T, O) USD per month
    enforcement_spent: np.ndarray     # (T, K) USD per month by SPENDING_LOCATIONS
    # per-run behavioural scalars
    b_network: float
    b_tie: float
    b_legal: float
    b_risk: float
    route_b_cost: float
    route_b_risk: float
    route_b_containment: float
    route_b_months: float
    attempt_probability: float
    give_up_probability: float
    savings_to_income: float
    savings_sigma: float
    tie_scale: float

    def stack_fields(self) -> list[str]:
        """Names of the array fields (stacked along a run axis for batches)."""
        return [f.name for f in fields(self) if isinstance(getattr(self, f.name), np.ndarray)]


def compile_inputs(scenario: Scenario, world: World | None = None) -> RunInputs:
    """Turn a validated scenario into the ``RunInputs`` of its runs."""
    world = world or build_world(scenario)
    start = parse_month(scenario.start)
    calendar = np.array([start] * scenario.warmup_months + list(range(start, start + scenario.months)))
    behaviour = scenario.behaviour
    origins = world.origins
    policies = _ordered_policies(scenario)

    aid_budget = _aid_budget(policies, origins)
    aid = behaviour.aid
    aid_per_person = np.array([rules.aid_per_person_year(aid_budget, m, aid.lag_months, world.population)
                               for m in calendar])                                       # USD/person/year
    drivers = _driver_series(scenario, origins, calendar)
    for d, elasticity in enumerate((aid.inflation_elasticity, aid.violence_elasticity, aid.repression_elasticity)):
        drivers[:, :, d] *= rules.aid_driver_multiplier(aid_per_person, aid.half_saturation_usd_per_person, elasticity)
    savings_multiplier = rules.aid_savings_multiplier(aid_per_person, world.gdp_per_capita[None, :],
                                                      aid.income_elasticity)

    state = _policy_state(policies, world, calendar)
    route_open = _route_open(policies, world, calendar)
    node_country = np.array([TRANSIT_COUNTRIES.index(c) if c in TRANSIT_COUNTRIES else -1 for c in world.node_country])
    route_cost = np.array([sum(world.edges[e].cost_usd for e in legs) for legs in world.route_edges])
    route_risk = np.array([rules.combined_probability([world.edges[e].death_risk for e in legs]
                                                      + [world.border_death_risk]) for legs in world.route_edges])
    route_months = np.array([sum(world.edges[e].travel_months for e in legs) for legs in world.route_edges])
    route_interception = np.zeros((len(calendar), len(route_cost)))
    for r in range(len(route_cost)):
        nodes = world.route_nodes[r, 1: world.route_length[r]]
        countries = node_country[nodes]
        home = origins[world.route_origin[r]]
        own = TRANSIT_COUNTRIES.index(home) if home in TRANSIT_COUNTRIES else -2
        countries = countries[(countries >= 0) & (countries != own)]
        route_interception[:, r] = rules.combined_probability(state["containment_probability"][:, countries])

    rc = behaviour.route_choice
    entry = rules.entry_probability(state["apprehension"], state["border_outcome"][:, :, 2])   # (T, O)
    journey_risk = np.zeros((len(calendar), len(origins)))
    success = np.zeros_like(journey_risk)
    journey_months = np.zeros_like(journey_risk)
    cheapest = np.full_like(journey_risk, np.inf)
    for o in range(len(origins)):
        routes = world.origin_routes[o][world.origin_routes[o] >= 0]
        shares = rules.perceived_route_shares(rc.cost, rc.risk, rc.containment, rc.months, route_cost[None, routes],
                                              route_risk[None, routes], route_interception[:, routes],
                                              route_months[None, routes], route_open[:, routes])     # (T, routes)
        journey_risk[:, o] = rules.expected_over_routes(shares, route_risk[routes])
        journey_months[:, o] = rules.expected_over_routes(shares, route_months[routes])
        success[:, o] = rules.success_probability(shares, route_interception[:, routes], entry[:, o])
        cheapest[:, o] = np.where(route_open[:, routes], route_cost[routes], np.inf).min(axis=1)
    h = behaviour.hazard
    intercepts = np.array([h.intercept.get(o, 0.0) for o in origins])
    origin_logit = rules.origin_logit(intercepts[None, :], h.inflation, h.violence, h.repression, h.success,
                                      drivers[:, :, 0], drivers[:, :, 1], drivers[:, :, 2], success,
                                      h.journey_months, journey_months)
    aid_spent = np.array([aid_budget(m) for m in calendar])
    p = behaviour.population
    return RunInputs(
        calendar=calendar, warmup=scenario.warmup_months, drivers=drivers, origin_logit=origin_logit,
        journey_risk=journey_risk, cheapest_route_usd=cheapest, savings_multiplier=savings_multiplier,
        route_open=route_open, route_cost=route_cost, route_risk=route_risk, route_months=route_months,
        route_interception=route_interception,
        aid_spent=aid_spent, **state,
        b_network=h.network, b_tie=h.tie, b_legal=h.legal_pathway, b_risk=h.risk,
        route_b_cost=rc.cost, route_b_risk=rc.risk, route_b_containment=rc.containment, route_b_months=rc.months,
        attempt_probability=behaviour.border.attempt_probability,
        give_up_probability=behaviour.border.give_up_probability,
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


def _driver_series(scenario: Scenario, origins: tuple[str, ...], calendar: np.ndarray) -> np.ndarray:
    """Drivers by month: yearly data interpolated between mid-years, then the scenario's changes."""
    table = datasets.annual_drivers()
    columns = ("inflation_pct", "homicides_per_100k", "repression_0_100")
    out = np.zeros((len(calendar), len(origins), 3))
    for i, code in enumerate(origins):
        rows = table[table.iso3 == code].sort_values("year")
        mid_year = rows.year.to_numpy() * 12 + 6
        for d, column in enumerate(columns):
            out[:, i, d] = np.interp(calendar, mid_year, rows[column].to_numpy(dtype=float))
    for change in scenario.drivers.values():
        d = DRIVERS.index(change.driver)
        targets = range(len(origins)) if change.origin == "ALL" else [origins.index(change.origin)] \
            if change.origin in origins else []
        for i in targets:
            out[:, i, d] = _apply_change(change, calendar, out[:, i, d])
    return out


def _apply_change(change: DriverChange, calendar: np.ndarray, series: np.ndarray) -> np.ndarray:
    """One driver change (step, ramp or schedule) applied to a monthly series."""
    if change.kind == "schedule":
        assert change.values is not None                   # a schedule has values (DriverChange checks it)
        months = sorted(change.values)
        points = np.array([parse_month(m) for m in months])
        values = np.array([change.values[m] for m in months])
        inside = calendar >= points[0]
        return np.where(inside, np.interp(calendar, points, values), series)
    assert change.start is not None and change.change is not None     # a step or ramp has both
    start = parse_month(change.start)
    if change.kind == "step":
        fraction = (calendar >= start).astype(float)
    else:
        assert change.end is not None                      # a ramp has an end
        fraction = np.clip((calendar - start) / (parse_month(change.end) - start), 0.0, 1.0)
    return series * (1.0 + change.change * fraction)


def _policy_state(policies: list[Policy], world: World, calendar: np.ndarray) -> dict[str, np.ndarray]:
    """Containment, enforcement and legal pathway settings by month."""
    T, n_origins, C = len(calendar), len(world.origins), len(TRANSIT_COUNTRIES)
    origins = world.origins
    s = dict(
        containment_probability=np.zeros((T, C)), containment_capacity=np.zeros((T, C)),
        containment_outcome=np.tile(np.array([1.0, 0.0, 0.0]), (T, C, 1)),
        apprehension=np.full((T, n_origins), DEFAULT_APPREHENSION),
        border_outcome=np.tile(np.array(DEFAULT_BORDER_OUTCOME), (T, n_origins, 1)),
        reentry_bar=np.full((T, n_origins), DEFAULT_REENTRY_BAR, dtype=np.int64),
        parole_pool=np.full((T, n_origins), -1, dtype=np.int64),
        appointment_places=np.zeros(T), appointment_eligible=np.zeros((T, n_origins), dtype=bool),
        enforcement_spent=np.zeros((T, len(SPENDING_LOCATIONS))))
    parole_blocks = [b for b in policies if b.kind == "legal_pathway" and b.pathway == "parole"]
    s["parole_places"] = np.zeros((T, max(len(parole_blocks), 1)))
    for t, month in enumerate(calendar):
        for b in policies:
            if not _active(b, month):
                continue
            nationalities = getattr(b, "nationalities", None)
            covered = [i for i, o in enumerate(origins) if nationalities is None or o in nationalities]
            if b.kind == "containment":
                c = TRANSIT_COUNTRIES.index(b.country)
                s["containment_probability"][t, c] = b.interception_probability
                s["containment_capacity"][t, c] = b.capacity_per_month
                s["containment_outcome"][t, c] = (b.outcome.deport, b.outcome.hold, b.outcome.pushback)
                s["enforcement_spent"][t, SPENDING_LOCATIONS.index(b.country)] += b.budget_usd_per_year / 12
            elif b.kind == "enforcement":
                s["apprehension"][t, covered] = b.apprehension_probability
                s["border_outcome"][t, covered] = (b.outcome.expel_to_mexico, b.outcome.remove_to_origin,
                                                   b.outcome.release)
                s["reentry_bar"][t, covered] = b.reentry_bar_months
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
    """Which routes can be travelled each month: visa rules on air links and closures of edges."""
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
        route_open[:, r] = edge_open[:, legs, world.route_origin[r]].all(axis=1)
    return route_open
