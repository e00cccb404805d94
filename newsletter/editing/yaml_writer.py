"""Issue data -> YAML text in the style of the hand-written issue files, and writing it safely.

The style is that of ``issues/2022-09-07.yaml``: keys in the order of the model, long
prose (summaries, abstracts) as folded block scalars (``>-``) wrapped at 100 columns,
titles on one line (quoted when YAML needs it, as for ``'MO2: ...'``), and a title too
long for one line as a folded block. Editors keep editing what this writes.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from newsletter.errors import IssueProblem, IssueValidationError
from newsletter.rendering.wording import DEFAULT_TITLE_EN

WIDTH = 100
# Always folded: the prose fields. Any other string is folded only when its line would be
# longer than this many characters (PyYAML would otherwise split a plain scalar across
# lines, which reads as two values to an editor).
_PROSE = frozenset({"summary", "summary_zh", "abstract"})
_LONGEST_PLAIN = 75


class _Folded(str):
    """A string the dumper writes as a folded block scalar."""


class _Dumper(yaml.SafeDumper):
    pass


def _represent_folded(dumper: yaml.SafeDumper, value: _Folded) -> yaml.ScalarNode:
    # PyYAML falls back to a quoted style by itself when a value cannot be a block scalar
    # (leading spaces, trailing spaces, special characters).
    return dumper.represent_scalar("tag:yaml.org,2002:str", str(value), style=">")


_Dumper.add_representer(_Folded, _represent_folded)


def _styled(value: Any, key: str | None = None) -> Any:
    if isinstance(value, Mapping):
        return {k: _styled(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_styled(v) for v in value]
    if isinstance(value, str) and (key in _PROSE or len(value) > _LONGEST_PLAIN):
        return _Folded(value)
    return value


def issue_yaml(data: Mapping[str, Any], header: str = "") -> str:
    """YAML text for issue ``data`` (a mapping in the model's field order), with ``header``.

    ``header`` is written as ``#`` comment lines at the top. The text is read back before
    it is returned and must give ``data`` again; anything else raises ``ValueError`` (a
    bug here, never an editor's mistake), so nothing is ever written that loses a value.
    """
    body = yaml.dump(
        _styled(dict(data)), Dumper=_Dumper, width=WIDTH, allow_unicode=True, sort_keys=False
    )
    if yaml.safe_load(body) != dict(data):
        raise ValueError("the YAML written does not read back as the same issue")
    comments = "".join(f"# {line}".rstrip() + "\n" for line in header.splitlines())
    return comments + body


def write_new_file(path: Path, text: str, *, overwrite: bool = False) -> None:
    """Write ``text`` to ``path`` all at once: a reader never sees half a file.

    Raises :class:`IssueValidationError` when ``path`` exists and ``overwrite`` is false,
    so an editor's work is never replaced by accident.
    """
    if path.exists() and not overwrite:
        raise IssueValidationError([IssueProblem(
            str(path), 0, "", "already exists; choose another file with -o, or pass --force "
            "to replace it",
        )])
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    except OSError as err:
        raise IssueValidationError(
            [IssueProblem(str(path), 0, "", f"cannot write the file: {err.strerror}")]
        ) from err
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        os.replace(temporary, path)
    except BaseException as err:
        Path(temporary).unlink(missing_ok=True)
        if isinstance(err, OSError):
            raise IssueValidationError(
                [IssueProblem(str(path), 0, "", f"cannot write the file: {err.strerror}")]
            ) from err
        raise


def default_title(date: dt.date) -> str:
    """The subject line the digest uses when the source gives none.

    "arXiv" keeps a lowercase word in it: "AI" alone among Han characters reads as
    all capitals, so as shouting, to spam filters (SUBJ_ALL_CAPS).
    """
    return f"arXiv AI 前沿论文速递 · {date.isoformat()}"


def default_title_en(date: dt.date, template: str = DEFAULT_TITLE_EN) -> str:
    """The English subject line (``template``, NEWSLETTER_TITLE_EN, for the date)."""
    return template.format(date=date.isoformat())
