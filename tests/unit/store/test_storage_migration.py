"""Issue 17's storage: migration 0014 keeps every delivery and its engagement, both ways;
SES message ids are stored packed and read back exactly; events still find a delivery by
SES's message id alone."""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import select, text
from support.delivery import ISSUE_CATEGORIES, subscribe

from newsletter.feedback.ses_events import event_from
from newsletter.model.campaigns import DeliveryResult
from newsletter.model.events import SesEvent
from newsletter.store.campaigns import CampaignStore
from newsletter.store.db import alembic_config, make_engine, open_database, upgrade
from newsletter.store.dump import export_dump, import_dump
from newsletter.store.events import EventStore, Received
from newsletter.store.packing import pack_message_id, unpack_message_id, worker_key
from newsletter.store.tables import deliveries, ses_events

SES_ID = "0100018c2b5e6f7a-1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d-000123"
OTHER_ID = "<moto-id-Ünï@example.com>"
AT = "2022-09-07 06:00:00+00:00"
NOW = dt.datetime(2022, 9, 7, 6, 0, tzinfo=dt.UTC)
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "ses"
PAYLOAD = (FIXTURES / "event_bounce.json").read_text("utf-8")


@pytest.mark.parametrize("value", [SES_ID, OTHER_ID, "", "0100018C2B5E6F7A-1A2B3C4D-5E6F"
                                   "-7A8B-9C0D-1E2F3A4B5C6D-000000"])
def test_message_ids_pack_and_read_back_exactly(value: str) -> None:
    packed = pack_message_id(value)
    assert unpack_message_id(packed) == value
    if value == SES_ID:
        assert len(packed) == 28  # against 60 characters of text


def _at(revision: str, url: str) -> None:
    command.upgrade(alembic_config(url), revision)


@pytest.mark.slow
def test_0014_folds_the_engagement_into_deliveries_and_back(empty_database_url: str) -> None:
    _at("0013", empty_database_url)
    engine = make_engine(empty_database_url)
    when = AT if engine.dialect.name == "postgresql" else "2022-09-07 06:00:00.000000"
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO campaigns (id, issue_date, issue_path, status, paused_reason, total,"
            " created_at, content_sha256) VALUES (1, '2022-09-07', 'x', 'done', '', 3, :at, '')"),
            {"at": when})
        conn.execute(text(
            "INSERT INTO deliveries (id, campaign_id, subscriber_id, email, variant, status,"
            " attempts, claimed_by, sent_at, provider_id, resends) VALUES"
            " (5, 1, 50, 'a@example.com', 'both:*', 'sent', 1, 'w1', :at, :ses, 0),"
            " (6, 1, 60, 'b@example.com', 'en:CV', 'sent', 2, 'w1', :at, :other, 1),"
            " (7, 1, 70, 'c@example.com', 'en:CV', 'queued', 0, NULL, NULL, NULL, 0)"),
            {"at": when, "ses": SES_ID, "other": OTHER_ID})
        conn.execute(text(
            "INSERT INTO delivery_activity (delivery_id, campaign_id, delivered_at, bounced,"
            " complained, opened_at, machine_opened_at, opens, clicked_at, clicks)"
            " VALUES (5, 1, :at, 0, 1, :at, NULL, 3, :at, 2)"), {"at": when})
        conn.execute(text(
            "INSERT INTO ses_events (event_key, kind, email, bounce_type, machine, detail,"
            " received_at, payload) VALUES ('k1', 'bounce', '', '', 0, '', :at, :payload)"),
            {"at": when, "payload": PAYLOAD})
    engine.dispose()

    upgrade(empty_database_url)
    db = open_database(empty_database_url)
    d = deliveries.c
    with db.engine.connect() as conn:
        rows = {r.id: r for r in conn.execute(select(deliveries).order_by(d.id))}
    assert sorted(rows) == [5, 6, 7]
    five, six, seven = rows[5], rows[6], rows[7]
    assert (five.provider_id, six.provider_id, seven.provider_id) == (SES_ID, OTHER_ID, None)
    assert (five.opens, five.clicks, five.complained, five.bounced) == (3, 2, 1, 0)
    assert five.delivered_at == dt.datetime(2022, 9, 7, 6, tzinfo=dt.UTC)
    assert five.machine_opened_at is None
    assert (six.opens, six.delivered_at, six.resends, six.attempts) == (0, None, 1, 2)
    assert (five.claimed_by, seven.claimed_by) == (worker_key("w1"), None)  # same in SQL
    assert (seven.status, seven.variant) == ("queued", "en:CV")
    with db.engine.begin() as conn:  # new ids follow the copied ones
        new_id = conn.execute(deliveries.insert().values(
            campaign_id=1, subscriber_id=80, variant="x",
            status="queued", attempts=0).returning(d.id)).scalar_one()
        stored = conn.execute(text("SELECT provider_id FROM deliveries WHERE id = 5")).scalar()
        conn.execute(ses_events.insert().values(
            event_key="k2", kind="complaint", email="", bounce_type="", machine=0, detail="",
            received_at=NOW, payload=PAYLOAD))
        payloads = dict(conn.execute(select(ses_events.c.event_key, ses_events.c.payload)).all())
        raw = conn.execute(text("SELECT payload FROM ses_events WHERE event_key = 'k2'")).scalar()
    assert new_id == 8
    assert bytes(stored) == pack_message_id(SES_ID)  # packed in SQL as in Python
    assert payloads == {"k1": PAYLOAD, "k2": PAYLOAD}  # the older one as it was written
    assert len(bytes(raw)) < len(PAYLOAD.encode()) // 2  # the new one compressed
    db.close()

    command.downgrade(alembic_config(empty_database_url), "0013")
    engine = make_engine(empty_database_url)
    with engine.connect() as conn:
        back = conn.execute(text(
            "SELECT id, provider_id, resends, claimed_by, email FROM deliveries ORDER BY id"
        )).all()
        activity = conn.execute(text(
            "SELECT delivery_id, opens, clicks, complained FROM delivery_activity")).all()
        old_payloads = dict(conn.execute(text("SELECT event_key, payload FROM ses_events")).all())
    engine.dispose()
    assert old_payloads == {"k1": PAYLOAD, "k2": PAYLOAD}
    key = str(worker_key("w1"))  # no live worker has it: a row left claimed is orphaned
    # The address comes back from the reader (none here: no subscriber rows).
    assert [tuple(r) for r in back] == [(5, SES_ID, 0, key, ""), (6, OTHER_ID, 1, key, ""),
                                        (7, None, 0, None, ""), (8, None, 0, None, "")]
    assert [tuple(r) for r in activity] == [(5, 3, 2, 1)]


def _untagged(kind: str, message_id: str, address: str) -> SesEvent:
    """An SES event with neither our tag nor our header: only SES's message id names it."""
    data: dict[str, Any] = json.loads((FIXTURES / f"event_{kind}.json").read_text("utf-8"))
    data["mail"]["messageId"] = message_id
    data["mail"]["destination"] = [address]
    data["mail"]["tags"].pop("nl_delivery", None)
    return event_from(data)


def test_an_event_without_our_tag_finds_its_delivery_by_message_id(database_url: str) -> None:
    """Through the reader's address (any case) and the packed id; a stranger's address or
    another id matches nothing."""
    upgrade(database_url)
    db = open_database(database_url)
    subscribe(db.url, 3)
    store = CampaignStore(db, lambda: NOW)
    started, _ = store.start("2022-09-07", "issues/2022-09-07.yaml", ISSUE_CATEGORIES)
    a, b, _c = store.claim(started.id, "w", 3)
    ids = {a.id: SES_ID, b.id: SES_ID.replace("000123", "000124")}
    store.record("w", [DeliveryResult(i, "sent", provider_id=p) for i, p in ids.items()])
    events = EventStore(db, clock=lambda: NOW)
    result = events.apply([Received(_untagged("delivery", SES_ID, a.email.upper())),
                           Received(_untagged("open", ids[b.id], "someone@example.net")),
                           Received(_untagged("open", SES_ID[:-1] + "9", a.email))])
    assert (result.stored, result.unmatched) == (3, 2)
    with db.engine.connect() as conn:
        delivered = dict(conn.execute(select(deliveries.c.id, deliveries.c.delivered_at)
                                      .where(deliveries.c.id.in_(ids))).all())
        kept = dict(conn.execute(select(ses_events.c.kind, ses_events.c.delivery_id)
                                 .where(ses_events.c.kind == "delivery")).all())
    assert delivered[a.id] is not None and delivered[b.id] is None
    assert kept == {"delivery": a.id}
    db.close()


def test_a_dump_made_before_0014_still_imports(migrated_sqlite: Callable[[str], str]) -> None:
    """Its deliveries carry the reader's address (now the subscriber's alone) and the
    worker's id (now its key); both are taken as this schema has them."""
    source = open_database(migrated_sqlite("a.db"))
    subscribe(source.url, 2)
    store = CampaignStore(source, lambda: NOW)
    started, _ = store.start("2022-09-07", "issues/2022-09-07.yaml", ISSUE_CATEGORIES)
    claims = store.claim(started.id, "host:1:ab", 2)
    store.record("host:1:ab", [DeliveryResult(c.id, "sent", provider_id=SES_ID) for c in claims])
    out = io.StringIO()
    export_dump(source, out)
    source.close()
    lines = []
    for line in out.getvalue().splitlines():
        item = json.loads(line)
        if item.get("table") == "deliveries":  # as 0013's export wrote it
            item["row"] |= {"email": "x@example.org", "claimed_by": "host:1:ab"}
        lines.append(json.dumps(item))
    target = open_database(migrated_sqlite("b.db"))
    counts = import_dump(target, lines)
    with target.engine.connect() as conn:
        rows = conn.execute(select(deliveries.c.claimed_by, deliveries.c.provider_id)).all()
    target.close()
    assert counts.rows["deliveries"] == 2
    assert [tuple(r) for r in rows] == [(worker_key("host:1:ab"), SES_ID)] * 2
