"""Comparisons: study files, the numbers behind every figure, stored results, the report, errors."""
from __future__ import annotations

import json
import textwrap
import time

import numpy as np
import pandas as pd
import pytest

from sim.cli import main
from sim.experiments.comparisons import analysis, compare, load_comparison, load_study
from sim.outputs.table import quantiles

from helpers import SCENARIOS, figure_text_problems, needs_browser


def write_study(tmp_path, body: str = "", name: str = "study.yaml"):
    text = textwrap.dedent(f"""\
        schema_version: 1
        name: small_study
        description: A small comparison for tests.
        baseline: {SCENARIOS / 'baseline.yaml'}
        scenarios:
          enforcement: {SCENARIOS / 'enforcement.yaml'}
          containment: {SCENARIOS / 'containment.yaml'}
          more_appointments:
            policies:
              cbp_one_plus: {{kind: legal_pathway, pathway: appointments, start: 2023-01, places_per_month: 60000}}
        agents: 8000
        replications: 3
        seed: 5
        months: 8
        """) + textwrap.dedent(body)
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def comparison(tmp_path_factory):
    return compare(write_study(tmp_path_factory.mktemp("study")))


def test_every_scenario_shares_sample_horizon_and_seeds(comparison):
    table = comparison.to_frame()
    assert list(comparison.scenarios) == ["baseline", "enforcement", "containment", "more_appointments"]
    assert list(dict.fromkeys(table.scenario)) == comparison.names
    seeds = table.groupby("scenario").seed.apply(lambda s: tuple(sorted(s.unique())))
    assert seeds.nunique() == 1 and len(seeds.iloc[0]) == 3       # common random numbers
    assert table.month.nunique() == 8
    assert comparison.scenarios["more_appointments"].policies["cbp_one_plus"].places_per_month == 60000


def test_outcome_curves_draw_the_table(comparison):
    fig, data = comparison.plot_outcomes()
    table = comparison.to_frame()
    expected = quantiles(table[table.metric.isin(comparison.settings["outcomes"])])
    for ax, metric in zip(fig.axes, comparison.settings["outcomes"]):
        lines = [line for line in ax.get_lines() if line.get_label() in comparison.names]
        assert [line.get_label() for line in lines] == comparison.names
        for line in lines:
            want = expected[(expected.metric == metric) & (expected.scenario == line.get_label())]
            want = want.set_index("month").q50.reindex(sorted(table.month.unique()), fill_value=0.0)
            np.testing.assert_allclose(line.get_ydata(), want.to_numpy(), err_msg=f"{metric} {line.get_label()}")
    assert set(data.metric) == set(comparison.settings["outcomes"])


def test_difference_curves_are_paired_differences(comparison):
    fig, data = comparison.plot_differences()
    table = comparison.to_frame()
    runs = table[table.metric == "entries_irregular"].groupby(["scenario", "replicate", "month"]).value.sum()
    cumulative = runs.groupby(level=["scenario", "replicate"]).cumsum().unstack("replicate")
    averted = cumulative.loc["baseline"] - cumulative.loc["enforcement"]
    line = next(line for line in fig.axes[0].get_lines() if line.get_label() == "enforcement")
    np.testing.assert_allclose(line.get_ydata(), averted.median(axis=1).to_numpy())
    assert averted.median(axis=1).iloc[-1] > 0            # stricter enforcement averts crossings


def test_cost_effectiveness_from_the_table(comparison):
    fig, data = comparison.plot_cost_effectiveness()
    costs = comparison.cost_effectiveness().set_index("scenario")
    table = comparison.to_frame()
    spend = table[table.metric.isin(["aid_spent_usd", "enforcement_spent_usd"])].groupby(
        ["scenario", "replicate"]).value.sum().unstack("replicate")
    crossings = table[table.metric == "entries_irregular"].groupby(["scenario", "replicate"]).value.sum().unstack(
        "replicate")
    extra = spend.loc["enforcement"] - spend.loc["baseline"]
    averted = crossings.loc["baseline"] - crossings.loc["enforcement"]
    assert costs.loc["enforcement", "extra_spending_usd_q50"] == pytest.approx(extra.median())
    per_crossing = (extra / averted)[averted > 0]           # replications where crossings were averted
    assert costs.loc["enforcement", "usd_per_crossing_averted_q50"] == pytest.approx(per_crossing.median())
    assert costs.loc["enforcement", "share_averting_crossings"] == pytest.approx((averted > 0).mean())
    drawn = data[(data.measure == "usd_per_crossing_averted") & (data.scenario == "enforcement")]
    assert drawn.q50.iloc[0] == pytest.approx(per_crossing.median())


def test_nationality_panels_cover_every_origin(comparison):
    fig, data = comparison.plot_nationalities()
    table = comparison.to_frame()
    visible = [ax for ax in fig.axes if ax.get_visible() and ax.get_title()]
    assert sorted(ax.get_title() for ax in visible) == sorted(n for n in table.nationality.unique() if n)
    mex = table[(table.metric == "encounters") & (table.nationality == "MEX") & (table.scenario == "baseline")]
    want = mex.groupby(["month", "replicate"]).value.sum().unstack().median(axis=1)
    got = data[(data.nationality == "MEX") & (data.scenario == "baseline")].q50.to_numpy()
    np.testing.assert_allclose(got, want.to_numpy())


def test_policy_markers_where_scenario_policies_start(comparison):
    starts = comparison.policy_starts()
    assert set(starts.scenario) <= {"enforcement", "containment", "more_appointments"}
    assert ("more_appointments", "cbp_one_plus", "2023-01") in set(map(tuple, starts.to_numpy()))


def test_every_figure_reads_at_a_glance(comparison):
    """No overlapping labels, no text out of the figure, no font under 8 points, no 1e+07 (helpers)."""
    drawn = comparison.figures()
    assert {"outcome_curves", "cost_effectiveness", "difference_from_baseline", "yearly_effect"} <= set(drawn)
    for stem, (fig, _) in drawn.items():
        assert figure_text_problems(fig) == [], stem


@pytest.mark.slow
def test_plot_redraws_stored_results_without_running(comparison, tmp_path, monkeypatch):
    out = comparison.save(tmp_path / "results")
    for expected in ("outcomes.parquet", "report.html", "summary.md", "summary.csv", "cost_effectiveness.csv",
                     "figures/outcome_curves.png", "figures/outcome_curves.svg",
                     "figures/encounters_by_nationality.png", "figures/difference_from_baseline.svg",
                     "figures/cost_effectiveness.png"):
        assert (out / expected).is_file(), expected
    for figure in (out / "figures").iterdir():
        figure.unlink()

    def no_simulation(*args, **kwargs):
        raise AssertionError("plot must not run the model")

    import sim.api  # noqa: F401  (every module that binds `simulate` is imported before the patch, so none keeps it)

    for where in ("sim.simulation.simulate", "sim.experiments.sweeps.execute.simulate",
                  "sim.fitting.objective.simulate"):
        monkeypatch.setattr(where, no_simulation)
    assert main(["plot", str(out)]) == 0
    assert (out / "figures" / "outcome_curves.png").is_file()
    stored = load_comparison(out)
    pd.testing.assert_frame_equal(stored.plot_outcomes()[1], comparison.plot_outcomes()[1])
    pd.testing.assert_frame_equal(stored.cost_effectiveness(), comparison.cost_effectiveness())


@pytest.mark.slow
@needs_browser
def test_report_opens_in_a_browser_with_every_figure(comparison, tmp_path, browser):
    from selenium.webdriver.common.by import By

    out = comparison.save(tmp_path / "report")
    expected = {"outcome_curves", "encounters_by_nationality", "interceptions_by_country",
                "difference_from_baseline", "cost_effectiveness", "yearly_effect"}
    browser.get((out / "report.html").as_uri())
    # a report of several MB of inline images can still be parsing when get() returns: wait for it (30 s at most)
    deadline = time.monotonic() + 30
    while True:
        images = browser.find_elements(By.CSS_SELECTOR, "figure img")
        found = {img.get_attribute("alt") for img in images}
        if found == expected or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert found == expected
    assert all(browser.execute_script("return arguments[0].naturalWidth", img) > 200 for img in images)
    text = browser.find_element(By.TAG_NAME, "body").text
    for name in comparison.names:
        assert name in text
    assert "Provenance" in text and "Cost-effectiveness" in text


@pytest.mark.slow
def test_compare_command_end_to_end(tmp_path, capsys):
    study = write_study(tmp_path, name="cli.yaml")
    out = tmp_path / "cli_results"
    assert main(["compare", str(study), "--agents", "500", "--replications", "2", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "more_appointments" in printed and "averted" in printed
    assert load_comparison(out).outcomes.replicate.nunique() == 2


@pytest.mark.parametrize("body, where, message", [
    ("outcomes: [encounters, deathz]\n", "outcomes", "unknown outcome 'deathz'; did you mean 'deaths'?"),
    ("scenarios:\n  aid: no_such_scenario.yaml\n", "scenarios.aid", "file not found"),
    ("heatmap: {sweep: missing_sweep.yaml, x: a, y: b}\n", "heatmap.sweep", "file not found"),
])
def test_bad_study_files_say_where(tmp_path, capsys, body, where, message):
    base = write_study(tmp_path).read_text()
    if body.startswith("scenarios:"):
        base = base.replace("scenarios:\n", body, 1)
        body = ""
    if body.startswith("outcomes"):
        base += body
        body = ""
    path = tmp_path / "bad.yaml"
    path.write_text(base + body)
    assert main(["compare", str(path), "--out", str(tmp_path / "never")]) == 2
    err = capsys.readouterr().err
    assert "bad.yaml:" in err and where in err and message in err, err
    assert not (tmp_path / "never").exists()


def test_inline_override_errors_point_into_the_study(tmp_path):
    from sim.core.errors import ScenarioError

    path = write_study(tmp_path).read_text().replace("places_per_month: 60000", "places_per_month: -5")
    (tmp_path / "neg.yaml").write_text(path)
    with pytest.raises(ScenarioError) as info:
        load_study(tmp_path / "neg.yaml")
    problem = info.value.problems[0]
    assert problem.file.endswith("neg.yaml") and problem.line == 10
    assert "policies.cbp_one_plus" in problem.key


def test_shipped_study_loads():
    study = load_study(SCENARIOS / "aid_vs_enforcement.yaml")
    assert study.names[0] == "baseline" and len(study.names) >= 4
    assert all(s.seed == study.study.seed for s in study.scenarios.values())


def test_headline_table_has_every_scenario(comparison):
    summary = comparison.summary()
    assert list(summary.scenario) == comparison.names
    assert (summary.drop(columns="scenario") >= 0).all().all()
    assert analysis.HEADLINE_METRICS[0] in summary


@pytest.mark.slow
def test_heatmap_of_a_sweep_over_two_levers(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)                      # the sweep writes into results/<sweep name>/
    (tmp_path / "tiny_sweep.yaml").write_text(textwrap.dedent(f"""\
        schema_version: 1
        extends: {SCENARIOS / 'baseline.yaml'}
        name: tiny_sweep
        agents: 4000
        months: 3
        policies:
          mexico_checks: {{kind: containment, country: MEX, start: 2023-01, interception_probability: 0.4,
                          capacity_per_month: 50000}}
        sweep:
          seed: 3
          replications: 1
          levers:
            design: grid
            parameters:
              policies.mexico_checks.capacity_per_month: [0, 200000]
              policies.mexico_checks.interception_probability: [0.1, 0.6]
        """))
    study = write_study(tmp_path, textwrap.dedent("""\
        heatmap:
          sweep: tiny_sweep.yaml
          x: policies.mexico_checks.capacity_per_month
          y: policies.mexico_checks.interception_probability
          outcome: intercepted
        """))
    result = compare(study, agents=300, replications=1)
    fig, table = result.plot_heatmap()
    assert table.shape == (2, 2)
    assert list(table.columns) == [0, 200000] and sorted(table.index) == [0.1, 0.6]
    grid = result.heatmap_grid
    raw = grid[(grid.x == 200000) & (grid.y == 0.6)].value.median()
    assert table.loc[0.6, 200000] == pytest.approx(raw)
    assert table.loc[0.6, 200000] > table.loc[0.6, 0]          # capacity lets a country intercept
    out = result.save(tmp_path / "with_heatmap")
    assert (out / "figures" / "heatmap.png").is_file() and (out / "heatmap.csv").is_file()
    assert load_comparison(out).plot_heatmap()[1].equals(table)
    # the levers by their names in the sweep file (not their paths), also when redrawn from the stored results
    for drawn in (fig, load_comparison(out).plot_heatmap()[0]):
        ax = drawn.axes[0]
        assert ax.get_xlabel().replace("\n", " ") == "Containment by MEX: capacity (persons per month)"
        assert ax.get_ylabel().replace("\n", " ") == "Containment by MEX: interception probability (per passage)"
        assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "200k"]


def test_check_and_run_know_a_study_file(capsys):
    assert main(["check", str(SCENARIOS / "aid_vs_enforcement.yaml")]) == 0
    assert "OK (study aid_vs_enforcement" in capsys.readouterr().out
    assert main(["run", str(SCENARIOS / "aid_vs_enforcement.yaml"), "--quiet"]) == 2
    assert "run it with `migsim compare`" in capsys.readouterr().err


def test_compare_never_replaces_a_folder_that_is_not_a_comparison(tmp_path, capsys, monkeypatch):
    study = write_study(tmp_path)
    precious = tmp_path / "notes"
    precious.mkdir()
    (precious / "draft.txt").write_text("keep me")
    monkeypatch.setattr("sim.experiments.comparisons.comparison.compare",
                        lambda *a, **k: pytest.fail("refused before running"))
    assert main(["compare", str(study), "--out", str(precious), "--quiet"]) == 2
    assert "does not hold the results of a comparison" in capsys.readouterr().err
    assert [p.name for p in precious.iterdir()] == ["draft.txt"]


def test_interceptions_by_transit_country_draw_the_table(comparison):
    fig, data = comparison.plot_countries()
    table = comparison.to_frame()
    mex_nodes = {"MEX_AIRPORT", "MEX_SOUTH", "MEX_NORTH", "MEX"}
    rows = table[(table.metric == "intercepted") & table.location.isin(mex_nodes) & (table.scenario == "containment")]
    per_run = rows.groupby(["month", "replicate"]).value.sum().unstack(fill_value=0.0)
    per_run = per_run.reindex(index=sorted(table.month.unique()), columns=sorted(table.replicate.unique()),
                              fill_value=0.0)
    got = data[(data.country == "MEX") & (data.scenario == "containment")].q50.to_numpy()
    np.testing.assert_allclose(got, per_run.median(axis=1).to_numpy())
    assert set(data.scenario) == set(comparison.names)
    assert "MEX" in {ax.get_title() for ax in fig.axes}


# ---------------------------------------------------------------- precision, budgets, the model, decades, futures

def test_paired_intervals_are_t_intervals_of_the_paired_differences(comparison):
    from scipy import stats

    intervals = comparison.intervals().set_index(["scenario", "metric"])
    table = comparison.to_frame()
    runs = table[table.metric == "entries_irregular"].groupby(["scenario", "replicate"]).value.sum().unstack()
    diff = runs.loc["baseline"] - runs.loc["enforcement"]
    half = stats.t.ppf(0.975, len(diff) - 1) * diff.std(ddof=1) / np.sqrt(len(diff))
    row = intervals.loc[("enforcement", "entries_irregular")]
    assert row.difference == pytest.approx(diff.mean()) and row.half_width == pytest.approx(half)
    assert row.ci_low == pytest.approx(diff.mean() - half) and row.replications == 3
    assert row.wide == (half / abs(diff.mean()) > 0.10)


def test_wide_intervals_say_what_sample_brings_them_under():
    from scipy import stats

    sd, difference = 50.0, 100.0                              # ±10 % means a half-width of 10
    n = analysis.replications_needed(sd, difference)
    assert stats.t.ppf(0.975, n - 1) * sd / np.sqrt(n) <= 10 < stats.t.ppf(0.975, n - 2) * sd / np.sqrt(n - 1)
    assert analysis.replications_needed(sd, 0.0) is None
    # a synthetic comparison: 4 replications, difference 100 +- sd 50
    rows = []
    for r, (base, other) in enumerate([(1000, 880), (1000, 950), (1000, 900), (1000, 870)]):
        for name, value in (("baseline", base), ("aid", other)):
            rows.append({"scenario": name, "replicate": r, "month": "2023-01", "metric": "entries_irregular",
                         "value": float(value), "nationality": "GTM", "location": ""})
    table = analysis.paired_intervals(pd.DataFrame(rows), agents=1000, metrics=("entries_irregular",))
    row = table.iloc[0]
    assert row.wide and row.relative_half_width > 0.10
    diff = np.array([120, 50, 100, 130])
    assert row.replications_needed == analysis.replications_needed(diff.std(ddof=1), diff.mean())
    assert row.agents_needed == int(np.ceil(1000 * (row.relative_half_width / 0.10) ** 2))
    text = analysis.precision_warnings(table, 1000)[0]
    assert text.startswith("aid: irregular crossings averted 100 ±")
    assert f"{row.replications_needed:,} replications" in text


def test_a_policy_without_a_budget_shows_no_budget(comparison, tmp_path):
    costs = comparison.cost_effectiveness().set_index("scenario")
    assert costs.loc["more_appointments", "no_budget"] and not costs.loc["enforcement", "no_budget"]
    out = comparison.save(tmp_path / "saved")
    report = (out / "summary.md").read_text()
    row = next(line for line in report.splitlines() if line.startswith("| more_appointments") and "no budget" in line)
    assert row.count("no budget") == 2
    budgets = pd.read_csv(out / "budgets.csv")
    assert set(budgets.scenario) == {"enforcement", "containment"}          # every budgeted block, nothing else
    assert (budgets.source == "illustrative").all()


def test_budget_sources_are_quoted(tmp_path):
    study = write_study(tmp_path, """\
        """)
    text = study.read_text().replace("places_per_month: 60000}", "places_per_month: 60000, budget_usd_per_year: 1.0e8, "
                                     "budget_source: 'CBP FY2024 budget justification'}")
    study.write_text(text)
    loaded = load_study(study)
    table = analysis.budgets(loaded.scenarios).set_index("policy")
    assert table.loc["cbp_one_plus", "source"] == "CBP FY2024 budget justification"
    assert table.loc["border_enforcement", "source"] == "illustrative"


def test_report_states_the_model_validation_and_the_sample(comparison, tmp_path):
    assert comparison.validation is not None                  # found beside calibrated.yaml, which baseline extends
    scores = json.loads((SCENARIOS / "calibrated_split.validation.json").read_text())
    out = comparison.save(tmp_path / "with_model")
    text = (out / "summary.md").read_text()
    assert f"ARD {scores['ard']:.3f}" in text and f"{scores['window'][0]} .. {scores['window'][1]}" in text
    assert "fitted to every observed month" in text and "fitted to 2020-10 .. 2021-09 (calibrated_split)" in text
    assert f"VEN {scores['total_error']['VEN']:+.0%}" in text
    assert "8,000 agents per run; 3 replications" in text
    assert "Budgets are illustrative unless a source is given" in text
    assert load_comparison(out).validation["ard"] == scores["ard"]


def test_a_model_without_validation_says_so(tmp_path):
    (tmp_path / "plain.yaml").write_text(f"schema_version: 1\nextends: {SCENARIOS / 'history.yaml'}\nname: plain\n")
    study = tmp_path / "s.yaml"
    study.write_text(textwrap.dedent("""\
        schema_version: 1
        name: plain_study
        baseline: plain.yaml
        scenarios:
          enforcement: {policies: {tough: {kind: enforcement, start: 2023-01, apprehension_probability: 0.95}}}
        agents: 300
        replications: 2
        start: 2023-01
        months: 2
        """))
    result = compare(study)
    assert result.validation is None
    out = result.save(tmp_path / "plain_out")
    assert "ships no validation scores" in (out / "summary.md").read_text()


def test_the_study_allocation_applies_to_every_scenario(tmp_path):
    loaded = load_study(write_study(tmp_path, "agent_allocation: movers\n"))
    from sim.core.allocation import sampled_world as build_world

    worlds = [build_world(s) for s in loaded.scenarios.values()]
    assert all(s.agent_allocation == "movers" for s in loaded.scenarios.values())
    assert all(list(w.agents_per_pool) == list(worlds[0].agents_per_pool) for w in worlds)   # agents pair


def test_until_and_trends_reach_the_horizon(tmp_path):
    from sim.experiments.comparisons.study import TREND_START

    study = write_study(tmp_path, """\
        until: 2031-06
        trends:
          violence: {distribution: uniform, low: -0.4, high: 0.2}
        """)
    study.write_text(study.read_text().replace("months: 8\n", ""))
    loaded = load_study(study)
    for scenario in loaded.scenarios.values():
        assert scenario.months == (2031 - 2023) * 12 + 6
        trend = scenario.drivers["trend_violence"]
        assert (trend.kind, trend.origin, trend.start, trend.end) == ("ramp", "ALL", TREND_START, "2031-06")
        assert trend.change == pytest.approx(-0.1)                # the median of the distribution


@pytest.mark.parametrize("body, message", [
    ("until: 2022-01\n", "comes before the first reported month"),
    ("until: 2030-01\n", "give months or until, not both"),
    ("contrast: {policy: enforcment, against: containment}\n", "unknown scenario 'enforcment'; did you mean"),
    ("trends:\n  violence: {distribution: uniform, low: -0.1, high: 0.1}\n", "trends start at 2025-07"),
])
def test_bad_horizons_and_contrasts_say_where(tmp_path, capsys, body, message):
    path = write_study(tmp_path, body)
    if "2022-01" in body:
        path.write_text(path.read_text().replace("months: 8\n", ""))
    assert main(["check", str(path)]) == 2
    err = capsys.readouterr().err
    assert "study.yaml:" in err and message in err, err


def test_overtaking_year():
    def table(a, b):
        years = range(2024, 2024 + len(a))
        return pd.DataFrame([{"scenario": s, "year": y, "cumulative": v} for s, values in (("aid", a), ("enf", b))
                             for y, v in zip(years, values)])
    assert analysis.overtaking_year(table([1, 5, 20, 40], [10, 15, 18, 20]), "aid", "enf") == 2026
    assert analysis.overtaking_year(table([1, 25, 10, 40], [10, 15, 18, 20]), "aid", "enf") == 2027   # stays ahead
    assert analysis.overtaking_year(table([1, 5, 8, 9], [10, 15, 18, 20]), "aid", "enf") is None
    assert analysis.overtaking_year(table([11, 25], [10, 15]), "aid", "enf") is None                  # ahead throughout


def test_yearly_effects_are_paired_sums_by_year(comparison):
    yearly = comparison.yearly()
    table = comparison.to_frame()
    runs = table[table.metric == "entries_irregular"].groupby(["scenario", "replicate"]).value.sum().unstack()
    row = yearly[(yearly.scenario == "enforcement") & (yearly.year == 2023)].iloc[0]
    assert row.months == 8 and row.averted == pytest.approx((runs.loc["baseline"] - runs.loc["enforcement"]).mean())
    fig, data = comparison.plot_yearly()
    assert len(fig.axes[1].get_lines()) >= len(comparison.names) - 1


def test_robustness_regret_and_discovery_by_hand():
    from sim.experiments.comparisons.robustness import discovery_table, regret, robustness_table

    rng = np.random.default_rng(3)
    x = rng.uniform(size=60)
    other = rng.uniform(size=60)
    rows = []
    for f in range(60):
        aid = 100 - 50 * (x[f] > 0.6)                            # aid wins where x > 0.6
        for name, value in (("baseline", 120.0), ("aid", aid), ("enf", 75.0)):
            rows.append({"policy": name, "future": f, "x": x[f], "noise": other[f], "encounters": value,
                         "entries_irregular": value, "entries_legal": 2 * value, "deaths": value,
                         "spending_usd": 0.0})
    futures = pd.DataFrame(rows)
    table = robustness_table(futures, ["baseline", "aid", "enf"]).set_index(["outcome", "policy"])
    assert table.loc[("encounters", "baseline"), "max_regret"] == 120 - 50
    assert table.loc[("encounters", "aid"), "max_regret"] == 100 - 75
    assert table.loc[("entries_legal", "baseline"), "max_regret"] == 0        # higher is better for legal entries
    assert (regret(futures, "encounters") >= 0).all().all()
    boxes, text = discovery_table(futures, "aid", "enf", "encounters")
    best = boxes[boxes.selected].iloc[0]
    assert best.density >= 0.8 and best.coverage >= 0.8
    assert 0.4 < best["x min"] < 0.7 and best["noise min"] < 0.1 and best["noise max"] > 0.9   # only x is limited
    assert boxes.density.max() == 1.0 and boxes.loc[boxes.density.idxmax(), "x min"] > 0.55
    assert "aid beats enf on encounters in" in text and "x in [" in text
    none, text = discovery_table(futures, "enf", "baseline", "encounters")
    assert none.empty and "in every future" in text


ROBUST = """\
    contrast: {policy: enforcement, against: containment, outcome: entries_irregular}
    robustness:
      futures: 6
      replications: 1
      agents: 400
      uncertainties:
        behaviour.hazard.success: {distribution: uniform, low: 0.5, high: 3.0}
        behaviour.border.attempt_probability: {distribution: uniform, low: 0.3, high: 0.9}
    """


@pytest.mark.slow
def test_compare_with_robustness_writes_and_shows_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)                    # the futures run into results/<study>_robustness/
    study = write_study(tmp_path, ROBUST)
    result = compare(study, agents=400, replications=2)
    futures = result.futures
    assert sorted(futures.policy.unique()) == sorted(result.names) and futures.future.nunique() == 6
    assert futures["behaviour.hazard.success"].between(0.5, 3.0).all()
    # every policy meets the same futures, and the same future has the same draws (common random numbers)
    assert futures.groupby("future")["behaviour.border.attempt_probability"].nunique().eq(1).all()
    out = result.save(tmp_path / "robust_out")
    robustness = pd.read_csv(out / "robustness.csv")
    assert set(robustness.policy) == set(result.names) and (robustness.max_regret >= 0).all()
    assert (out / "discovery.csv").is_file() and (out / "figures" / "robustness.png").is_file()
    text = (out / "summary.md").read_text()
    assert "## Robustness across futures" in text and "## Scenario discovery" in text
    # resumed, not rerun, the next time; and the stored comparison redraws it
    again = compare(study, agents=400, replications=2)
    pd.testing.assert_frame_equal(again.futures, futures)
    assert load_comparison(out).robustness().equals(result.robustness())


def test_robustness_without_ema_workbench_is_a_clear_error(tmp_path, capsys, monkeypatch):
    import builtins

    real = builtins.__import__

    def no_ema(name, *args, **kwargs):
        if name.startswith("ema_workbench"):
            raise ImportError("No module named 'ema_workbench'")
        return real(name, *args, **kwargs)
    monkeypatch.setattr(builtins, "__import__", no_ema)
    monkeypatch.chdir(tmp_path)
    study = write_study(tmp_path, ROBUST)
    assert main(["compare", str(study), "--out", str(tmp_path / "never"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "pip install 'migsim[robustness]'" in err and "Traceback" not in err
    assert not (tmp_path / "never").exists()


def test_bad_robustness_parameter_says_where(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    study = write_study(tmp_path, ROBUST.replace("behaviour.hazard.success", "behaviour.hazard.sucess"))
    assert main(["compare", str(study), "--out", str(tmp_path / "never"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "study.yaml:" in err and "robustness.uncertainties.behaviour.hazard.sucess" in err
    assert "did you mean 'success'" in err
