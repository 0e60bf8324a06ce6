"""The Title 42 shares of history.yaml's border blocks against the authority split in CBP's own file."""
from __future__ import annotations

import pandas as pd
import pytest

import sim

from helpers import REPO_ROOT, SCENARIOS

CBP = REPO_ROOT / "sim" / "data" / "cbp_swb_encounters_monthly_by_citizenship.csv"
CITIZENSHIP = {"VENEZUELA": "VEN", "CUBA": "CUB", "NICARAGUA": "NIC", "ECUADOR": "ECU", "COLOMBIA": "COL",
               "PERU": "PER", "HAITI": "HTI", "GUATEMALA": "GTM", "HONDURAS": "HND", "EL SALVADOR": "SLV",
               "MEXICO": "MEX"}


def title42_share(nationalities: list[str], first: str, last: str) -> float:
    """Share of the encounters of ``nationalities`` under Title 42 (expelled or removed), months first..last."""
    cbp = pd.read_csv(CBP)
    cbp = cbp[cbp.citizenship.map(CITIZENSHIP).isin(nationalities) & cbp.month.between(first, last)]
    return float(cbp.title42.sum() / cbp.encounters.sum())


@pytest.mark.parametrize("block, nationalities", [
    ("title42", ["VEN", "CUB", "NIC", "ECU", "COL", "PER", "HTI"]),
    ("title42_central_american_families", ["GTM", "HND", "SLV"]),
])
def test_title42_blocks_expel_the_share_cbp_reports(block, nationalities):
    """From February 2021 (Mexico stops taking back Central American families; most other nationalities
    processed) to September 2022, the expelled and removed shares of a block add up to CBP's Title 42 share."""
    policy = sim.load_scenario(SCENARIOS / "history.yaml").policies[block]
    encoded = policy.outcome.expel_to_mexico + policy.outcome.remove_to_origin
    assert encoded == pytest.approx(title42_share(nationalities, "2021-02", "2022-09"), abs=0.01)


def test_central_americans_were_expelled_more_before_february_2021():
    """The first months of Title 42 (to January 2021) expelled far more Central Americans than later ones."""
    before = title42_share(["GTM", "HND", "SLV"], "2020-04", "2021-01")
    after = title42_share(["GTM", "HND", "SLV"], "2021-02", "2022-09")
    policies = sim.load_scenario(SCENARIOS / "history.yaml").policies
    early = policies["title42_mexico_accepts"].outcome
    late = policies["title42_central_american_families"].outcome
    assert before > after + 0.2
    assert early.expel_to_mexico + early.remove_to_origin == pytest.approx(before, abs=0.03)
    assert late.expel_to_mexico + late.remove_to_origin < early.expel_to_mexico + early.remove_to_origin - 0.2
