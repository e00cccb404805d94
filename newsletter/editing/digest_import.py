"""``import-digest``: a plaintext digest becomes an issue file, or nothing is written.

``digest_parse`` reads the text; this module picks the date, validates the result with
the issue model (a problem is reported at the digest line of the paper it is about) and
writes the file in the hand-written style.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from newsletter.editing.digest_parse import ParsedDigest, parse_digest
from newsletter.editing.yaml_writer import (
    default_title,
    default_title_en,
    issue_yaml,
    write_new_file,
)
from newsletter.errors import DigestFormatError, IssueValidationError
from newsletter.issues.files import DATE
from newsletter.issues.loader import parse_issue
from newsletter.issues.model import Issue
from newsletter.rendering.typeset import typeset_issue_data
from newsletter.rendering.wording import DEFAULT_TITLE_EN

_PAPER_FIELD = re.compile(r"^(featured|notable)\[(\d+)\]")
MAX_DIGEST_BYTES = 1024 * 1024  # a day's digest is about 20 KB; the issue file's own limit


@dataclass
class ImportResult:
    """An imported digest: the issue, the file written, and how its date was chosen."""

    issue: Issue
    path: Path
    date_source: str
    notes: list[str] = field(default_factory=list)


def _choose_date(
    parsed: ParsedDigest, date: dt.date | None, names: Sequence[Path | None], path: str
) -> tuple[dt.date, str]:
    if date is not None:
        return date, "from --date"
    for name in names:
        found = DATE.search(name.name) if name is not None else None
        if name is not None and found:
            try:
                return dt.date.fromisoformat(found.group(0)), f"from the file name {name.name}"
            except ValueError:
                continue
    if parsed.newest_month is None:
        raise DigestFormatError(path, 1, "no date: no arXiv link gives a month; pass --date")
    year, month, newest = parsed.newest_month
    return dt.date(year, month, 1), (
        f"from the month of the newest arXiv ID ({newest}); the day is a guess: check it, "
        "or pass --date"
    )


def _located(err: IssueValidationError, parsed: ParsedDigest, path: str) -> DigestFormatError:
    """The first model problem, told at the digest line of the paper it is about."""
    problem = err.problems[0]
    found = _PAPER_FIELD.match(problem.field)
    line = parsed.lines.get((found.group(1), int(found.group(2))), 1) if found else 1
    more = f" (and {len(err.problems) - 1} more)" if len(err.problems) > 1 else ""
    return DigestFormatError(path, line, f"{problem.field}: {problem.message}{more}")


def _read(source: Path, shown: str) -> str:
    """The digest's text; :class:`DigestFormatError` when too big, unreadable or not UTF-8."""
    try:
        with source.open("rb") as file:
            size = os.fstat(file.fileno()).st_size
            raw = file.read(MAX_DIGEST_BYTES + 1) if size <= MAX_DIGEST_BYTES else b""
    except OSError as err:
        raise DigestFormatError(shown, 0, f"cannot read the file: {err.strerror}") from err
    if size > MAX_DIGEST_BYTES or len(raw) > MAX_DIGEST_BYTES:
        raise DigestFormatError(
            shown, 1, f"is {max(size, len(raw)):,} bytes; a digest may have at most "
            f"{MAX_DIGEST_BYTES:,} (a day's digest is about 20,000)"
        )
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise DigestFormatError(shown, line, "is not UTF-8 text; save it as UTF-8") from err


def import_digest(
    source: Path,
    *,
    out: Path | None = None,
    date: dt.date | None = None,
    issues_dir: Path = Path("issues"),
    overwrite: bool = False,
    title_en: str = DEFAULT_TITLE_EN,
) -> ImportResult:
    """Import the digest in ``source`` as ``out`` (default ``issues_dir/DATE.yaml``).

    The date is ``date``, else a YYYY-MM-DD in the name of ``out`` or of ``source``, else
    the first of the month of the newest arXiv ID (said to be a guess). The title is the
    digest's usual one for that date, the English one ``title_en`` (NEWSLETTER_TITLE_EN) for
    it, so that English readers get an English subject; Chinese texts get Chinese
    punctuation (``rendering.typeset``). Raises :class:`DigestFormatError`
    (with the line) for a block that cannot be read or a paper the issue model refuses, and
    :class:`IssueValidationError` when ``out`` exists; nothing is written then.
    """
    shown = str(source)
    text = _read(source, shown)
    parsed = parse_digest(text, shown)
    chosen, how = _choose_date(parsed, date, [out, source], shown)
    target = out or issues_dir / f"{chosen.isoformat()}.yaml"
    data = typeset_issue_data({"date": chosen, "title": default_title(chosen),
                               "title_en": default_title_en(chosen, title_en), **parsed.data})
    header = (
        f"AI paper digest for {chosen.isoformat()}, imported from {source.name} "
        "by `newsletter import-digest`.\nSchema: see README.md, \"Issue files\"."
    )
    try:
        yaml_text = issue_yaml(data, header)
    except ValueError as err:
        # A backstop: the parser refuses what YAML cannot carry, so this should not happen.
        raise DigestFormatError(shown, 1, f"cannot be written as an issue file: {err}") from None
    try:
        issue = parse_issue(yaml_text, str(target))
    except IssueValidationError as err:
        raise _located(err, parsed, shown) from None
    write_new_file(target, yaml_text, overwrite=overwrite)
    notes = [
        f"{len(issue.featured)} featured and {len(issue.notable)} notable papers",
        f"date {chosen.isoformat()} {how}",
    ]
    return ImportResult(issue, target, how, notes)
