"""Pre-send checks of what readers see beyond the file's validity (part of ``check``).

- a subject spam filters read as shouting (every cased letter a capital: SpamAssassin's
  and rspamd's SUBJ_ALL_CAPS): warning;
- Chinese where English readers would see it, or an English notice they would miss
  (a Chinese ``footer`` without ``footer_en``): warning;
- a footer that speaks of images (the email has none): warning;
- no postal address in the footer (``NEWSLETTER_POSTAL_ADDRESS``): warning.
"""

from __future__ import annotations

import re
from pathlib import Path

from newsletter.cjk import CJK_TEXT_RE
from newsletter.issues.model import Issue
from newsletter.issues.yaml_source import LineIndex, Loc, dotted
from newsletter.rendering.renderer import Renderer
from newsletter.rendering.wording import reads_as_shouting

SHOUTING = (
    "every letter is a capital, which spam filters read as shouting (SUBJ_ALL_CAPS, "
    "+1.65 in rspamd): add a lowercase word such as \"arXiv\", or write it without Latin "
    "letters"
)
# The digest's boilerplate footer speaks of the images in it; our emails have none.
_IMAGES = re.compile(r"图片|图像|\bimages?\b|\bpictures?\b", re.IGNORECASE)
NO_ADDRESS = (
    "NEWSLETTER_POSTAL_ADDRESS is not set: the footer has no postal address, which "
    "CAN-SPAM requires of commercial mail and many receivers expect"
)


def _english_fields(issue: Issue) -> list[tuple[Loc, str | None]]:
    """The fields English readers see, with their location in the file."""
    fields: list[tuple[Loc, str | None]] = [
        (("title_en",), issue.title_en), (("summary_en",), issue.summary_en),
        (("footer_en",), issue.footer_en),
    ]
    fields += [(("categories", code, "en"), name.en) for code, name in issue.categories.items()]
    for section in ("featured", "notable"):
        for number, paper in enumerate(getattr(issue, section)):
            fields.append(((section, number, "title"), paper.title))
            fields += [((section, number, "abstract"), getattr(paper, "abstract", None))]
    return fields


def reader_findings(
    issue: Issue, index: LineIndex, path: Path, renderer: Renderer, postal_address: str | None
) -> list[tuple[str, str]]:
    """(where, message) of each warning about what readers see."""

    def at(loc: Loc) -> str:
        return f"{path}:{index.line(loc)}"

    found: list[tuple[str, str]] = []
    if reads_as_shouting(issue.title):
        found.append((at(("title",)), f"title: {issue.title!r}: {SHOUTING}"))
    english = renderer.english_title(issue)
    if issue.title_en is None:
        if reads_as_shouting(english):
            found.append((str(path), f"NEWSLETTER_TITLE_EN gives {english!r}: {SHOUTING}"))
    elif reads_as_shouting(english):
        found.append((at(("title_en",)), f"title_en: {english!r}: {SHOUTING}"))
    for loc, text in _english_fields(issue):
        if text and CJK_TEXT_RE.search(text):
            found.append((at(loc), f"{dotted(loc)}: English readers would see Chinese here; "
                                   "write it in English"))
    for code, name in issue.categories.items():
        if not name.en:
            loc = ("categories", code)
            found.append((at(loc), f"{dotted(loc)}: no English name (en); English readers "
                                   f"see only the code {code}"))
    if issue.footer and CJK_TEXT_RE.search(issue.footer) and not issue.footer_en:
        found.append((at(("footer",)), "footer: Chinese, with no footer_en: English readers "
                                       "get no footer notice; add footer_en"))
    for field, text in (("footer", issue.footer), ("footer_en", issue.footer_en)):
        if text and _IMAGES.search(text):
            found.append((at((field,)), f"{field}: speaks of images, but the email has none; "
                                        "say what applies to it"))
    if not postal_address:
        found.append((str(path), NO_ADDRESS))
    return found
