"""Tests for sim.core.datasets: shapes, selection rules and provenance of the shipped data."""
import hashlib
import io
from pathlib import Path

import pandas as pd
import pytest

from sim.core import datasets as ds

DATA = ds.DATA_DIR


def test_every_origin_has_every_year_without_nan():
    df = ds.annual_drivers()
    assert list(df.columns) == ["iso3", "year", "inflation_pct", "homicides_per_100k",
                                "repression_0_100"]
    assert len(df) == len(ds.ORIGINS) * 11
    for iso in ds.ORIGINS:
        assert sorted(df.loc[df.iso3 == iso, "year"]) == list(range(2015, 2026))
    assert not df.isna().any().any()


def test_driver_sources_trace_every_value():
    src = ds.driver_sources()
    assert set(src["filled"]) <= {"observed", "interpolated", "held"}
    assert len(src) == 3 * len(ds.ORIGINS) * 11
    assert src["source"].str.len().min() > 10
    wide = ds.annual_drivers().set_index(["iso3", "year"])
    for row in src.itertuples():
        assert wide.at[(row.iso3, row.year), row.driver] == pytest.approx(row.value)


def test_repression_range_and_known_row():
    df = ds.annual_drivers()
    assert df["repression_0_100"].between(0, 100).all()
    fh = pd.read_csv(DATA / "freedom_house_scores.csv")
    total = fh.loc[(fh.country == "Venezuela") & (fh.data_year == 2019), "total_0_100"].item()
    assert total == 16
    got = df.loc[(df.iso3 == "VEN") & (df.year == 2019), "repression_0_100"].item()
    assert got == 100 - total == 84


def test_venezuela_inflation_2016_is_wdi_cpi():
    raw = pd.read_csv(DATA / "inflation_annual.csv")
    want = raw.loc[(raw.iso3 == "VEN") & (raw.year == 2016)
                   & (raw.series == "WB WDI FP.CPI.TOTL.ZG"), "value"].item()
    df = ds.annual_drivers()
    got = df.loc[(df.iso3 == "VEN") & (df.year == 2016), "inflation_pct"].item()
    assert got == pytest.approx(want) and got == pytest.approx(254.948534781816)


def test_venezuela_hyperinflation_uses_imf_annual_average():
    df = ds.annual_drivers().set_index(["iso3", "year"])
    assert df.at[("VEN", 2018), "inflation_pct"] == pytest.approx(65374.08, rel=1e-4)
    assert df.at[("VEN", 2020), "inflation_pct"] == pytest.approx(2355.1, rel=1e-4)


def test_gap_filling_rules():
    src = ds.driver_sources().set_index(["iso3", "year", "driver"])
    # GTM homicide 2016: between alt-source 2015 (35.4) and UNODC 2017
    row = src.loc[("GTM", 2016, "homicides_per_100k")]
    assert row["filled"] == "interpolated"
    g15 = src.loc[("GTM", 2015, "homicides_per_100k"), "value"]
    g17 = src.loc[("GTM", 2017, "homicides_per_100k"), "value"]
    assert row["value"] == pytest.approx((g15 + g17) / 2)
    # Freedom House stops at data year 2023: 2024-2025 held
    assert src.loc[("CUB", 2025, "repression_0_100"), "filled"] == "held"
    assert src.loc[("CUB", 2025, "repression_0_100"), "value"] == \
        src.loc[("CUB", 2023, "repression_0_100"), "value"]
    # InSight Crime preferred to UNODC where both exist
    assert src.loc[("MEX", 2019, "homicides_per_100k"), "value"] == pytest.approx(27.0)


def test_to_iso3():
    assert ds.to_iso3("EL SALVADOR") == "SLV"
    assert ds.to_iso3("Venezuela") == "VEN"
    assert ds.to_iso3("  el   salvador ") == "SLV"
    assert ds.to_iso3("CHINA, PEOPLES REPUBLIC OF") == "CHN"
    assert ds.to_iso3("OTHER") is None
    assert ds.to_iso3(None) is None
    cbp = pd.read_csv(DATA / "cbp_swb_encounters_monthly_by_citizenship.csv")
    for name in cbp["citizenship"].unique():
        assert name.upper() == "OTHER" or ds.to_iso3(name) is not None, name


def test_observed_encounters_fy2022_total_matches_raw():
    raw = pd.read_csv(DATA / "cbp_swb_encounters_monthly_by_citizenship.csv")
    fy22 = raw[(raw.month >= "2021-10") & (raw.month <= "2022-09")]["encounters"].sum()
    obs = ds.observed_encounters()
    assert list(obs.columns) == ["month", "nationality", "encounters"]
    got = obs[(obs.month >= "2021-10") & (obs.month <= "2022-09")]["encounters"].sum()
    assert got == fy22 == 2378944
    assert obs["encounters"].dtype.kind == "i"
    assert "OTHER" in set(obs["nationality"]) and set(ds.ORIGINS) <= set(obs["nationality"])
    assert obs["month"].max() == "2022-09"


def test_observed_encounters_missing_column(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("month,nationality,encounters\n2022-01,MEXICO,5\n")
    with pytest.raises(ValueError, match="citizenship") as err:
        ds.observed_encounters(bad)
    assert "bad.csv" in str(err.value)


def test_observed_encounters_custom_file(tmp_path):
    f = tmp_path / "enc.csv"
    f.write_text("month,citizenship,encounters,extra\n2023-01,MEXICO,5,x\n"
                 "2023-01,Mexico ,2,y\n2023-01,GUINEA,3,z\n")
    obs = ds.observed_encounters(f)
    assert obs.to_dict("records") == [
        {"month": "2023-01", "nationality": "MEX", "encounters": 7},
        {"month": "2023-01", "nationality": "OTHER", "encounters": 3}]


def test_population():
    pop = ds.population()
    assert pop["MEX"] == 130861007
    assert {"CRI", "PAN"} <= set(pop.index) and set(ds.ORIGINS) <= set(pop.index)


def test_diaspora_and_gdp_cover_origins():
    dia = ds.diaspora_stock()
    assert list(dia.index) == list(ds.ORIGINS) and (dia > 0).all()
    assert dia["VEN"] == 545000 and dia["MEX"] == 10700000
    assert (ds.diaspora_sources()["year"] <= 2022).all()
    gdp = ds.gdp_per_capita_ppp()
    assert list(gdp.index) == list(ds.ORIGINS) and (gdp > 0).all()
    src = ds.gdp_sources().set_index("iso3")
    assert src.loc["CUB", "basis"] == "assumed"
    assert gdp["CUB"] == pytest.approx(gdp.drop("CUB").median())
    assert (src.drop("CUB")["basis"] == "observed").all()


def test_policy_timeline_dates_parsed():
    pt = ds.policy_timeline()
    assert pd.api.types.is_datetime64_any_dtype(pt["date"])
    assert "source" in pt.columns and pt["source"].notna().all()


# Observed outcomes stop at September 2022: calendar-year rows of 2022 are left out of these copies, and outcome
# figures quoted in the notes of these timelines (inputs) are removed.
TRIMMED = {"darien_crossings_annual.csv", "mexico_irregular_events_annual.csv"}
NOTES_EDITED = {"policy_timeline.csv", "shocks_and_entry_rules_timeline.csv"}


def test_shipped_files_identical_to_shared_raw():
    shared = Path("/work/shared/data")
    if not shared.exists():
        pytest.skip("shared raw data not available")
    for f in sorted(DATA.glob("*.csv")):
        raw = (shared / f.name).read_text(encoding="utf-8")
        if f.name in TRIMMED:
            assert set(f.read_text(encoding="utf-8").splitlines()) < set(raw.splitlines()), f.name
        elif f.name in NOTES_EDITED:
            shipped = pd.read_csv(f)
            assert shipped["date"].tolist() == pd.read_csv(io.StringIO(raw))["date"].tolist(), f.name
        else:
            assert hashlib.sha256(f.read_bytes()).digest() == \
                hashlib.sha256((shared / f.name).read_bytes()).digest(), f.name


def test_no_shipped_outcome_runs_past_september_2022():
    """Annual outcome tables hold whole years up to 2021 only (a calendar 2022 total includes October - December)."""
    for name in sorted(TRIMMED):
        years = pd.read_csv(DATA / name)["year"]
        assert years.max() <= 2021, name
