"""Paths into a scenario: ``policies.aid.budget_usd_per_year``, ``world.edges[A->B].cost_usd``.

Sweeps set their parameters and calibration its free parameters through these paths:
``parse_path`` splits the text into keys, ``check_path`` says why a path does not lead
to a settable value of a resolved scenario, ``value_at`` reads one, and ``apply_values``
writes values into a copy of the scenario's JSON data (validated afterwards as a
``Scenario``).
"""
from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from typing import Any

from .scenario import Scenario
from .schema_errors import allowed_keys
from .yamlio import dotted

NOT_SWEEPABLE = ("schema_version", "name", "description", "seed", "replications", "extends")
"""Top-level scenario fields a sweep may not set: it names itself, and seeds and replicates its runs."""
_SEGMENT = r"(?:[^.\[\]\s]+|\[[^\[\]]+\])"
PATH_PATTERN = re.compile(r"^[^.\[\]\s]+(?:\.[^.\[\]\s]+|\[[^\[\]]+\])*$")


def parse_path(text: str) -> tuple | None:
    """Split ``policies.aid.budget_usd_per_year`` or ``world.edges[A->B].cost_usd`` into keys (None if malformed)."""
    if not isinstance(text, str) or not PATH_PATTERN.match(text):
        return None
    parts: list = []
    for token in re.findall(_SEGMENT, text):
        if token.startswith("["):
            inner = token[1:-1].strip()
            parts.append(int(inner) if inner.lstrip("-").isdigit() else inner)
        else:
            parts.append(token)
    return tuple(parts)


def check_path(base: dict, parts: tuple) -> str | None:
    """Why ``parts`` is not a settable path of the resolved scenario ``base`` (None when it is)."""
    if str(parts[0]) in NOT_SWEEPABLE:
        return (f"'{parts[0]}' cannot be swept: the sweep names its results and sets seeds and replications "
                "itself (sweep.seed, sweep.replications)")
    node: Any = base
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        where = dotted(parts[:depth]) or "the scenario"
        if isinstance(node, list):
            if not isinstance(part, int) or not -len(node) <= part < len(node):
                return f"unknown parameter path: {where} is a list of {len(node)}; use [0] .. [{len(node) - 1}]"
            node = node[part]
            continue
        if not isinstance(node, dict):
            return f"unknown parameter path: {where} is a single value ({node!r}), it has no '{part}'"
        if part in node:
            node = node[part]
            continue
        allowed = allowed_keys(Scenario, base, parts[:depth])
        if last and not allowed:
            return None          # a new entry of a map (world.population.VEN): validated with each point
        choices = [str(k) for k in node] if not allowed else allowed
        close = difflib.get_close_matches(str(part), choices, n=1, cutoff=0.6)
        hint = f"; did you mean '{close[0]}'?" if close else (
            f" (it has: {', '.join(sorted(map(str, choices)))})" if choices and len(choices) <= 20 else "")
        return f"unknown parameter path: {where} has no '{part}'{hint}"
    return None


def value_at(data: Any, parts: tuple) -> Any:
    """The value at key path ``parts`` of plain data (raises ``KeyError``/``IndexError`` when absent)."""
    for part in parts:
        data = data[part]
    return data


def apply_values(base: dict, values: Iterable[tuple[tuple, Any]]) -> dict:
    """Copy of ``base`` with each (key path, value) set; only the maps and lists on the paths are copied."""
    out = dict(base)
    for parts, value in values:
        node: Any = out
        for part in parts[:-1]:
            child = node[part]
            child = list(child) if isinstance(child, list) else dict(child)
            node[part] = child
            node = child
        node[parts[-1]] = value
    return out
