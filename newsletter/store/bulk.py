"""Many subscribers in one transaction: what an import batch does inside the database."""

from __future__ import annotations

import builtins
import datetime as dt
from collections.abc import Sequence

from sqlalchemy import Connection, insert, select

from newsletter.model.addresses import email_hash
from newsletter.model.subscribers import AddManyResult, NewSubscriber, Source
from newsletter.store.editions import insert_preferences
from newsletter.store.tables import subscriber_events, subscribers, suppressions
from newsletter.store.webhook_outbox import subscribers_created


def insert_active(
conn: Connection, rows: Sequence[NewSubscriber], source: Source, reason: str,
now: dt.datetime,
) -> AddManyResult:
    """Insert ``rows`` as active subscribers, skipping suppressed and present addresses."""
    result = AddManyResult()
    unique: dict[str, NewSubscriber] = {}
    for row in rows:
        unique.setdefault(row.email, row)
    result.already_present = len(rows) - len(unique)
    hashes = {email_hash(email): email for email in unique}
    for (digest,) in conn.execute(
        select(suppressions.c.email_hash).where(suppressions.c.email_hash.in_(hashes))
    ):
        del unique[hashes[digest]]
        result.suppressed += 1
    for (email,) in conn.execute(
        select(subscribers.c.email).where(subscribers.c.email.in_(builtins.list(unique)))
    ):
        del unique[email]
        result.already_present += 1
    if not unique:
        return result
    values = [
        {
            "email": row.email,
            "status": "active",
            "categories": ",".join(sorted(row.categories)),
            "language": row.language,
            "source": source,
            "created_at": row.created_at or now,
            "updated_at": now,
            "confirmed_at": row.confirmed_at or row.created_at or now,
        }
        for row in unique.values()
    ]
    ids = builtins.list(conn.execute(
        insert(subscribers).returning(subscribers.c.id, sort_by_parameter_order=True),
        values,
    ).scalars())
    # Issue 21: a row's frequency, paper limit and follows (from CSV) go with it.
    chosen = (row.preferences for row in unique.values())
    insert_preferences(conn, zip(ids, chosen, strict=True), now)
    conn.execute(
        insert(subscriber_events),
        [
            {
                "subscriber_id": new_id,
                "kind": "created",
                "old_status": None,
                "new_status": "active",
                "reason": reason,
                "created_at": now,
            }
            for new_id in ids
        ],
    )
    added = zip(ids, unique, strict=True)  # values follow the order of ``unique``
    subscribers_created(conn, ((i, email, "active") for i, email in added), reason,
                        now)  # webhooks (issue 22)
    result.added = len(values)
    return result
