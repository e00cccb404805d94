"""What the desk's issue editor says about papers readers were already sent."""

from __future__ import annotations

import datetime as dt

from newsletter.model.papers import paper_key
from newsletter.web.admin.issue_form import IssueForm
from newsletter.web.paper_index import PaperIndex


def featured_before(index: PaperIndex | None, date: str,
                    form: IssueForm | None) -> dict[str, tuple[str, list[str]]]:
    """For each paper link in ``form`` that a published issue before ``date`` featured:
    the paper's identifier and the dates of those issues, oldest first."""
    if index is None or form is None:
        return {}
    try:
        day = dt.date.fromisoformat(date)
    except ValueError:
        return {}
    keys = {p.url: paper_key(p.url) for p in (*form.featured, *form.notable)}
    index.current()
    found = index.store.many(k for k in keys.values() if k)
    history: dict[str, tuple[str, list[str]]] = {}
    for url, key in keys.items():
        record = found.get(key or "")
        if record is None:
            continue
        earlier = [a.date.isoformat() for a in record.before(day)]
        if earlier:
            history[url] = (record.arxiv_id, earlier)
    return history
