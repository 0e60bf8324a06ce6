"""Safe YAML reading with line numbers, and ``extends`` resolution.

Scenario files are data only: ruamel.yaml's round-trip loader builds plain maps,
lists and scalars; any explicit tag (``!!python/object``, ``!custom``) is refused.
Every key path is remembered with the file and line where it was written, so that
validation errors can point at the text a person wrote.
"""
from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedOrderedMap, CommentedSeq, CommentedSet
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.scalarbool import ScalarBoolean

from .errors import Problem, ScenarioError
from .yaml_messages import parser_problem

MAX_FILE_BYTES = 1_000_000          # a scenario is a page of text, not a data set; the parser takes ~1-5 s per MB
MAX_ITEMS = 20_000                  # lines and flow items: the parser takes ~0.1 ms each, so this bounds its time
MAX_LINE_CHARS = 10_000             # a paragraph of description fits; a data set on one line does not
MAX_NODES = 200_000                 # guards against alias bombs ("billion laughs")
MAX_DEPTH = 40
MAX_EXTENDS_DEPTH = 16
STANDARD_TAGS = {None, "tag:yaml.org,2002:str", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float",
                 "tag:yaml.org,2002:bool", "tag:yaml.org,2002:null", "tag:yaml.org,2002:map",
                 "tag:yaml.org,2002:seq"}

Path_ = tuple  # a key path: ("policies", "aid", "budget_usd_per_year")


class Located:
    """Plain data (dicts, lists, scalars) plus the file and line of every key path."""

    def __init__(self, data: Any, lines: dict[Path_, tuple[str, int]], file: str):
        self.data = data
        self.lines = lines
        self.file = file

    def where(self, path: Path_) -> tuple[str, int | None]:
        """Return (file, line) for the longest prefix of ``path`` that was written down."""
        path = tuple(path)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.file, None


def _tag_of(node: Any) -> str | None:
    tag = getattr(node, "tag", None)
    value = getattr(tag, "value", tag)
    return value if isinstance(value, str) else None


NON_PRINTABLE = re.compile("[^\x09\x0A\x0D\x20-\x7E\x85\xA0-\uD7FF\uE000-\uFFFD\U00010000-\U0010FFFF]")
"""Characters YAML does not allow in a file (control characters, among them NUL), as the parser defines them."""
_BRACKETS = re.compile(r"[\[\]{}\n]")
_ITEMS = re.compile(r"^[ \t]*[^\s#]|,", re.MULTILINE)
_LONG_LINE = re.compile(f"^[^\n]{{{MAX_LINE_CHARS + 1}}}", re.MULTILINE)


def _line_of(text: str, position: int) -> int:
    return text.count("\n", 0, position) + 1


def text_problem(text: str) -> tuple[str, int | None] | None:
    """What makes ``text`` too large to read as a scenario file (message, line), before it is parsed.

    Bytes are limited (``MAX_FILE_BYTES``), and so are lines and flow items
    (``MAX_ITEMS``: the parser's time grows with them, a long line of ``[1,1,1,...]`` as
    much as many lines) and the characters of a line (``MAX_LINE_CHARS``): each is found
    with one regular expression, in milliseconds.
    """
    size = len(text.encode("utf-8", errors="surrogatepass"))
    if size > MAX_FILE_BYTES:
        return f"{size:,} bytes; scenario files are limited to {MAX_FILE_BYTES:,} bytes", None
    items = 0
    for match in _ITEMS.finditer(text):
        items += 1
        if items > MAX_ITEMS:
            return (f"more than {MAX_ITEMS:,} lines and list items (counted up to this line); a scenario file is "
                    "a page of text, not a data set", _line_of(text, match.start()))
    long_line = _LONG_LINE.search(text)
    if long_line is not None:
        length = len(text[long_line.start(): text.find("\n", long_line.start()) % (len(text) + 1)])
        return (f"a line of {length:,} characters; lines are limited to {MAX_LINE_CHARS:,} (a scenario file is "
                "a page of text, not a data set)", _line_of(text, long_line.start()))
    return None


def _character_problem(text: str, file: str) -> ScenarioError | None:
    """Refuse a control character (NUL included) at its line, before the parser reports it at a position."""
    match = NON_PRINTABLE.search(text)
    if match is None:
        return None
    line = _line_of(text, match.start())
    column = match.start() - (text.rfind("\n", 0, match.start()) + 1) + 1
    return ScenarioError.single(file, f"control character U+{ord(match.group()):04X} at column {column}: "
                                "scenario files hold printable text only", line)


def _flow_depth_problem(text: str, file: str) -> ScenarioError | None:
    """Refuse text whose ``[``/``{`` brackets nest deeper than ``MAX_DEPTH`` before parsing it.

    The YAML scanner slows down with the square of the flow nesting (minutes for a line
    of 10,000 brackets); a scenario never nests that deep. Brackets inside quoted text
    count too, which can only refuse a file of more than ``MAX_DEPTH`` unclosed brackets.
    """
    depth, number = 0, 1
    for match in _BRACKETS.finditer(text):
        char = match.group()
        if char == "\n":
            number += 1
        elif char in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return ScenarioError.single(file, f"nesting deeper than {MAX_DEPTH} levels "
                                            "(brackets [ or { opened inside each other)", number)
        elif depth:
            depth -= 1
    return None


def reference_problem(text: str) -> str | None:
    """Why a file name written in a file cannot name a file (a control character, too long), or None."""
    bad = re.search(r"[\x00-\x1f\x7f]", text)
    if bad:
        return f"a file name cannot hold control characters (U+{ord(bad.group()):04X} found)"
    if len(text.encode("utf-8", errors="surrogatepass")) > 4096 or any(len(part.encode()) > 255
                                                                      for part in text.split("/")):
        return "the file name is too long"
    return None


def _expanded_size(node: Any, memo: dict[int, int], depth: int = 0) -> int:
    """Values ``node`` stands for once every alias is copied out, counted without copying.

    Aliases share one object, so each map or list is counted once (memo by id). A
    map or list inside itself counts as too many.
    """
    if not isinstance(node, (CommentedMap, CommentedSeq)) or depth > MAX_DEPTH:
        return 1
    key = id(node)
    if key in memo:
        return memo[key]
    memo[key] = MAX_NODES + 1                       # while counting: an alias to itself has no end
    total = 1
    for child in (node.values() if isinstance(node, CommentedMap) else node):
        total += _expanded_size(child, memo, depth + 1)
        if total > MAX_NODES:
            break
    memo[key] = total
    return total


def _line_of_key(node: CommentedMap, key: Any) -> int:
    """Line (1-based) of a key of a map; a key merged in with ``<<`` gets the map's line."""
    try:
        return node.lc.key(key)[0] + 1
    except (KeyError, TypeError):
        return node.lc.line + 1


def _plain(node: Any, file: str, path: Path_, lines: dict, budget: list[int]) -> Any:
    """Convert ruamel nodes to plain Python data, recording lines and refusing tags."""
    budget[0] -= 1
    if budget[0] < 0:
        raise ScenarioError.single(file, f"the file expands to more than {MAX_NODES:,} values "
                                   "(aliases repeated many times?); refusing to read it")
    if len(path) > MAX_DEPTH:
        raise ScenarioError.single(file, f"nesting deeper than {MAX_DEPTH} levels",
                                   lines.get(path, (file, None))[1], _dotted(path))
    tag = _tag_of(node)
    if isinstance(node, CommentedOrderedMap):
        tag = "tag:yaml.org,2002:omap"
    elif isinstance(node, CommentedSet):
        tag = "tag:yaml.org,2002:set"
    if tag not in STANDARD_TAGS:
        line = lines.get(path, (file, None))[1]
        shown = str(tag).replace("tag:yaml.org,2002:", "!!")
        raise ScenarioError.single(file, f"the tag '{shown}' is not allowed: scenario files hold "
                                   "plain data only", line, _dotted(path))
    if isinstance(node, CommentedMap):
        out = {}
        for key in node:
            if not isinstance(key, (str, int, float, bool)) or isinstance(key, bool):
                raise ScenarioError.single(file, "keys must be plain words", node.lc.line + 1, _dotted(path))
            key_s = str(key)
            lines[path + (key_s,)] = (file, _line_of_key(node, key))
            out[key_s] = _plain(node[key], file, path + (key_s,), lines, budget)
        return out
    if isinstance(node, CommentedSeq):
        out_list = []
        for i, item in enumerate(node):
            lines[path + (i,)] = (file, node.lc.item(i)[0] + 1)
            out_list.append(_plain(item, file, path + (i,), lines, budget))
        return out_list
    if isinstance(node, (str, int, float, bool)) or node is None:
        if isinstance(node, str):
            return str(node)
        if isinstance(node, (bool, ScalarBoolean)):       # an anchored true/false is a ScalarBoolean (an int)
            return bool(node)
        if isinstance(node, int):
            return int(node)
        if isinstance(node, float):
            return float(node)
        return None
    hint = " (months are written as YYYY-MM strings)" if "date" in type(node).__name__ else ""
    raise ScenarioError.single(file, f"unsupported YAML value of type {type(node).__name__}{hint}",
                               lines.get(path, (file, None))[1], _dotted(path))


def _dotted(path: Path_) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def read_yaml(path: str | Path, text: str | None = None) -> Located:
    """Read one YAML file safely into plain data with line numbers."""
    path = Path(path)
    file = str(path)
    if text is None:
        if not path.is_file():
            raise ScenarioError.single(file, "file not found")
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ScenarioError.single(file, f"file is {size:,} bytes; scenario files are limited to "
                                       f"{MAX_FILE_BYTES:,} bytes")
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise ScenarioError.single(file, f"not UTF-8 text ({exc.reason})") from None
    if not text.strip():
        raise ScenarioError.single(file, "the file is empty: a scenario needs at least schema_version and name")
    for check in (_character_problem, _flow_depth_problem):       # before parsing: bounded time, located
        problem = check(text, file)
        if problem is not None:
            raise problem
    too_large = text_problem(text)
    if too_large is not None:
        raise ScenarioError.single(file, f"file is {too_large[0]}" if too_large[1] is None else too_large[0],
                                   too_large[1])
    yaml = YAML(typ="rt", pure=True)
    yaml.allow_duplicate_keys = False
    try:
        node = yaml.load(io.StringIO(text))
    except MarkedYAMLError as exc:
        message, line = parser_problem(exc)          # plain words, at the line to fix
        raise ScenarioError.single(file, f"invalid YAML: {message}", line) from None
    except YAMLError as exc:
        raise ScenarioError.single(file, f"invalid YAML: {exc}") from None
    except RecursionError:
        raise ScenarioError.single(file, f"nesting deeper than {MAX_DEPTH} levels") from None
    except Exception as exc:          # the parser refusing a value (e.g. an integer of 5,000 digits)
        reason = "a number has too many digits" if "integer string conversion" in str(exc) else str(exc)
        raise ScenarioError.single(file, f"invalid YAML: {reason}") from None
    if node is None:
        raise ScenarioError.single(file, "the file holds no data: a scenario needs at least schema_version and name")
    if not isinstance(node, CommentedMap):
        raise ScenarioError.single(file, "the top level must be a mapping of keys to values", 1)
    if _expanded_size(node, {}) > MAX_NODES:
        raise ScenarioError.single(file, f"the file expands to more than {MAX_NODES:,} values "
                                   "(aliases repeated many times?); refusing to read it")
    lines: dict[Path_, tuple[str, int]] = {}
    data = _plain(node, file, (), lines, [MAX_NODES])
    return Located(data, lines, file)


def deep_merge(base: Located, over: Located) -> Located:
    """Merge ``over`` onto ``base``: maps merge key by key, other values replace; ``null`` removes."""
    lines = dict(base.lines)

    def merge(a: Any, b: Any, path: Path_) -> Any:
        if isinstance(a, dict) and isinstance(b, dict):
            out = dict(a)
            for key, value in b.items():
                sub = path + (key,)
                if value is None and key in out and isinstance(out[key], dict):
                    del out[key]
                    for p in [p for p in lines if p[: len(sub)] == sub]:
                        del lines[p]
                    continue
                if key in out and isinstance(out[key], dict) and isinstance(value, dict):
                    out[key] = merge(out[key], value, sub)
                    lines[sub] = over.lines.get(sub, lines.get(sub))
                else:
                    for p in [p for p in lines if p[: len(sub)] == sub]:
                        del lines[p]
                    out[key] = value
                    lines.update({p: v for p, v in over.lines.items() if p[: len(sub)] == sub})
            return out
        return b

    return Located(merge(base.data, over.data, ()), lines, over.file)


def load_with_extends(path: str | Path, _stack: tuple[Path, ...] = ()) -> Located:
    """Read a scenario file and everything it ``extends``, merged (child over parent)."""
    path = Path(path)
    resolved = path.resolve()
    if resolved in _stack:
        chain = " -> ".join(p.name for p in _stack + (resolved,))
        raise ScenarioError.single(str(path), f"extends cycle: {chain}")
    if len(_stack) >= MAX_EXTENDS_DEPTH:
        raise ScenarioError.single(str(path), f"extends chain longer than {MAX_EXTENDS_DEPTH} files")
    here = read_yaml(path)
    parent_name = here.data.get("extends")
    if parent_name is None:
        return here
    file, line = here.where(("extends",))
    if not isinstance(parent_name, str) or not parent_name.strip():
        raise ScenarioError.single(file, "expected the path of a scenario file", line, "extends")
    problem = reference_problem(parent_name)
    if problem is not None:
        raise ScenarioError.single(file, f"expected the path of a scenario file: {problem}", line, "extends")
    parent_path = (path.parent / parent_name)
    if parent_path.resolve() in _stack + (resolved,):
        chain = " -> ".join(p.name for p in _stack + (resolved, parent_path.resolve()))
        raise ScenarioError([Problem(file, line, "extends", f"extends cycle: {chain}")])
    if not parent_path.is_file():
        raise ScenarioError([Problem(file, line, "extends", f"file not found: {parent_path.resolve()} "
                                     f"({parent_name!r} is read relative to the folder of {path.name})")])
    parent = load_with_extends(parent_path, _stack + (resolved,))
    merged = deep_merge(parent, here)
    merged.data.pop("extends", None)
    return merged


def extends_chain(path: str | Path) -> list[Path]:
    """A scenario file and every file it ``extends``, nearest first (for files that load: see ``load_with_extends``)."""
    chain: list[Path] = []
    path = Path(path)
    while len(chain) <= MAX_EXTENDS_DEPTH and path.resolve() not in chain:
        chain.append(path.resolve())
        parent = read_yaml(path).data.get("extends")
        if not isinstance(parent, str) or reference_problem(parent) is not None:
            break
        path = path.parent / parent
        if not path.is_file():
            break
    return chain


def problems_from_paths(located: Located, items: list[tuple[Path_, str]]) -> list[Problem]:
    """Turn (key path, message) pairs into located ``Problem`` objects."""
    out = []
    for path, message in items:
        file, line = located.where(path)
        out.append(Problem(file, line, _dotted(path), message))
    return out


dotted = _dotted
