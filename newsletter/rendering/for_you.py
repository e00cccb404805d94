"""Where a reader's "For you" block goes in a rendered issue (issue 21).

The issue templates print :data:`FOR_YOU_SLOT` where the block belongs; the renderer takes
the marker out again and keeps its offsets (``RenderedIssue.for_you_at``), so that every
rendering looks as before and only the per-reader message building puts something there.
"""

from __future__ import annotations

FOR_YOU_SLOT = "NLFORYOUSLOT"


def take_for_you_slot(html: str, text: str) -> tuple[str, str, tuple[int, int] | None]:
    """``html`` and ``text`` without the slot marker, and where it was in each (character
    offsets), or None when either lacks it (templates that have no place for the block)."""
    at_html, at_text = html.find(FOR_YOU_SLOT), text.find(FOR_YOU_SLOT)
    html, text = html.replace(FOR_YOU_SLOT, ""), text.replace(FOR_YOU_SLOT, "")
    if at_html < 0 or at_text < 0:
        return html, text, None
    return html, text, (at_html, at_text)
