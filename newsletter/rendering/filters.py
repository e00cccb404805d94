"""The renderer's own Jinja filters and tests: cutting abstracts, keeping dates whole."""

from __future__ import annotations

import re

from markupsafe import Markup, escape

_ISO_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")


def shorten(
    text: str, limit: int | None, url: str | None, more: str = "read more"
) -> str | Markup:
    """Cut ``text`` at about ``limit`` characters on a word or sentence boundary.

    With a ``url``, a link worded ``more`` follows the cut (HTML); without, plain text.
    """
    if limit is None or len(text) <= limit:
        return text
    cut = text[:limit]
    boundary = max(cut.rfind(" "), cut.rfind("。"), cut.rfind(","), cut.rfind(","))
    if boundary > limit // 2:
        cut = cut[:boundary]
    cut = cut.rstrip(" ,\uff0c\u3002") + "…"
    if url is None:
        return cut
    return Markup('{} <a href="{}">{}</a>').format(cut, url, more)


def is_cut(text: str, limit: int | None) -> bool:
    """Whether :func:`shorten` cuts ``text`` at ``limit`` (the plaintext part then names
    the page with the whole text, as the HTML part's "read more" link does)."""
    return limit is not None and len(text) > limit


def keep_dates(text: str) -> Markup:
    """Escape ``text`` and keep each ISO date in it on one line ("2022-09-" / "07" no more)."""
    parts: list[Markup] = []
    done = 0
    for match in _ISO_DATE.finditer(text):
        parts.append(escape(text[done : match.start()]))
        parts.append(Markup('<span class="nl-date">{}</span>').format(match.group()))
        done = match.end()
    parts.append(escape(text[done:]))
    return Markup("").join(parts)
