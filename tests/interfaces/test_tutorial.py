"""docs/tutorial.md runs as written: every shell and Python block, in order, in a fresh folder.

The folder holds a copy of scenarios/ (the tutorial runs from the repository's root and
writes its own files there); shell blocks run with bash (``set -e``) and the ``migsim`` of
this environment, Python blocks with ``exec`` in one namespace. A comment line
``<!-- tutorial: skip (why) -->`` before a block leaves it out (installing, starting the
app's server); ``<!-- tutorial: exit N (why) -->`` expects that exit code from it. Blocks
of other languages (``text``: printed output) are shown, not run. Nothing is substituted:
the tutorial's own sizes are small enough to run in the test.
"""
from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import REPO_ROOT, SCENARIOS

TUTORIAL = REPO_ROOT / "docs" / "tutorial.md"
BLOCK = re.compile(r"(?:<!-- tutorial: (?P<mark>skip|exit \d+)[^>]*-->\n)?```(?P<lang>\w*)\n(?P<code>.*?)```", re.S)


def blocks(text: str) -> list[tuple[str, str, str | None]]:
    """(language, code, mark) of every fenced block, in order."""
    return [(m["lang"], m["code"], m["mark"]) for m in BLOCK.finditer(text)]


def test_tutorial_blocks_are_found_and_marked():
    found = blocks(TUTORIAL.read_text(encoding="utf-8"))
    languages = {lang for lang, _, _ in found}
    assert languages <= {"bash", "python", "text"}, languages
    runnable = [b for b in found if b[0] in ("bash", "python") and b[2] != "skip"]
    assert len(runnable) >= 10
    skipped = [code for lang, code, mark in found if mark == "skip"]
    assert any("pip install" in code for code in skipped) and any("migsim app" in code for code in skipped)
    commands = " ".join(code for lang, code, _ in runnable if lang == "bash")
    for step in ("migsim run", "migsim check", "migsim compare", "migsim sweep", "migsim analyze", "migsim plot"):
        assert step in commands, step
    assert (REPO_ROOT / "docs" / "outcome_curves.png").is_file()      # the image the tutorial shows


@pytest.mark.slow
def test_tutorial_runs_as_written(tmp_path, monkeypatch):
    shutil.copytree(SCENARIOS, tmp_path / "scenarios")
    monkeypatch.chdir(tmp_path)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
           "COLUMNS": "120"}
    namespace: dict = {}
    ran = 0
    for lang, code, mark in blocks(TUTORIAL.read_text(encoding="utf-8")):
        if mark == "skip" or lang not in ("bash", "python"):
            continue
        where = f"block {ran + 1} ({lang}):\n{code}"
        if lang == "bash":
            done = subprocess.run(["bash", "-e", "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                                  timeout=600)
            expected = int(mark.split()[1]) if mark else 0
            assert done.returncode == expected, f"{where}\nexit {done.returncode}\n{done.stdout}\n{done.stderr}"
            assert "Traceback" not in done.stderr, where
        else:
            with contextlib.redirect_stdout(io.StringIO()):
                exec(compile(code, f"tutorial block {ran + 1}", "exec"), namespace)
        ran += 1
    assert ran >= 10
    # the reader ends with a comparison of their own policy, its report and a sensitivity analysis
    for made in ("results/baseline/outcome_curves.png", "results/my_study/report.html",
                 "results/my_study/figures/cost_effectiveness.png", "results/aid_honduras_sweep/analysis/scatter.png"):
        assert (tmp_path / made).is_file(), made
    assert "aid_honduras" in (tmp_path / "results" / "my_study" / "summary.md").read_text()
