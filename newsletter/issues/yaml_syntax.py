"""YAML syntax errors in an issue file, explained: where (line and column), and the usual fix.

Editors write issue files by hand; the parser's own words ("mapping values are not
allowed here") rarely say what to do. The fix is chosen from what the parser says and
from the line itself: its quotes, and its indentation against the keys above it (a key
indented one space too far reads as more of the value above; a colon inside a value on
a well-indented line needs quotes).
"""

from __future__ import annotations

import re

import yaml

from newsletter.issues.problems import ColumnProblem

_TITLE_FIELDS = ("title", "title_zh", "title_en")
# A line that starts with a key (after any "- "): the indentation, the dash, the key.
_KEY_LINE = re.compile(r"^( *)(- +)?([A-Za-z_][\w-]*) *:(?: |$)")
_DASH_LINE = re.compile(r"^( *)-(?: |$)")
# (line, column, key), 0-based, as the scanner read them.
_Key = tuple[int, int, str]


def _unclosed_quote(lines: list[str], at: int) -> int | None:
    """The 1-based line, at or up to 5 lines above ``at``, whose value opens a quote it never
    closes (YAML then reads on into the next lines and fails somewhere below)."""
    for number in range(at, max(at - 5, 0) - 1, -1):
        if number >= len(lines):
            continue
        _, sep, value = lines[number].partition(": ")
        value = value.strip()
        if sep and value[:1] in ("'", '"'):
            quote = value[0]
            body = value[1:].replace(quote * 2, "") if quote == "'" else value[1:]
            if quote not in body:
                return number + 1
    return None


def _keys(text: str, before: int) -> list[_Key]:
    """The block keys the scanner read on the lines before ``before`` (0-based)."""
    keys: list[_Key] = []
    flow, after_key = 0, False
    try:
        for token in yaml.scan(text, Loader=yaml.SafeLoader):
            if token.start_mark.line >= before:
                break
            if isinstance(token, (yaml.FlowMappingStartToken, yaml.FlowSequenceStartToken)):
                flow += 1
            elif isinstance(token, (yaml.FlowMappingEndToken, yaml.FlowSequenceEndToken)):
                flow -= 1
            elif after_key and flow == 0 and isinstance(token, yaml.ScalarToken):
                keys.append((token.start_mark.line, token.start_mark.column, str(token.value)))
            after_key = isinstance(token, yaml.KeyToken)
    except yaml.YAMLError:
        pass  # the keys up to the error are all there is
    return keys


def _open_keys(keys: list[_Key]) -> list[_Key]:
    """The keys whose blocks are still open after ``keys``: the last one, then each above it
    indented less, down to the left margin (the columns a next key may have)."""
    found: list[_Key] = []
    for key in reversed(keys):
        if not found or key[1] < found[-1][1]:
            found.append(key)
    return found


def _spaces(count: int) -> str:
    return "no indentation" if count == 0 else "1 space" if count == 1 else f"{count} spaces"


def _line_up(name: str, at: int, column: int, text: str) -> str | None:
    """The fix for a key ``name`` at ``column`` of line ``at`` (0-based) that no open block
    has at that column, or None when one has (then it is not an indentation error)."""
    open_keys = _open_keys(_keys(text, at))
    if not open_keys or any(col == column for _, col, _ in open_keys):
        return None
    # The key it most likely belongs with: the nearest open one indented more, and the
    # nearest indented less (none is indented more when the line is deeper than them all).
    deeper = [k for k in open_keys if k[1] > column][-1:]
    shallower = [k for k in open_keys if k[1] < column][:1]
    fix = " or ".join(
        f"`{key}:` on line {line + 1} ({_spaces(col)})" for line, col, key in deeper + shallower
    )
    return f"`{name}:` on line {at + 1} is indented with {_spaces(column)}: line it up with {fix}"


def _indentation(err: yaml.MarkedYAMLError, lines: list[str], text: str) -> str | None:
    """The fix when the line the parser stopped at is indented unlike its neighbours."""
    mark, problem = err.problem_mark, err.problem or ""
    if mark is None or mark.line >= len(lines):
        return None
    line = lines[mark.line]
    key = _KEY_LINE.match(line)
    if key is not None:
        column = len(key.group(1)) + len(key.group(2) or "")
        own_colon = line.index(":", column) == mark.column
        if ("mapping values are not allowed" in problem and own_colon) or (
            "expected <block end>" in problem and mark.column == column
        ):
            return _line_up(key.group(3), mark.line, column, text)
    dash = _DASH_LINE.match(line)
    if dash is None or len(dash.group(1)) != mark.column:
        return None
    if "found '<block sequence start>'" in problem:
        return _line_up_dash(err, lines)
    if "found '-'" in problem:
        owner = next((k for k in reversed(_keys(text, mark.line)) if k[1] == mark.column), None)
        if owner is not None and lines[owner[0]].partition(":")[2].strip():
            return (f"`{owner[2]}:` on line {owner[0] + 1} has a value on its own line, so the "
                    f"list below it cannot be its value: remove that value")
    return None


def _line_up_dash(err: yaml.MarkedYAMLError, lines: list[str]) -> str | None:
    """A "- " indented unlike the one above it: line it up with that one."""
    mark = err.problem_mark
    assert mark is not None
    for number in range(mark.line - 1, -1, -1):
        dash = _DASH_LINE.match(lines[number])
        if dash is not None and len(dash.group(1)) != mark.column:
            return (f'line up the "- " on line {mark.line + 1} with the one on line '
                    f"{number + 1} ({_spaces(len(dash.group(1)))})")
    return None


def _yaml_fix(err: yaml.MarkedYAMLError, text: str) -> str:
    """The usual fix for a YAML syntax error, from what the parser says and the line."""
    lines = text.splitlines()
    problem = err.problem or ""
    mark = err.problem_mark
    line = lines[mark.line] if mark is not None and mark.line < len(lines) else ""
    key = line.strip().lstrip("- ").split(":", 1)[0]
    unclosed = _unclosed_quote(lines, mark.line if mark is not None else 0)
    if unclosed is not None:
        return f"a quote opened on line {unclosed} is not closed: close it"
    indentation = _indentation(err, lines, text)
    if indentation is not None:
        return indentation
    if "mapping values are not allowed" in problem:
        what = "the title" if key in _TITLE_FIELDS else "the value"
        return f"a value containing ': ' must be quoted: put {what} in quotes ('...')"
    if "'\\t'" in problem:
        return "indent with spaces, not tabs"
    if "cannot start any token" in problem or "alphabetic or numeric" in problem or (
        "undefined alias" in problem
    ):
        return "a value starting with @, `, * or & must be quoted: put it in quotes ('...')"
    if "expected ',' or ']'" in problem or "expected ',' or '}'" in problem:
        return "a value starting with [ or { must be quoted: put it in quotes ('...')"
    if "could not find expected ':'" in problem:
        return (
            "a key without ':', or a value continued on the next line: join the lines or "
            "write it as a block ('key: >-' and the text indented below)"
        )
    return "fix the syntax"


def _explained(text: str, err: yaml.YAMLError) -> yaml.YAMLError:
    """PyYAML's own error for a syntax error: libyaml's words are terser."""
    try:
        yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as explained:
        return explained
    except RecursionError:
        return err  # the pure-Python parser recurses where libyaml does not
    return err


def syntax_problem(text: str, err: yaml.YAMLError, path: str) -> ColumnProblem:
    """The problem for a YAML syntax error in ``text``: line, column, what the parser says,
    where the construct it was reading began, and the usual fix."""
    err = _explained(text, err)
    mark = getattr(err, "problem_mark", None)
    line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    problem = getattr(err, "problem", None) or str(err).replace("\n", " ")
    context, context_mark = getattr(err, "context", None), getattr(err, "context_mark", None)
    if context and context_mark is not None and context_mark.line + 1 != line:
        # The parser notices a problem only where it stops making sense, often a line
        # after the mistake; say where the construct it was reading began.
        problem += f" ({context} that starts on line {context_mark.line + 1})"
    fix = _yaml_fix(err, text) if isinstance(err, yaml.MarkedYAMLError) else "fix the syntax"
    return ColumnProblem(path, line, "", f"not valid YAML: {problem}; {fix}", column)
