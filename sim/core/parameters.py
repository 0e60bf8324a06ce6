"""Uncertain behavioural parameters: what we do not control (EMA Workbench's "uncertainties").

Policies we choose (levers) live in ``sim.core.policies``. Every field documents its unit;
docs/model.md explains each mechanism and where the defaults come from.
"""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .countries import ORIGINS

# Origin fixed effects of the monthly hazard (log-odds). Tuned once so that
# scenarios/history.yaml reproduces the mean monthly US southwest-border encounters by
# nationality of fiscal year 2022 (scripts/tune_default_intercepts.py; docs/model.md,
# "Defaults").
DEFAULT_INTERCEPTS = {
    "VEN": -10.82, "CUB": -7.98, "HTI": -6.25, "NIC": -7.98, "HND": -8.76, "GTM": -9.36,
    "SLV": -9.76, "ECU": -10.25, "COL": -11.02, "MEX": -11.37, "PER": -11.01,
}


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
    give_up_probability: float = Field(0.25, title="chance of going home after expulsion",
                                       ge=0, le=1, description="chance that a person expelled to Mexico goes "
                                       "home instead of trying again")


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


class Behaviour(Strict):
    """All uncertain behavioural parameters."""

    hazard: HazardParameters = Field(title="decision to leave", default_factory=HazardParameters)
    route_choice: RouteChoiceParameters = Field(title="route choice", default_factory=RouteChoiceParameters)
    border: BorderParameters = Field(title="behaviour at the border", default_factory=BorderParameters)
    aid: AidParameters = Field(title="response to aid", default_factory=AidParameters)
    population: PopulationParameters = Field(title="traits of the population", default_factory=PopulationParameters)


__all__ = ["Behaviour", "Strict", "ORIGINS", "DEFAULT_INTERCEPTS"]
