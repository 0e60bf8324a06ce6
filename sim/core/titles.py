"""Human names of scenario paths, for figures and tables: ``policies.aid_nca.budget_usd_per_year`` becomes
"Aid to GTM, HND, SLV: budget (USD per year, each origin)".

Every field of the schema carries a short ``title`` with its unit (pydantic ``Field(title=...)``);
``field_title`` walks a path through the schema and joins the title of the last field with
what the path's named entries stand for: a policy block (said from its kind and contents
when the scenario is given), a driver change, an edge, a country.
"""
from __future__ import annotations

from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel

from .paths import parse_path, value_at
from .scenario import Scenario


def _models(annotation: Any) -> list[type[BaseModel]]:
    """The schema models an annotation can hold (through Optional, Annotated and unions)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    origin = get_origin(annotation)
    if origin is Annotated:
        return _models(get_args(annotation)[0])
    if origin is Union or str(origin) == "<class 'types.UnionType'>":
        return [m for a in get_args(annotation) for m in _models(a)]
    return []


def _mapping_value(annotation: Any) -> Any | None:
    """The value type of a ``dict[str, X]`` annotation (through Optional/Annotated), or None."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _mapping_value(get_args(annotation)[0])
    if origin is dict:
        return get_args(annotation)[1]
    if origin is Union or str(origin) == "<class 'types.UnionType'>":
        values = [v for a in get_args(annotation) if (v := _mapping_value(a)) is not None]
        return values[0] if values else None
    return None


def _codes(values: Any) -> str:
    return ", ".join(map(str, values)) if values else "everyone"


def policy_name(name: str, block: Any) -> str:
    """What a policy block does, in words ("Containment by MEX"); its name when the block is unknown."""
    if not isinstance(block, dict):
        return name
    kind = block.get("kind")
    if kind == "aid":
        return f"Aid to {_codes(block.get('origins'))}"
    if kind == "containment":
        return f"Containment by {block.get('country', '?')}"
    if kind == "enforcement":
        who = block.get("nationalities")
        return "US enforcement" + (f" ({_codes(who)})" if who else "")
    if kind == "legal_pathway":
        who = block.get("nationalities")
        return str(block.get("pathway", "legal pathway")).capitalize() + (f" ({_codes(who)})" if who else "")
    if kind == "visa":
        return f"{block.get('country', '?')} visa for {_codes(block.get('nationalities'))}"
    if kind == "closure":
        return f"Closure of {_codes(block.get('edges'))}"
    return name


def _entry_name(section: tuple, key: str, data: Any) -> str:
    """What the named entry ``key`` of a map at ``section`` stands for."""
    entry = None
    try:
        entry = value_at(data, section + (key,)) if data is not None else None
    except (KeyError, IndexError, TypeError):
        pass
    if section == ("policies",):
        return policy_name(key, entry)
    if section == ("drivers",) and isinstance(entry, dict):
        where = "every origin" if entry.get("origin") == "ALL" else entry.get("origin", "?")
        return f"{str(entry.get('driver', key)).capitalize()} {entry.get('kind', 'change')} in {where}"
    return key


def field_title(path: str | tuple, scenario: Scenario | dict | None = None) -> str:
    """A short human name with its unit for a scenario path; the path itself when it is not one.

    ``scenario`` (a ``Scenario`` or its JSON data) says what named entries stand for: with it,
    ``policies.mx.capacity_per_month`` reads "Containment by MEX: capacity (persons per month)";
    without it, "mx: capacity (persons per month)".
    """
    parts = parse_path(path) if isinstance(path, str) else tuple(path)
    if not parts:
        return str(path)
    data = scenario.model_dump(mode="json") if isinstance(scenario, Scenario) else scenario
    model: type[BaseModel] | None = Scenario
    owners: list[str] = []
    title, annotation = str(path), None
    i = 0
    while i < len(parts):
        part = str(parts[i])
        if model is None:
            return str(path)
        field = model.model_fields.get(part)
        if field is None:
            return str(path)
        title, annotation = field.title or part.replace("_", " "), field.annotation
        value = _mapping_value(annotation)
        if value is not None and i + 1 < len(parts):            # a named entry: a policy, a driver, a country...
            key = str(parts[i + 1])
            owners.append(_entry_name(tuple(map(str, parts[:i + 1])), key, data))
            candidates = _models(value)
            if len(candidates) > 1:                             # a policy: the model of its kind
                kind = None
                try:
                    kind = value_at(data, tuple(parts[:i + 2]) + ("kind",)) if data is not None else None
                except (KeyError, IndexError, TypeError):
                    pass
                nxt = str(parts[i + 2]) if i + 2 < len(parts) else ""
                chosen = [m for m in candidates if kind in get_args(m.model_fields["kind"].annotation)]
                candidates = chosen or [m for m in candidates if nxt in m.model_fields] or candidates
            model = candidates[0] if candidates else None
            i += 2
            if model is None and i < len(parts):
                return str(path)
            continue
        nested = _models(annotation)
        model = nested[0] if nested else None
        i += 1
    owner = owners[-1] if owners else ""
    return f"{owner}: {title}" if owner else title[:1].upper() + title[1:]
