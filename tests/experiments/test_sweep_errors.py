"""Bad sweep files: one located problem per mistake (file:line: key: message), exit code 2."""
from __future__ import annotations

import pytest

from sim.cli import main
from sim.core.errors import ScenarioError
from sim.core.scenario import load_scenario
from sim.experiments.sweeps import build_design, load_sweep

from helpers import TINY_SWEEP_BASE

BASE = TINY_SWEEP_BASE

HEAD = "schema_version: 1\nextends: base.yaml\nname: s\nsweep:\n"     # the block starts on line 5


def write(tmp_path, block: str):
    (tmp_path / "base.yaml").write_text(BASE)
    path = tmp_path / "s.yaml"
    path.write_text(HEAD + block)
    return path


def problems(path) -> list[str]:
    with pytest.raises(ScenarioError) as caught:
        build_design(load_sweep(path))
    return [str(p) for p in caught.value.problems]


CASES = {
    "unknown parameter path": (
        "  levers:\n"
        "    parameters:\n"
        "      policies.us.aprehension_probability: [0.5, 0.9]\n",
        7, "sweep.levers.parameters.policies.us.aprehension_probability",
        "unknown parameter path: policies.us has no 'aprehension_probability'; "
        "did you mean 'apprehension_probability'?"),
    "unknown policy": (
        "  levers:\n"
        "    parameters:\n"
        "      policies.usa.apprehension_probability: [0.5, 0.9]\n",
        7, "sweep.levers.parameters.policies.usa.apprehension_probability",
        "policies has no 'usa'; did you mean 'us'?"),
    "bad distribution": (
        "  uncertainties:\n"
        "    design: lhs\n"
        "    samples: 4\n"
        "    parameters:\n"
        "      behaviour.hazard.network: {distribution: gaussian, mean: 0.2, sd: 0.1}\n",
        9, "sweep.uncertainties.parameters.behaviour.hazard.network", "unknown distribution 'gaussian'"),
    "zero-size dimension": (
        "  levers:\n"
        "    parameters:\n"
        "      policies.us.apprehension_probability: []\n",
        7, "sweep.levers.parameters.policies.us.apprehension_probability", "needs at least one value"),
    "bounds reversed": (
        "  uncertainties:\n"
        "    design: lhs\n"
        "    samples: 4\n"
        "    parameters:\n"
        "      behaviour.hazard.network:\n"
        "        distribution: uniform\n"
        "        low: 0.5\n"
        "        high: 0.1\n",
        12, "sweep.uncertainties.parameters.behaviour.hazard.network.high", "must be greater than low"),
    "value outside the schema": (
        "  levers:\n"
        "    parameters:\n"
        "      policies.us.apprehension_probability: [0.5, 1.5]\n",
        7, "sweep.levers.parameters.policies.us.apprehension_probability",
        "value 1.5 makes the scenario invalid: policies.us.apprehension_probability: "
        "Input should be less than or equal to 1"),
    "grid of a distribution": (
        "  levers:\n"
        "    design: grid\n"
        "    parameters:\n"
        "      behaviour.hazard.network: {distribution: uniform, low: 0.1, high: 0.5}\n",
        8, "sweep.levers.parameters.behaviour.hazard.network", "a grid design takes lists of values"),
    "sobol size": (
        "  uncertainties:\n"
        "    design: sobol\n"
        "    samples: 10\n"
        "    parameters:\n"
        "      behaviour.hazard.network: {distribution: uniform, low: 0.1, high: 0.5}\n",
        7, "sweep.uncertainties.samples", "sobol needs a power of two (got 10; try 8 or 16)"),
    "samples missing": (
        "  uncertainties:\n"
        "    design: lhs\n"
        "    parameters:\n"
        "      behaviour.hazard.network: {distribution: uniform, low: 0.1, high: 0.5}\n",
        6, "sweep.uncertainties.design", "a lhs design needs samples"),
    "misspelt key": (
        "  levers:\n"
        "    desing: grid\n"
        "    parameters:\n"
        "      policies.us.apprehension_probability: [0.5, 0.9]\n",
        6, "sweep.levers.desing", "unknown key; did you mean 'design'?"),
    "not sweepable": (
        "  levers:\n"
        "    parameters:\n"
        "      seed: [1, 2]\n",
        7, "sweep.levers.parameters.seed", "'seed' cannot be swept"),
    "zip lengths": (
        "  levers:\n"
        "    design: zip\n"
        "    parameters:\n"
        "      policies.us.apprehension_probability: [0.5, 0.9]\n"
        "      behaviour.hazard.network: [0.1, 0.2, 0.3]\n",
        9, "sweep.levers.parameters.behaviour.hazard.network", "zip needs lists of the same length"),
    "mode outside bounds": (
        "  uncertainties:\n"
        "    design: lhs\n"
        "    samples: 4\n"
        "    parameters:\n"
        "      behaviour.hazard.network: {distribution: triangular, low: 0.1, mode: 0.9, high: 0.5}\n",
        9, "sweep.uncertainties.parameters.behaviour.hazard.network.mode", "mode (0.9) must lie between"),
    "empty block": ("  seed: 4\n", 4, "sweep", "a sweep needs levers, uncertainties or both"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_sweep_file_is_located(tmp_path, case):
    block, line, key, message = CASES[case]
    path = write(tmp_path, block)
    found = problems(path)
    assert len(found) == 1, found
    assert found[0].startswith(f"{path}:{line}: {key}: "), found[0]
    assert message in found[0], found[0]


@pytest.mark.parametrize("case", ["unknown parameter path", "bad distribution", "zero-size dimension",
                                  "bounds reversed"])
def test_cli_exits_2_with_the_location_and_writes_nothing(tmp_path, case, capsys):
    block, line, key, message = CASES[case]
    path = write(tmp_path, block)
    out = tmp_path / "out"
    assert main(["sweep", str(path), "--out", str(out), "--workers", "1", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"{path}:{line}: {key}: " in err and message in err
    assert "Traceback" not in err
    assert not out.exists()
    assert main(["check", str(path)]) == 2
    assert f"{path}:{line}: {key}: " in capsys.readouterr().err


def test_every_mistake_is_reported_at_once(tmp_path):
    path = write(tmp_path, (
        "  levers:\n"
        "    parameters:\n"
        "      policies.us.aprehension_probability: [0.5, 0.9]\n"
        "      behaviour.hazard.netwrk: [0.1]\n"))
    found = problems(path)
    assert len(found) == 2
    assert any(":7: " in p and "aprehension_probability" in p for p in found)
    assert any(":8: " in p and "did you mean 'network'" in p for p in found)


def test_mistake_in_the_base_scenario_is_located_in_its_file(tmp_path):
    (tmp_path / "base.yaml").write_text(BASE.replace("months: 3", "monts: 3"))
    path = tmp_path / "s.yaml"
    path.write_text(HEAD + "  levers:\n    parameters:\n      policies.us.apprehension_probability: [0.5]\n")
    found = problems(path)
    assert found == [f"{tmp_path / 'base.yaml'}:4: monts: unknown key; did you mean 'months'?"]


def test_a_new_map_entry_can_be_swept_but_not_a_misspelt_field(tmp_path):
    good = write(tmp_path, "  levers:\n    parameters:\n      world.population.VEN: [2.0e7, 3.0e7]\n")
    assert len(build_design(load_sweep(good)).runs) == 2
    bad = write(tmp_path, "  levers:\n    parameters:\n      world.populaton.VEN: [2.0e7]\n")
    assert "did you mean 'population'" in problems(bad)[0]


def test_run_refuses_a_sweep_file(tmp_path, capsys):
    path = write(tmp_path, "  levers:\n    parameters:\n      policies.us.apprehension_probability: [0.5]\n")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert str(caught.value.problems[0]).startswith(f"{path}:4: sweep: this file describes a sweep")
    assert main(["run", str(path), "--quiet", "--out", str(tmp_path / "out")]) == 2
    assert "migsim sweep" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_check_accepts_a_good_sweep_file(tmp_path, capsys):
    path = write(tmp_path, "  replications: 2\n  levers:\n    parameters:\n"
                           "      policies.us.apprehension_probability: [0.5, 0.6, 0.7]\n")
    assert main(["check", str(path)]) == 0
    assert f"{path}: OK (sweep s: 3 points x 2 replication(s) = 6 runs" in capsys.readouterr().out


def test_sweep_of_a_plain_scenario_is_refused(tmp_path, capsys):
    (tmp_path / "base.yaml").write_text(BASE)
    assert main(["sweep", str(tmp_path / "base.yaml"), "--quiet", "--out", str(tmp_path / "o")]) == 2
    assert "no sweep: block" in capsys.readouterr().err


def test_options_are_checked(tmp_path, capsys):
    path = write(tmp_path, "  levers:\n    parameters:\n      policies.us.apprehension_probability: [0.5]\n")
    with pytest.raises(SystemExit) as caught:
        main(["sweep", str(path), "--workers", "2", "--scheduler", "tcp://127.0.0.1:1"])
    assert caught.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["sweep", str(path), "--workers", "0"])
