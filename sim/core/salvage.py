"""What can still be checked in a file the schema refuses: so that every problem is reported in one pass.

A file with a misspelt key and an unknown country should show both mistakes at once,
not the second only after the first is fixed. ``salvage`` makes a valid model from the
data by leaving out what the schema refuses and putting stand-in values where a required
value is missing or wrong; the names in what remains (countries, nodes, edges) can then
be checked as usual. The key paths it touched are returned too: problems found there
concern the stand-ins, not the file, and are not reported.
"""
from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ValidationError

MAX_ROUNDS = 25
STAND_INS: tuple[Any, ...] = (0.0, 1, "2023-01", "x", ["x"], {}, False)
"""Values tried in turn where a required value is missing or wrong (the first the schema accepts stays)."""


def _get(data: Any, path: tuple) -> Any:
    for part in path:
        data = data[part]
    return data


def salvage(data: Any, model: type[BaseModel], data_path: Callable[[Any, tuple], tuple]
            ) -> tuple[BaseModel | None, set[tuple]]:
    """A valid ``model`` made from ``data`` with the refused parts left out or stood in for, and the key paths
    touched; ``None`` when nothing valid can be made (e.g. the top level itself is refused).

    ``data_path(data, loc)`` maps a pydantic error location to a key path in the data.
    """
    data = copy.deepcopy(data)
    tried: dict[tuple, int] = {}         # path -> index of the stand-in in place
    touched: set[tuple] = set()

    def stand_in(path: tuple) -> bool:
        """Put the next stand-in at ``path``; False when none is left (then the container goes)."""
        index = tried.get(path, -1) + 1
        if index >= len(STAND_INS) or not path:
            return False
        container = _get(data, path[:-1])
        if isinstance(container, list) and not (isinstance(path[-1], int) and path[-1] < len(container)):
            return False
        container[path[-1]] = copy.deepcopy(STAND_INS[index])
        tried[path] = index
        return True

    def drop(path: tuple) -> bool:
        """Leave ``path`` out (a key of a map), or stand in for it (an item of a list); go up when neither works."""
        while path:
            touched.add(path)
            container = _get(data, path[:-1])
            if isinstance(container, dict) and path not in tried and path[-1] in container:
                del container[path[-1]]
                return True
            if stand_in(path):
                return True
            path = path[:-1]
        return False

    for _ in range(MAX_ROUNDS):
        try:
            return model.model_validate(data), touched
        except ValidationError as exc:
            errors = exc.errors()
        paths = list(dict.fromkeys(data_path(data, err["loc"]) for err in errors))
        for path in paths:
            try:
                _get(data, path[:-1])
            except (KeyError, IndexError, TypeError):
                continue                          # gone with a container dropped earlier in this round
            missing = isinstance(_get(data, path[:-1]), dict) and path and path[-1] not in _get(data, path[:-1])
            touched.add(path)
            if not (stand_in(path) if missing or path in tried else drop(path)) and not drop(path[:-1]):
                return None, touched
    return None, touched


def untouched(problems: list[tuple[tuple, str]], touched: set[tuple]) -> list[tuple[tuple, str]]:
    """The (path, message) problems that concern the file, not a stand-in: none at or above a touched path."""
    def near(path: tuple) -> bool:
        return any(path[:len(t)] == t or t[:len(path)] == path for t in touched)

    return [(path, message) for path, message in problems if not near(path)]
