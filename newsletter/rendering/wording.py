"""The interface wording of the emails, in the reader's language.

Chinese readers get Chinese labels with full-width punctuation, English readers English
ones, bilingual readers both (the English half marked ``lang="en"`` in HTML). Issue
content is never looked up here; only the fixed words around it.
"""

from __future__ import annotations

import re

from markupsafe import Markup, escape

from newsletter.cjk import CJK_TEXT_RE
from newsletter.vocabulary import Language

# key -> (Chinese, English)
LABELS: dict[str, tuple[str, str]] = {
    "view": ("在浏览器中查看", "View in browser"),
    "notable": ("另外几篇值得关注的论文", "Other notable papers"),
    "why": ("你收到这封邮件，是因为你订阅了本刊。", "You receive this because you subscribed."),
    "preferences": ("订阅设置", "Manage preferences"),
    "unsubscribe": ("退订", "Unsubscribe"),
    "more": ("阅读全文", "read more"),
    "none": ("今天没有你所选方向的新论文，明天见。", "No new papers in your categories today."),
}

# Latin letters, for the subject-line check below.
_LATIN = re.compile(r"[A-Za-z]")
# Chinese typesetting puts about a quarter em between Han and Latin text (W3C clreq).
QUARTER_EM = "\u2005"


def label_html(key: str, ui: Language) -> Markup:
    """The label for ``key`` as HTML: one language, or Chinese then ``<span lang="en">``."""
    zh, en = LABELS[key]
    if ui == "zh":
        return escape(zh)
    if ui == "en":
        return escape(en)
    return Markup('{} <span lang="en">{}</span>').format(zh, en)


def label_text(key: str, ui: Language) -> str:
    """The label for ``key`` as plain text: one language, or "Chinese / English"."""
    zh, en = LABELS[key]
    return {"zh": zh, "en": en}.get(ui, f"{zh} / {en}")


def subject_line(title: str) -> str:
    """The Subject header for ``title``.

    A Chinese title whose only Latin letters are capitals ("AI 前沿论文速递") reads as
    shouting to spam filters (SpamAssassin's SUBJ_ALL_CAPS looks at Latin letters only and
    needs a space). Its spaces become the quarter-em space that Chinese typesetting puts
    between Han and Latin text, which mail clients show as a narrow gap. Any other title
    is returned unchanged.
    """
    letters = "".join(_LATIN.findall(title))
    if CJK_TEXT_RE.search(title) and letters and letters == letters.upper():
        return title.replace(" ", QUARTER_EM)
    return title
