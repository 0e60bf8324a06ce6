"""The Flee peer benchmark: a short Mali 2012 run through Flee's API gives sane figures.

Skipped where Flee (the optional ``peers`` extra) or the case's data files are absent.
"""
import importlib.util
import json
import random
import sys

import numpy as np
import pytest

import peer_flee  # benchmarks/ is on the test path (pyproject.toml)

needs_flee = pytest.mark.skipif(importlib.util.find_spec("flee") is None, reason="flee not installed")
needs_case = pytest.mark.skipif(not (peer_flee.DEFAULT_CASE / "input" / "locations.csv").is_file(),
                                reason="Flee Mali case data not available")


@needs_flee
@needs_case
def test_short_run_gives_sane_figures():
    random.seed(123)
    before = random.random()
    random.seed(123)
    result = peer_flee.measure_flee(days=10, agents_scale=0.1)
    assert random.random() == before            # the caller's generator state is restored
    assert result["model"] == "flee" and result["case"] == "mali2012" and result["days"] == 10
    assert result["seconds"] > 0 and result["agent_days"] > 0
    assert result["agents_at_end"] > 0
    # agents never leave Flee's Mali case, so each day steps at most the final count
    assert result["agent_days"] <= 10 * result["agents_at_end"]
    assert result["agent_steps_per_second"] == pytest.approx(result["agent_days"] / result["seconds"], rel=0.01)
    assert 0 <= result["ard"] <= result["ard_not_rescaled"] + 1e-9 < 2
    assert 0 < result["cpu_seconds"]
    assert result["flee_version"][0].isdigit()
    again = peer_flee.measure_flee(days=10, agents_scale=0.1)   # module state is reset between runs
    assert (again["agent_days"], again["agents_at_end"], again["ard"]) == \
        (result["agent_days"], result["agents_at_end"], result["ard"])


@needs_flee
@needs_case
def test_scale_and_period_are_checked():
    with pytest.raises(ValueError, match="1/n"):
        peer_flee.measure_flee(days=1, agents_scale=0.3)
    with pytest.raises(ValueError, match="days"):
        peer_flee.measure_flee(days=301, agents_scale=0.1)


def test_ard_definitions_on_known_counts():
    """Twice the UNHCR counts everywhere: plain ARD 1, rescaled ARD 0; a day with no counts scores 0."""
    class FleeAnalysis:           # Flee's analysis.abs_diffs, without needing Flee installed
        @staticmethod
        def abs_diffs(forecast_vals, correct_vals):
            return np.abs(forecast_vals - correct_vals)

    observed = np.array([[0.0, 0.0], [10.0, 30.0], [20.0, 20.0]])
    ard = peer_flee._averaged_relative_differences(2 * observed, observed, FleeAnalysis)
    assert ard == {"ard": 0.0, "ard_not_rescaled": pytest.approx(2 / 3, abs=1e-4)}
    swapped = np.array([[0.0, 0.0], [30.0, 10.0], [20.0, 20.0]])     # right total, wrong camps on day 1
    ard = peer_flee._averaged_relative_differences(swapped, observed, FleeAnalysis)
    assert ard["ard"] == ard["ard_not_rescaled"] == pytest.approx((40 / 40) / 3, abs=1e-4)


def test_missing_flee_is_a_clear_message(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "flee", None)   # import flee now raises ImportError
    assert peer_flee.main(["--days", "1"]) == 2
    err = capsys.readouterr().err
    assert "pip install 'migsim[peers]'" in err and "Traceback" not in err


@needs_flee
@needs_case
def test_main_prints_json(capsys):
    assert peer_flee.main(["--days", "2", "--agents-scale", "0.1"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["days"] == 2 and printed["agent_days"] > 0
    assert np.isfinite(printed["ard"])
