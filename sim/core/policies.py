"""Policy blocks: the levers a scenario sets (EMA Workbench's "levers").

Each block has a ``kind``, a ``start`` month and an optional ``end`` month (exclusive),
and is active in the months between. Blocks are kept in a mapping by name so that a
scenario that ``extends`` another can change one field of one policy
(``policies.aid.budget_usd_per_year``) or remove it (``policies.aid: null``).
When two active blocks set the same thing, the one written later wins; in a file
that ``extends`` another, the parent's blocks come first and the child's new blocks
after them (changing a field of a parent's block keeps its place).
"""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from .parameters import Strict

MONTH_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])$"
Month = Annotated[str, Field(pattern=MONTH_PATTERN, description="YYYY-MM")]
Probability = Annotated[float, Field(ge=0, le=1)]
UsdPerYear = Annotated[float, Field(ge=0, le=1e13, description="USD per year")]
SPENDING = "spending the block stands for (reported as enforcement_spent_usd)"


class EndAfterStart(Strict):
    """Mixin for blocks with ``start`` and ``end`` months: the end must come after the start."""

    @field_validator("end", check_fields=False)
    @classmethod
    def _end_after_start(cls, end: str | None, info: ValidationInfo) -> str | None:
        start = info.data.get("start")
        if end is not None and start is not None and end <= start:
            raise ValueError(f"end ({end}) must be after start ({start})")
        return end


class _Dated(EndAfterStart):
    start: Month = Field(title="first month (YYYY-MM)", description="first month in force (YYYY-MM)")
    end: Month | None = Field(None, title="end month (YYYY-MM, exclusive)",
                              description="first month no longer in force (YYYY-MM); none = open-ended")
    note: str = Field("", title="note", description="free text: what the block stands for, and its source")


class _Budgeted(_Dated):
    budget_source: str = Field("", title="source of the budget",
                               description="where the budget figure comes from (a citation); empty: the "
                               "figure is illustrative, and reports say so")


class AidPolicy(_Budgeted):
    """Root-cause aid: a yearly budget for each listed origin country."""

    kind: Literal["aid"]
    origins: list[str] = Field(title="origins receiving aid",
                               min_length=1, description="ISO3 origin countries receiving aid")
    budget_usd_per_year: UsdPerYear = Field(title="budget (USD per year, each origin)",
                                            description="USD per year for each listed origin")


class InterceptionOutcome(Strict):
    """What a transit country does with the people it intercepts (shares sum to 1)."""

    deport: Probability = Field(0.5, title="share deported", description="share returned to their origin country")
    hold: Probability = Field(0.3, title="share held", description="share held for the month and released where caught")
    pushback: Probability = Field(0.2, title="share pushed back",
                                  description="share moved back to where the route enters the country")

    @model_validator(mode="after")
    def _sum_to_one(self):
        total = self.deport + self.hold + self.pushback
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"deport + hold + pushback must sum to 1 (got {total:g})")
        return self


class ContainmentPolicy(_Budgeted):
    """Transit containment by one country: checkpoints and interceptions."""

    kind: Literal["containment"]
    country: str = Field(title="containing country",
                         description="ISO3 of the transit country (COL, PAN, CRI, NIC, HND, GTM, MEX)")
    interception_probability: Probability = Field(title="interception probability (per passage)",
        description="chance of interception per passage through one of its nodes")
    capacity_per_month: float = Field(title="capacity (persons per month)",
                                      ge=0, le=1e9, description="most persons it can intercept in a month")
    node_shares: dict[str, Probability] = Field(
        default_factory=dict, title="share of interceptions by node",
        description=("share of the interception probability applied at each listed node of the country (an "
                     "airport, the northern border...); nodes not listed: 1"))
    outcome: InterceptionOutcome = Field(title="outcome of interceptions", default_factory=InterceptionOutcome)
    budget_usd_per_year: UsdPerYear = Field(0.0, title="budget (USD per year)", description=SPENDING)


class BorderOutcome(Strict):
    """What happens to people apprehended at the US border (shares sum to 1)."""

    expel_to_mexico: Probability = Field(0.0, title="share expelled to Mexico",
                                         description="share expelled to Mexico, free to try again (as under Title 42)")
    remove_to_origin: Probability = Field(0.3, title="share removed to origin",
                                          description="share removed to their origin, barred from re-entry")
    release: Probability = Field(0.7, title="share released", description="share released into the US asylum process")

    @model_validator(mode="after")
    def _sum_to_one(self):
        total = self.expel_to_mexico + self.remove_to_origin + self.release
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"expel_to_mexico + remove_to_origin + release must sum to 1 (got {total:g})")
        return self


class EnforcementPolicy(_Budgeted):
    """US border enforcement for some or all nationalities."""

    kind: Literal["enforcement"]
    nationalities: list[str] | None = Field(None, title="nationalities",
                                            description="ISO3 codes it applies to; none = everyone")
    apprehension_probability: Probability = Field(title="apprehension probability (per attempt)",
                                                  description="chance that a crossing attempt ends in apprehension")
    outcome: BorderOutcome = Field(title="outcome of apprehensions", default_factory=BorderOutcome)
    reentry_bar_months: int = Field(60, title="re-entry bar (months)",
                                    ge=0, le=600, description="months a removed person cannot leave again")
    parole_bar: bool = Field(False, title="crossing bars from parole", description=(
        "crossing irregularly bars the person from parole (as the 2022-2023 Venezuela and CHNV processes did): "
        "someone with a sponsor keeps that option only by going home"))
    budget_usd_per_year: UsdPerYear = Field(0.0, title="budget (USD per year)", description=SPENDING)


class LegalPathwayPolicy(_Budgeted):
    """Legal pathways: parole (flights, sponsor needed) or appointments at ports of entry."""

    kind: Literal["legal_pathway"]
    pathway: Literal["parole", "appointments"] = Field(title="pathway")
    nationalities: list[str] | None = Field(None, title="eligible nationalities",
                                            description="ISO3 codes eligible; none = everyone")
    places_per_month: float = Field(title="places (persons per month)", ge=0, le=1e8,
                                    description="persons admitted per month at most, shared by the eligible")
    budget_usd_per_year: UsdPerYear = Field(0.0, title="budget (USD per year)", description=SPENDING)


class VisaPolicy(_Dated):
    """A visa requirement (or its lifting) that closes (or opens) air links into a country."""

    kind: Literal["visa"]
    country: str = Field(title="country setting the rule",
                         description="ISO3 of the country setting the rule (MEX or NIC)")
    nationalities: list[str] = Field(title="nationalities", min_length=1, description="ISO3 codes the rule applies to")
    required: bool = Field(True, title="visa required",
                           description="true: a visa is required (air links close); false: visa-free")


class ClosurePolicy(_Dated):
    """Closure of edges of the route network (e.g. a border wall or a closed crossing)."""

    kind: Literal["closure"]
    edges: list[str] = Field(title="closed edges", min_length=1, description="edges as 'FROM->TO' node ids")


Policy = Annotated[AidPolicy | ContainmentPolicy | EnforcementPolicy | LegalPathwayPolicy | VisaPolicy | ClosurePolicy,
                   Field(discriminator="kind")]
