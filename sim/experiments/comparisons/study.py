"""Study files: which scenarios to compare against which baseline, and how.

A study file names a baseline scenario file, the scenarios to compare (each a scenario
file, or overrides merged onto the baseline), the sample (agents, replications, seed)
and horizon shared by all, and the outcomes to show. Every scenario gets the same seed,
so replication ``r`` of each scenario shares its random draws with replication ``r`` of
the baseline (common random numbers): differences come from the policies, not the dice.
"""
from __future__ import annotations

import copy
import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, StrictInt, ValidationError, field_validator

from ...core.errors import Problem, ScenarioError
from ...core.parameters import Strict
from ...core.policies import Month
from ...core.scenario import NAME_PATTERN, Scenario, load_scenario, validate_located, validation_problems
from ...core.yamlio import Located, deep_merge, load_with_extends, read_yaml
from ...outputs.table import METRICS

BASELINE = "baseline"
DEFAULT_OUTCOMES = ("encounters", "entries_irregular", "entries_legal", "deaths", "in_transit", "intercepted",
                    "deported")


class Heatmap(Strict):
    """A sweep whose runs give a heatmap of one outcome over two of its levers."""

    sweep: str = Field(description="sweep file, relative to the study file")
    x: str = Field(description="lever on the x axis: its path in the scenario, as in the sweep file")
    y: str = Field(description="lever on the y axis")
    outcome: str = Field("entries_irregular", description="outcome totalled over the horizon (persons)")


class Study(Strict):
    """A comparison of scenarios against a baseline (the schema of a study file)."""

    schema_version: Literal[1] = Field(description="version of this file format (1)")
    name: str = Field(pattern=NAME_PATTERN, description="names the results folder")
    description: str = ""
    baseline: str = Field(description="baseline scenario file, relative to the study file")
    scenarios: dict[str, str | dict[str, Any]] = Field(
        min_length=1, description="name -> scenario file (relative to the study file), or overrides of the baseline")
    agents: StrictInt | None = Field(None, ge=11, le=10**9,
                                     description="agents in every scenario (default: baseline's)")
    replications: StrictInt = Field(10, ge=1, le=10_000, description="replications of every scenario")
    seed: StrictInt = Field(12345, ge=0, lt=2**63, description="seed shared by every scenario")
    start: Month | None = Field(None, description="first reported month (default: baseline's)")
    months: StrictInt | None = Field(None, ge=1, le=600, description="months reported (default: baseline's)")
    outcomes: list[str] = Field(default_factory=lambda: list(DEFAULT_OUTCOMES), min_length=1,
                                description="metrics to show in the outcome curves")
    heatmap: Heatmap | None = None

    @field_validator("outcomes")
    @classmethod
    def _known_outcomes(cls, value: list[str]) -> list[str]:
        for name in value:
            if name not in METRICS:
                close = difflib.get_close_matches(name, METRICS, n=1)
                hint = f"; did you mean '{close[0]}'?" if close else f" (expected one of: {', '.join(METRICS)})"
                raise ValueError(f"unknown outcome '{name}'{hint}")
        return value

    @field_validator("scenarios")
    @classmethod
    def _scenario_names(cls, value: dict) -> dict:
        import re

        for name in value:
            if name == BASELINE:
                raise ValueError(f"'{BASELINE}' is the baseline's name; give this scenario another name")
            if not re.match(NAME_PATTERN, name):
                raise ValueError(f"scenario name '{name}': use letters, digits, '_', '-', '.'")
        return value


@dataclass
class StudyFile:
    """A validated study: its schema, file, and every scenario resolved (baseline first)."""

    path: Path
    study: Study
    scenarios: dict[str, Scenario]
    texts: dict[str, str] = field(default_factory=dict)     # what the user wrote for each scenario

    @property
    def names(self) -> list[str]:
        return list(self.scenarios)


def is_study(data: Any) -> bool:
    """Whether plain YAML data is a study file (it names a baseline and scenarios) rather than a scenario."""
    return isinstance(data, dict) and "baseline" in data and "scenarios" in data


def load_study(path: str | Path, agents: int | None = None, replications: int | None = None) -> StudyFile:
    """Read and validate a study file and the scenarios it names; raise ``ScenarioError`` on problems."""
    path = Path(path)
    located = read_yaml(path)
    try:
        study = Study.model_validate(located.data)
    except ValidationError as exc:
        raise ScenarioError(validation_problems(located, exc, Study)) from None
    if agents is not None or replications is not None:
        study = study.model_copy(update={k: v for k, v in (("agents", agents), ("replications", replications))
                                         if v is not None})
    baseline_path = _existing(path, located, ("baseline",), study.baseline)
    baseline_located = load_with_extends(baseline_path)
    resolved = {BASELINE: _shared(validate_located(copy.deepcopy(baseline_located)), BASELINE, study, located)}
    texts = {BASELINE: baseline_path.read_text(encoding="utf-8")}
    for name, entry in study.scenarios.items():
        if isinstance(entry, str):
            file = _existing(path, located, ("scenarios", name), entry)
            scenario = load_scenario(file)
            texts[name] = file.read_text(encoding="utf-8")
        else:
            prefix = ("scenarios", name)
            over = Located(entry, {p[2:]: v for p, v in located.lines.items() if p[:2] == prefix and len(p) > 2},
                           str(path))
            scenario = validate_located(deep_merge(copy.deepcopy(baseline_located), over))
            texts[name] = _yaml_text({"extends": study.baseline, **entry})
        resolved[name] = _shared(scenario, name, study, located)
    if study.heatmap is not None:
        _existing(path, located, ("heatmap", "sweep"), study.heatmap.sweep)
    return StudyFile(path, study, resolved, texts)


def _existing(study_path: Path, located: Located, key: tuple, relative: str) -> Path:
    target = study_path.parent / relative
    if not target.is_file():
        file, line = located.where(key)
        raise ScenarioError([Problem(file, line, ".".join(key), f"file not found: {target}")])
    return target


def _shared(scenario: Scenario, name: str, study: Study, located: Located) -> Scenario:
    """Give every scenario the study's name for it, sample, seed and horizon."""
    changes = {"name": name, "replications": study.replications, "seed": study.seed, "agents": study.agents,
               "start": study.start, "months": study.months}
    try:
        return scenario.with_overrides(**changes)
    except ScenarioError as exc:
        file, line = located.where(("scenarios", name))
        raise ScenarioError([Problem(file, line, f"scenarios.{name}", p.message) for p in exc.problems]) from None


def _yaml_text(data: dict) -> str:
    import io

    from ruamel.yaml import YAML

    buffer = io.StringIO()
    YAML().dump(data, buffer)
    return buffer.getvalue()
