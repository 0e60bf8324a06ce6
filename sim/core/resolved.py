"""The resolved scenario as YAML text (what a run writes as ``scenario.yaml``), and its size bounded without writing it.

Every scenario that loads must write a ``scenario.yaml`` that loads again: within the
limits ``sim.core.yamlio`` checks before parsing (bytes, lines and list items, characters
per line, open brackets). A scenario can resolve to more than any of its files (files it
extends are merged, aliases expanded), so its resolved form is measured when it loads.
Writing YAML takes seconds for large data, so it is not written: ``resolved_problem``
walks the data once and adds up what each value can take at most in the text
``resolved_yaml`` writes (block style, no folding: a value on one line, or two lines per
line break in it), and refuses the scenario when that bound passes a limit.
"""
from __future__ import annotations

import io
import json
import re
from typing import Any

from .yamlio import MAX_DEPTH, MAX_FILE_BYTES, MAX_ITEMS, MAX_LINE_CHARS

WIDTH = 1_000_000                # no folding of long values: each stays on its line
BREAKS = ("\n", "\r", "\x85", "\u2028", "\u2029")
_BRACKET = re.compile(r"[\[\]{}]")


def resolved_yaml(data: Any) -> str:
    """Plain data (a scenario's ``model_dump(mode="json")``) as YAML in block style, values unfolded."""
    from ruamel.yaml import YAML

    yaml = YAML()
    yaml.width = WIDTH
    buffer = io.StringIO()
    yaml.dump(json.loads(json.dumps(data)), buffer)      # fresh objects: nothing is written as an alias
    return buffer.getvalue()


class _Bound:
    """Upper bounds of the text: characters (at least its UTF-8 bytes), counted lines and items, longest line."""

    def __init__(self) -> None:
        self.chars = 0
        self.items = 0
        self.longest = 0
        self.depth = 0                # brackets open, read as sim.core.yamlio reads them, and the most at once
        self.deepest = 0

    def line(self, length: int, indent: int, breaks: int = 0, commas: int = 0) -> None:
        """A key and its value: ``length`` characters at most, and two more lines (indented) per line break."""
        self.chars += length + 1 + breaks * 2 * (indent + 3)
        self.items += 1 + 2 * breaks + commas
        self.longest = max(self.longest, length)

    def full(self) -> bool:
        return self.chars > MAX_FILE_BYTES or self.items > MAX_ITEMS or self.longest > MAX_LINE_CHARS


def _text(value: Any, bound: _Bound) -> tuple[int, int, int]:
    """(characters at most, line breaks, commas) of a scalar as YAML writes it: JSON's ASCII escapes are at least as
    long as YAML's, plus quotes and doubled single quotes."""
    if isinstance(value, str):
        if "[" in value or "{" in value:
            for char in _BRACKET.findall(value):
                bound.depth = bound.depth + 1 if char in "[{" else max(bound.depth - 1, 0)
                bound.deepest = max(bound.deepest, bound.depth)
        return (len(json.dumps(value)) + value.count("'") + 2, sum(value.count(b) for b in BREAKS),
                value.count(","))
    return len(json.dumps(value)) + 8, 0, 0


def _walk(node: Any, indent: int, bound: _Bound) -> None:
    entries = node.items() if isinstance(node, dict) else (("", item) for item in node)
    for key, value in entries:
        key_len, key_breaks, key_commas = _text(key, bound) if isinstance(node, dict) else (0, 0, 0)
        head = indent + 2 + key_len + 2                     # indent, "- ", key, ": "
        if isinstance(value, (dict, list)) and value:
            bound.line(head, indent, key_breaks, key_commas)
            _walk(value, indent + 2, bound)
        else:
            length, breaks, commas = _text(value, bound) if not isinstance(value, (dict, list)) else (2, 0, 0)
            bound.line(head + length, indent, key_breaks + breaks, key_commas + commas)
        if bound.full():
            return


def resolved_problem(data: Any) -> str | None:
    """Why the ``scenario.yaml`` of this resolved scenario (plain data) could exceed a limit of scenario files, or
    None when it cannot; computed from the data in one walk (never more than its values), without writing YAML."""
    bound = _Bound()
    _walk(data, 0, bound)
    if bound.chars > MAX_FILE_BYTES:
        return f"up to {bound.chars:,} bytes (scenario files hold at most {MAX_FILE_BYTES:,})"
    if bound.items > MAX_ITEMS:
        return f"more than {MAX_ITEMS:,} lines and list items"
    if bound.longest > MAX_LINE_CHARS:
        return f"a line of up to {bound.longest:,} characters (lines hold at most {MAX_LINE_CHARS:,})"
    if bound.deepest + 1 > MAX_DEPTH:                       # + 1: an empty map or list written as {} or []
        return f"{bound.deepest:,} brackets [ or {{ open at once in its text (at most {MAX_DEPTH - 1})"
    return None
