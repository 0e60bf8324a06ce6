"""Bad scenario files: every problem is a ScenarioError naming the file, the line and the key."""
from __future__ import annotations

from pathlib import Path

import pytest

import sim
from sim import ScenarioError
from sim.core.errors import Problem

HEAD = "schema_version: 1\nname: t\n"


def problems(path: Path) -> tuple[list[Problem], str]:
    with pytest.raises(ScenarioError) as info:
        sim.load_scenario(path)
    exc = info.value
    assert exc.problems, "a ScenarioError must hold at least one problem"
    for p in exc.problems:
        assert isinstance(p, Problem)
    return exc.problems, str(exc)


def one(path: Path, line: int | None, key: str, *fragments: str) -> Problem:
    """Exactly one problem, at ``line`` and ``key``, whose message contains every fragment."""
    found, text = problems(path)
    assert len(found) == 1, found
    p = found[0]
    assert Path(p.file).name == path.name, p
    assert p.line == line, p
    assert p.key == key, p
    for fragment in fragments:
        assert fragment in p.message, p
    # the printed form is file:line: key: message
    where = f"{p.file}:{line}" if line else p.file
    assert text.startswith(f"{where}:" + (f" {key}:" if key else "")), text
    assert str(path.name) in text
    return p


def write(tmp_path: Path, text: str, name: str = "bad.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


CONTAINMENT = ("policies:\n"
               "  mx:\n"                                  # line 4
               "    kind: containment\n"                  # 5
               "    country: MEX\n"                       # 6
               "    start: 2023-01\n"                     # 7
               "    interception_probability: 0.3\n"      # 8
               "    capacity_per_month: 1000\n")          # 9


def test_a_good_small_file_loads(tmp_path):
    scenario = sim.load_scenario(write(tmp_path, HEAD + CONTAINMENT))
    assert scenario.policies["mx"].interception_probability == 0.3


def test_misspelt_top_level_key(tmp_path):
    one(write(tmp_path, HEAD + "agnets: 5\n"), 3, "agnets", "unknown key", "did you mean 'agents'")


def test_unknown_top_level_key_lists_the_allowed_keys(tmp_path):
    p = one(write(tmp_path, HEAD + "zzzzqqq: 5\n"), 3, "zzzzqqq", "unknown key")
    assert "agents" in p.message and "policies" in p.message


def test_misspelt_key_in_a_policy_block(tmp_path):
    text = HEAD + CONTAINMENT.replace("interception_probability: 0.3", "interception_probabilty: 0.3")
    found, _ = problems(write(tmp_path, text))
    typo = [p for p in found if p.key == "policies.mx.interception_probabilty"]
    assert len(typo) == 1
    assert typo[0].line == 8
    assert "did you mean 'interception_probability'" in typo[0].message
    # the correctly spelt key is then missing: reported too, at the block
    missing = [p for p in found if p.key == "policies.mx.interception_probability"]
    assert len(missing) == 1 and "missing" in missing[0].message and missing[0].line == 4
    assert len(found) == 2


@pytest.mark.parametrize("text, line, key, hint", [
    ("behaviour:\n  hazard:\n    violense: 0.3\n", 5, "behaviour.hazard.violense", "did you mean 'violence'"),
    ("world:\n  edges:\n    VEN->COL_NECOCLI:\n      cost_usdd: 5\n", 6, "world.edges.VEN->COL_NECOCLI.cost_usdd",
     "did you mean 'cost_usd'"),
    ("policies:\n  e:\n    kind: enforcement\n    start: 2023-01\n    apprehension_probability: 0.5\n"
     "    outcome: {expel_to_mexico: 0.0, remove_to_origin: 0.3, relase: 0.7}\n", 8,
     "policies.e.outcome.relase", "did you mean 'release'"),
])
def test_misspelt_keys_deeper_down(tmp_path, text, line, key, hint):
    found, _ = problems(write(tmp_path, HEAD + text))
    typo = [p for p in found if p.key == key]
    assert len(typo) == 1, found
    assert typo[0].line == line and hint in typo[0].message


def test_wrong_type(tmp_path):
    one(write(tmp_path, HEAD + "months: many\n"), 3, "months", "integer", "'many'")


def test_probability_above_one(tmp_path):
    text = HEAD + CONTAINMENT.replace("interception_probability: 0.3", "interception_probability: 1.5")
    one(write(tmp_path, text), 8, "policies.mx.interception_probability", "less than or equal to 1", "1.5")


def test_negative_agents(tmp_path):
    one(write(tmp_path, HEAD + "agents: -5\n"), 3, "agents", "greater than or equal", "-5")


def test_zero_months(tmp_path):
    one(write(tmp_path, HEAD + "months: 0\n"), 3, "months", "greater than or equal to 1")


def test_unknown_origin_country(tmp_path):
    one(write(tmp_path, HEAD + "origins: [VEN, XXX]\n"), 3, "origins[1]", "unknown origin country 'XXX'")


def test_unknown_origin_in_a_block_list_points_at_its_line(tmp_path):
    one(write(tmp_path, HEAD + "origins:\n  - VEN\n  - VNE\n"), 5, "origins[1]", "unknown origin country 'VNE'",
        "did you mean 'VEN'")


def test_unknown_transit_country_in_containment(tmp_path):
    text = HEAD + CONTAINMENT.replace("country: MEX", "country: USA")
    one(write(tmp_path, text), 6, "policies.mx.country", "unknown transit country 'USA'")


def test_unknown_node_in_world_edges(tmp_path):
    text = HEAD + "world:\n  edges:\n    VEN->NOWHERE:\n      cost_usd: 5\n"
    one(write(tmp_path, text), 5, "world.edges.VEN->NOWHERE", "unknown node 'NOWHERE'")


def test_closure_of_an_edge_that_does_not_exist(tmp_path):
    text = HEAD + ("policies:\n  c:\n    kind: closure\n    start: 2023-01\n    edges:\n      - VEN->COL_NECOCLI\n"
                   "      - VEN->USA\n")
    one(write(tmp_path, text), 9, "policies.c.edges[1]", "no route edge VEN->USA")


def test_start_before_the_data(tmp_path):
    one(write(tmp_path, HEAD + "start: 2014-12\n"), 3, "start", "2015-01")


def test_start_not_a_month(tmp_path):
    one(write(tmp_path, HEAD + "start: 2023-13\n"), 3, "start")


def test_start_written_as_a_date(tmp_path):
    one(write(tmp_path, HEAD + "start: 2023-01-01\n"), 3, "start", "YYYY-MM")


def test_policy_end_before_start(tmp_path):
    text = HEAD + ("policies:\n"
                   "  c:\n"                              # 4
                   "    kind: closure\n"                 # 5
                   "    start: 2023-05\n"                # 6
                   "    end: 2023-01\n"                  # 7
                   "    edges: [VEN->COL_NECOCLI]\n")    # 8
    # the mistake is the end month: point at it (line 7, key policies.c.end)
    one(write(tmp_path, text), 7, "policies.c.end", "end (2023-01) must be after start (2023-05)")


def test_shares_not_summing_to_one(tmp_path):
    text = HEAD + CONTAINMENT + "    outcome: {deport: 0.5, hold: 0.3, pushback: 0.3}\n"
    one(write(tmp_path, text), 10, "policies.mx.outcome", "sum to 1", "1.1")


def test_border_shares_not_summing_to_one(tmp_path):
    text = HEAD + ("policies:\n  e:\n    kind: enforcement\n    start: 2023-01\n    apprehension_probability: 0.5\n"
                   "    outcome:\n      expel_to_mexico: 0.2\n      remove_to_origin: 0.2\n      release: 0.2\n")
    one(write(tmp_path, text), 8, "policies.e.outcome", "sum to 1")


def test_unknown_policy_kind(tmp_path):
    text = HEAD + "policies:\n  a:\n    kind: bogus\n    start: 2023-01\n"
    one(write(tmp_path, text), 4, "policies.a", "bogus")


def test_missing_extends_target(tmp_path):
    path = write(tmp_path, HEAD + "extends: nope.yaml\n")
    one(path, 3, "extends", "file not found", "nope.yaml")


def test_extends_cycle(tmp_path):
    a = write(tmp_path, "schema_version: 1\nname: a\nextends: b.yaml\n", "a.yaml")       # extends on line 3
    write(tmp_path, "schema_version: 1\nname: b\nmonths: 3\nextends: a.yaml\n", "b.yaml")  # extends on line 4
    found, text = problems(a)
    assert len(found) == 1, found
    p = found[0]
    assert "cycle" in p.message and "a.yaml" in p.message and "b.yaml" in p.message
    assert p.key == "extends", p
    # the problem points at an ``extends:`` line that closes the loop
    assert (Path(p.file).name, p.line) in {("a.yaml", 3), ("b.yaml", 4)}, p


def test_self_extends_is_a_cycle(tmp_path):
    path = write(tmp_path, HEAD + "extends: bad.yaml\n")
    found, _ = problems(path)
    assert len(found) == 1 and "cycle" in found[0].message


def test_tab_indentation(tmp_path):
    one(write(tmp_path, HEAD + "world:\n\tborder_death_risk: 0.1\n"), 4, "", "tab")


def test_duplicate_keys(tmp_path):
    p = one(write(tmp_path, HEAD + "months: 3\nagents: 5000\nmonths: 4\n"), 5, "", "duplicate key")
    assert "months" in p.message


def test_python_tags_are_refused_and_never_run(tmp_path):
    marker = tmp_path / "pwned"
    text = HEAD + f"description: !!python/object/apply:os.system ['touch {marker}']\n"
    one(write(tmp_path, text), 3, "description", "not allowed")
    assert not marker.exists()


def test_custom_tags_are_refused(tmp_path):
    one(write(tmp_path, HEAD + "months: !months 3\n"), 3, "months", "not allowed")


def test_empty_file(tmp_path):
    p = one(write(tmp_path, ""), None, "", "empty")
    assert p.line is None


def test_file_of_comments_only(tmp_path):
    found, _ = problems(write(tmp_path, "# nothing here\n\n"))
    assert len(found) == 1


def test_top_level_list(tmp_path):
    one(write(tmp_path, "- schema_version\n- name\n"), 1, "", "mapping")


def test_missing_file(tmp_path):
    found, _ = problems(tmp_path / "absent.yaml")
    assert len(found) == 1 and "not found" in found[0].message


def test_missing_required_keys(tmp_path):
    found, _ = problems(write(tmp_path, "schema_version: 1\n"))
    assert [(p.key, "missing" in p.message) for p in found] == [("name", True)]


def test_several_problems_in_one_file_are_all_reported(tmp_path):
    text = HEAD + ("agnets: 5\n"            # 3
                   "months: 0\n"            # 4
                   "seed: -1\n"             # 5
                   "origins: [VEN, XXX]\n"  # 6 (reported once the schema is valid)
                   "start: 2014-01\n")      # 7
    found, text_out = problems(write(tmp_path, text))
    got = {(p.line, p.key) for p in found}
    assert {(3, "agnets"), (4, "months"), (5, "seed"), (7, "start")} <= got
    assert len(found) >= 4
    assert len(text_out.splitlines()) == len(found)


def test_several_world_reference_problems_are_all_reported(tmp_path):
    text = HEAD + ("origins: [VEN, XXX]\n"                          # 3
                   "policies:\n"
                   "  mx:\n"
                   "    kind: containment\n"
                   "    country: USA\n"                             # 7
                   "    start: 2023-01\n"
                   "    interception_probability: 0.3\n"
                   "    capacity_per_month: 1000\n"
                   "  c:\n"
                   "    kind: closure\n"
                   "    start: 2023-01\n"
                   "    edges: [VEN->USA]\n")                        # 14
    found, _ = problems(write(tmp_path, text))
    assert {(p.line, p.key) for p in found} == {(3, "origins[1]"), (7, "policies.mx.country"),
                                                (14, "policies.c.edges[0]")}


# ----------------------------------------------------------------- extends and line numbers

def test_problems_in_a_child_point_at_the_child(tmp_path):
    write(tmp_path, HEAD + "months: 12\n" + CONTAINMENT, "parent.yaml")
    child = write(tmp_path, "# a child\nextends: parent.yaml\nname: c\npolicies:\n  mx:\n"
                  "    interception_probability: 1.7\n", "child.yaml")
    one(child, 6, "policies.mx.interception_probability", "1.7")


def test_problems_in_a_parent_point_at_the_parent(tmp_path):
    write(tmp_path, HEAD + "months: 12\n" + CONTAINMENT.replace("country: MEX", "country: USA"), "parent.yaml")
    child = write(tmp_path, "extends: parent.yaml\nname: c\nagents: 5000\n", "child.yaml")
    found, _ = problems(child)
    assert len(found) == 1
    p = found[0]
    assert Path(p.file).name == "parent.yaml" and p.line == 7 and p.key == "policies.mx.country"


def test_child_can_remove_and_change_parent_blocks(tmp_path):
    write(tmp_path, HEAD + "months: 12\n" + CONTAINMENT, "parent.yaml")
    child = write(tmp_path, "extends: parent.yaml\nname: c\npolicies:\n  mx: null\n", "child.yaml")
    assert sim.load_scenario(child).policies == {}
    child2 = write(tmp_path, "extends: parent.yaml\nname: c2\npolicies:\n  mx: {capacity_per_month: 5}\n",
                   "child2.yaml")
    scenario = sim.load_scenario(child2)
    assert scenario.policies["mx"].capacity_per_month == 5
    assert scenario.policies["mx"].interception_probability == 0.3
    assert scenario.months == 12 and scenario.name == "c2"


def test_invalid_scenarios_built_in_python_are_refused():
    from pydantic import ValidationError

    with pytest.raises(ValidationError) as info:
        sim.Scenario(schema_version=1, name="t", months=0)
    assert "months" in str(info.value)
    with pytest.raises((ValidationError, ScenarioError)):
        sim.Scenario(schema_version=1, name="t").with_overrides(agents=-1)
    with pytest.raises(ValidationError):
        sim.Scenario(schema_version=1, name="t", origins=["VEN"], policies={"x": {"kind": "aid"}})


def test_driver_ramp_end_before_start_points_at_end(tmp_path):
    text = HEAD + ("drivers:\n"
                   "  d:\n"                      # 4
                   "    origin: VEN\n"
                   "    driver: inflation\n"
                   "    kind: ramp\n"
                   "    start: 2023-05\n"        # 8
                   "    end: 2023-01\n"          # 9
                   "    change: 0.5\n")
    one(write(tmp_path, text), 9, "drivers.d.end", "after")


def test_driver_ramp_missing_end_is_reported_at_the_block(tmp_path):
    text = HEAD + ("drivers:\n  d:\n    origin: VEN\n    driver: inflation\n    kind: ramp\n    start: 2023-05\n"
                   "    change: 0.5\n")
    one(write(tmp_path, text), 4, "drivers.d", "needs end")


def test_boolean_is_not_a_number_of_months(tmp_path):
    one(write(tmp_path, HEAD + "months: true\n"), 3, "months", "integer")
