"""The ``migsim`` command end to end: run, check, help, exit codes and written files."""
from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from sim.cli import main
from sim.core.random import replicate_seed
from sim.outputs.files import read_outcomes, read_provenance
from sim.outputs.table import METRICS as OUTCOME_METRICS

from helpers import BASELINE, REPO_ROOT, SCENARIOS

RUN = ["run", str(BASELINE), "--agents", "3000", "--months", "6", "--replications", "2", "--quiet"]
METRICS = {"encounters", "entries_irregular", "entries_legal", "intercepted", "deported", "in_transit", "transits",
           "deaths", "aid_spent_usd", "enforcement_spent_usd"}
COLUMNS = ["scenario", "replicate", "seed", "month", "nationality", "location", "metric", "value"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """One small run through ``main`` shared by the tests that read its files."""
    out = tmp_path_factory.mktemp("cli") / "x"
    assert main(RUN + ["--out", str(out)]) == 0
    return out


def test_run_writes_every_file(run_dir):
    for name in ("outcomes.parquet", "scenario.yaml", "manifest.json", "outcome_curves.png"):
        assert (run_dir / name).is_file(), name
        assert (run_dir / name).stat().st_size > 0, name
    assert (run_dir / "outcome_curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # no staging folders are left behind
    assert sorted(p.name for p in run_dir.parent.iterdir()) == ["x"]


def test_outcomes_table(run_dir):
    frame = read_outcomes(run_dir / "outcomes.parquet")
    assert list(frame.columns) == COLUMNS
    # zero rows of located person metrics are left out (sim.outputs.table): at this size nobody
    # may die, so ``deaths`` is checked in test_every_metric_is_reported_when_it_happens
    assert METRICS - {"deaths"} <= set(frame.metric)
    assert set(frame.metric) <= set(OUTCOME_METRICS)
    assert set(frame.scenario) == {"baseline"}
    assert sorted(frame.replicate.unique()) == [0, 1]
    assert sorted(frame.month.unique()) == ["2023-01", "2023-02", "2023-03", "2023-04", "2023-05", "2023-06"]
    assert (frame.value >= 0).all()
    assert sorted(frame.seed.unique()) == sorted(replicate_seed(12345, r) for r in range(2))


DEADLY = """\
schema_version: 1
name: deadly
origins: [GTM, HND, SLV]
behaviour:
  hazard:
    intercept: {GTM: -4.0, HND: -4.0, SLV: -4.0}
world:
  border_death_risk: 0.05
policies:
  mx:
    kind: containment
    country: MEX
    start: 2015-01
    interception_probability: 0.3
    capacity_per_month: 1.0e7
"""


def test_every_metric_is_reported_when_it_happens(tmp_path):
    """Many departures and a deadly crossing: every metric, deaths included, has rows."""
    (tmp_path / "deadly.yaml").write_text(DEADLY)
    out = tmp_path / "deadly_out"
    assert main(["run", str(tmp_path / "deadly.yaml"), "--agents", "3000", "--months", "6", "--replications", "1",
                 "--out", str(out), "--quiet"]) == 0
    frame = read_outcomes(out / "outcomes.parquet")
    assert METRICS <= set(frame.metric)
    deaths = frame[frame.metric == "deaths"]
    assert deaths.value.sum() > 0
    assert "MEX_NORTH" in set(deaths.location)


def test_provenance_in_parquet_and_manifest(run_dir):
    meta = read_provenance(run_dir / "outcomes.parquet")
    manifest = json.loads((run_dir / "manifest.json").read_text())
    seeds = [replicate_seed(12345, r) for r in range(2)]
    for record in (meta, manifest):
        assert len(record["scenario_sha256"]) == 64
        int(record["scenario_sha256"], 16)
        assert record["version"]
        assert record["replicate_seeds"] == seeds
        assert record["scenario"] == "baseline"
    assert meta["scenario_sha256"] == manifest["scenario_sha256"]
    assert manifest["outcomes"] == "outcomes.parquet"
    assert manifest["rows"] == len(read_outcomes(run_dir / "outcomes.parquet"))


def test_written_scenario_is_the_resolved_scenario(run_dir):
    import sim

    saved = sim.load_scenario(run_dir / "scenario.yaml")
    assert saved.agents == 3000 and saved.months == 6 and saved.replications == 2
    assert saved.policies.keys() == sim.load_scenario(BASELINE).policies.keys()
    # the digest in the provenance is that of the resolved scenario that was run
    assert saved.digest() == read_provenance(run_dir / "outcomes.parquet")["scenario_sha256"]


def test_output_files_are_readable_like_any_other_file(run_dir):
    """Files are written atomically through temporary files; they must still honour the umask
    (a results folder is shared: outcomes readable by whoever can read the figure)."""
    umask = os.umask(0)
    os.umask(umask)
    expected = 0o666 & ~umask
    modes = {name: stat.S_IMODE((run_dir / name).stat().st_mode)
             for name in ("outcomes.parquet", "scenario.yaml", "manifest.json", "outcome_curves.png")}
    assert all(mode == expected for mode in modes.values()), {k: oct(v) for k, v in modes.items()}


def test_csv_format(tmp_path, run_dir):
    out = tmp_path / "csv"
    assert main(RUN + ["--out", str(out), "--format", "csv"]) == 0
    assert (out / "outcomes.csv").is_file()
    assert not (out / "outcomes.parquet").exists()
    csv = read_outcomes(out / "outcomes.csv")
    parquet = read_outcomes(run_dir / "outcomes.parquet")
    assert list(csv.columns) == COLUMNS
    pd.testing.assert_frame_equal(csv, parquet, check_dtype=False)
    assert json.loads((out / "manifest.json").read_text())["outcomes"] == "outcomes.csv"


def test_rerun_with_same_seed_gives_identical_table(tmp_path, run_dir):
    out = tmp_path / "again"
    assert main(RUN + ["--out", str(out)]) == 0
    pd.testing.assert_frame_equal(read_outcomes(out / "outcomes.parquet"), read_outcomes(run_dir / "outcomes.parquet"))
    # another seed gives another table
    other = tmp_path / "other"
    assert main(RUN + ["--out", str(other), "--seed", "99"]) == 0
    a, b = read_outcomes(other / "outcomes.parquet"), read_outcomes(run_dir / "outcomes.parquet")
    assert set(a.seed) != set(b.seed)
    assert not a.value.equals(b.value) or len(a) != len(b)


def test_rerun_into_the_same_folder_replaces_it(tmp_path, capsys):
    out = tmp_path / "same"
    assert main(RUN + ["--out", str(out)]) == 0
    assert main(RUN + ["--out", str(out), "--format", "csv"]) == 0
    assert (out / "outcomes.csv").is_file() and not (out / "outcomes.parquet").exists()   # the earlier run's files go
    assert sorted(p.name for p in tmp_path.iterdir()) == ["same"]
    (out / "notes.txt").write_text("mine")                     # a file migsim did not write: never deleted
    capsys.readouterr()
    assert main(RUN + ["--out", str(out)]) == 2
    assert "holds files migsim did not write: notes.txt (added)" in capsys.readouterr().err
    assert (out / "notes.txt").read_text() == "mine" and (out / "outcomes.csv").is_file()


def test_default_results_folder_and_summary(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["run", str(BASELINE), "--agents", "3000", "--months", "3", "--replications", "1"]) == 0
    out = tmp_path / "results" / "baseline"
    assert (out / "outcomes.parquet").is_file()
    printed = capsys.readouterr().out
    assert "encounters" in printed and "results" in printed


BAD = "schema_version: 1\nname: bad\nagnets: 5\nmonths: 0\n"


def test_bad_scenario_exit_code_message_and_no_results(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.yaml").write_text(BAD)
    code = main(["run", "bad.yaml", "--agents", "3000", "--months", "6", "--quiet"])
    assert code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "bad.yaml:3: agnets: unknown key; did you mean 'agents'?" in err
    assert "bad.yaml:4: months:" in err
    assert not (tmp_path / "results").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.yaml"]


def test_bad_scenario_with_out_creates_nothing(tmp_path, capsys):
    (tmp_path / "bad.yaml").write_text(BAD)
    out = tmp_path / "deep" / "out"
    assert main(["run", str(tmp_path / "bad.yaml"), "--out", str(out), "--quiet"]) == 2
    assert not (tmp_path / "deep").exists()


@pytest.mark.parametrize("override", [["--agents", "5"], ["--seed", "-1"], ["--months", "1000"]])
def test_out_of_range_overrides_are_input_errors(override, tmp_path, monkeypatch, capsys):
    """Command-line overrides are checked like file values: exit 2 and a message, no traceback."""
    monkeypatch.chdir(tmp_path)
    try:
        code = main(["run", str(BASELINE), *override, "--quiet"])
    except SystemExit as exc:          # argparse may refuse it first: also exit code 2
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err
    assert override[0].lstrip("-") in err
    assert "Traceback" not in err
    assert not (tmp_path / "results").exists()


def test_missing_scenario_file(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["run", "nope.yaml", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "nope.yaml" in err and "Traceback" not in err
    assert not (tmp_path / "results").exists()


def test_check_good_files(capsys):
    files = sorted(str(p) for p in SCENARIOS.glob("*.yaml"))
    assert main(["check", *files]) == 0
    out = capsys.readouterr().out
    assert out.count(": OK") == len(files)


def test_check_bad_file(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD)
    assert main(["check", str(BASELINE), str(bad)]) == 2
    captured = capsys.readouterr()
    assert "OK" in captured.out
    assert f"{bad}:3: agnets:" in captured.err
    assert f"{bad}:4: months:" in captured.err
    assert "Traceback" not in captured.err


@pytest.mark.parametrize("argv, options", [
    (["--help"], ["run", "check", "--version"]),
    (["run", "--help"], ["--agents", "--months", "--replications", "--seed", "--out", "--format", "--quiet",
                         "--engine"]),
    (["check", "--help"], ["files"]),
])
def test_help(argv, options, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 0
    out = capsys.readouterr().out
    for option in options:
        assert option in out, option


def test_version(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert "migsim" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [
    ["run", str(BASELINE), "--agents", "0"],
    ["run", str(BASELINE), "--months", "-3"],
    ["run", str(BASELINE), "--format", "xlsx"],
    ["frobnicate"],
    [],
])
def test_bad_arguments_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    assert "Traceback" not in capsys.readouterr().err


def _migsim() -> list[str]:
    script = Path(sys.executable).parent / "migsim"
    if script.is_file():
        return [str(script)]
    found = shutil.which("migsim")
    return [found] if found else [sys.executable, "-m", "sim.cli"]


def test_console_script_runs_and_checks(tmp_path, run_dir):
    out = tmp_path / "sub"
    done = subprocess.run(_migsim() + RUN + ["--out", str(out)], capture_output=True, text=True, cwd=tmp_path,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    # another process (another hash seed) gives the same table as the in-process run
    pd.testing.assert_frame_equal(read_outcomes(out / "outcomes.parquet"), read_outcomes(run_dir / "outcomes.parquet"))
    (tmp_path / "bad.yaml").write_text(BAD)
    done = subprocess.run(_migsim() + ["check", "bad.yaml"], capture_output=True, text=True, cwd=tmp_path,
                          timeout=60)
    assert done.returncode == 2
    assert "bad.yaml:3: agnets: unknown key; did you mean 'agents'?" in done.stderr
    assert "Traceback" not in done.stderr


def test_module_entry_point(tmp_path):
    done = subprocess.run([sys.executable, "-m", "sim.cli", "check", str(BASELINE)], capture_output=True,
                          text=True, cwd=REPO_ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "OK" in done.stdout
