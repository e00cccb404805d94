"""The interface wording of the emails, in the reader's language.

Chinese readers get Chinese labels with full-width punctuation, English readers English
ones, bilingual readers both (the English half marked ``lang="en"`` in HTML). Issue
content is never looked up here; only the fixed words around it.
"""

from __future__ import annotations

from markupsafe import Markup, escape

from newsletter.vocabulary import Language

# The English subject and heading of an issue without ``title_en`` ({date}: YYYY-MM-DD).
DEFAULT_TITLE_EN = "AI papers on arXiv · {date}"

# key -> (Chinese, English)
LABELS: dict[str, tuple[str, str]] = {
    "view": ("在浏览器中查看", "View in browser"),
    "notable": ("另外几篇值得关注的论文", "Other notable papers"),
    "why": ("你收到这封邮件，是因为你订阅了本刊。", "You receive this because you subscribed."),
    "preferences": ("订阅设置", "Manage preferences"),
    "unsubscribe": ("退订", "Unsubscribe"),
    "more": ("阅读全文", "read more"),
    "none": ("今天没有你所选方向的新论文，明天见。", "No new papers in your categories today."),
    "contents": ("本期论文", "In this issue"),
}


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


def reads_as_shouting(subject: str) -> bool:
    """Whether spam filters read ``subject`` as shouting: it has cased letters, all capitals.

    SpamAssassin's and rspamd's SUBJ_ALL_CAPS ignore every character without a case (Han
    characters, digits, punctuation), so "AI 前沿论文速递" is all capitals to them; one
    lowercase word ("arXiv") or no Latin letter at all reads as a normal subject.
    """
    return any(c.isupper() for c in subject) and not any(c.islower() for c in subject)
