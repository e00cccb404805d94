"""The model's refusals in an editor's words: what to write, not what pydantic expected.

An issue file is written by hand, so the values pydantic refuses are the ones YAML read
differently from what the editor meant: an empty field, a title that YAML reads as a
number or a date, authors on one line, a text with ': ' read as a mapping. Each is said
as an instruction, with the value YAML read when that helps.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from newsletter.issues.limits import shown
from newsletter.issues.yaml_source import Loc
from newsletter.vocabulary import category_code_problem

_QUOTE = "put it in quotes ('...')"
_LISTS = {
    "authors": 'one author per line, each starting with "- "',
    "affiliations": 'one affiliation per line, each starting with "- "',
    "featured": 'the papers under it, each starting with "- "',
    "notable": 'the papers under it, each starting with "- "',
}


def _not_text(value: Any) -> str:
    """Why a value YAML read is not text, and how to make it text."""
    if value is None:
        return "is empty; fill it in"
    if isinstance(value, bool):
        return f"reads as true or false, not text: {_QUOTE}"
    if isinstance(value, (int, float)):
        return f"reads as a number ({shown(value)}), not text: {_QUOTE}"
    if isinstance(value, dt.date):
        return f"reads as a date, not text: {_QUOTE}"
    if isinstance(value, list):
        return f"is a list, not text: a value starting with [ must be quoted: {_QUOTE}"
    if isinstance(value, dict):
        return (
            "is a mapping (key: value), not text: a value containing ': ' must be quoted: "
            f"{_QUOTE}"
        )
    return f"must be text (got {shown(value)})"


def _not_a_list(field: str, value: Any) -> str:
    if field in ("featured", "notable"):
        if value is None:
            return f"is empty; list {_LISTS[field]}, or remove the line"
        return 'must be a list of papers, each starting with "- " on a line of its own'
    if value is None:
        return f"is empty; {_LISTS[field]}"
    return f"must be a list: {_LISTS[field]} (got {shown(value)})"


def _typed(kind: str, value: Any, loc: Loc) -> str | None:
    """The instruction for a value of the wrong type, or None for another kind of error."""
    field = str(loc[-1]) if loc else ""
    in_legend = len(loc) == 2 and loc[0] == "categories"
    if kind == "string_type":
        if in_legend:  # a legend key YAML read as a number
            return category_code_problem(shown(value), quoted=True)
        return _not_text(value)
    if kind == "list_type" and field in _LISTS:
        return _not_a_list(field, value)
    if kind == "dict_type" and loc == ("categories",):
        return (
            "must be the category legend: one 'CODE: name' per line, indented under "
            "categories:"
        )
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        if in_legend:
            return "must be a name, or en: and zh: names indented under it"
        if len(loc) == 2 and loc[0] in ("featured", "notable"):
            return (
                'must be a paper: its fields (category:, title:, authors:, url:) indented '
                'under the "- "'
            )
    if kind in ("bool_type", "bool_parsing"):
        return f"must be true or false (got {shown(value)})"
    if kind.startswith(("date_", "datetime_")):
        return f"{shown(value)} is not a date; write the date as YYYY-MM-DD"
    return None


def friendly(error: Any, loc: Loc) -> str:
    """What to do about one of pydantic's errors (``error``) at ``loc`` in the file."""
    kind, msg = error["type"], error["msg"]
    ctx = error.get("ctx") or {}
    if kind == "missing":
        return "is required; add it"
    if kind == "extra_forbidden":
        return "is not a known field; check the spelling or remove it"
    if msg.startswith("Value error, "):
        return str(msg[len("Value error, "):])
    if kind == "string_too_long" or (kind == "too_long" and isinstance(error["input"], str)):
        # A length limit after our own validators is reported as "too_long", not "string_...".
        return f"is too long (at most {ctx['max_length']} characters); shorten it"
    if kind in ("string_too_short", "too_short") and ctx.get("min_length") == 1:
        return "must not be empty"
    if kind == "too_long":
        return (
            f"has {ctx['actual_length']} entries, at most {ctx['max_length']} are allowed; "
            "remove some"
        )
    in_legend = len(loc) == 2 and loc[0] == "categories"
    if kind == "string_pattern_mismatch" and (in_legend or loc[-1:] == ("category",)):
        return category_code_problem(shown(error["input"]), quoted=True)
    typed = _typed(kind, error["input"], loc)
    if typed is not None:
        return typed
    return f"{msg[0].lower()}{msg[1:]} (got {shown(error['input'])})"
