"""Agents where the movement is: per-pool allocation weights from the expected movers.

With ``agent_allocation: movers`` the agents of a sample are shared among pools in
proportion to ``rules.allocation_weight``: population x sqrt(p (1 - p)), where ``p`` is
the chance that a person of the pool leaves within the horizon (Neyman allocation for
a total of movers). Every agent still stands for population / agents persons of its
pool, so every estimate is unchanged in expectation; only its noise changes, with more
agents where people move and fewer where almost nobody does.

``p`` is computed from the World's fields (the shipped data and the scenario's world
overrides, origins, start and horizon) and the scenario's ``behaviour`` (the fitted
intercepts above all), with no policy and no driver change: so scenarios that differ
only in their policies or drivers — the scenarios of a study, the policies of a sweep —
share one allocation, and common random numbers pair their agents. Sweep points that
change the behaviour get a World of their own (``sim.experiments.sweeps.design.world_key``).
``sampled_world`` builds the World of any scenario, with this allocation when it asks for it.
"""
from __future__ import annotations

import numpy as np

from . import rules
from .inputs import compile_inputs
from .scenario import Scenario
from .world import World, build_world


def sampled_world(scenario: Scenario) -> World:
    """The ``World`` of a scenario with its agents allocated as it asks (``movers``: by ``movers_weight``)."""
    if scenario.agent_allocation != "movers":
        return build_world(scenario)
    provisional = build_world(scenario)                 # square-root shares: the inputs do not depend on them
    return build_world(scenario, movers_weight(scenario, provisional))


def movers_weight(scenario: Scenario, world: World) -> np.ndarray:
    """Allocation weight of each pool (``rules.allocation_weight``) from its expected movers over the horizon."""
    design = Scenario(schema_version=1, name="allocation", start=scenario.start, months=scenario.months,
                      warmup_months=scenario.warmup_months, agents=len(world.origins), origins=list(world.origins),
                      world=scenario.world, behaviour=scenario.behaviour)
    inputs = compile_inputs(design, world)
    b = design.behaviour
    months = slice(inputs.warmup, None)
    nat = world.pool_origin                       # each pool's network and ties are its nationality's
    shared = inputs.origin_logit[months] + rules.network_logit(b.hazard.network, world.diaspora[nat],
                                                               world.home_population[nat])
    tie = rules.tie_probability(world.diaspora, world.home_population, b.population.tie_scale)[nat]   # (P,)
    level = np.arange(rules.RISK_LEVELS)
    leave = sum(share * rules.leave_probability(shared[..., None], b.hazard.tie, b.hazard.legal_pathway, b.hazard.risk,
                                                k, 0.0, level, inputs.journey_risk[months][..., None]).mean(axis=-1)
                for k, share in ((0, 1.0 - tie), (1, tie)))                                       # (T, P)
    afford = rules.share_affording(rules.affordability_threshold(inputs.cheapest_route_usd[months],
                                                                 inputs.savings_multiplier[months]),
                                   b.population.savings_to_income, world.gdp_per_capita, b.population.savings_sigma)
    stay = np.prod(1.0 - np.clip(leave * afford, 0.0, 1.0), axis=0)
    return rules.allocation_weight(world.population, 1.0 - stay)
