"""Limits on what an issue file may make the parser do, checked before it builds anything.

An issue file is small, flat data. A few hundred bytes of YAML aliases can still expand
to billions of values ("billion laughs"), deep nesting or a 100,000-digit number can
make the loader or pydantic recurse or refuse with a traceback. One pass over the YAML
events (libyaml's, no recursion, nothing built) measures each of these and reports the
first limit passed as an ordinary :class:`IssueProblem` with its line.
"""

from __future__ import annotations

import reprlib
from typing import Any

import yaml

from newsletter.errors import IssueProblem

MAX_FILE_BYTES = 1024 * 1024  # the sample issue is 15 KB
MAX_DEPTH = 12  # the schema needs 4
MAX_VALUES = 100_000  # values after aliases are expanded; a big issue has ~2,000
MAX_ALIASES = 100
MAX_NUMBER_CHARS = 40
# The tags YAML gives numbers; the loader's own resolver decides, so every form it reads as
# a number (decimal, 0x hex, 0o and 0b, base-60 1:59:59, floats) is measured alike.
_NUMBER_TAGS = frozenset({"tag:yaml.org,2002:int", "tag:yaml.org,2002:float"})
_resolver = yaml.resolver.Resolver()
_TOO_DEEP = f"is nested more than {MAX_DEPTH} levels deep; an issue file needs only a few"
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_short = reprlib.Repr()
_short.maxstring = _short.maxother = 80
_short.maxlist = _short.maxdict = _short.maxtuple = 4
_short.maxlevel = 2


def shown(value: Any) -> str:
    """``repr(value)``, shortened: messages never quote an unbounded value."""
    return _short.repr(value)


def size_problem(size: int, path: str) -> IssueProblem | None:
    """The problem with a file of ``size`` bytes, or None when it is small enough."""
    if size <= MAX_FILE_BYTES:
        return None
    return IssueProblem(
        path, 1, "", f"is {size:,} bytes; an issue file may have at most "
        f"{MAX_FILE_BYTES:,} bytes"
    )


def limit_problem(text: str, path: str) -> IssueProblem | None:
    """The first limit ``text`` passes, as a problem; None when within every limit.

    A YAML syntax error is not reported here: the parser that follows reports it.
    """
    found = size_problem(len(text.encode("utf-8")), path)
    if found is not None:
        return found
    try:
        return _scan(text, path)
    except yaml.MarkedYAMLError as err:
        # libyaml stops at 1,000 levels with a message of its own, before our count sees them.
        if "nesting depth" in str(err.problem) and err.problem_mark is not None:
            return IssueProblem(path, err.problem_mark.line + 1, "", _TOO_DEEP)
        return None
    except yaml.YAMLError:
        return None


def alias_free(text: str) -> bool:
    """Whether ``text`` surely has no anchor and no alias: neither ``&`` nor ``*`` is in it
    (they may be in quoted text too; then this says no, which only costs time)."""
    return "&" not in text and "*" not in text


def tree_within_limits(root: yaml.Node) -> bool:
    """For the node tree of an :func:`alias_free` text: True when that text is within
    every limit :func:`limit_problem` checks but the size, which it then surely passes.

    Without aliases every value is one node, so the tree (which libyaml composes without
    expanding anything, and which cannot be deeper than its own limit) counts what the
    event pass counts, at a tenth of its cost: depth, values, and the length of numbers
    (any scalar resolved as a number, plain or tagged, is measured: stricter, never
    looser). False means "not sure": :func:`limit_problem` then decides, and reports.
    """
    count = 0
    stack: list[tuple[yaml.Node, int]] = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        count += 1
        if isinstance(node, yaml.ScalarNode):
            if len(node.value) > MAX_NUMBER_CHARS and node.tag in _NUMBER_TAGS:
                return False
            continue
        if depth > MAX_DEPTH:
            return False
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                stack.append((key, depth + 1))
                stack.append((value, depth + 1))
        else:
            stack.extend((item, depth + 1) for item in node.value)
    return count <= MAX_VALUES


def _is_number(value: str) -> bool:
    """Whether the loader would read the plain scalar ``value`` as a number."""
    tag = _resolver.resolve(yaml.ScalarNode, value, (True, False))  # type: ignore[no-untyped-call]
    return tag in _NUMBER_TAGS


def _scan(text: str, path: str) -> IssueProblem | None:
    # Each open collection: [anchor, values inside it so far, including itself].
    open_: list[list[Any]] = []
    sizes: dict[str, int] = {}
    expanded = aliases = 0

    def problem(event: yaml.Event, message: str) -> IssueProblem:
        line = event.start_mark.line + 1 if event.start_mark is not None else 1
        return IssueProblem(path, line, "", message)

    def add(count: int) -> None:
        nonlocal expanded
        expanded += count
        if open_:
            open_[-1][1] += count

    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, yaml.CollectionStartEvent):
            open_.append([event.anchor, 0])
            add(1)
            if len(open_) > MAX_DEPTH:
                return problem(event, _TOO_DEEP)
        elif isinstance(event, yaml.CollectionEndEvent):
            anchor, size = open_.pop()
            if open_:
                open_[-1][1] += size
            if anchor is not None:
                sizes[anchor] = size
        elif isinstance(event, yaml.ScalarEvent):
            add(1)
            if event.anchor is not None:
                sizes[event.anchor] = 1
            value = event.value
            # libyaml gives a plain scalar the style '' where PyYAML's own parser gives None.
            plain = not event.style and event.implicit[0]
            if plain and len(value) > MAX_NUMBER_CHARS and _is_number(value):
                return problem(event, f"has a number with {len(value):,} digits; at most "
                               f"{MAX_NUMBER_CHARS} are allowed (quote it if it is text)")
        elif isinstance(event, yaml.AliasEvent):
            aliases += 1
            if aliases > MAX_ALIASES:
                return problem(event, f"uses more than {MAX_ALIASES} aliases (*name); "
                               "write the values out")
            if event.anchor not in sizes:
                if any(anchor == event.anchor for anchor, _ in open_):
                    return problem(event, f"uses the alias *{event.anchor} inside its own "
                                   "anchor; write the value out")
                return None  # an alias to no anchor: the parser that follows reports it
            add(sizes[event.anchor])
        if expanded > MAX_VALUES:
            return problem(event, f"expands (through aliases) to more than {MAX_VALUES:,} "
                           "values; write the values out")
    return None
