"""YAML syntax errors in an issue file, explained: where, and the usual fix for each.

Editors write issue files by hand; the parser's own words ("mapping values are not
allowed here") rarely say what to do. Used by the preflight checks.
"""

from __future__ import annotations

import yaml

_TITLE_FIELDS = ("title", "title_zh", "title_en")


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


def _yaml_fix(err: yaml.MarkedYAMLError, lines: list[str]) -> str:
    """The usual fix for a YAML syntax error, from what the parser says and the line."""
    problem = err.problem or ""
    mark = err.problem_mark
    line = lines[mark.line] if mark is not None and mark.line < len(lines) else ""
    key = line.strip().lstrip("- ").split(":", 1)[0]
    unclosed = _unclosed_quote(lines, mark.line if mark is not None else 0)
    if unclosed is not None:
        return f"a quote opened on line {unclosed} is not closed: close it"
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


def syntax_error(text: str) -> tuple[int, int, str] | None:
    try:
        yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark
        line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        return line, column, f"not valid YAML: {err.problem}; {_yaml_fix(err, text.splitlines())}"
    except yaml.YAMLError as err:
        return 1, 1, f"not valid YAML: {err}; fix the syntax"
    return None
