"""Issue 17: three ``ses_events`` indexes are partial (migration 0017), so the rows of
rolled-up events (no SES message id, no address) and of raw SQS delivery (no SNS message
id) cost no insertion into them, and the queries that need them still use them: each
repeats its index's predicate (the soft-bounce count by address; the look for SNS
messages applied before). Checked on SQLite and PostgreSQL, from the statements
``EventStore.apply`` runs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy import text
from support.delivery import ISSUE_CATEGORIES, subscribe

from newsletter.feedback.ses_events import event_from
from newsletter.model.events import SesEvent
from newsletter.store.campaigns import CampaignStore
from newsletter.store.db import Database
from newsletter.store.events import EventStore, HealthLimits, Received

NOW = dt.datetime(2022, 9, 7, 6, 0, tzinfo=dt.UTC)

PARTIAL = {
    "ix_ses_events_email_kind": "email <> ''",
    "ix_ses_events_sns_message_id": "sns_message_id IS NOT NULL",
    "ix_ses_events_ses_message_id": "ses_message_id IS NOT NULL",
}


def soft_bounce(delivery_id: int, email: str) -> SesEvent:
    return event_from({
        "eventType": "Bounce", "bounce": {
            "bounceType": "Transient", "bounceSubType": "MailboxFull",
            "timestamp": NOW.isoformat(), "bouncedRecipients": [{"emailAddress": email}]},
        "mail": {"messageId": "ses-1", "destination": [email],
                 "tags": {"nl_delivery": [str(delivery_id)]}}})


@contextmanager
def statements(db: Database) -> Iterator[list[tuple[str, Any]]]:
    """Every statement run on ``db`` meanwhile, with its parameters."""
    seen: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        seen.append((statement, parameters))

    sa_event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa_event.remove(db.engine, "before_cursor_execute", record)


def plan(db: Database, statement: str, parameters: Any) -> str:
    """The query plan of ``statement``, as one text (PostgreSQL: with sequential scans
    priced out, so that a small table still shows which index can answer)."""
    with db.engine.connect() as conn:
        if db.dialect == "postgresql":
            conn.exec_driver_sql("SET enable_seqscan = off")
            rows = conn.exec_driver_sql(f"EXPLAIN {statement}", parameters).all()
            return "\n".join(str(r[0]) for r in rows)
        rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
        return "\n".join(str(r[3]) for r in rows)


def test_the_three_indexes_are_partial(db: Database) -> None:
    with db.engine.connect() as conn:
        if db.dialect == "postgresql":
            found = dict(conn.execute(text(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'ses_events'"
                " AND schemaname = current_schema()")).all())
        else:
            found = dict(conn.execute(text(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index'"
                " AND tbl_name = 'ses_events'")).all())
    for name, predicate in PARTIAL.items():
        definition = " ".join(str(found[name]).replace("::text", "").split())
        assert "WHERE" in definition, definition
        column = predicate.split()[0]
        assert column in definition.split("WHERE", 1)[1], definition
    # The others are whole: each row is found by its key, delivery and campaign.
    assert "WHERE" not in str(found["ix_ses_events_delivery_id"])
    assert "WHERE" not in str(found["ix_ses_events_campaign_id_kind"])


def test_the_soft_bounce_count_and_the_replay_look_use_their_indexes(db: Database) -> None:
    subscribe(db.url, 3)
    store = CampaignStore(db, lambda: NOW)
    started, _ = store.start("2022-09-07", "issues/2022-09-07.yaml", ISSUE_CATEGORIES)
    first = store.claim(started.id, "w", 1)[0]
    events = EventStore(db, HealthLimits(soft_bounce_limit=3), clock=lambda: NOW)
    with statements(db) as seen:
        result = events.apply([Received(soft_bounce(first.id, first.email), "sns-1")])
    assert result.stored == 1
    soft = [s for s in seen if "ses_events.bounce_type = " in s[0]]
    replay = [s for s in seen if s[0].startswith("SELECT ses_events.sns_message_id")]
    assert len(soft) == 1 and len(replay) == 1, [s[0] for s in seen]
    assert "ix_ses_events_email_kind" in plan(db, *soft[0])
    assert "ix_ses_events_sns_message_id" in plan(db, *replay[0])
    # And the same event again, by another SNS message: a duplicate, found by its key.
    again = events.apply([Received(soft_bounce(first.id, first.email), "sns-2")])
    assert (again.stored, again.duplicates) == (0, 1)
