"""Input handling beyond the bad-file corpus: time bounds before parsing, the resolved scenario a run writes,
Dask scheduler files, and runs that print no NumPy warnings."""
from __future__ import annotations

import json
import warnings

import pytest

import sim
from sim.cli import main
from sim.core.errors import ScenarioError
from sim.core.resolved import _Bound, _walk, resolved_yaml
from sim.core.yamlio import _ITEMS, MAX_FILE_BYTES, MAX_ITEMS, read_yaml

from helpers import TINY_SWEEP_BASE, load_base_scenario, shipped_scenario_files, small

HEADER = "schema_version: 1\nname: big\n"
SWEEP = """\
schema_version: 1
extends: base.yaml
name: tiny_sweep
sweep:
  levers:
    parameters:
      policies.us.apprehension_probability: [0.5, 0.9]
"""


@pytest.mark.parametrize("body, message", [
    ("description: [" + ",".join(["1"] * 400_000) + "]\n", f"more than {MAX_ITEMS:,} lines and list items"),
    ("description: " + "word " * 180_000 + "\n", "a line of 900,013 characters"),          # one long paragraph
    ("".join(f"d{i}: [" + ",".join(["1"] * 4_000) + "]\n" for i in range(6)),           # 24,000 items in 6 lines
     f"more than {MAX_ITEMS:,} lines and list items"),
    ("world:\n  population:\n" + "".join(f"    K{i}: 1\n" for i in range(30_000)),
     f"more than {MAX_ITEMS:,} lines and list items"),                                    # many short lines
])
def test_a_large_file_is_refused_before_the_parser_sees_it(tmp_path, monkeypatch, body, message):
    """The parser takes ~0.1 ms per line or item and microseconds per character: lines, items and characters per
    line are counted with regular expressions first, so the refusal takes milliseconds whatever the file (here,
    the parser would fail the test)."""
    from ruamel.yaml import YAML

    path = tmp_path / "big.yaml"
    path.write_text(HEADER + body)
    assert path.stat().st_size < MAX_FILE_BYTES
    monkeypatch.setattr(YAML, "load", lambda *a, **k: pytest.fail("the parser was reached"))
    with pytest.raises(ScenarioError, match=message) as info:
        read_yaml(path)
    assert info.value.problems[0].line == 3 or "lines and list items" in message


def schedule_scenario(drivers: int, months: int) -> str:
    """A short file whose resolved form is long: one schedule, anchored, repeated by aliases."""
    values = ", ".join(f"{2023 + m // 12}-{m % 12 + 1:02d}: {m}" for m in range(months))
    lines = [HEADER, "months: 2\nagents: 300\nreplications: 1\norigins: [GTM]\ndrivers:\n",
             f"  d0: &s {{origin: ALL, driver: inflation, kind: schedule, values: {{{values}}}}}\n"]
    lines += [f"  d{i}: *s\n" for i in range(1, drivers)]
    return "".join(lines)


def test_a_scenario_whose_resolved_form_would_be_too_large_is_refused_at_load(tmp_path):
    path = tmp_path / "aliases.yaml"
    path.write_text(schedule_scenario(drivers=300, months=120))             # 36,000 schedule entries once resolved
    assert path.stat().st_size < 20_000
    with pytest.raises(ScenarioError, match="with every file it extends merged and every alias expanded") as info:
        sim.load_scenario(path)
    assert info.value.problems[0].file == str(path)


def test_the_scenario_yaml_a_run_writes_loads_again(tmp_path):
    path = tmp_path / "aliases.yaml"
    path.write_text(schedule_scenario(drivers=10, months=120))             # 1,200 entries once resolved
    scenario = sim.load_scenario(path)
    out = tmp_path / "results"
    sim.run(scenario).save(out, plot=False)
    again = sim.load_scenario(out / "scenario.yaml")
    assert again == scenario
    assert main(["run", str(out / "scenario.yaml"), "--out", str(tmp_path / "rerun"), "--quiet"]) == 0


TEXTS = {"words": "word " * 1_800, "one word": "a" * 9_000, "line breaks": "l1\nl2\n" * 500,
         "quotes and accents": "it's \"quoted\" é ü, [x] {y} " * 100, "open brackets": "[" * 30,
         "unicode breaks": "\x85\u2028 x\ty" * 200,
         "comment-like": "#comment-like " * 300, "yaml-like": "- dash: colon, " * 400}


def written_cases() -> dict:
    """Scenarios to write out: the shipped ones, long and odd descriptions, a long driver schedule."""
    cases = {p.name: (lambda p=p: load_base_scenario(p)) for p in shipped_scenario_files()}
    cases |= {name: (lambda text=text: small(description=text)) for name, text in TEXTS.items()}
    schedule = {f"{2023 + m // 12}-{m % 12 + 1:02d}": m for m in range(120)}
    cases["20 schedules"] = lambda: small(drivers={f"d{i}": {"origin": "ALL", "driver": "inflation",
                                                            "kind": "schedule", "values": schedule} for i in range(20)})
    return cases


@pytest.mark.parametrize("name", list(written_cases()))
def test_every_scenario_written_out_loads_as_itself_within_its_bound(tmp_path, name):
    """The bound ``sim.core.resolved`` computes without writing (bytes, lines and items, longest line) is never
    below the text written, and the text loads as the same scenario."""
    scenario = written_cases()[name]()
    data = scenario.model_dump(mode="json")
    bound = _Bound()
    _walk(data, 0, bound)
    text = resolved_yaml(data)
    assert bound.chars >= len(text.encode())
    assert bound.items >= len(_ITEMS.findall(text))
    assert bound.longest >= max(len(line) for line in text.split("\n"))
    (tmp_path / "scenario.yaml").write_text(text)
    assert sim.load_scenario(tmp_path / "scenario.yaml") == scenario


@pytest.mark.parametrize("content, message", [
    ("not json at all\n", "not a Dask scheduler file: expected the JSON a scheduler writes"),
    ('{"type": "Scheduler", "id": "x"}', 'not a Dask scheduler file: it has no "address"'),
    (b"\x89PNG\r\n\x1a\n\x00\x00", "not a Dask scheduler file: expected the JSON"),
    ('["tcp://127.0.0.1:8786"]', 'not a Dask scheduler file: it has no "address"'),
])
def test_a_file_that_is_not_a_dask_scheduler_file_is_refused(tmp_path, capsys, content, message):
    (tmp_path / "base.yaml").write_text(TINY_SWEEP_BASE)
    (tmp_path / "sweep.yaml").write_text(SWEEP)
    scheduler = tmp_path / "scheduler.json"
    scheduler.write_bytes(content if isinstance(content, bytes) else content.encode())
    code = main(["sweep", str(tmp_path / "sweep.yaml"), "--scheduler-file", str(scheduler),
                 "--out", str(tmp_path / "out"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith(f"{scheduler}: --scheduler-file: {message}") and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_extreme_valid_runs_raise_no_numpy_warning(tmp_path):
    """Savings of 1e300 years of income overflowed float32 (NumPy printed warnings with source lines): capped."""
    fields = dict(agents=300, months=2, warmup_months=1, replications=1, origins=["GTM"],
                  behaviour={"population": {"savings_to_income": 1e300, "savings_sigma": 4, "tie_scale": 1e300}})
    (tmp_path / "extreme.yaml").write_text(json.dumps(small(**fields).model_dump(mode="json")))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert main(["run", str(tmp_path / "extreme.yaml"), "--quiet", "--out", str(tmp_path / "out")]) == 0
        for engine in ("grouped", "mesa"):
            sim.run(tmp_path / "extreme.yaml", engine=engine)
    assert [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)] == []
