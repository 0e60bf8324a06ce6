"""The YAML parser's complaints in plain words, at the line a person has to fix.

ruamel.yaml reports where its parser stopped (``problem_mark``) and, for some mistakes,
where the construct it was reading began (``context_mark``): an unclosed quote or
bracket is reported at the end of the file, but the line to fix is where it opened.
``parser_problem`` turns the common cases into a sentence and that line; anything else
keeps the parser's own words.
"""
from __future__ import annotations

import re
from typing import Any

from ruamel.yaml.error import MarkedYAMLError

INDENT = "indent with spaces only, the same number for every key of one section (e.g. two more per level)"


def _line(mark: Any) -> int | None:
    return mark.line + 1 if mark is not None else None


def parser_problem(exc: MarkedYAMLError) -> tuple[str, int | None]:
    """(message, 1-based line) of a YAML syntax error, in plain words where the mistake is a common one
    (the caller says it is invalid YAML)."""
    problem = (exc.problem or str(exc)).strip()
    context = (exc.context or "").strip()
    line, opened = _line(exc.problem_mark or exc.context_mark), _line(exc.context_mark)
    if "found character '\\t'" in problem or "\t" in problem:
        return "tab character: indent with spaces, not tabs", line
    duplicate = re.match(r'found duplicate key "(.*?)" with value', problem)
    if duplicate:
        return f'duplicate key "{duplicate.group(1)}": a key may appear only once in a mapping', line
    if problem.startswith("expected <block end>"):
        return f"the indentation of line {line} does not match the lines above it: {INDENT}", line
    if problem == "mapping values are not allowed here":
        return (f"unexpected ':' in line {line}: is the line indented more than the key above it, does the line "
                "above miss its ':', or does a value hold ': ' (then put the value in quotes)?"), line
    if problem.startswith("could not find expected ':'") and opened is not None:
        return f"line {opened} has no ':' after its key: write 'key: value'", opened
    if problem == "sequence entries are not allowed here":
        return (f"a list item '-' in line {line} cannot follow a key on the same line: put each item on a line "
                "of its own below the key, indented, or write the list as [A, B]"), line
    bracket = re.match(r"expected ',' or '([\]}])', but got", problem)
    if bracket and opened is not None:
        closing = bracket.group(1)
        opening, what = ("[", "list") if closing == "]" else ("{", "map")
        return (f"the {what} opened with '{opening}' in line {opened} is not closed with '{closing}', or its items "
                "are not separated by commas"), opened
    if "end of stream" in problem and "quoted scalar" in context and opened is not None:
        return f"the quote opened in line {opened} is never closed", opened
    alias = re.match(r"found undefined alias '(.*)'", problem)
    if alias:
        return f"'*{alias.group(1)}' refers to no anchor '&{alias.group(1)}' defined above it", line
    start = re.match(r"found character '(.)' that cannot start any token", problem)
    if start:
        return f"a value cannot start with '{start.group(1)}': put the value in quotes", line
    return problem, line
