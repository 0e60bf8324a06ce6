"""Messages a newcomer meets first, in plain words: bad options, too few agents, a missing parent file,
every problem of a file in one pass, and YAML syntax mistakes at the line to fix. Exit code 2, no traceback."""
from __future__ import annotations

import re

import pytest

from sim.cli import main

from helpers import BASELINE

SMALL = """\
schema_version: 1
name: small
origins: [GTM, HND, SLV]
months: 2
warmup_months: 1
replications: 1
"""


def run_cli(argv: list[str], capsys) -> tuple[int, str]:
    """Exit code and stderr of ``migsim ARGV`` (argparse's own exits included)."""
    try:
        code = main(argv)
    except SystemExit as exc:                   # argparse refuses an option
        code = int(exc.code or 0)
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


@pytest.mark.parametrize("option", ["--agents", "--months", "--replications"])
def test_a_word_where_a_number_goes(option, capsys):
    code, err = run_cli(["run", str(BASELINE), option, "abc", "--quiet"], capsys)
    assert code == 2
    assert f"argument {option}: expected a whole number such as 1000, got 'abc'" in err
    assert "positive" not in err and "invalid" not in err          # no internal names of the parser


def test_zero_and_a_bad_seed(capsys):
    code, err = run_cli(["run", str(BASELINE), "--replications", "0"], capsys)
    assert code == 2 and "expected a whole number of 1 or more, got '0'" in err
    code, err = run_cli(["run", str(BASELINE), "--seed", "x1"], capsys)
    assert code == 2 and "argument --seed: expected a whole number" in err


def test_too_few_agents_says_why(capsys):
    code, err = run_cli(["run", str(BASELINE), "--agents", "5", "--quiet"], capsys)
    assert code == 2
    assert err.startswith("command line: --agents: at least one agent per simulated origin is needed")
    assert "11 origins (VEN, CUB" in err and "agents must be 11 or more (got 5)" in err


def test_too_few_agents_counts_the_scenarios_own_origins(tmp_path, capsys):
    (tmp_path / "small.yaml").write_text(SMALL + "agents: 2\n")
    code, err = run_cli(["check", str(tmp_path / "small.yaml")], capsys)
    assert code == 2
    assert "small.yaml:7: agents: at least one agent per simulated origin is needed: this scenario simulates " \
           "3 origins (GTM, HND, SLV), so agents must be 3 or more (got 2)" in err
    (tmp_path / "small.yaml").write_text(SMALL + "agents: 3\n")
    assert run_cli(["check", str(tmp_path / "small.yaml")], capsys)[0] == 0


def test_missing_parent_file_names_the_full_path(tmp_path, monkeypatch, capsys):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "mine.yaml").write_text("schema_version: 1\nname: mine\nextends: ../parents/base.yaml\n")
    monkeypatch.chdir(tmp_path / "sub")
    code, err = run_cli(["check", "mine.yaml"], capsys)
    assert code == 2
    tried = (tmp_path / "parents" / "base.yaml").resolve()
    assert f"mine.yaml:3: extends: file not found: {tried} " in err
    assert "relative to the folder of mine.yaml" in err


ALL_AT_ONCE = """\
schema_version: 1
name: mine
monts: 12
origins: [GTM, HON, VEN]
policies:
  aid:
    kind: aid
    start: 2023-07
    origins: [GTM, SLV]
    budget_usd_per_yer: 1.0e9
  mx:
    kind: containment
    country: MEXX
    start: 2023-07
    interception_probability: 1.3
    capacity_per_month: 1000
  wall:
    kind: closure
    start: 2023-01
    edges: ["MEX_NORHT->USA"]
"""


def test_schema_and_name_problems_in_one_pass(tmp_path, capsys):
    """A misspelt key, a value out of range and three unknown names: all five (and the missing key the
    misspelling leaves) in one run, in the order of the file."""
    (tmp_path / "mine.yaml").write_text(ALL_AT_ONCE)
    code, err = run_cli(["check", str(tmp_path / "mine.yaml")], capsys)
    assert code == 2
    lines = [line.split("mine.yaml:", 1)[1] for line in err.splitlines()]
    assert lines == [
        "3: monts: unknown key; did you mean 'months'?",
        "4: origins[1]: unknown origin country 'HON'; did you mean 'HND'?",
        "6: policies.aid.budget_usd_per_year: required key is missing",
        "10: policies.aid.budget_usd_per_yer: unknown key; did you mean 'budget_usd_per_year'?",
        "13: policies.mx.country: unknown transit country 'MEXX'; did you mean 'MEX'?",
        "15: policies.mx.interception_probability: Input should be less than or equal to 1 (got 1.3)",
        "20: policies.wall.edges[0]: unknown node 'MEX_NORHT'; did you mean 'MEX_NORTH'?",
    ]


def test_a_block_the_schema_refuses_is_not_checked_for_names_it_does_not_hold(tmp_path, capsys):
    """Stand-ins for a missing country or edge list are never reported as unknown names."""
    (tmp_path / "b.yaml").write_text("schema_version: 1\nname: b\npolicies:\n"
                                     "  mx: {kind: containment, start: 2023-01, capacity_per_month: 1}\n"
                                     "  wall: {kind: closure, start: 2023-01}\n")
    code, err = run_cli(["check", str(tmp_path / "b.yaml")], capsys)
    assert code == 2
    assert sorted(line.split(": ", 2)[1] for line in err.splitlines()) == [
        "policies.mx.country", "policies.mx.interception_probability", "policies.wall.edges"]
    assert "unknown" not in err


@pytest.mark.parametrize("text, line, words", [
    ("policies:\n  aid:\n    kind: aid\n   start: 2023-01\n", 6,
     "the indentation of line 6 does not match the lines above it"),
    ("policies:\n  aid:\n    kind: aid\n      start: 2023-01\n", 6,
     "unexpected ':' in line 6: is the line indented more than the key above it"),
    ("origins:\n  - VEN\n - CUB\n", 5, "the indentation of line 5 does not match the lines above it"),
    ("months 3\nseed: 1\n", 3, "line 3 has no ':' after its key"),
    ("origins: [VEN, CUB\nmonths: 3\n", 3, "the list opened with '[' in line 3 is not closed with ']'"),
    ("description: 'never closed\nmonths: 3\n", 3, "the quote opened in line 3 is never closed"),
    ("origins: - VEN\n", 3, "a list item '-' in line 3 cannot follow a key on the same line"),
])
def test_syntax_mistakes_in_plain_words_at_the_line_to_fix(text, line, words, tmp_path, capsys):
    (tmp_path / "s.yaml").write_text("schema_version: 1\nname: s\n" + text)
    code, err = run_cli(["check", str(tmp_path / "s.yaml")], capsys)
    assert code == 2
    assert f"s.yaml:{line}: invalid YAML: {words}" in err, err
    assert "<block" not in err and "expected <" not in err


def test_a_sweep_whose_points_repeat_says_how_many_runs_are_distinct(tmp_path, capsys):
    """Morris trajectories of one parameter revisit its levels: those points share their runs, and check says so."""
    from helpers import TINY_SWEEP_BASE

    (tmp_path / "s.yaml").write_text(TINY_SWEEP_BASE + "sweep:\n  replications: 2\n  uncertainties:\n"
                                     "    design: morris\n    samples: 6\n    parameters:\n"
                                     "      behaviour.hazard.network: {distribution: uniform, low: 0.1, high: 0.4}\n")
    assert main(["check", str(tmp_path / "s.yaml")]) == 0
    out = capsys.readouterr().out
    found = re.search(r"12 points x 2 replication\(s\) = 24 runs, (\d+) of them distinct \(points with the same "
                      r"values share their runs\)", out)
    assert found and int(found.group(1)) < 24, out
