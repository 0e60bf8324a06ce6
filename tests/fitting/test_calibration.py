"""``migsim calibrate``: the calibration block, recovery of a known parameter, reproducibility, the written files."""
from __future__ import annotations

import json
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sim
from sim.cli import main
from sim.core.errors import ScenarioError
from sim.core.paths import parse_path, value_at
from sim.fitting.calibrate import calibrate, report_path, write_calibrated
from sim.fitting.route_series import ROUTE_SERIES
from sim.fitting.spec import DEFAULT_INTERCEPT_BOUNDS, DEFAULT_REPLICATIONS, load_calibration

from helpers import REPO_ROOT, SCENARIOS

TRUTH = {"VEN": -10.0, "CUB": -9.0}
TINY = """\
    schema_version: 1
    name: tiny
    start: 2021-01
    months: 12
    warmup_months: 2
    agents: 20000
    replications: 1
    seed: 5
    origins: [VEN, CUB]
    behaviour:
      hazard:
        intercept: {VEN: -11.0, CUB: -10.5}
    """
BLOCK = """\
    calibration:
      parameters:
        behaviour.hazard.intercept.VEN: {min: -13, max: -7}
        behaviour.hazard.intercept.CUB: {min: -13, max: -7}
      fit_from: 2021-04
      replications: 2
      max_evaluations: 30
      targets: [encounters]
    """


def observed_from_truth(folder: Path) -> Path:
    """Observed encounters in the CBP layout made by the tiny scenario with known intercepts.

    The truth is simulated with the seeds the calibration uses (seed 5, two replicates), so
    the objective is zero at the truth up to rounding: common random numbers.
    """
    truth = sim.Scenario(**{**_tiny_fields(), "replications": 2, "behaviour": {"hazard": {"intercept": TRUTH}}})
    frame = sim.run(truth).to_frame()
    enc = frame[frame.metric == "encounters"].groupby(["month", "nationality"]).value.mean().round().reset_index()
    names = {"VEN": "VENEZUELA", "CUB": "Cuba"}
    rows = pd.DataFrame({"month": enc.month, "fiscal_year": 2021, "citizenship": enc.nationality.map(names),
                         "encounters": enc.value.astype(int)})
    rows = pd.concat([rows, pd.DataFrame({"month": sorted(enc.month.unique()), "fiscal_year": 2021,
                                          "citizenship": "OTHER", "encounters": 7})], ignore_index=True)
    path = folder / "observed.csv"
    rows.to_csv(path, index=False)
    return path


def _tiny_fields() -> dict:
    from ruamel.yaml import YAML

    return YAML(typ="safe").load(textwrap.dedent(TINY))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    folder = tmp_path_factory.mktemp("calibration")
    scenario = folder / "tiny.yaml"
    scenario.write_text(textwrap.dedent(TINY) + textwrap.dedent(BLOCK))
    return scenario, observed_from_truth(folder)


@pytest.fixture(scope="module")
def fitted(tiny):
    scenario, observed = tiny
    return calibrate(scenario, observed, "2021-12")


def test_calibration_recovers_known_intercepts(fitted):
    values = fitted.values()
    assert values["behaviour.hazard.intercept.VEN"] == pytest.approx(TRUTH["VEN"], abs=0.1)
    assert values["behaviour.hazard.intercept.CUB"] == pytest.approx(TRUTH["CUB"], abs=0.1)
    start, end = fitted.scores(fitted.start), fitted.scores(fitted.fitted)
    assert end["objective"] < 0.05 * start["objective"]
    assert end["ard"] < 0.05 < start["ard"]
    assert fitted.fit_window == ["2021-04", "2021-05", "2021-06", "2021-07", "2021-08", "2021-09", "2021-10",
                                 "2021-11", "2021-12"]
    history = [e.objective for e in fitted.objective.history]
    assert min(history) < history[0]


def test_same_seed_same_fitted_values_other_seed_other_draws(tiny, fitted):
    scenario, observed = tiny
    again = calibrate(scenario, observed, "2021-12")
    assert again.values() == fitted.values()
    assert [e.objective for e in again.objective.history] == [e.objective for e in fitted.objective.history]
    other = calibrate(scenario, observed, "2021-12", seed=6)
    assert other.objective.seeds != fitted.objective.seeds
    assert other.scores(other.start)["objective"] != fitted.scores(fitted.start)["objective"]


def test_written_file_extends_its_input_and_runs(tiny, fitted, tmp_path):
    scenario_path, _ = tiny
    out = tmp_path / "sub" / "tiny_calibrated.yaml"
    written, report = write_calibrated(fitted, out, "migsim calibrate tiny.yaml ...")
    assert written == out and report == report_path(out) == tmp_path / "sub" / "tiny_calibrated.fit.json"
    text = out.read_text()
    assert text.startswith("# tiny_calibrated:") and "#   migsim calibrate tiny.yaml ..." in text
    from sim.core.yamlio import read_yaml
    data = read_yaml(out).data
    assert not Path(data["extends"]).is_absolute()
    assert (out.parent / data["extends"]).resolve() == scenario_path.resolve()
    assert data["calibration"] is None             # the input's block is dropped: a plain, runnable scenario
    loaded = sim.load_scenario(out)                # as `migsim run` reads it
    assert loaded.name == "tiny_calibrated"
    assert loaded.behaviour.hazard.intercept["VEN"] == fitted.values()["behaviour.hazard.intercept.VEN"]
    assert loaded.agents == 20000 and loaded.origins == ["VEN", "CUB"]   # everything else from the input
    fit = json.loads(report.read_text())
    names = [p["name"] for p in fit["parameters"]]
    assert names == ["behaviour.hazard.intercept.VEN", "behaviour.hazard.intercept.CUB"]
    assert fit["fit_window"] == ["2021-04", "2021-12"] and fit["replications"] == 2
    assert fit["fitted"]["ard"] < fit["start"]["ard"]
    assert len(fit["history"]) == fitted.optimizer["evaluations"]
    assert {"objective", "ard", "values"} <= set(fit["history"][0])


def test_cli_calibrate_writes_both_files(tiny, tmp_path, capsys):
    scenario, observed = tiny
    out = tmp_path / "c.yaml"
    assert main(["calibrate", str(scenario), "--observed", str(observed), "--until", "2021-12", "--out", str(out),
                 "--quiet"]) == 0
    assert capsys.readouterr().out == ""
    assert out.is_file() and report_path(out).is_file()
    assert f"--until 2021-12 --out {out}" in out.read_text().splitlines()[2]


def test_default_free_parameters_are_every_origins_intercept():
    setup = load_calibration(SCENARIOS / "history.yaml")
    assert not setup.has_block
    assert [p.name for p in setup.parameters] == [f"behaviour.hazard.intercept.{o}" for o in setup.scenario.origins]
    assert {(p.low, p.high) for p in setup.parameters} == {DEFAULT_INTERCEPT_BOUNDS}
    assert setup.spec.replications == DEFAULT_REPLICATIONS == 6 and setup.seed == 2019


def test_shared_parameter_and_its_bounds(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(textwrap.dedent(TINY) + textwrap.dedent("""\
        calibration:
          parameters:
            behaviour.hazard.network: {min: 0, max: 2}
            behaviour.border.give_up_intercept: {min: -3, max: 3, step: 0.02}
        """))
    setup = load_calibration(path, agents=30000, seed=9)
    network, give_up = setup.parameters
    assert (network.start, network.step, network.origin) == (0.25, pytest.approx(0.1), None)
    assert give_up.step == 0.02 and setup.spec.agents == 30000 and setup.seed == 9


BAD_BLOCKS = [
    ("  paramters: {}\n", 14, "calibration.paramters", "did you mean 'parameters'"),
    ("  parameters:\n    behaviour.hazard.intercep.VEN: {min: -9, max: -3}\n", 15,
     "calibration.parameters.behaviour.hazard.intercep.VEN", "did you mean 'intercept'"),
    ("  parameters:\n    world.population.VEN: {min: 1.0e6, max: 3.0e7}\n", 15,
     "calibration.parameters.world.population.VEN", "settings of policy blocks"),
    ("  parameters:\n    policies.title42.apprehension_probability: {min: 0, max: 1}\n", 15,
     "calibration.parameters.policies.title42.apprehension_probability", "title42"),
    ("  parameters:\n    behaviour.hazard.network: {min: 2, max: 1}\n", 15,
     "calibration.parameters.behaviour.hazard.network.max", "must be greater than min"),
    ("  parameters:\n    behaviour.border.attempt_probability: {min: 0.5, max: 1.5}\n", 15,
     "calibration.parameters.behaviour.border.attempt_probability.max", "outside the parameter's range"),
    ("  parameters:\n    behaviour.hazard.intercept.HND: {min: -9, max: -3}\n", 15,
     "calibration.parameters.behaviour.hazard.intercept.HND", "not a simulated origin"),
    ("  parameters:\n    behaviour.hazard.network: {min: 0, max: 1, stpe: 1}\n", 15,
     "calibration.parameters.behaviour.hazard.network.stpe", "did you mean 'step'"),
    ("  replications: 0\n", 14, "calibration.replications", "greater than or equal to 1"),
    ("  fit_from: 2020-01\n", 14, "calibration.fit_from", "before the scenario's first reported month"),
]


@pytest.mark.parametrize("block, line, key, message", BAD_BLOCKS, ids=[b[2].split(".")[-1] for b in BAD_BLOCKS])
def test_bad_block_is_located(tmp_path, capsys, block, line, key, message):
    path = tmp_path / "bad.yaml"
    path.write_text(textwrap.dedent(TINY) + "calibration:\n" + block)
    with pytest.raises(ScenarioError) as err:
        load_calibration(path)
    problem = err.value.problems[0]
    assert (problem.file, problem.line, problem.key) == (str(path), line, key), str(err.value)
    assert message in problem.message
    code = main(["calibrate", str(path), "--observed", "x.csv", "--until", "2021-12", "--out",
                 str(tmp_path / "o.yaml"), "--quiet"])
    assert code == 2
    assert f"{path}:{line}: {key}:" in capsys.readouterr().err
    assert not (tmp_path / "o.yaml").exists()


def test_observed_months_must_cover_the_fit_window(tiny, tmp_path, capsys):
    scenario, observed = tiny
    args = ["calibrate", str(scenario), "--observed", str(observed), "--out", str(tmp_path / "o.yaml"), "--quiet"]
    assert main(args + ["--until", "2022-03"]) == 2
    err = capsys.readouterr().err
    assert "--until:" in err and "2022-01" in err and "does not have" in err
    with pytest.raises(SystemExit) as exit_:
        main(args + ["--until", "2021-13"])
    assert exit_.value.code == 2
    assert not (tmp_path / "o.yaml").exists()


@pytest.mark.parametrize("name, until", [("calibrated", "2022-09"), ("calibrated_split", "2021-09")])
def test_shipped_calibrated_scenario_is_the_command_output(name, until):
    """The shipped fit on every observed month, and the split fitted through September 2021 (its out-of-sample
    check), are each the output of the command in their first lines, with every fitted value in the file."""
    path = SCENARIOS / f"{name}.yaml"
    lines = path.read_text().splitlines()
    command = lines[2].strip("# ").split()
    assert command == ["migsim", "calibrate", "scenarios/history_fit.yaml", "--observed",
                       "sim/data/cbp_swb_encounters_monthly_by_citizenship.csv", "--until", until, "--out",
                       f"scenarios/{name}.yaml"]
    calibrated, history = sim.load_scenario(path), sim.load_scenario(SCENARIOS / "history.yaml")
    assert calibrated.name == name and calibrated.start == history.start
    assert calibrated.policies == history.policies                     # extends history: same levers
    fitted = calibrated.behaviour.hazard.intercept
    assert set(fitted) == set(history.origins) and fitted != history.behaviour.hazard.intercept
    report = json.loads((SCENARIOS / f"{name}.fit.json").read_text())
    assert report["fit_window"] == ["2020-10", until]
    assert report["optimizer"]["starts"] == 3
    assert " ".join(command) == report["command"]
    data = calibrated.model_dump(mode="json")
    values = {p["name"]: value_at(data, parse_path(p["name"])) for p in report["parameters"]}
    assert values == {p["name"]: p["fitted"] for p in report["parameters"]}     # every fitted value is in the file
    assert {f"behaviour.hazard.intercept.{o}" for o in history.origins} <= set(values)
    assert (REPO_ROOT / report["observed_file"]).is_file()


# ---------------------------------------------------------------- every target at once

ROUTE_TRUTH = {"intercept": {"VEN": -10.0, "CUB": -9.0}, "abroad": 0.8}
ROUTE_TINY = """\
    schema_version: 1
    name: route_tiny
    start: 2021-01
    months: 10
    warmup_months: 2
    agents: 20000
    replications: 2
    seed: 8
    agent_allocation: equal
    origins: [VEN, CUB]
    policies:
      mx: {kind: containment, country: MEX, start: 2019-01, interception_probability: 0.3, capacity_per_month: 1.0e7}
    behaviour:
      hazard:
        intercept: {VEN: -10.0, CUB: -9.0}
    calibration:
      parameters:
        behaviour.hazard.abroad: {min: -2, max: 3}
        behaviour.hazard.intercept.CUB: {min: -13, max: -7}
      fit_from: 2021-02
      replications: 2
      max_evaluations: 25
      starts: 2
      targets: [encounters, darien, mexico_interceptions]
    """


def route_observed(folder: Path) -> tuple[Path, dict]:
    """Observed encounters, Darien transits and Mexico's interceptions made by the scenario at ``ROUTE_TRUTH``,
    in the layouts of the shipped files; the Darien file lacks some nationality-months (skipped, not zeros)."""
    from ruamel.yaml import YAML

    fields = YAML(typ="safe").load(textwrap.dedent(ROUTE_TINY))
    fields.pop("calibration")
    fields["behaviour"] = {"hazard": ROUTE_TRUTH}
    frame = sim.run(sim.Scenario(**fields)).to_frame()
    grid = pd.MultiIndex.from_product([sorted(frame.month.unique()), ["VEN", "CUB"]], names=["month", "nationality"])
    mean = lambda metric, nodes=None: (frame[(frame.metric == metric) & (  # noqa: E731
        frame.location.isin(nodes) if nodes else True)].groupby(["month", "nationality"]).value.sum() / 2).round(
    ).reindex(grid, fill_value=0.0)
    enc = mean("encounters").reset_index()
    pd.DataFrame({"month": enc.month, "citizenship": enc.nationality.map({"VEN": "VENEZUELA", "CUB": "CUBA"}),
                  "encounters": enc.value.astype(int)}).to_csv(folder / "enc.csv", index=False)
    darien = mean("transits", ["PAN_DARIEN"]).reset_index()
    darien = darien[~((darien.nationality == "CUB") & (darien.month < "2021-06"))]     # no rows: skipped
    pd.DataFrame({"nationality_iso3": darien.nationality, "period_type": "month", "period": darien.month,
                  "variable": "darien_irregular_transits", "value": darien.value}).to_csv(folder / "darien.csv",
                                                                                          index=False)
    mexico = mean("intercepted", list(ROUTE_SERIES["mexico_interceptions"].nodes)).reset_index()
    pd.DataFrame({"nationality_iso3": mexico.nationality, "period": mexico.month,
                  "variable": "mexico_irregular_events_presented_or_channelled",
                  "value": mexico.value}).to_csv(folder / "mexico.csv", index=False)
    return folder / "enc.csv", {"darien": folder / "darien.csv", "mexico_interceptions": folder / "mexico.csv"}


@pytest.fixture(scope="module")
def route_fit(tmp_path_factory):
    folder = tmp_path_factory.mktemp("route_calibration")
    scenario = folder / "route_tiny.yaml"
    scenario.write_text(textwrap.dedent(ROUTE_TINY))
    encounters, routes = route_observed(folder)
    return calibrate(scenario, encounters, "2021-10", route_files=routes), folder


def test_every_target_is_fitted_at_once_and_the_shared_parameter_recovered(route_fit):
    fit, _ = route_fit
    names = [t.name for t in fit.objective.targets]
    assert names == ["encounters", "darien", "mexico_interceptions"]
    darien = fit.objective.targets[1]
    assert darien.observed.loc["2021-03", "CUB"] != darien.observed.loc["2021-03", "CUB"]        # NaN: no row
    assert darien.cells == darien.observed.size - 4                                               # 4 CUB months
    values = fit.values()
    assert values["behaviour.hazard.abroad"] == pytest.approx(ROUTE_TRUTH["abroad"], abs=0.25)
    assert values["behaviour.hazard.intercept.CUB"] == pytest.approx(-9.0, abs=0.15)
    scores = fit.scores(fit.fitted)
    assert set(scores["targets"]) == set(names)
    assert scores["residuals"] == sum(t.cells for t in fit.objective.targets)
    assert scores["objective"] < 0.2 * fit.scores(fit.start)["objective"]


def test_fit_report_has_standard_errors_and_every_start(route_fit):
    fit, folder = route_fit
    assert len(fit.starts) == 2 and fit.starts[0].start[0] == 0.0                 # the written value first
    assert all(-2 <= s.start[0] <= 3 for s in fit.starts) and fit.starts[1].start[1] == fit.starts[0].start[1]
    rows = {r["name"]: r for r in fit.identification["parameters"]}
    se = rows["behaviour.hazard.abroad"]["standard_error"]
    # within 4 standard errors, or the recovery tolerance of the test above (common random numbers make the
    # residuals, and so the standard error, nearly 0 when the fit lands close to the truth)
    assert 0 < se < 1.0 and abs(rows["behaviour.hazard.abroad"]["value"] - ROUTE_TRUTH["abroad"]) < 4 * se + 0.25
    out, report = write_calibrated(fit, folder / "fitted.yaml", "migsim calibrate (test)")
    data = json.loads(report.read_text())
    assert [p["standard_error"] for p in data["parameters"]] == [rows[p.name]["standard_error"]
                                                                 for p in fit.setup.parameters]
    assert set(data["targets"]) == {"encounters", "darien", "mexico_interceptions"} and len(data["starts"]) == 2
    assert "ARD" in out.read_text().splitlines()[3]


def test_standard_errors_flag_a_parameter_the_objective_ignores():
    from sim.fitting.objective import standard_errors
    from sim.fitting.spec import FreeParameter

    rng = np.random.default_rng(1)
    J = np.column_stack([rng.normal(size=50), np.zeros(50), rng.normal(size=50)])
    J[:, 2] = J[:, 0] * 2 + 1e-6 * rng.normal(size=50)                   # the third moves exactly with the first
    params = [FreeParameter(n, (n,), 0.0, -1.0, 1.0, 0.1) for n in ("a", "b", "c")]
    out = standard_errors(J, rng.normal(scale=0.1, size=50), params, [0.2, 0.0, 1.0])
    rows = {r["name"]: r for r in out["parameters"]}
    assert "the objective does not move with it" in rows["b"]["why"]
    assert any("correlation" in w for w in rows["a"]["why"]) and "on a bound" in rows["c"]["why"]
