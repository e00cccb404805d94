"""What a stored SES event keeps: everything until it is rolled up, then only its identity.

An event matched to a delivery whose kind is rolled up (Send, Delivery, Open, Click:
``store/rollup.py``) keeps the row that makes it known again (its content key, kind,
delivery, times, and the detail the desk shows: the link clicked, the user agent), but not
its JSON payload, SES message id or address: those are what made the table 40-100 GB a day
at ten million readers. Bounces, complaints and everything unmatched or not rolled up keep
all of it. ``store/prune.py`` removes the rows past retention, bounces and complaints
excepted.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import Connection, String, any_, bindparam, select, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.dialects.postgresql import ARRAY

from newsletter.model.events import SesEvent
from newsletter.store.packing import pack_payload
from newsletter.store.pg_rows import recordset, rows_json
from newsletter.store.tables import HAS_SNS_ID, ses_events

# Rolled into the delivery's state and the counters: no payload kept once matched.
UNKEPT_PAYLOADS = frozenset({"send", "delivery", "open", "click"})


def event_row(event: SesEvent, sns_message_id: str | None, delivery_id: int | None,
              campaign_id: int | None, now: dt.datetime) -> dict[str, Any]:
    """The ``ses_events`` row of a new event (``delivery_id`` None: unmatched)."""
    slim = delivery_id is not None and event.kind in UNKEPT_PAYLOADS
    return {
        "event_key": event.key,
        "sns_message_id": sns_message_id,
        "kind": event.kind,
        "ses_message_id": None if slim else (event.ses_message_id or "")[:200] or None,
        "delivery_id": delivery_id,
        "campaign_id": campaign_id,
        "email": "" if slim or not event.recipients else normal(event.recipients[0]),
        "bounce_type": event.bounce_type,
        "machine": int(event.machine),
        "detail": event.detail,
        "occurred_at": event.occurred_at or now,
        "received_at": now,
        "payload": "" if slim else json.dumps(event.raw, separators=(",", ":"),
                                              ensure_ascii=False),
    }


def normal(address: str) -> str:
    """The address as the events table keys it: trimmed and lower-cased (cheap, no checks).

    Full normalisation (``normalize_email``) is kept for the addresses being suppressed.
    """
    return address.strip().lower()[:320]


_TYPES = {"event_key": "text", "sns_message_id": "text", "kind": "text",
          "ses_message_id": "text", "delivery_id": "bigint", "campaign_id": "bigint",
          "email": "text", "bounce_type": "text", "machine": "integer", "detail": "text",
          "occurred_at": "timestamptz", "received_at": "timestamptz", "payload": "bytea"}
# PostgreSQL: a batch in one statement (an executemany is a statement per row), the rows
# as one JSON parameter (store/pg_rows.py), in key order: two appliers with common keys
# wait for each other in the same order, so cannot deadlock. A key already stored, or
# being stored by another transaction, is skipped (once that transaction has ended): an
# event is never stored or applied twice.
_INSERT_PG = text(  # built from our own column names: no input reaches it
    f"INSERT INTO ses_events ({', '.join(_TYPES)}) SELECT {', '.join(_TYPES)} "  # noqa: S608
    f"FROM {recordset(_TYPES)} ORDER BY event_key"
    " ON CONFLICT (event_key) DO NOTHING RETURNING event_key"
)
_INSERT = (sqlite.insert(ses_events).on_conflict_do_nothing(index_elements=["event_key"])
           .returning(ses_events.c.event_key))


def insert_events(conn: Connection, rows: list[dict[str, Any]]) -> set[str]:
    """Insert the ``event_row`` rows whose key is not stored yet; the keys inserted.

    One statement for the batch: whether an event is new is decided by the unique index
    on its key, not by a look beforehand that another applier could overtake.
    """
    if conn.dialect.name == "postgresql":  # a text() statement: the payloads packed here
        packed = [{**r, "payload": pack_payload(r["payload"])} for r in rows]
        return {str(k) for k in conn.execute(
            _INSERT_PG, {"rows": rows_json(packed, list(_TYPES))}).scalars()}
    rows = sorted(rows, key=lambda r: str(r["event_key"]))
    return {str(k) for k in conn.execute(_INSERT, rows).scalars()}


# The partial index's predicate repeated, so that the index is used (``tables.HAS_SNS_ID``);
# on PostgreSQL the ids as one array, a statement text prepared once (``pg_rows``).
_sns = ses_events.c.sns_message_id
_STORED_SNS = select(_sns).where(_sns.in_(bindparam("sns", expanding=True)), text(HAS_SNS_ID))
_STORED_SNS_PG = select(_sns).where(
    _sns == any_(bindparam("sns", type_=ARRAY(String))), text(HAS_SNS_ID))


def stored_sns(conn: Connection, sns: list[str]) -> set[str]:
    """Of these SNS MessageIds, those stored (with an event): one query, none for none."""
    if not sns:
        return set()
    query = _STORED_SNS_PG if conn.dialect.name == "postgresql" else _STORED_SNS
    return {str(i) for i in conn.execute(query, {"sns": sorted(set(sns))}).scalars()}
