"""The public Python API: ``sim.load`` reads a run, a sweep or a comparison back as the object it was made as."""
from __future__ import annotations

import json
import textwrap

import matplotlib.figure
import numpy as np
import pandas as pd
import pytest

import sim
from sim.experiments.comparisons.comparison import save_comparison

from helpers import SCENARIOS, TINY_SWEEP_BASE, small


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory):
    result = sim.run(small(agents=3_000, months=5, replications=3, seed=11))
    folder = result.save(tmp_path_factory.mktemp("run") / "run", plot=False)
    return result, folder


def test_a_run_folder_reads_back_as_its_result(saved_run):
    result, folder = saved_run
    loaded = sim.load(folder)
    assert isinstance(loaded, sim.Result)
    assert loaded.scenario == result.scenario
    assert loaded.provenance == result.provenance
    pd.testing.assert_frame_equal(loaded.to_frame(), result.to_frame(), check_dtype=False)
    pd.testing.assert_frame_equal(loaded.summary(), result.summary())
    pd.testing.assert_frame_equal(loaded.bands(), result.bands())
    fig = loaded.plot()
    assert isinstance(fig, matplotlib.figure.Figure) and len([a for a in fig.axes if a.get_visible()]) == 6


def test_a_csv_run_reads_back_too(saved_run, tmp_path):
    result, _ = saved_run
    folder = result.save(tmp_path / "csv", fmt="csv", plot=False)
    loaded = sim.load(folder)
    assert loaded.scenario == result.scenario
    pd.testing.assert_frame_equal(loaded.to_frame(), result.to_frame(), check_dtype=False)
    pd.testing.assert_frame_equal(sim.load_results(folder), loaded.to_frame())    # load_results: the tidy table


SWEEP = TINY_SWEEP_BASE + textwrap.dedent("""\
    sweep:
      replications: 2
      levers:
        parameters:
          policies.us.apprehension_probability: [0.5, 0.9]
    """)


@pytest.fixture(scope="module")
def saved_sweep(tmp_path_factory):
    root = tmp_path_factory.mktemp("sweep")
    (root / "sweep.yaml").write_text(SWEEP)
    sim.run_sweep(root / "sweep.yaml", out=root / "out", workers=1)
    return root / "out"


def test_a_sweep_folder_reads_back_as_a_sweep_result(saved_sweep):
    loaded = sim.load(saved_sweep)
    assert isinstance(loaded, sim.SweepResult)
    assert loaded.name == "tiny"
    table = loaded.to_frame()
    pd.testing.assert_frame_equal(table, sim.load_results(saved_sweep))
    parameter = "policies.us.apprehension_probability"
    assert list(table.columns[:7]) == ["run_id", "point", "policy", "future", "replicate", "seed", parameter]
    assert table.run_id.nunique() == 4 and set(loaded.runs().status) == {"done"}


def test_a_sweep_summary_totals_each_point(saved_sweep):
    loaded = sim.load(saved_sweep)
    summary = loaded.summary()
    table = loaded.to_frame()
    assert list(summary.point) == [0, 1] and list(summary["policies.us.apprehension_probability"]) == [0.5, 0.9]
    assert list(summary.runs) == [2, 2]
    for metric in ("encounters", "entries_irregular", "deaths"):
        per_run = table[table.metric == metric].groupby(["point", "run_id"]).value.sum()
        expected = per_run.groupby("point").sum() / 2                      # mean over the two replicates
        np.testing.assert_allclose(summary.set_index("point")[metric].reindex([0, 1]).fillna(0.0),
                                   expected.reindex([0, 1]).fillna(0.0))
    spending = table[table.metric.isin(["aid_spent_usd", "enforcement_spent_usd"])].groupby("point").value.sum() / 2
    np.testing.assert_allclose(summary.set_index("point").spending_usd, spending.reindex([0, 1]))


def test_a_sweep_plot_draws_every_run_or_one_curve_per_value(saved_sweep, tmp_path):
    loaded = sim.load(saved_sweep)
    fig = loaded.plot(tmp_path / "all.png")
    assert (tmp_path / "all.png").stat().st_size > 0
    assert [line.get_label() for line in fig.axes[0].get_lines()] == ["tiny"]
    fig = loaded.plot(by="policies.us.apprehension_probability", metrics=["encounters"])
    assert [line.get_label() for line in fig.axes[0].get_lines()] == ["apprehension_probability 0.5",
                                                                      "apprehension_probability 0.9"]
    medians = [line.get_ydata() for line in fig.axes[0].get_lines()]
    table = loaded.to_frame()
    monthly = table[table.metric == "encounters"].groupby(["policy", "run_id", "month"]).value.sum()
    for policy, drawn in enumerate(medians):
        expected = monthly.loc[policy].groupby("month").median()
        np.testing.assert_allclose(drawn, expected.to_numpy())
    with pytest.raises(KeyError, match="no column"):
        loaded.plot(by="policies.nothing")


@pytest.fixture(scope="module")
def saved_comparison(tmp_path_factory):
    root = tmp_path_factory.mktemp("study")
    study = root / "study.yaml"
    study.write_text(textwrap.dedent(f"""\
        schema_version: 1
        name: api_study
        baseline: {SCENARIOS / 'baseline.yaml'}
        scenarios:
          more_appointments:
            policies:
              cbp_one_plus: {{kind: legal_pathway, pathway: appointments, start: 2023-01, places_per_month: 60000}}
        agents: 3000
        replications: 2
        seed: 5
        months: 4
        """))
    comparison = sim.compare(study)
    save_comparison(comparison, root / "out")
    return comparison, root / "out"


def test_a_comparison_folder_reads_back_as_a_comparison(saved_comparison, tmp_path):
    comparison, folder = saved_comparison
    loaded = sim.load(folder)
    assert isinstance(loaded, sim.Comparison)
    assert loaded.names == ["baseline", "more_appointments"]
    assert loaded.scenarios == comparison.scenarios
    pd.testing.assert_frame_equal(loaded.to_frame(), comparison.to_frame(), check_dtype=False)
    pd.testing.assert_frame_equal(loaded.summary(), comparison.summary(), check_dtype=False)
    fig = loaded.plot(tmp_path / "curves.png")
    assert isinstance(fig, matplotlib.figure.Figure) and (tmp_path / "curves.png").stat().st_size > 0
    assert {line.get_label() for line in fig.axes[0].get_lines()} >= {"baseline", "more_appointments"}


def test_a_folder_of_something_else_is_a_clear_error(tmp_path, saved_run):
    with pytest.raises(FileNotFoundError, match="no readable manifest.json"):
        sim.load(tmp_path)
    (tmp_path / "manifest.json").write_text(json.dumps({"package": "migsim", "kind": "other"}))
    with pytest.raises(FileNotFoundError, match="manifest kind 'other'"):
        sim.load(tmp_path)
    (tmp_path / "manifest.json").write_text(json.dumps({"package": "migsim"}))     # a run's manifest, no files
    with pytest.raises(FileNotFoundError, match="no run results here"):
        sim.load(tmp_path)
