"""Loaders for the sourced data shipped in ``sim/data/`` (see ``sim/data/README.md``).

Every loader is pure: it reads only the shipped CSV files (or the file it is given),
caches what it reads, and returns a fresh copy. Selection rules (which series wins,
how gaps are filled) live here once and are documented in ``sim/data/README.md``.
"""
from __future__ import annotations

import functools
from pathlib import Path

import pandas as pd

from .countries import ORIGINS

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
YEARS = range(2015, 2026)  # driver years, inclusive of 2025

#: Every country spelling used in the shipped files -> ISO3 (None: not one country).
COUNTRY_NAME_TO_ISO3: dict[str, str | None] = {
    "Venezuela": "VEN", "Venezuela (OVV)": "VEN", "Cuba": "CUB", "Haiti": "HTI",
    "Nicaragua": "NIC", "Honduras": "HND", "Guatemala": "GTM", "El Salvador": "SLV",
    "Ecuador": "ECU", "Colombia": "COL", "Mexico": "MEX", "Peru": "PER",
    "Costa Rica": "CRI", "Panama": "PAN", "United States": "USA",
    "Dominican Republic": "DOM", "India": "IND", "Brazil": "BRA", "Canada": "CAN",
    "CHINA, PEOPLES REPUBLIC OF": "CHN", "China": "CHN", "MYANMAR (BURMA)": "MMR",
    "Philippines": "PHL", "Romania": "ROU", "Russia": "RUS", "Turkey": "TUR",
    "Ukraine": "UKR",
    # CBP's and Panama's residual groups, and regional aggregates, are not countries.
    "OTHER": None, "Central America (7 countries)": None,
    "Northern Triangle (SLV+GTM+HND)": None, "South America": None,
}
_LOOKUP = {" ".join(k.upper().split()): v for k, v in COUNTRY_NAME_TO_ISO3.items()}
_LOOKUP.update({v: v for v in COUNTRY_NAME_TO_ISO3.values() if v})  # ISO3 passes through

# Series priority for annual inflation (lower wins), see README "Choices".
INFLATION_PRIORITY = (
    "WB WDI FP.CPI.TOTL.ZG",                       # CPI, annual average
    "IMF WEO Apr-2024 PCPIPCH",                    # CPI, annual average
    "BCV INPC, annual average",                    # Venezuela, national
    "ONEI (Cuba) CPI, Dec-on-Dec, formal market",  # Cuba, national, Dec-on-Dec
    "BCV INPC, Dec-on-Dec",                        # Venezuela, national, Dec-on-Dec
    "WB WDI NY.GDP.DEFL.KD.ZG",                    # GDP deflator: last resort
)
_CONFIDENCE_RANK = {"high": 0, "medium": 1, "low": 2}


def to_iso3(name: object) -> str | None:
    """ISO3 code for a country name as spelled in the shipped files (case-insensitive,
    surrounding/repeated spaces ignored); None for residual groups and unknown names."""
    if not isinstance(name, str):
        return None
    return _LOOKUP.get(" ".join(name.upper().split()))


@functools.cache
def _raw(name: str) -> pd.DataFrame:
    """A shipped CSV as read (cached; callers must not modify it)."""
    return pd.read_csv(DATA_DIR / name)


def population() -> pd.Series:
    """Population in 2025 (persons) by ISO3, all countries in population_unwpp2024.csv
    (UN World Population Prospects 2024, medium variant)."""
    df = _raw("population_unwpp2024.csv")
    return pd.Series(df["population_2025"].to_numpy(), index=df["country"].map(to_iso3),
                     name="population_2025").rename_axis("iso3").copy()


def _fill(obs: pd.DataFrame, driver: str) -> pd.DataFrame:
    """Complete one driver to every origin x year in YEARS.

    ``obs`` has iso3, year, value, source (observed values, any years). Gaps between
    known years are interpolated linearly in time; years beyond the first/last known
    year hold the nearest known value. Returns driver_sources() rows."""
    rows = []
    for iso in ORIGINS:
        o = obs[obs["iso3"] == iso].set_index("year").sort_index()
        if o.empty:
            raise ValueError(f"no observed {driver} for {iso}")
        known = o.index.to_numpy()
        for year in YEARS:
            if year in o.index:
                rows.append((iso, year, driver, o.at[year, "value"], o.at[year, "source"], "observed"))
            elif known.min() < year < known.max():
                y0, y1 = known[known < year].max(), known[known > year].min()
                v0, v1 = o.at[y0, "value"], o.at[y1, "value"]
                value = v0 + (v1 - v0) * (year - y0) / (y1 - y0)
                rows.append((iso, year, driver, value,
                             f"linear interpolation between {y0} ({v0:g}) and {y1} ({v1:g})",
                             "interpolated"))
            else:
                near = known.min() if year < known.min() else known.max()
                rows.append((iso, year, driver, o.at[near, "value"],
                             f"held from {near}: {o.at[near, 'source']}", "held"))
    return pd.DataFrame(rows, columns=["iso3", "year", "driver", "value", "source", "filled"])


def _best(cands: pd.DataFrame) -> pd.DataFrame:
    """Keep, per iso3 and year, the non-missing candidate with the lowest ``rank``."""
    cands = cands.dropna(subset=["value"]).sort_values(["iso3", "year", "rank"], kind="stable")
    return cands.drop_duplicates(["iso3", "year"])[["iso3", "year", "value", "source"]]


def _inflation_obs() -> pd.DataFrame:
    df = _raw("inflation_annual.csv")
    df = df[df["series"].isin(INFLATION_PRIORITY)].copy()
    df["rank"] = df["series"].map(INFLATION_PRIORITY.index)
    df["source"] = "inflation_annual.csv [" + df["series"] + "] " + df["source"]
    return _best(df)


def _homicide_obs() -> pd.DataFrame:
    parts = []
    for rank, name in enumerate(("homicide_rate_per_100k.csv", "homicide_rate_unodc.csv",
                                 "homicide_rate_alt_sources.csv")):
        df = _raw(name).copy()
        df["iso3"] = df["country"].map(to_iso3)
        df["rank"] = rank
        df["value"] = df["homicides_per_100k"]
        df["source"] = f"{name}: " + df["source"]
        parts.append(df[["iso3", "year", "value", "source", "rank"]].dropna(subset=["year"]))
    out = _best(pd.concat(parts, ignore_index=True))
    return out.astype({"year": int})


def _repression_obs() -> pd.DataFrame:
    df = _raw("freedom_house_scores.csv")
    return pd.DataFrame({
        "iso3": df["country"].map(to_iso3), "year": df["data_year"],
        "value": 100.0 - df["total_0_100"],  # repression = 100 - Freedom House total
        "source": "freedom_house_scores.csv: 100 - total_0_100 (edition "
                  + df["edition"].astype(str) + "); " + df["source"]})


@functools.cache
def _drivers_long() -> pd.DataFrame:
    return pd.concat([_fill(_inflation_obs(), "inflation_pct"),
                      _fill(_homicide_obs(), "homicides_per_100k"),
                      _fill(_repression_obs(), "repression_0_100")], ignore_index=True)


def driver_sources() -> pd.DataFrame:
    """Every annual driver value with its provenance: columns iso3, year, driver, value,
    source, filled ('observed', 'interpolated' or 'held'). Units as in annual_drivers()."""
    return _drivers_long().copy()


def annual_drivers() -> pd.DataFrame:
    """One row per origin and year 2015..2025: iso3, year,
    inflation_pct (annual consumer price inflation, % per year; see README for series),
    homicides_per_100k (intentional homicides per 100,000 persons per year),
    repression_0_100 (100 - Freedom House total score, keyed by the data year).
    No NaN: gaps are interpolated linearly, ends hold the nearest known value."""
    wide = _drivers_long().pivot(index=["iso3", "year"], columns="driver", values="value")
    wide = wide.reset_index()[["iso3", "year", "inflation_pct", "homicides_per_100k",
                               "repression_0_100"]].rename_axis(columns=None)
    wide["iso3"] = pd.Categorical(wide["iso3"], categories=ORIGINS, ordered=True)
    wide = wide.sort_values(["iso3", "year"]).reset_index(drop=True)
    return wide.astype({"iso3": str, "year": int})


@functools.cache
def _diaspora() -> pd.DataFrame:
    df = _raw("us_foreign_born_by_origin.csv").copy()
    df["conf"] = df["confidence"].map(_CONFIDENCE_RANK).fillna(9)
    rows = []
    for iso in ORIGINS:
        o = df[df["origin_iso3"] == iso]
        early = o[o["year"] <= 2022]
        if not early.empty:  # highest confidence first, then most recent year
            pick, rule = early.sort_values(["conf", "year"], ascending=[True, False]).iloc[0], \
                "highest-confidence, most recent figure up to 2022"
        elif not o.empty:  # fallback: the earliest figure after 2022
            pick, rule = o.sort_values(["year", "conf"]).iloc[0], "fallback: earliest figure after 2022"
        else:
            raise ValueError(f"no US foreign-born figure for {iso}")
        rows.append({"iso3": iso, "persons": int(pick["foreign_born_in_us"]),
                     "year": int(pick["year"]), "confidence": pick["confidence"],
                     "measure": pick["measure"], "rule": rule, "source": pick["source"]})
    return pd.DataFrame(rows)


def diaspora_stock() -> pd.Series:
    """US foreign-born population (persons) by origin ISO3, for the 11 ORIGINS
    (see diaspora_sources() for year, confidence and source of each value)."""
    d = _diaspora()
    return pd.Series(d["persons"].to_numpy(), index=pd.Index(d["iso3"], name="iso3"),
                     name="us_foreign_born")


def diaspora_sources() -> pd.DataFrame:
    """Provenance of diaspora_stock(): iso3, persons, year, confidence, measure, rule, source."""
    return _diaspora().copy()


@functools.cache
def _gdp() -> pd.DataFrame:
    df = _raw("gdp_per_capita_ppp.csv").dropna(subset=["value"])
    rows = []
    for iso in ORIGINS:
        for series in ("WB WDI NY.GDP.PCAP.PP.KD", "IMF WEO Apr-2024 PPPPC"):
            o = df[(df["iso3"] == iso) & (df["series"] == series)]
            if not o.empty:
                r = o.sort_values("year").iloc[-1]
                rows.append({"iso3": iso, "value": float(r["value"]), "year": int(r["year"]),
                             "series": series, "unit": r["unit"], "basis": "observed",
                             "source": r["source"]})
                break
    out = pd.DataFrame(rows)
    missing = [iso for iso in ORIGINS if iso not in set(out["iso3"])]  # Cuba
    median = float(out["value"].median())
    out = pd.concat([out, pd.DataFrame([{
        "iso3": iso, "value": median, "year": pd.NA, "series": "assumption",
        "unit": "international $ (as the other origins)", "basis": "assumed",
        "source": "ASSUMPTION: median of the other origins' latest values (no PPP GDP for "
                  "this country in WDI or IMF WEO)"} for iso in missing])], ignore_index=True)
    out["iso3"] = pd.Categorical(out["iso3"], categories=ORIGINS, ordered=True)
    return out.sort_values("iso3").astype({"iso3": str}).reset_index(drop=True)


def gdp_per_capita_ppp() -> pd.Series:
    """GDP per head, PPP (international $ per person per year) by origin ISO3: the most
    recent WB WDI value (constant 2021 intl $); Venezuela (no WDI) uses IMF WEO PPPPC
    (current intl $). Cuba has no PPP GDP in any source: ASSUMED equal to the median of
    the other ten origins (marked basis='assumed' in gdp_sources())."""
    g = _gdp()
    return pd.Series(g["value"].to_numpy(), index=pd.Index(g["iso3"], name="iso3"),
                     name="gdp_per_capita_ppp")


def gdp_sources() -> pd.DataFrame:
    """Provenance of gdp_per_capita_ppp(): iso3, value, year, series, unit, basis, source."""
    return _gdp().copy()


def observed_encounters(path: str | Path | None = None) -> pd.DataFrame:
    """Encounters (events, persons as CBP counts them) by month and nationality.

    Reads a CSV in the CBP layout (``month``, ``citizenship``, ``encounters``; other
    columns ignored) from ``path`` (default: the shipped Oct 2019 - Sep 2022 file), maps
    citizenship with to_iso3 (unmapped -> "OTHER") and returns month ('YYYY-MM'),
    nationality (ISO3 or "OTHER"), encounters (int), summed per month and nationality."""
    path = Path(path) if path is not None else DATA_DIR / "cbp_swb_encounters_monthly_by_citizenship.csv"
    df = pd.read_csv(path)
    for col in ("month", "citizenship", "encounters"):
        if col not in df.columns:
            raise ValueError(f"{path}: required column {col!r} is missing "
                             f"(found: {', '.join(map(str, df.columns))})")
    out = pd.DataFrame({
        "month": pd.to_datetime(df["month"].astype(str)).dt.strftime("%Y-%m"),
        "nationality": df["citizenship"].map(to_iso3).fillna("OTHER").astype(str),
        "encounters": pd.to_numeric(df["encounters"]).astype("int64")})
    return out.groupby(["month", "nationality"], as_index=False)["encounters"].sum()


def policy_timeline() -> pd.DataFrame:
    """Dated policy events 2019-2025 (policy_timeline.csv as read; ``date`` parsed)."""
    df = _raw("policy_timeline.csv").copy()
    df["date"] = pd.to_datetime(df["date"])
    return df
