"""Readers' "More like this" and "Not for me" about the papers of an issue (issue 21).

One row per reader, campaign and paper: the latest press counts. ``counts`` gives what a
per-issue report shows: each paper's presses of either kind.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Literal, get_args

from sqlalchemy import and_, delete, exists, func, insert, select

from newsletter.clock import utc_now
from newsletter.store.base import Store
from newsletter.store.db import Database
from newsletter.store.tables import deliveries
from newsletter.store.tables_editions import paper_feedback

FeedbackKind = Literal["more", "less"]
FEEDBACK_KINDS: tuple[FeedbackKind, ...] = get_args(FeedbackKind)


class PaperFeedbackStore(Store):
    """Recording and counting readers' per-paper feedback on ``db``."""

    def __init__(self, db: Database, clock: Callable[[], dt.datetime] = utc_now) -> None:
        super().__init__(db)
        self.clock = clock

    def received(self, campaign_id: int, subscriber_id: int) -> bool:
        """Whether the campaign has a delivery for the reader (their link is for it)."""
        query = select(exists().where(
            deliveries.c.campaign_id == campaign_id, deliveries.c.subscriber_id == subscriber_id
        ))
        with self.engine.connect() as conn:
            return bool(conn.execute(query).scalar_one())

    def record(
        self, campaign_id: int, subscriber_id: int, arxiv_id: str, kind: FeedbackKind
    ) -> None:
        """Keep ``kind`` as the reader's feedback on the paper (replacing an earlier one)."""
        if kind not in FEEDBACK_KINDS:
            raise ValueError(f"feedback is more or less, not {kind!r}")
        which = and_(
            paper_feedback.c.campaign_id == campaign_id,
            paper_feedback.c.subscriber_id == subscriber_id,
            paper_feedback.c.arxiv_id == arxiv_id,
        )
        with self.engine.begin() as conn:
            conn.execute(delete(paper_feedback).where(which))
            conn.execute(insert(paper_feedback).values(
                campaign_id=campaign_id, subscriber_id=subscriber_id, arxiv_id=arxiv_id,
                kind=kind, created_at=self.clock(),
            ))

    def of_reader(self, campaign_id: int, subscriber_id: int) -> dict[str, str]:
        """The reader's feedback on a campaign's papers, by arXiv id."""
        query = select(paper_feedback.c.arxiv_id, paper_feedback.c.kind).where(
            paper_feedback.c.campaign_id == campaign_id,
            paper_feedback.c.subscriber_id == subscriber_id,
        )
        with self.engine.connect() as conn:
            return {str(a): str(k) for a, k in conn.execute(query).all()}

    def counts(self, campaign_id: int) -> dict[str, dict[str, int]]:
        """Per paper (arXiv id, sorted): how many readers pressed each kind."""
        query = (
            select(paper_feedback.c.arxiv_id, paper_feedback.c.kind, func.count())
            .where(paper_feedback.c.campaign_id == campaign_id)
            .group_by(paper_feedback.c.arxiv_id, paper_feedback.c.kind)
            .order_by(paper_feedback.c.arxiv_id)
        )
        found: dict[str, dict[str, int]] = {}
        with self.engine.connect() as conn:
            for arxiv_id, kind, n in conn.execute(query).all():
                found.setdefault(str(arxiv_id), {k: 0 for k in FEEDBACK_KINDS})[str(kind)] = int(n)
        return found
