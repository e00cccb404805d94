"""Where things are in a YAML source file: line numbers for field paths, control characters.

Nothing here knows the issue schema; ``loader.py`` uses it to put ``FILE:LINE: FIELD`` on
every problem it reports.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import yaml

from newsletter.issues.limits import alias_free

# Characters refused anywhere in the raw file. YAML itself rejects most C0 and C1
# controls with an error that has no line number, and it treats NEL, LINE SEPARATOR
# and PARAGRAPH SEPARATOR as line breaks, which would shift every line number after them.
# The noncharacters U+FFFE and U+FFFF: YAML refuses them with no line, XML cannot carry them.
RAW_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\ufffe\uffff]")
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)



def _timestamp(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Any:
    """A date, or the text itself when it is no calendar date (2026-02-30): the model then
    says what is wrong with it, at its line, instead of the whole file being unreadable."""
    try:
        return loader.construct_yaml_timestamp(node)
    except ValueError:
        return loader.construct_scalar(node)


# The loader that turns the node tree into data: the safe one, with those dates as text.
_IssueLoader: type[yaml.SafeLoader] = type("_IssueLoader", (_Loader,), {})
_IssueLoader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp)


class DuplicateKey(yaml.YAMLError):
    """A mapping names a key twice (raised by :func:`load_unique` only)."""


def _unique_mapping(loader: yaml.SafeLoader, node: yaml.Node, deep: bool = False) -> Any:
    """The issue loader's mapping, refused when it names a key twice as :class:`LineIndex`
    reports it: after merges (``<<``) are flattened into it, as the full reading walks
    the tree only after constructing it. Flattening twice changes nothing."""
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)
        names = [str(key.value) for key, _ in node.value]
        if len(set(names)) != len(names):
            raise DuplicateKey(f"a key given twice, line {node.start_mark.line + 1}")
    return _IssueLoader.construct_mapping(loader, node, deep)  # type: ignore[arg-type]


_UniqueLoader: type[yaml.SafeLoader] = type(
    "_UniqueLoader", (_IssueLoader,), {"construct_mapping": _unique_mapping})


class Unchecked(yaml.YAMLError):
    """The node tree was not accepted by the check given to :func:`load_unique`."""


def load_unique(text: str, accept: Callable[[yaml.Node], bool] | None = None) -> Any:
    """The Python data of ``text``, as :func:`compose` gives it, without keeping the node
    tree; raises yaml.YAMLError, and :class:`DuplicateKey` when a mapping names a key twice.
    With ``accept``, the node tree is given to it before any data is built, and
    :class:`Unchecked` is raised when it says False. A text without anchors and aliases
    is built by :func:`_plain_data`, to the same data."""
    loader = _UniqueLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if accept is not None and not accept(node):
            raise Unchecked("the node tree was not accepted")
        if alias_free(text):  # no anchor, no alias: no node is shared
            return _plain_data(loader, node)
        return loader.construct_document(node)
    finally:
        loader.dispose()


_STR, _MAP, _SEQ = (f"tag:yaml.org,2002:{kind}" for kind in ("str", "map", "seq"))


class _NotPlain(Exception):
    """A mapping key that is not plain text (a merge ``<<``, a number, a collection)."""


def _plain_data(loader: yaml.SafeLoader, root: yaml.Node) -> Any:
    """The data of an alias-free node tree, as ``loader.construct_document`` builds it.

    PyYAML's constructor spends most of the time of reading an issue on bookkeeping for
    aliases and recursive structures that such a tree cannot have; here mappings,
    sequences and text are built directly, every other scalar or collection by the
    loader itself, and a tree with any key that is not text is left to the loader whole.
    """
    def build(node: yaml.Node) -> Any:
        tag = node.tag
        if tag == _STR and isinstance(node, yaml.ScalarNode):
            return node.value
        if tag == _SEQ and isinstance(node, yaml.SequenceNode):
            return [build(item) for item in node.value]
        if tag == _MAP and isinstance(node, yaml.MappingNode):
            pairs = node.value
            if any(key.tag != _STR or not isinstance(key, yaml.ScalarNode)
                   for key, _ in pairs):
                raise _NotPlain
            data = {key.value: build(value) for key, value in pairs}
            if len(data) != len(pairs):
                raise DuplicateKey(f"a key given twice, line {node.start_mark.line + 1}")
            return data
        return loader.construct_object(node, deep=True)

    try:
        return build(root)
    except _NotPlain:
        return loader.construct_document(root)


# A field path in the file: ("featured", 1, "url") is shown as featured[1].url.
Loc = tuple[str | int, ...]


def dotted(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


class LineIndex:
    """Maps a field path to the line where it appears in the YAML file (1-based).

    Also notes keys given twice in one mapping, which YAML loaders silently resolve by
    keeping the last value: an editor's pasted duplicate would lose the first one.
    """

    def __init__(self, root: yaml.Node | None) -> None:
        self._root = root
        self.lines: dict[Loc, int] = {}
        self.duplicates: list[tuple[Loc, int, int]] = []
        # Each node is walked once: an alias does not expand again (no "billion laughs").
        self._seen: set[int] = set()
        if root is not None:
            self._walk(root, ())

    def _walk(self, node: yaml.Node, path: Loc) -> None:
        self.lines.setdefault(path, node.start_mark.line + 1)
        if id(node) in self._seen:
            return
        self._seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            first: dict[str, int] = {}
            for key, value in node.value:
                name = str(key.value)
                child = (*path, name)
                line = key.start_mark.line + 1
                if name in first:
                    self.duplicates.append((child, line, first[name]))
                    continue
                first[name] = line
                self._walk(value, child)
                self.lines[child] = line
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                self._walk(item, (*path, index))

    def line(self, loc: Loc) -> int:
        for end in range(len(loc), -1, -1):
            if loc[:end] in self.lines:
                return self.lines[loc[:end]]
        return 1

    def field_at(self, line: int, column: int) -> Loc:
        """The deepest field whose key or value spans ``line`` at ``column`` (1-based).

        () when the position is in no field. Only called when something is wrong, so
        the happy path keeps no spans.
        """
        node: yaml.Node | None = self._root
        path: Loc = ()
        seen: set[int] = set()
        while node is not None and id(node) not in seen:
            seen.add(id(node))
            node, path = self._child_at(node, path, (line - 1, column - 1))
        return path

    @staticmethod
    def _child_at(
        node: yaml.Node, path: Loc, at: tuple[int, int]
    ) -> tuple[yaml.Node | None, Loc]:
        """The child of ``node`` spanning the 0-based position ``at``, or (None, path)."""
        pairs: list[tuple[str | int, yaml.Node, yaml.Node]]
        if isinstance(node, yaml.MappingNode):
            pairs = [(str(key.value), key, value) for key, value in node.value]
        elif isinstance(node, yaml.SequenceNode):
            pairs = [(index, item, item) for index, item in enumerate(node.value)]
        else:
            return None, path
        # A block collection ends only where the next token starts, often on its next
        # sibling's line, so the candidate is the last child starting at or before ``at``,
        # or the first one starting later on that line (``at`` is in its indentation).
        found = None
        for name, first, last in pairs:
            starts = (first.start_mark.line, first.start_mark.column)
            if starts > at:
                if starts[0] == at[0] and (found is None or found[1].start_mark.line < at[0]):
                    found = (name, first, last)
                break
            found = (name, first, last)
        if found is None:
            return None, path
        name, first, last = found
        start, end = first.start_mark.line, last.end_mark
        # An end at column 0 is the start of the next line's token, not part of this child.
        end_line = end.line - 1 if end.column == 0 and end.line > start else end.line
        return (last, (*path, name)) if at[0] <= end_line else (None, path)


def raw_controls(text: str) -> list[tuple[int, int, str]]:
    """Control characters typed into the file itself: (line, column, message) for each."""
    found = []
    for number, line in enumerate(text.split("\n"), start=1):
        for bad in RAW_CONTROL.finditer(line):
            what = "character" if bad.group() in "\ufffe\uffff" else "control character"
            found.append((
                number, bad.start() + 1,
                f"contains the {what} U+{ord(bad.group()):04X} at column "
                f"{bad.start() + 1}; remove it",
            ))
    return found


def compose(text: str) -> tuple[yaml.Node | None, Any]:
    """The YAML node tree (for line numbers) and the Python data; raises yaml.YAMLError."""
    # Parse once, with libyaml when available: the same tree is turned into Python data.
    root = yaml.compose(text, Loader=_Loader)
    return root, _IssueLoader("").construct_document(root) if root is not None else None
