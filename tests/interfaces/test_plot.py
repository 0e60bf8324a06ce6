"""``migsim plot`` redraws the figures of any results folder (a run, a sweep, a comparison) without running the model.

The comparison folder is covered in tests/experiments/test_compare.py
(test_plot_redraws_stored_results_without_running); here: runs, sweeps, and what is not a results folder.
"""
from __future__ import annotations

import textwrap

import matplotlib.image
import pytest

import sim
from sim.cli import main

from helpers import BASELINE, TINY_SWEEP_BASE

SWEEP = TINY_SWEEP_BASE + textwrap.dedent("""\
    behaviour:
      hazard:
        intercept: {GTM: -4.0, HND: -4.0, VEN: -4.0}    # people leave within three months (the default is -10)
    sweep:
      replications: 1
      levers:
        parameters:
          policies.us.apprehension_probability: [0.5, 0.9]
      uncertainties:
        design: sobol
        samples: 2
        parameters:
          behaviour.hazard.network: {distribution: uniform, low: 0.1, high: 0.4}
          behaviour.aid.income_elasticity: {distribution: uniform, low: 0.1, high: 1.0}
    """)


def forbid_the_model(monkeypatch) -> None:
    """From now on, any attempt to simulate fails the test: plot reads stored results only."""
    def refuse(*args, **kwargs):
        raise AssertionError("plot must not run the model")

    for where in ("sim.simulation.simulate", "sim.experiments.sweeps.execute.simulate"):
        monkeypatch.setattr(where, refuse)


def is_png(path) -> bool:
    return path.is_file() and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_redraws_a_run_folder(tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    assert main(["run", str(BASELINE), "--agents", "1100", "--months", "3", "--replications", "2", "--quiet",
                 "--out", str(out)]) == 0
    (out / "outcome_curves.png").unlink()
    forbid_the_model(monkeypatch)
    assert main(["plot", str(out)]) == 0
    assert is_png(out / "outcome_curves.png")
    assert capsys.readouterr().out.strip() == f"redrew outcome_curves.png in {out}"
    height, width = matplotlib.image.imread(out / "outcome_curves.png").shape[:2]
    assert width > 1000 and height > 500


@pytest.mark.slow
def test_plot_redraws_a_sweep_folder_and_its_analysis(tmp_path, capsys, monkeypatch):
    (tmp_path / "sweep.yaml").write_text(SWEEP)
    out = tmp_path / "sweep_out"
    sim.run_sweep(tmp_path / "sweep.yaml", out=out, workers=1)
    sim.analyze(out)
    for png in (out / "analysis" / "sensitivity.png", out / "analysis" / "scatter.png"):
        png.unlink()
    forbid_the_model(monkeypatch)
    assert main(["plot", str(out), "--by", "policy"]) == 0
    assert is_png(out / "outcome_curves.png")
    assert is_png(out / "analysis" / "sensitivity.png") and is_png(out / "analysis" / "scatter.png")
    printed = capsys.readouterr().out
    assert "outcome_curves.png" in printed and "analysis/sensitivity.png" in printed


def test_plot_of_a_folder_without_results_says_so(tmp_path, capsys):
    assert main(["plot", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "no migsim results here" in err and str(tmp_path) in err and "Traceback" not in err
