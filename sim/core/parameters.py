"""Uncertain behavioural parameters: what we do not control (EMA Workbench's "uncertainties").

Policies we choose (levers) live in ``sim.core.policies``. Every field documents its unit;
docs/model.md explains each mechanism and where the defaults come from.
"""
from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .countries import ORIGINS

# Origin fixed effects of the monthly hazard (log-odds): one neutral value for every origin.
# Fitted values are in scenarios/calibrated.yaml (`migsim calibrate`, docs/validation.md);
# scenarios that describe the world as it is (baseline.yaml) extend that file.
DEFAULT_INTERCEPT = -10.0
DEFAULT_INTERCEPTS = {o: DEFAULT_INTERCEPT for o in ORIGINS}


class Strict(BaseModel):
    """Base for every schema model: unknown keys are errors, values are checked on assignment,
    numbers must be finite (``.nan`` and ``.inf`` are refused)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)


class HazardParameters(Strict):
    """Coefficients of the monthly probability of deciding to leave (logistic, log-odds units)."""

    intercept: dict[str, float] = Field(title="propensity to leave (intercept, log-odds per month)",
                                        default_factory=lambda: dict(DEFAULT_INTERCEPTS),
                                        description="origin fixed effect, log-odds per month")
    inflation: float = Field(0.35, title="effect of inflation on leaving (log-odds)",
                             description="per unit of ln(1 + inflation %/100)")
    violence: float = Field(0.30, title="effect of violence on leaving (log-odds)",
                            description="per unit of ln(1 + homicides per 100,000)")
    repression: float = Field(1.00, title="effect of repression on leaving (log-odds)",
                              description="per unit of repression/100 (repression = 100 - Freedom House total)")
    network: float = Field(0.25, title="pull of the diaspora network (log-odds)",
                           description="per unit of ln(1 + diaspora per 1,000 residents)")
    tie: float = Field(1.00, title="pull of a tie in the US (log-odds)",
                       description="added when the person has a relative or friend in the US")
    success: float = Field(2.00, title="pull of the chance of getting in (log-odds)",
                           description="per unit of perceived probability of getting in (0-1)")
    journey_months: float = Field(1.00, title="deterrence of a long journey (log-odds per month)",
                                  ge=0, description="per month of expected travel time to the US border "
                                  "(a longer, harder journey deters)")
    unrest: float = Field(0.0, title="effect of unrest on leaving (log-odds)",
                          description="per unit of the unrest index (ACLED events relative to the country's own "
                          "mean, log ratio)")
    disaster: float = Field(0.0, title="effect of a disaster on leaving (log-odds)",
                            description="per unit of the share of the population affected by a recent disaster "
                            "(0-1)")
    abroad: float = Field(0.0, title="leaving from abroad (log-odds)",
                          description="added for people living outside their country of birth (pools abroad): "
                          "log-odds relative to the nationality's intercept")
    recent: float = Field(0.0, title="word of mouth: pull of recent entries (log-odds)",
                          description="word of mouth: per unit of ln(1 + the nationality's recent entries into "
                          "the US per month per 100,000 residents)")
    recent_half_life_months: float = Field(6.0, title="word of mouth: half-life (months)", gt=0, le=120,
                                           description="months after which an entry counts half as much among "
                                           "the recent entries")
    learning_half_life_months: float = Field(0.0, title="learning of the chance of getting in: half-life (months)",
                                             ge=0, le=120, description="months for people to close half the gap "
                                             "between the chance of getting in they perceive and the current one "
                                             "(0: at once)")
    legal_pathway: float = Field(1.00, title="pull of open parole (log-odds)",
                                 description="added for people with a sponsor when parole is open to their "
                                 "nationality")
    risk: float = Field(0.60, title="deterrence of death risk (log-odds per point)",
                        description="per percentage point of journey death risk, scaled by (1 - risk tolerance)")

    @field_validator("intercept")
    @classmethod
    def _keep_default_intercepts(cls, value: dict[str, float]) -> dict[str, float]:
        """Origins a file leaves out keep their default intercept (a partial map changes only those named)."""
        return {**DEFAULT_INTERCEPTS, **value}


class RouteChoiceParameters(Strict):
    """Multinomial-logit weights of route choice (utility units)."""

    cost: float = Field(1.0, title="route choice: weight of cost (per 1,000 USD)",
                        ge=0, description="per 1,000 USD of route cost")
    risk: float = Field(2.0, title="route choice: weight of death risk (per point)",
                        ge=0, description="per percentage point of death risk, scaled by (1 - risk tolerance)")
    containment: float = Field(3.0, title="route choice: avoidance of interception",
                               ge=0, description="per unit of probability of interception along the route")
    months: float = Field(1.0, title="route choice: weight of travel time (per month)",
                          ge=0, description="per month of travel time along the route")


class BorderParameters(Strict):
    """Behaviour at the US border."""

    attempt_probability: float = Field(0.8, title="chance of trying to cross (per month)",
                                       ge=0, le=1, description="chance per month that a person waiting at the "
                                       "border tries to cross")
    give_up_intercept: float = Field(0.44, title="going home after expulsion (intercept, log-odds)",
                                     ge=-50, le=50, description="log-odds that a person expelled to Mexico "
                                     "goes home instead of trying again, before the terms below (default: 45 % at a "
                                     "0.32 chance of getting in, from CBP's 27 % re-encounter share of July 2021)")
    give_up_success: float = Field(2.0, title="going home: effect of the chance of getting in",
                                   description="per unit of the chance that the next attempt ends inside the US "
                                   "(less giving up)")
    give_up_parole: float = Field(3.0, title="going home: pull of parole (log-odds)",
                                  ge=0, description="added for a person with a sponsor, of a nationality with "
                                  "parole places, whom an irregular crossing bars from parole (going home keeps it)")
    way_home_cost_share: float = Field(0.5, title="cost of the way home (share of the cheapest route)",
                                       ge=0, le=10, description="the way home costs this share of the pool's "
                                       "cheapest open route (USD); a person with less savings cannot go home")


class AidParameters(Strict):
    """How root-cause aid changes drivers and savings (uncertain elasticities)."""

    lag_months: int = Field(12, title="aid lag (months)",
                            ge=0, le=120, description="months before spending has an effect")
    half_saturation_usd_per_person: float = Field(50.0, title="aid half-saturation (USD per resident per year)", gt=0,
                                                  description="USD per resident per year at which returns halve")
    inflation_elasticity: float = Field(0.15, title="aid elasticity of inflation",
                                        ge=0, le=5, description="exponent: inflation x (1 + aid/half)^-e")
    violence_elasticity: float = Field(0.25, title="aid elasticity of violence",
                                       ge=0, le=5, description="exponent: homicides x (1 + aid/half)^-e")
    repression_elasticity: float = Field(0.05, title="aid elasticity of repression",
                                         ge=0, le=5, description="exponent: repression x (1 + aid/half)^-e")
    income_elasticity: float = Field(0.5, title="aid elasticity of savings", ge=0, le=10,
                                     description="savings rise by this x aid per resident / GDP per head")


class PopulationParameters(Strict):
    """How agents' traits are drawn at the start."""

    savings_to_income: float = Field(0.6, title="median savings (years of income)",
                                     gt=0, description="median savings as a share of yearly GDP per head (years)")
    savings_sigma: float = Field(1.0, title="spread of savings (log-normal sigma)",
                                 gt=0, le=4, description="log-normal spread of savings")
    tie_scale: float = Field(4.0, title="ties in the US (scale on the diaspora share)",
                             ge=0, description="chance of a tie abroad = min(0.95, scale x diaspora / population)")


class TransitParameters(Strict):
    """How effective transit countries' checkpoints are: uncertain facts about the world, not levers."""

    interception_scale: float = Field(1.0, title="effectiveness of containment (factor)", ge=0, le=20,
                                      description="factor on the interception probability of every containment "
                                      "block (capped at 1)")
    node_shares: dict[str, Annotated[float, Field(ge=0, le=1)]] = Field(
        default_factory=dict, title="share of interceptions by node",
        description=("share of its country's interception probability at a node (an airport, the northern "
                     "border...); nodes not listed: 1; multiplies a containment block's own node_shares"))


class Behaviour(Strict):
    """All uncertain behavioural parameters."""

    hazard: HazardParameters = Field(title="decision to leave", default_factory=HazardParameters)
    route_choice: RouteChoiceParameters = Field(title="route choice", default_factory=RouteChoiceParameters)
    transit: TransitParameters = Field(title="checkpoints in transit", default_factory=TransitParameters)
    border: BorderParameters = Field(title="behaviour at the border", default_factory=BorderParameters)
    aid: AidParameters = Field(title="response to aid", default_factory=AidParameters)
    population: PopulationParameters = Field(title="traits of the population", default_factory=PopulationParameters)


__all__ = ["Behaviour", "Strict", "ORIGINS", "DEFAULT_INTERCEPT", "DEFAULT_INTERCEPTS"]
