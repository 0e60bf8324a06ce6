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
from ...core.yamlio import Located, deep_merge, load_with_extends, read_yaml, reference_problem
from ...outputs.table import METRICS
from ..sweeps.spec import Distribution

BASELINE = "baseline"
TREND_START = "2025-07"         # driver data end mid-2025 (annual values placed at mid-year): trends start there
TREND_PREFIX = "trend_"         # driver changes a study's trends add to every scenario: drivers.trend_<driver>
DEFAULT_OUTCOMES = ("encounters", "entries_irregular", "entries_legal", "deaths", "in_transit", "intercepted",
                    "deported")


class Heatmap(Strict):
    """A sweep whose runs give a heatmap of one outcome over two of its levers."""

    sweep: str = Field(description="sweep file, relative to the study file")
    x: str = Field(description="lever on the x axis: its path in the scenario, as in the sweep file")
    y: str = Field(description="lever on the y axis")
    outcome: str = Field("entries_irregular", description="outcome totalled over the horizon (persons)")


class Contrast(Strict):
    """Two scenarios of the study compared on one outcome: in which year, and in which futures, one beats the other."""

    policy: str = Field(description="scenario name (e.g. root_cause_aid)")
    against: str = Field(description="scenario name it is compared with (e.g. enforcement)")
    outcome: Literal["encounters", "entries_irregular", "entries_legal", "deaths", "spending_usd"] = Field(
        "entries_irregular", description="outcome totalled over the horizon; lower is better, but entries_legal")


class Robustness(Strict):
    """The study's scenarios (the policies) run across sampled futures, with common random numbers."""

    futures: StrictInt = Field(ge=2, le=100_000, description="futures drawn (Latin hypercube over the uncertainties)")
    replications: StrictInt = Field(2, ge=1, le=1_000, description="runs of each policy in each future")
    agents: StrictInt | None = Field(None, ge=11, le=10**9, description="agents per run (default: the study's)")
    seed: StrictInt | None = Field(None, ge=0, lt=2**63,
                                   description="seed of the futures and runs (default: the study's)")
    uncertainties: dict[str, Distribution] = Field(
        default_factory=dict, description="scenario path -> distribution, as in a sweep file; the study's trends "
        "are added")
    discovery: Contrast | None = Field(None, description="scenario discovery: the futures in which policy beats "
                                       "against on outcome (default: the study's contrast)")


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
    agent_allocation: Literal["proportional", "sqrt", "equal", "movers"] | None = Field(
        None, description="how every scenario shares its agents among origins (default: the baseline's); movers: "
        "where people move (sim/core/allocation.py)")
    seed: StrictInt = Field(12345, ge=0, lt=2**63, description="seed shared by every scenario")
    start: Month | None = Field(None, description="first reported month (default: baseline's)")
    months: StrictInt | None = Field(None, ge=1, le=600, description="months reported (default: baseline's)")
    until: Month | None = Field(None, description="last reported month (instead of months), e.g. 2040-12")
    trends: dict[Literal["inflation", "violence", "repression"], Distribution] = Field(
        default_factory=dict, description="relative change of a driver in every origin by `until`, reached "
        f"linearly from {TREND_START} (the end of the driver data): the median in the comparison, sampled in "
        "robustness futures")
    validation: str | None = Field(None, description="validation scores of the model (JSON written by migsim "
                                   "validate --scores-file); default: <stem>.validation.json, else "
                                   "<stem>_split.validation.json, beside the baseline or a file it extends")
    contrast: Contrast | None = None
    robustness: Robustness | None = None
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
    located: Located | None = None                          # the study file's data with the line of every key
    validation: Path | None = None                          # the model's validation scores (JSON), when shipped

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
    if study.trends:
        resolved = {name: _with_trends(s, study, located) for name, s in resolved.items()}
    pairs = [(("contrast",), study.contrast)]
    if study.robustness is not None:
        pairs.append((("robustness", "discovery"), study.robustness.discovery))
    for where, pair in pairs:
        for key in ("policy", "against"):
            name = getattr(pair, key) if pair is not None else None
            if name is not None and name not in resolved:
                file, line = located.where(where + (key,))
                close = difflib.get_close_matches(name, list(resolved), n=1)
                hint = f"; did you mean '{close[0]}'?" if close else f" (scenarios: {', '.join(resolved)})"
                raise ScenarioError([Problem(file, line, ".".join(where + (key,)),
                                             f"unknown scenario '{name}'{hint}")])
    validation = None
    if study.validation is not None:
        validation = _existing(path, located, ("validation",), study.validation)
    else:
        validation = find_validation(baseline_path)
    return StudyFile(path, study, resolved, texts, located, validation)


def extends_chain(path: Path) -> list[Path]:
    """A scenario file and the files it extends, nearest first."""
    chain, current = [], Path(path)
    while current is not None and current.is_file() and current not in chain and len(chain) < 32:
        chain.append(current)
        parent = read_yaml(current).data
        parent = parent.get("extends") if isinstance(parent, dict) else None
        current = current.parent / parent if isinstance(parent, str) else None
    return chain


def find_validation(path: Path) -> Path | None:
    """The validation scores of the scenario file or of the nearest file it extends that has some:
    ``<stem>.validation.json`` (the file itself scored on months after its fit window), else
    ``<stem>_split.validation.json`` (the same calibration fitted on fewer months and scored on the months after
    them: the out-of-sample check of a calibration fitted on every observed month)."""
    for file in extends_chain(path):
        for name in (f"{file.stem}.validation.json", f"{file.stem}_split.validation.json"):
            candidate = file.with_name(name)
            if candidate.is_file():
                return candidate
    return None


def trend_median(dist) -> float:
    """The central value of a trend's distribution (its median), used in the comparison itself."""
    from ..sweeps.design import to_value

    return float(to_value(dist, [0.5], False)[0])


def _with_trends(scenario: Scenario, study: Study, located: Located) -> Scenario:
    """Add the study's driver trends (ramps from ``TREND_START`` to the last reported month, every origin)."""
    from ...core.calendar import format_month, parse_month

    last = format_month(parse_month(scenario.start) + scenario.months - 1)
    if last <= TREND_START:
        file, line = located.where(("trends",))
        raise ScenarioError([Problem(file, line, "trends", f"trends start at {TREND_START} (the end of the driver "
                                     f"data); the horizon ends at {last}: set until: (e.g. 2040-12)")])
    data = scenario.model_dump(mode="json")
    for driver, dist in study.trends.items():
        data["drivers"][f"{TREND_PREFIX}{driver}"] = {"origin": "ALL", "driver": driver, "kind": "ramp",
                                                      "start": TREND_START, "end": last,
                                                      "change": trend_median(dist)}
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        file, line = located.where(("trends",))
        raise ScenarioError([Problem(file, line, "trends", str(e["msg"])) for e in exc.errors()]) from None


def _existing(study_path: Path, located: Located, key: tuple, relative: str) -> Path:
    file, line = located.where(key)
    problem = reference_problem(relative)
    if problem is not None:
        raise ScenarioError([Problem(file, line, ".".join(key), f"expected the path of a file: {problem}")])
    target = study_path.parent / relative
    if not target.is_file():
        raise ScenarioError([Problem(file, line, ".".join(key), f"file not found: {target.resolve()} "
                                     f"({relative!r} is read relative to the folder of {study_path.name})")])
    return target


def _shared(scenario: Scenario, name: str, study: Study, located: Located) -> Scenario:
    """Give every scenario the study's name for it, sample, seed and horizon."""
    months = study.months
    if study.until is not None:
        from ...core.calendar import parse_month

        first = study.start or scenario.start
        months = parse_month(study.until) - parse_month(first) + 1
        if months < 1 or study.months is not None:
            file, line = located.where(("until",))
            why = ("give months or until, not both" if study.months is not None
                   else f"until ({study.until}) comes before the first reported month ({first})")
            raise ScenarioError([Problem(file, line, "until", why)])
    changes = {"name": name, "replications": study.replications, "seed": study.seed, "agents": study.agents,
               "start": study.start, "months": months, "agent_allocation": study.agent_allocation}
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
