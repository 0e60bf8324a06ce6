"""The corpus of bad input files (tests/data/bad/): every one is refused the same clean way.

For each file, `migsim check` and the command that would run it (`run`, `sweep` for
sweep files, `compare` for study files) exit with code 2, print one line per problem
naming the file, the line and the key (tests/data/bad/expected.yaml says which), print
no traceback and write nothing: no `results/` folder, no file anywhere in the working
folder or beside the bad file.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

import sim
from sim.cli import main
from sim.core.errors import ScenarioError
from sim.core.yamlio import MAX_FILE_BYTES

from helpers import REPO_ROOT

BAD = REPO_ROOT / "tests" / "data" / "bad"
EXPECTED = YAML(typ="safe").load((BAD / "expected.yaml").read_text(encoding="utf-8"))
FILES = sorted(p.name for p in BAD.glob("*.yaml") if p.name != "expected.yaml")
PWNED = Path("/tmp/migsim-corpus-pwned")          # what python_object_tag.yaml would create if run


def command_for(name: str) -> str:
    """The subcommand that runs a corpus file."""
    return "sweep" if name.startswith("sweep_") else "compare" if name.startswith("study_") else "run"


def corpus_state() -> dict[str, int]:
    """Every file under the corpus folder with its modification time (to show nothing is written there)."""
    return {str(p.relative_to(BAD)): p.stat().st_mtime_ns for p in BAD.rglob("*")}


def assert_reported(err: str, expected: list) -> None:
    """``err`` holds one line per expected problem, each with its substrings, and nothing else."""
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == len(expected), f"expected {len(expected)} problem line(s), got:\n{err}"
    unmatched = list(lines)
    for item in expected:
        parts = [item] if isinstance(item, str) else list(item)
        match = next((line for line in unmatched if all(part in line for part in parts)), None)
        assert match is not None, f"no line holds {parts!r} in:\n{err}"
        unmatched.remove(match)


def test_corpus_covers_scenario_sweep_and_study_files():
    assert len(FILES) >= 40
    assert set(FILES) == set(EXPECTED), "every bad file needs an entry in expected.yaml, and every entry a file"
    kinds = [command_for(name) for name in FILES]
    assert kinds.count("sweep") >= 10 and kinds.count("compare") >= 5 and kinds.count("run") >= 40
    for name, items in EXPECTED.items():
        assert items, name
        for item in items:
            first = item if isinstance(item, str) else item[0]
            assert ".yaml" in first, f"{name}: each problem names its file"


@pytest.mark.parametrize("name", FILES)
def test_bad_file_exits_2_with_located_messages_and_writes_nothing(name, tmp_path, monkeypatch, capsys):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)                       # default results folder: work/results/<name>
    before = corpus_state()
    path = BAD / name
    for argv in (["check", str(path)], [command_for(name), str(path), "--quiet"]):
        code = main(argv)
        out, err = capsys.readouterr()
        assert code == 2, (argv, out, err)
        assert_reported(err, EXPECTED[name])
        assert out == "", out
    assert not (work / "results").exists()
    assert list(work.iterdir()) == []
    assert corpus_state() == before
    assert not PWNED.exists()


@pytest.mark.parametrize("name", ["python_object_tag.yaml", "sweep_dimension_of_zero_size.yaml"])
def test_the_console_command_shows_no_traceback(name, tmp_path):
    """The installed entry point (a separate Python process): exit code 2, the message, no traceback."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    done = subprocess.run([sys.executable, "-m", "sim.cli", command_for(name), str(BAD / name)], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert_reported(done.stderr, EXPECTED[name])
    assert done.stdout == ""
    assert list(tmp_path.iterdir()) == []
    assert not PWNED.exists()


@pytest.mark.parametrize("filler", ["description", "comments"])
def test_a_50_mb_file_is_refused_before_it_is_read(tmp_path, monkeypatch, capsys, filler):
    path = tmp_path / "huge.yaml"
    with path.open("w", encoding="utf-8") as handle:
        handle.write("schema_version: 1\nname: huge\n")
        chunk = ("x" * 1023 + "\n") if filler == "comments" else "x" * 1024
        handle.write("description: " if filler == "description" else "")
        for _ in range(50 * 1024):
            handle.write(("# " + chunk) if filler == "comments" else chunk)
        handle.write("\n")
    size = path.stat().st_size
    assert size > 50_000_000
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    # reading the file would take seconds and hundreds of MB: the size is checked first
    real_read = Path.read_text
    monkeypatch.setattr(Path, "read_text", lambda self, *a, **k: pytest.fail("read") if self == path
                        else real_read(self, *a, **k))
    for argv in (["check", str(path)], ["run", str(path), "--quiet"], ["sweep", str(path), "--quiet"]):
        assert main(argv) == 2
        out, err = capsys.readouterr()
        assert_reported(err, [["huge.yaml: file is", f"{size:,} bytes", f"limited to {MAX_FILE_BYTES:,} bytes"]])
    assert list(work.iterdir()) == []


def test_a_huge_parent_is_refused_at_the_extends_line(tmp_path):
    parent = tmp_path / "parent.yaml"
    parent.write_text("schema_version: 1\nname: p\n" + "# padding\n" * (MAX_FILE_BYTES // 10 + 1))
    child = tmp_path / "child.yaml"
    child.write_text("extends: parent.yaml\nname: c\n")
    with pytest.raises(ScenarioError) as info:
        sim.load_scenario(child)
    (problem,) = info.value.problems
    assert Path(problem.file).name == "parent.yaml" and "limited to" in problem.message


NAME_CHARS = st.sampled_from(list("abcXYZ019_-./\\~ :\x00é"))


@settings(max_examples=150, deadline=None)
@given(name=st.one_of(st.text(NAME_CHARS, min_size=1, max_size=12),
                      st.sampled_from(["..", ".", "../x", "a/../..", "~", "/etc", "a\\..\\b", "con", "a..", "..a"])))
def test_an_accepted_name_stays_inside_the_results_folder(name):
    """Whatever the name, a scenario that accepts it writes inside results/ (its own subfolder)."""
    try:
        scenario = sim.Scenario(schema_version=1, name=name)
    except Exception:                               # refused: nothing to write
        return
    results = Path("/srv/results")
    target = (results / scenario.name).resolve()
    assert target.parent == results, name
    assert not scenario.name.startswith(".")
