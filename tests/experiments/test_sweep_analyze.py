"""``migsim analyze``: Sobol and Morris indices that single out what matters, tables and plots."""
from __future__ import annotations

import pandas as pd

from sim.cli import main
from sim.experiments.sweeps import analyze, run_sweep

BASE = """\
schema_version: 1
name: tiny
agents: 400
months: 4
warmup_months: 1
replications: 1
seed: 5
origins: [GTM, HND, VEN]
behaviour:
  hazard:
    intercept: {GTM: -6.0, HND: -6.0, VEN: -6.0}
"""

# The base scenario has no aid, so the aid lag cannot matter; the network term of the
# hazard does. With common random numbers (the default) the lag's indices are exactly 0.
UNCERTAINTIES = """\
  uncertainties:
    design: {design}
    samples: {samples}
    parameters:
      behaviour.hazard.intercept.GTM: {{distribution: uniform, low: -7.0, high: -3.0}}
      behaviour.aid.lag_months: {{distribution: uniform, low: 0, high: 24}}
"""
LEVERS = """\
  levers:
    parameters:
      policies.us.apprehension_probability: [0.5, 0.95]
      policies.us.budget_usd_per_year: [1.0e9]
"""
POLICY = """\
policies:
  us: {kind: enforcement, start: 2023-01, apprehension_probability: 0.8}
"""


def run(tmp_path, design: str, samples: int, levers: bool = False):
    (tmp_path / "base.yaml").write_text(BASE + POLICY)
    block = UNCERTAINTIES.format(design=design, samples=samples) + (LEVERS if levers else "")
    path = tmp_path / f"{design}.yaml"
    path.write_text(f"schema_version: 1\nextends: base.yaml\nname: {design}\nsweep:\n  replications: 1\n" + block)
    out = tmp_path / f"{design}_out"
    assert run_sweep(path, out=out, workers=1).failed == 0
    return out


def index(table: pd.DataFrame, outcome: str, parameter: str, name: str) -> pd.Series:
    rows = table[(table.outcome == outcome) & (table.parameter == parameter) & (table["index"] == name)]
    assert len(rows) > 0
    return rows.value


def test_sobol_indices_single_out_the_parameter_that_matters(tmp_path):
    out = run(tmp_path, "sobol", 16)
    result = analyze(out, plots=False)
    table = result.table
    assert result.method == "sobol"
    assert set(table["index"]) == {"S1", "ST"}
    assert (index(table, "encounters", "behaviour.hazard.intercept.GTM", "ST") > 0.5).all()
    assert (index(table, "encounters", "behaviour.aid.lag_months", "ST").abs() < 1e-9).all()
    assert (index(table, "encounters", "behaviour.aid.lag_months", "S1").abs() < 1e-9).all()
    assert set(table.condition) == {-1}
    points = pd.read_csv(out / "analysis" / "outcomes.csv")
    assert len(points) == 16 * (2 + 2)
    assert {"encounters", "entries_irregular", "deaths", "spending_usd", "cost_per_crossing_averted_usd"} <= set(points)


def test_morris_indices(tmp_path):
    out = run(tmp_path, "morris", 6)
    table = analyze(out, plots=False).table
    assert set(table["index"]) == {"mu_star", "mu", "sigma"}
    assert (index(table, "encounters", "behaviour.hazard.intercept.GTM", "mu_star") > 0).all()
    assert (index(table, "encounters", "behaviour.aid.lag_months", "mu_star") == 0).all()


def test_crossed_levers_get_indices_per_policy_and_a_cost_per_crossing_averted(tmp_path):
    out = run(tmp_path, "sobol", 4, levers=True)
    result = analyze(out, plots=False)
    assert set(result.table.condition) == {0, 1}
    assert set(result.table.condition_label) == {
        "policy 0: apprehension_probability=0.5, budget_usd_per_year=1e+09",
        "policy 1: apprehension_probability=0.95, budget_usd_per_year=1e+09"}
    points = result.outcomes
    # same spending, so the cost of a crossing averted is 0 where encounters fall, and the
    # reference policy (the first of the least spending) has none
    cost = points.cost_per_crossing_averted_usd
    assert cost[points.policy == 0].isna().all()
    assert (cost[points.policy == 1].dropna() == 0).all()
    assert any("relative to policy 0" in note for note in result.notes)


def test_analyze_command_writes_table_and_plots(tmp_path, capsys):
    out = run(tmp_path, "sobol", 8)
    assert main(["analyze", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "sobol indices" in printed and "behaviour.hazard.intercept.GTM" in printed
    for name in ("sensitivity.csv", "outcomes.csv", "sensitivity.png", "scatter.png"):
        path = out / "analysis" / name
        assert path.is_file() and path.stat().st_size > 0, name
    assert (out / "analysis" / "sensitivity.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = pd.read_csv(out / "analysis" / "sensitivity.csv")
    assert list(table.columns) == ["outcome", "group", "condition", "condition_label", "parameter", "index", "value",
                                   "conf"]
    # the same numbers every time
    pd.testing.assert_frame_equal(analyze(out, plots=False).table.reset_index(drop=True), table, check_dtype=False)


def test_design_without_indices_still_gets_scatter_plots(tmp_path, capsys):
    out = run(tmp_path, "lhs", 6)
    assert main(["analyze", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "no sensitivity indices" in printed
    assert (out / "analysis" / "scatter.png").is_file()
    assert not (out / "analysis" / "sensitivity.png").exists()


def test_analyze_of_a_folder_without_a_sweep(tmp_path, capsys):
    assert main(["analyze", str(tmp_path)]) == 2
    assert "not a sweep results folder" in capsys.readouterr().err


def test_points_without_results_are_skipped_with_a_note(tmp_path):
    out = run(tmp_path, "sobol", 4)
    parts = sorted((out / "parts").glob("part-*.parquet"))
    parts[0].unlink()                                       # as if those runs had failed
    result = analyze(out, plots=False)
    assert any("have no results" in note for note in result.notes)
    assert result.table.empty


def test_printed_indices_carry_their_intervals(tmp_path, capsys):
    out = run(tmp_path, "sobol", 16)
    assert main(["analyze", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "ST ±" in printed and "S1 ±" in printed and "95 %" in printed
    headline = analyze(out, plots=False).headline()
    table = analyze(out, plots=False).table
    gtm = table[(table.outcome == "encounters") & (table.parameter == "behaviour.hazard.intercept.GTM")
                & (table["index"] == "ST")]
    row = headline[(headline.outcome == "encounters") & (headline.parameter == "behaviour.hazard.intercept.GTM")]
    assert row["ST ±"].iloc[0] == gtm.conf.mean() > 0


def test_a_design_too_small_is_flagged_and_a_large_one_is_not(tmp_path):
    from sim.experiments.sweeps.analyze import precision_notes

    groups = {"uncertainties": {"design": "sobol", "samples": 2}}
    noisy = pd.DataFrame({"outcome": "deaths", "group": "uncertainties", "condition": -1, "condition_label": "",
                          "parameter": ["a", "a", "b", "b"], "index": ["ST", "S1", "ST", "S1"],
                          "value": [0.6, -0.1, 0.4, 0.3], "conf": [0.9, 1.5, 0.5, 0.2]})
    notes = precision_notes(noisy, groups)
    assert any(n.startswith("warning: deaths (uncertainties): no ST index") and "samples 2" in n for n in notes)
    assert any("S1 of a has an interval wider" in n for n in notes)
    clear = noisy.assign(conf=[0.1, 0.05, 0.5, 0.1])
    notes = precision_notes(clear, groups)
    assert not any(n.startswith("warning") for n in notes)
    assert any("ST of b cannot be told apart from zero" in n for n in notes)
    # on a real sweep: the parameter that matters is told apart from zero, the one that cannot matter is not
    result = analyze(run(tmp_path, "sobol", 16), plots=False)
    assert not any(n.startswith("warning: encounters") for n in result.notes)
    assert any("encounters (uncertainties): ST of behaviour.aid.lag_months cannot be told apart" in n
               for n in result.notes)
