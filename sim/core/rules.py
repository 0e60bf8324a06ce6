"""Every behavioural formula of the model, as pure functions.

Both engines call these functions: the vector engine on arrays of many agents (and
many runs), the Mesa engine on one agent's values. Arguments broadcast with NumPy
rules, so a parameter can be a scalar or an array with one value per run.
Units: persons, months, USD; probabilities in [0, 1].
"""
from __future__ import annotations

import numpy as np
from scipy.special import expit, ndtr, ndtri

RISK_LEVELS = 8
"""Risk tolerance is held as a level 0..7, meaning tolerance level / 7 in [0, 1]."""


# ----------------------------------------------------------------- traits at the start

MAX_SAVINGS_USD = 1e30
"""Savings are capped here (USD): far beyond any journey's cost, and within the float32 the engines hold them in."""


def initial_savings(gdp_per_capita_usd, savings_to_income, sigma, u):
    """Savings in USD: log-normal with median ``savings_to_income`` x GDP per head, from a uniform ``u``.

    Capped at ``MAX_SAVINGS_USD`` (extreme but valid inputs would overflow to infinity).
    """
    u = np.clip(u, 1e-12, 1 - 1e-12)
    with np.errstate(over="ignore"):               # the product may overflow: it is capped just below
        savings = savings_to_income * gdp_per_capita_usd * np.exp(sigma * ndtri(u))
    return np.minimum(savings, MAX_SAVINGS_USD)


def share_affording(threshold_usd, savings_to_income, gdp_per_capita_usd, sigma):
    """Share of a population whose log-normal savings (``initial_savings``) reach ``threshold_usd``."""
    median = savings_to_income * np.asarray(gdp_per_capita_usd)
    with np.errstate(divide="ignore"):
        return 1.0 - ndtr(np.log(np.asarray(threshold_usd) / median) / sigma)


def allocation_weight(population, move_probability):
    """Agents per origin for a precise total of movers (Neyman allocation): population x sqrt(p (1 - p)).

    ``move_probability``: chance that a person of the origin leaves within the horizon. Any
    allocation leaves estimates unbiased (each agent stands for population / agents persons);
    this one spends agents where the variance of who moves is.
    """
    p = np.clip(np.asarray(move_probability, dtype=float), 0.0, 1.0)
    return np.asarray(population, dtype=float) * np.sqrt(p * (1.0 - p))


def risk_tolerance_level(u):
    """Risk tolerance level (0..7) from a uniform draw: equally likely levels."""
    return np.minimum((np.asarray(u) * RISK_LEVELS).astype(np.uint8), RISK_LEVELS - 1)


def risk_tolerance(level):
    """Risk tolerance in [0, 1] of a level 0..7."""
    return np.asarray(level, dtype=np.float64) / (RISK_LEVELS - 1)


def tie_probability(diaspora_persons, population_persons, tie_scale):
    """Chance that a person has a relative or friend in the US: min(0.95, scale x diaspora / population)."""
    return np.minimum(0.95, tie_scale * diaspora_persons / population_persons)


# ----------------------------------------------------------------- root-cause aid

AID_WINDOW_MONTHS = 12
"""Aid acts through the spending of a year: the 12 months that end ``lag_months`` before a month."""


def aid_per_person_year(aid_usd_in_month, month, lag_months, population_persons):
    """Aid acting in month number ``month``, in USD per resident per year.

    The aid spent in the ``AID_WINDOW_MONTHS`` months that end ``lag_months`` before ``month``,
    divided by the population (persons). ``aid_usd_in_month``: month number -> USD spent that
    month (one value per origin).
    """
    return sum(aid_usd_in_month(month - lag_months - k) for k in range(AID_WINDOW_MONTHS)) / population_persons


def aid_driver_multiplier(aid_usd_per_person_year, half_saturation_usd, elasticity):
    """Factor (0, 1] on a driver after aid: (1 + aid / half)^-elasticity (diminishing returns)."""
    return np.power(1.0 + np.asarray(aid_usd_per_person_year) / half_saturation_usd, -np.asarray(elasticity))


def aid_savings_multiplier(aid_usd_per_person_year, gdp_per_capita_usd, income_elasticity):
    """Factor >= 1 on savings after aid: 1 + elasticity x aid per person / GDP per head."""
    return 1.0 + income_elasticity * np.asarray(aid_usd_per_person_year) / gdp_per_capita_usd


# ----------------------------------------------------------------- the decision to leave

def origin_logit(intercept, b_inflation, b_violence, b_repression, b_success,
                 inflation_pct, homicides_per_100k, repression_0_100, success_probability,
                 b_journey_months=0.0, journey_months=0.0, b_unrest=0.0, unrest_index=0.0,
                 b_disaster=0.0, disaster_share=0.0):
    """Part of the leave log-odds shared by everyone of a pool in a month (no network term).

    ``intercept``: the nationality's fixed effect (plus the offset of living abroad for a pool
    abroad); ``journey_months``: expected months on the road to the US border over the routes
    open that month (weighted as people choose routes), a longer, harder journey deters;
    ``unrest_index``: political violence and protests relative to the country's own mean
    (log ratio); ``disaster_share``: share of the population affected by a recent disaster (0-1).
    """
    return (intercept
            + b_inflation * np.log1p(np.maximum(inflation_pct, 0.0) / 100.0)
            + b_violence * np.log1p(np.maximum(homicides_per_100k, 0.0))
            + b_repression * np.asarray(repression_0_100) / 100.0
            + b_success * success_probability
            - b_journey_months * np.asarray(journey_months)
            + b_unrest * np.asarray(unrest_index)
            + b_disaster * np.asarray(disaster_share))


def learned(nominal, half_life_months):
    """Perceived values after adaptive learning: each month people close a share
    ``1 - 2**(-1 / half_life)`` of the gap to this month's nominal value (0 months: no lag).

    ``nominal``: (months, ...) series; the first month starts at its own value.
    """
    nominal = np.asarray(nominal, dtype=np.float64)
    if half_life_months <= 0:
        return nominal.copy()
    rate = 1.0 - 2.0 ** (-1.0 / half_life_months)
    out = np.empty_like(nominal)
    out[0] = nominal[0]
    for t in range(1, len(nominal)):
        out[t] = out[t - 1] + rate * (nominal[t] - out[t - 1])
    return out


def network_logit(b_network, diaspora_persons, population_persons):
    """Network term of the leave log-odds: b x ln(1 + diaspora per 1,000 residents)."""
    return b_network * np.log1p(1000.0 * np.asarray(diaspora_persons) / population_persons)


def leave_probability(shared_logit, b_tie, b_legal, b_risk, tie, parole_open, risk_level, journey_risk):
    """Monthly probability that a person at home decides to leave.

    ``shared_logit`` = origin_logit + network_logit; ``tie`` 0/1; ``parole_open`` 0/1 for the
    person's nationality; ``journey_risk`` = probability of death on the expected route.
    """
    tie = np.asarray(tie, dtype=np.float64)
    logit = (shared_logit + b_tie * tie + b_legal * tie * parole_open
             - b_risk * (1.0 - risk_tolerance(risk_level)) * 100.0 * np.asarray(journey_risk))
    return expit(logit)


def affordability_threshold(cost_usd, savings_multiplier):
    """Savings (USD) a person needs to pay a journey of ``cost_usd`` once aid raises savings."""
    return np.asarray(cost_usd) / savings_multiplier


def can_afford(savings_usd, threshold_usd):
    """Capability: savings cover the journey ("migration hump"); savings are float32 USD in both engines."""
    return np.asarray(savings_usd) >= threshold_usd


def entered_by_nationality(entered_agents, persons_per_agent, pool_origin, nationalities):
    """Persons who entered the US in a month, by nationality (last axis), from agents by pool (last axis).

    Each pool's agents stand for ``persons_per_agent`` of its pool; ``pool_origin``: the nationality
    position of each pool. Pools are added in a fixed order, so the floats are the same whatever the
    leading axes and in both engines.
    """
    entered = np.asarray(entered_agents) * np.asarray(persons_per_agent)
    added = np.zeros(np.shape(entered)[:-1] + (nationalities,))
    for p, o in enumerate(pool_origin):
        added[..., o] += entered[..., p]
    return added


def diaspora_after_entries(diaspora_persons, entered_persons):
    """Diaspora in the US (persons) after a month's entries (persons, ``entered_by_nationality``)."""
    return diaspora_persons + entered_persons


def recent_after_entries(recent_persons, entered_persons, half_life_months):
    """Recent entries (persons): the previous months' weighted by ``2**(-age / half_life)``, plus this month's."""
    return recent_persons * 2.0 ** (-1.0 / np.asarray(half_life_months)) + entered_persons


def recent_entries_logit(b_recent, recent_persons, half_life_months, population_persons):
    """Word of mouth: ``b x ln(1 + recent entries a month per 100,000 residents)``.

    ``recent_persons`` (``recent_after_entries``) times ``1 - 2**(-1/half_life)`` is the recent
    average of a month's entries of the nationality.
    """
    monthly = np.asarray(recent_persons) * (1.0 - 2.0 ** (-1.0 / np.asarray(half_life_months)))
    return b_recent * np.log1p(1e5 * monthly / population_persons)


def savings_after_journey(savings_usd, cost_usd):
    """Savings (float32 USD) left after paying a journey; never below zero (aid may have covered the rest)."""
    return np.maximum(np.asarray(savings_usd, dtype=np.float32) - np.asarray(cost_usd, dtype=np.float32),
                      np.float32(0))


# ----------------------------------------------------------------- routes

def route_utility(b_cost, b_risk, b_containment, cost_usd, death_risk, interception_probability, risk_level,
                  b_months=0.0, travel_months=0.0):
    """Utility of a route: cheaper, safer, shorter and less policed routes are preferred."""
    tolerance = risk_tolerance(risk_level)
    return (-b_cost * np.asarray(cost_usd) / 1000.0
            - b_risk * (1.0 - tolerance) * 100.0 * np.asarray(death_risk)
            - b_containment * np.asarray(interception_probability)
            - b_months * np.asarray(travel_months))


MIDDLE_RISK_LEVEL = (RISK_LEVELS - 1) / 2
"""Risk tolerance level (3.5, tolerance 0.5) of the person whose journey an origin perceives."""


def perceived_route_shares(b_cost, b_risk, b_containment, b_months, cost_usd, death_risk, interception_probability,
                           travel_months, open_routes):
    """Shares of the open routes (last axis) that a person of middle risk tolerance would choose (logit).

    These shares weight the journey an origin perceives: its death risk, its length and the
    chance of getting through (``expected_over_routes``, ``success_probability``).
    """
    utility = route_utility(b_cost, b_risk, b_containment, cost_usd, death_risk, interception_probability,
                            MIDDLE_RISK_LEVEL, b_months, travel_months)
    return logit_weights(utility, open_routes)


def expected_over_routes(shares, route_values):
    """Expected value of a route feature (death risk, months of travel) under route ``shares`` (routes: last axis)."""
    return (shares * np.asarray(route_values)).sum(axis=-1)


def success_probability(shares, interception_probability, entry_probability):
    """Perceived chance of getting into the US: not intercepted on the way (route ``shares``), then entering
    at the border (``entry_probability``)."""
    return (shares * (1.0 - np.asarray(interception_probability))).sum(axis=-1) * entry_probability


def choose(utilities, available, u):
    """Pick an option by multinomial logit with a uniform draw ``u`` (inverse CDF over options).

    ``utilities``/``available``: (..., options); returns the option index, or -1 when none is available.
    """
    utilities = np.where(available, utilities, -np.inf)
    top = np.max(utilities, axis=-1, keepdims=True)
    weights = np.where(available, np.exp(utilities - np.where(np.isfinite(top), top, 0.0)), 0.0)
    cumulative = np.cumsum(weights, axis=-1)
    total = cumulative[..., -1:]
    picked = np.sum(cumulative <= np.asarray(u)[..., None] * total, axis=-1)
    picked = np.minimum(picked, utilities.shape[-1] - 1)
    return np.where(total[..., 0] > 0, picked, -1)


def logit_weights(utilities, available):
    """Choice probabilities of a multinomial logit over available options."""
    utilities = np.where(available, utilities, -np.inf)
    top = np.max(utilities, axis=-1, keepdims=True)
    weights = np.where(available, np.exp(utilities - np.where(np.isfinite(top), top, 0.0)), 0.0)
    total = weights.sum(axis=-1, keepdims=True)
    return np.divide(weights, total, out=np.zeros_like(weights), where=total > 0)


def combined_probability(probabilities, axis=-1):
    """Chance that at least one of independent events happens: 1 - prod(1 - p)."""
    return 1.0 - np.prod(1.0 - np.asarray(probabilities), axis=axis)


# ----------------------------------------------------------------- capacity and outcomes

def weighted_passages(passages_by_node, node_share):
    """Passages (last axis: nodes) weighted by the share of the interception probability at each node.

    ``node_share`` broadcasts against ``passages_by_node``. Summed node by node in a fixed order,
    so the floats are the same whatever the leading axes and in both engines.
    """
    passages = np.asarray(passages_by_node, dtype=np.float64)
    share = np.broadcast_to(np.asarray(node_share, dtype=np.float64), passages.shape)
    total = np.zeros(passages.shape[:-1])
    for n in range(passages.shape[-1]):
        total = total + passages[..., n] * share[..., n]
    return total


def capacity_share(probability, capacity_persons, demand_persons):
    """Per-person probability when at most ``capacity_persons`` of ``demand_persons`` can be served.

    Shared out from start-of-month counts: min(probability, capacity / demand).
    """
    demand = np.asarray(demand_persons, dtype=np.float64)
    limit = np.divide(capacity_persons, demand, out=np.ones_like(demand), where=demand > 0)
    return np.minimum(probability, limit)


def persons(counts_by_origin, persons_per_agent):
    """Persons from agent counts by origin (last axis): the one place agents become persons.

    Summed origin by origin in a fixed order, so the result is bit-identical whatever the
    leading axes (one run or a batch) and in both engines.
    """
    counts = np.asarray(counts_by_origin, dtype=np.float64)
    weights = np.asarray(persons_per_agent, dtype=np.float64)
    total = np.zeros(counts.shape[:-1])
    for o in range(counts.shape[-1]):
        total = total + counts[..., o] * weights[o]
    return total


def expected_deaths(exposures_by_leg, death_risk_by_leg, node_of_leg, nodes):
    """Expected deaths (agents) by node from exposures: each agent exposed to a leg adds its chance of dying there.

    ``exposures_by_leg``: (..., legs) agents that travelled each leg (or attempted the
    crossing) this month, whatever their draw decided; ``death_risk_by_leg``: (legs,)
    probability of death per exposure; ``node_of_leg``: (legs,) node where a death on the
    leg is counted. The sum of the exposures' probabilities is the expected number of
    deaths given who travelled, an unbiased estimate of the deaths with far less noise
    than the sampled deaths (which still decide who dies). Legs are added one by one in a
    fixed order, so the result is bit-identical whatever the leading axes and in both engines.
    """
    exposures = np.asarray(exposures_by_leg, dtype=np.float64)
    out = np.zeros(exposures.shape[:-1] + (nodes,))
    for leg in range(exposures.shape[-1]):
        out[..., node_of_leg[leg]] += exposures[..., leg] * death_risk_by_leg[leg]
    return out


def pick_outcome(shares, u):
    """Index of the outcome whose cumulative share first exceeds ``u`` (shares on the last axis)."""
    cumulative = np.cumsum(shares, axis=-1)
    return np.minimum(np.sum(cumulative <= np.asarray(u)[..., None], axis=-1), np.shape(shares)[-1] - 1)


def give_up_logit(intercept, b_success, entry_probability):
    """Log-odds that a person expelled to Mexico goes home instead of trying again (shared part).

    Lower when the next attempt is more likely to end inside the US (``entry_probability``);
    the parole term and the cost of the way home are per person (``give_up_probability``).
    """
    return intercept - b_success * np.asarray(entry_probability)


def give_up_probability(shared_logit, b_parole, tie, parole_open, parole_bar, savings_usd, way_home_usd):
    """Chance that a person expelled to Mexico goes home this month rather than staying to try again.

    A person with a sponsor whose nationality has parole places, whom an irregular crossing
    bars from parole (``parole_bar``), keeps that option only by going home: ``b_parole`` is
    added. Nobody goes home without the savings the way home costs (``way_home_usd``).
    """
    keeps_parole = np.asarray(tie, dtype=np.float64) * np.asarray(parole_open, dtype=np.float64) \
        * np.asarray(parole_bar, dtype=np.float64)
    p = expit(np.asarray(shared_logit) + b_parole * keeps_parole)
    return np.where(can_afford(savings_usd, way_home_usd), p, 0.0)


def entry_probability(apprehension_probability, release_share):
    """Chance that one crossing attempt ends inside the US: evading apprehension or being released."""
    return (1.0 - apprehension_probability) + apprehension_probability * release_share
