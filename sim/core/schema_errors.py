"""Validation errors of any schema (scenario, study, sweep) as located problems in plain words.

Each pydantic error becomes a ``Problem``: the file and line of the key (``Located``), the key
path and what was expected, with "did you mean" for misspelt keys and kinds.
"""
from __future__ import annotations

import difflib
from typing import Annotated, Any, get_args, get_origin

from pydantic import BaseModel, ValidationError

from .errors import Problem
from .policies import MONTH_PATTERN, Policy
from .yamlio import Located, dotted

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$"
PATTERN_MESSAGES = {
    NAME_PATTERN: "a name is 1-100 letters, digits, '_', '-' or '.', starting with a letter or digit: "
                  "it names a folder inside the results folder, so it cannot hold '/' or start with '.'",
    MONTH_PATTERN: "expected a month written YYYY-MM, e.g. 2023-07",
}


def in_file_order(problems: list[Problem]) -> list[Problem]:
    """Problems sorted as they appear: by file (in the order first met), then line (problems without a line first)."""
    files = {f: i for i, f in enumerate(dict.fromkeys(p.file for p in problems))}
    return sorted(problems, key=lambda p: (files[p.file], p.line or 0))


def validation_problems(located: Located, exc: ValidationError, model: type[BaseModel]) -> list[Problem]:
    """Located problems (file, line, key, message) of a validation error of any schema (scenario, study...)."""
    problems = []
    for err in exc.errors():
        path = data_path(located.data, err["loc"])
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            allowed = allowed_keys(model, located.data, path[:-1])
            close = difflib.get_close_matches(str(path[-1]), allowed, n=1, cutoff=0.6)
            message = "unknown key" + (f"; did you mean '{close[0]}'?" if close else
                                       (f" (expected one of: {', '.join(sorted(allowed))})" if allowed else ""))
        elif err["type"] == "missing":
            message = "required key is missing"
        elif err["type"] == "string_pattern_mismatch" and err.get("ctx", {}).get("pattern") in PATTERN_MESSAGES:
            message = f"{PATTERN_MESSAGES[err['ctx']['pattern']]} (got {err['input']!r:.60})"
        elif err["type"] == "union_tag_not_found":
            message = f"needs a kind: one of {', '.join(_policy_kinds())}"
        elif err["type"] == "union_tag_invalid":
            tags = [t.strip(" '") for t in str(err.get("ctx", {}).get("expected_tags", "")).split(",") if t.strip()]
            got = str(err.get("ctx", {}).get("tag", ""))
            close = difflib.get_close_matches(got, tags, n=1, cutoff=0.6)
            message = f"unknown kind '{got}'" + (f"; did you mean '{close[0]}'?" if close else
                                                 f" (expected one of: {', '.join(tags)})")
        elif err.get("input", "") is None and err["type"] in ("model_type", "dict_type", "model_attributes_type"):
            message = ("is null: no file this one extends defines it, so there is nothing to remove; "
                       "write its fields or delete the line")
        elif "input" in err and err["type"] not in ("union_tag_invalid", "model_type", "dict_type"):
            shown = repr(err["input"])
            if len(shown) < 60 and "got " not in message:
                message += f" (got {shown})"
        file, line = located.where(path)
        problems.append(Problem(file, line, dotted(path), message))
    return problems


def _policy_kinds() -> list[str]:
    """The ``kind`` of every policy block (aid, containment, ...)."""
    union = get_args(Policy)[0]
    return [kind for block in get_args(union) for kind in get_args(block.model_fields["kind"].annotation)]


def data_path(data: Any, loc: tuple) -> tuple:
    """Map a pydantic error location to a key path in the data (dropping union tags)."""
    path: list = []
    node = data
    for part in loc:
        if isinstance(node, dict) and part in node:
            path.append(part)
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            path.append(part)
            node = node[part]
        elif isinstance(node, dict) or isinstance(node, list):
            if isinstance(part, str) and part not in ("aid", "containment", "enforcement", "legal_pathway",
                                                      "visa", "closure") or not isinstance(node, dict):
                path.append(part)
                node = None
    return tuple(path)


def allowed_keys(model: type[BaseModel], data: Any, path: tuple) -> list[str]:
    """Field names accepted at ``path`` (for "did you mean")."""
    current: Any = model
    node = data
    for part in path:
        node = node.get(part) if isinstance(node, dict) else None
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(part))
            if field is None:
                return []
            current = field.annotation
        else:
            args = get_args(current)
            current = args[-1] if args else None
        current = _unwrap(current, node)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _unwrap(annotation: Any, node: Any) -> Any:
    """Reduce Optional/Annotated/Union annotations to the model the data selects."""
    for _ in range(6):
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
            continue
        if origin is not None and origin not in (dict, list):
            options = [a for a in get_args(annotation) if a is not type(None)]
            models = [a for a in options if isinstance(a, type) and issubclass(a, BaseModel)]
            kind = node.get("kind") if isinstance(node, dict) else None
            chosen = [m for m in models if "kind" in m.model_fields
                      and kind in get_args(m.model_fields["kind"].annotation)]
            annotation = (chosen or models or options or [None])[0]
            continue
        break
    return annotation
