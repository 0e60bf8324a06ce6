"""Tests for the loaders of monthly drivers, stocks abroad and observed flows along the route."""
import numpy as np
import pandas as pd
import pytest

from sim.core import monthly_drivers as md
from sim.core import stocks
from sim.core.calendar import parse_month
from sim.fitting import route_series as observed

DATA = observed.DATA_DIR


def months(first: str, last: str) -> np.ndarray:
    return np.arange(parse_month(first), parse_month(last) + 1)


# ---------------------------------------------------------------- prices

def test_monthly_inflation_is_the_published_year_on_year_change():
    raw = pd.read_csv(DATA / md.CPI_FILE)
    want = raw.loc[(raw.iso3 == "COL") & (raw.month == "2022-09") & (raw.variable == "cpi_headline_yoy_pct"),
                   "value"].item()
    value, monthly = md.monthly_inflation("COL", months("2022-09", "2022-09"))
    assert monthly.all() and value[0] == pytest.approx(want)
    assert 10 < value[0] < 13                       # Colombia's 2022 price surge


def test_venezuela_uses_the_food_index_and_cuba_the_annual_series():
    raw = pd.read_csv(DATA / md.CPI_FILE)
    want = raw.loc[(raw.iso3 == "VEN") & (raw.month == "2021-06") & (raw.variable == "cpi_food_yoy_pct"),
                   "value"].item()
    value, monthly = md.monthly_inflation("VEN", months("2021-06", "2021-06"))
    assert monthly.all() and value[0] == pytest.approx(want)
    cuba, monthly = md.monthly_inflation("CUB", months("2021-01", "2022-12"))
    assert not monthly.any()
    assert np.allclose(cuba, md.annual_inflation("CUB", months("2021-01", "2022-12")))


def test_after_the_monthly_data_the_annual_series_or_the_last_value_is_used():
    m = months("2024-06", "2024-06")
    value, monthly = md.monthly_inflation("COL", m)
    assert not monthly.any() and value[0] == pytest.approx(md.annual_inflation("COL", m)[0])
    chile, monthly = md.monthly_inflation("CHL", months("2023-12", "2025-03"))     # a host without annual data
    assert monthly[0] and not monthly[1:].any() and np.all(chile == chile[0])
    with pytest.raises(ValueError, match="no inflation data for XXX"):
        md.monthly_inflation("XXX", m)


# ---------------------------------------------------------------- unrest

def test_unrest_index_is_zero_outside_the_data_and_peaks_with_known_events():
    before = md.unrest_index("CUB", months("2020-01", "2020-12"))
    assert np.all(before == 0)
    cuba = pd.Series(md.unrest_index("CUB", months("2021-01", "2022-12")), index=range(24))
    assert cuba.idxmax() in (6, 7, 8)                # July 2021 protests (and the two months after)
    ecuador = md.unrest_index("ECU", months("2022-05", "2022-07"))
    assert ecuador[1] > 1.5 > ecuador[0]            # June 2022 national strike
    assert np.all(md.unrest_index("USA", months("2021-01", "2021-12")) == 0)   # no ACLED rows


def test_unrest_index_averages_the_country_to_about_zero():
    m = months("2021-01", "2024-09")
    for iso in ("COL", "MEX", "HND"):
        assert abs(np.mean(md.unrest_index(iso, m))) < 0.2


# ---------------------------------------------------------------- stocks abroad

def test_stocks_abroad_match_the_published_end_year_totals():
    points = stocks.end_year_points("VEN", "COL")
    assert points[2018] == pytest.approx(1_174_375) and points[2022] == pytest.approx(2_477_588)
    with pytest.raises(KeyError, match="no stock of VEN in XXX"):
        stocks.end_year_points("VEN", "XXX")


def test_monthly_stock_is_linear_between_december_points_and_held_outside():
    points = {2018: 100.0, 2019: 220.0, "2020-06": 400.0}
    got = stocks.monthly_stock(points, months("2018-06", "2021-01"))
    assert got[0] == 100.0                      # held before the first point (December 2018)
    assert got[12] == pytest.approx(160.0)      # June 2019, half way
    assert got[24] == 400.0 and got[-1] == 400.0
    assert list(stocks.arrived_by([1.0, 3.0, 2.0, 5.0])) == [1.0, 3.0, 3.0, 5.0]


# ---------------------------------------------------------------- observed flows along the route

def test_darien_series_keeps_missing_months_missing():
    darien = observed.load_route_series("darien")
    assert darien.loc["2022-09", "VEN"] == 38_399
    assert darien.loc["2020-04"].isna().all()          # border closed: no rows, not zeros
    assert np.isnan(darien.loc["2021-03", "VEN"])       # no row for Venezuelans that month
    assert darien.index.max() == "2022-09"


def test_mexico_series_sum_their_variables_and_stop_in_september_2022():
    events = observed.load_route_series("mexico_interceptions")
    raw = pd.read_csv(DATA / observed.ROUTE_SERIES["mexico_interceptions"].file)
    assert events.loc["2022-08", "VEN"] == raw.loc[(raw.nationality_iso3 == "VEN") & (raw.period == "2022-08"),
                                                  "value"].sum()
    returns = observed.load_route_series("mexico_returns")
    raw = pd.read_csv(DATA / observed.ROUTE_SERIES["mexico_returns"].file)
    assert returns.loc["2021-08", "HND"] == raw.loc[(raw.nationality_iso3 == "HND") & (raw.period == "2021-08"),
                                                   "value"].sum()
    for name in observed.ROUTE_SERIES:
        assert observed.load_route_series(name).index.max() <= "2022-09"


def test_route_series_refuses_a_file_without_its_columns(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("month,nationality,value\n2022-01,VEN,3\n")
    with pytest.raises(ValueError, match="nationality_iso3, period, variable"):
        observed.load_route_series("darien", bad)


def test_model_series_sums_the_nodes_of_a_series():
    table = pd.DataFrame({
        "scenario": "s", "replicate": [0, 0, 0, 1, 0, 0], "seed": 1,
        "month": ["2022-01", "2022-01", "2022-01", "2022-01", "2022-01", "2022-01"],
        "nationality": ["VEN", "VEN", "CUB", "VEN", "VEN", "VEN"],
        "location": ["MEX_SOUTH", "MEX_NORTH", "MEX_SOUTH", "MEX_SOUTH", "PAN_DARIEN", "MEX_AIRPORT"],
        "metric": ["intercepted", "intercepted", "intercepted", "intercepted", "transits", "intercepted"],
        "value": [10.0, 5.0, 2.0, 20.0, 7.0, 40.0]})
    got = observed.model_series(table, "mexico_interceptions")
    # refusals at the airport are not events of persons in irregular situation (not summed)
    assert got.loc["2022-01", "VEN"] == pytest.approx((10 + 5 + 20) / 2)
    assert got.loc["2022-01", "CUB"] == pytest.approx(1.0)
    assert observed.model_series(table, "darien").loc["2022-01", "VEN"] == pytest.approx(3.5)
