"""Each reader's own newsletter: frequency, paper limit, follows, per-paper feedback (issue 21).

On the ``metadata`` of ``tables.py``, which imports this module.
"""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Index, Integer, String, Table, Text

from newsletter.store.tables import Id, UTCDateTime, metadata

# -- issue 21: each reader's own newsletter ----------------------------------------------

# A reader's frequency, paper limit and follows (``model/editions.py``); no row is the
# default (daily, every paper, no follows), so most readers need none. ``paused_until`` is
# an ISO date, compared as text with an issue's date: a pause that has ended is daily.
reader_preferences = Table(
    "reader_preferences",
    metadata,
    Column(
        "subscriber_id", Id, ForeignKey("subscribers.id", ondelete="CASCADE"), primary_key=True
    ),
    # daily, weekly, paused
    Column("frequency", String(8), nullable=False),
    # 0 = Monday ... 6 = Sunday, for weekly readers.
    Column("weekday", Integer),
    Column("paused_until", String(10)),
    # 10, 5 or 3; NULL for every paper.
    Column("max_papers", Integer),
    # The follows' ``;``-separated text form (``author:NAME; affiliation:NAME; keyword``).
    Column("follows", Text, nullable=False, server_default=""),
    Column("updated_at", UTCDateTime, nullable=False),
)

# A reader's "More like this" (more) or "Not for me" (less) about one paper of one
# campaign; the latest press counts. Counted per campaign and paper for its report.
paper_feedback = Table(
    "paper_feedback",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("campaign_id", Id, ForeignKey("campaigns.id"), nullable=False),
    Column(
        "subscriber_id", Id, ForeignKey("subscribers.id", ondelete="CASCADE"), nullable=False
    ),
    Column("arxiv_id", String(40), nullable=False),
    # more, less
    Column("kind", String(8), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index(
        "uq_paper_feedback_campaign_subscriber_paper",
        "campaign_id", "subscriber_id", "arxiv_id", unique=True,
    ),
    Index("ix_paper_feedback_campaign_id_arxiv_id", "campaign_id", "arxiv_id"),
    Index("ix_paper_feedback_subscriber_id", "subscriber_id"),
)
