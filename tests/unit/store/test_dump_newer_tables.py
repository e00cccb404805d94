"""``db export`` / ``db import`` carry the tables of issues 17, 21 and 22 too: what readers
did per issue, welcome emails, API tokens (hashes only) and webhooks (issue 17's brief)."""

from __future__ import annotations

import copy
import datetime as dt
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select
from support.delivery import ISSUE_CATEGORIES, subscribe

from newsletter.errors import ImportFileError
from newsletter.feedback.ses_events import event_from
from newsletter.model.campaigns import DeliveryResult
from newsletter.store.actions import ReaderActions
from newsletter.store.api_tokens import ApiTokenStore
from newsletter.store.campaigns import CampaignStore
from newsletter.store.db import Database, open_database
from newsletter.store.dump import TABLES, export_dump, import_dump
from newsletter.store.events import EventStore, Received
from newsletter.store.subscribers import SubscriberStore
from newsletter.store.tables_activity import reengagements
from newsletter.store.webhook_outbox import emit
from newsletter.store.webhooks import WebhookStore

NOW = dt.datetime(2022, 9, 7, 6, 0, tzinfo=dt.UTC)
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "ses"
SAMPLE = Path(__file__).resolve().parents[3] / "issues" / "2022-09-07.yaml"
NEWER = ("campaign_counts", "campaign_links", "delivery_links", "reader_actions",
         "reengagements", "welcome_emails", "api_tokens", "webhook_endpoints",
         "webhook_messages")


def _event(kind: str, delivery_id: int, **section: Any) -> Received:
    data: dict[str, Any] = copy.deepcopy(json.loads((FIXTURES / f"event_{kind}.json")
                                                    .read_text("utf-8")))
    data["mail"]["tags"]["nl_delivery"] = [str(delivery_id)]
    data[kind].update(section)
    return Received(event_from(data))


def _populate(db: Database) -> str:
    """Rows in every table a dump carries; the API token (only its hash is stored)."""
    subscribe(db.url, 3)
    store = CampaignStore(db, lambda: NOW)
    started, _ = store.start("2022-09-07", str(SAMPLE), ISSUE_CATEGORIES)
    claims = store.claim(started.id, "w", 3)
    store.record("w", [DeliveryResult(c.id, "sent", f"m{c.id}") for c in claims])
    EventStore(db, clock=lambda: NOW, base_url="https://news.example.org").apply([
        *(_event("delivery", c.id) for c in claims),
        _event("open", claims[0].id, timestamp="2022-09-07T09:00:00Z"),
        _event("click", claims[0].id, link="https://arxiv.org/abs/2209.01234v1"),
    ])
    ReaderActions(db, lambda: NOW).record(claims[1].subscriber_id, NOW, "preferences")
    people = SubscriberStore(db, clock=lambda: NOW)
    late = people.add("late@example.org", status="pending")
    people.set_status(late.id, "active", "confirmed by email link", welcome=True)
    token = ApiTokenStore(db, lambda: NOW).create("ci", "read")
    WebhookStore(db, lambda: NOW).add("https://hooks.example.org/in", ["campaign.started"],
                                      "whsec_" + "a" * 32)
    with db.engine.begin() as conn:
        emit(conn, "campaign.started", {"issue": "2022-09-07"}, NOW)
        conn.execute(insert(reengagements).values(subscriber_id=claims[2].subscriber_id,
                                                  asked_at=NOW))
    return token


def _tables(db: Database) -> dict[str, list[dict[str, Any]]]:
    with db.engine.connect() as conn:
        return {t.name: [dict(r) for r in conn.execute(
            select(t).order_by(*t.primary_key.columns)).mappings()] for t in TABLES}


@pytest.mark.slow
def test_the_newer_tables_travel_unchanged(
    migrated_sqlite: Callable[[str], str], migrated_postgres_url: str
) -> None:
    source = open_database(migrated_sqlite("list.db"))
    token = _populate(source)
    out = io.StringIO()
    written = export_dump(source, out)
    assert all(written.rows[name] > 0 for name in NEWER), written.rows

    target = open_database(migrated_postgres_url)
    try:
        read = import_dump(target, out.getvalue().splitlines())
        assert {k: n for k, n in read.rows.items() if n} == {
            k: n for k, n in written.rows.items() if n}
        before, after = _tables(source), _tables(target)
        assert after == before
        assert "token" not in json.dumps(after["api_tokens"], default=str).replace(
            "token_hash", "")  # the hash, never the token
        moved = ApiTokenStore(target).check(token)
        assert moved is not None and moved.name == "ci"  # still signs in after the move
    finally:
        source.close()
        target.close()


def test_a_repeated_composite_key_is_refused_by_its_line(
    migrated_sqlite: Callable[[str], str],
) -> None:
    """Rows of one campaign differ by variant; the same (campaign, variant) twice does not."""
    source = open_database(migrated_sqlite("list.db"))
    _populate(source)
    out = io.StringIO()
    export_dump(source, out)
    source.close()
    lines = out.getvalue().splitlines()
    first = next(n for n, line in enumerate(lines) if '"campaign_counts"' in line)
    target = open_database(migrated_sqlite("copy.db"))
    with pytest.raises(ImportFileError, match=rf"line {len(lines) + 1}: campaign_counts: "
                                              r"campaign_id, variant: .* is already on line"):
        import_dump(target, [*lines, lines[first]])
    target.close()
