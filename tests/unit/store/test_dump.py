"""`db export` -> `db import` moves a database losslessly, SQLite to PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from support.sending import send_issue
from typer.testing import CliRunner

from newsletter.cli.main import app
from newsletter.errors import SuppressedAddressError
from newsletter.model.editions import parse_preferences
from newsletter.settings import get_settings
from newsletter.store.campaigns import CampaignStore
from newsletter.store.db import Database, open_database
from newsletter.store.dump import TABLES
from newsletter.store.editions import PreferenceStore
from newsletter.store.paper_feedback import PaperFeedbackStore
from newsletter.store.subscribers import SubscriberStore
from newsletter.transports.outbox import OutboxTransport

T0 = dt.datetime(2025, 1, 2, 3, 4, 5, 678000, tzinfo=dt.UTC)


def tables(db: Database) -> dict[str, list[dict[str, Any]]]:
    with db.engine.connect() as conn:
        return {
            t.name: [dict(r) for r in conn.execute(
                select(t).order_by(*t.primary_key.columns)).mappings()]
            for t in TABLES
        }


def populate(url: str, tmp_path: Path, sample_issue_path: Path) -> None:
    db = open_database(url)
    try:
        store = SubscriberStore(db, clock=lambda: T0)
        store.add("active@example.org", status="active", categories={"LG"}, language="zh")
        store.add("pending@example.org", status="pending")
        left = store.add("left@example.org", status="active")
        store.set_status(left.id, "unsubscribed", "one-click")
        store.suppress("bounced@example.org", "bounced", "550 no such user")
        gone = store.add("erased@example.org", status="active")
        store.remove(gone.email)  # the highest id: it must never be handed out again
    finally:
        db.close()
    send_issue(get_settings(), str(sample_issue_path), transport=OutboxTransport(tmp_path / "o"))
    db = open_database(url)
    try:  # issue 21: a reader's own choices and their feedback on a paper travel too
        reader = SubscriberStore(db).find("active@example.org")
        assert reader is not None
        PreferenceStore(db, clock=lambda: T0).set(
            reader.id, parse_preferences("weekly:TUE", "3", "author:Y Bengio; 扩散模型"))
        campaign = CampaignStore(db).get("2022-09-07")
        assert campaign is not None
        PaperFeedbackStore(db, clock=lambda: T0).record(campaign.id, reader.id, "2209.01947",
                                                        "less")
    finally:
        db.close()


@pytest.mark.slow
def test_export_then_import_into_postgresql_is_lossless(
    tmp_path: Path, migrated_postgres_url: str, sample_issue_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every row of every table arrives unchanged; erased and bounced addresses stay blocked;
    an erased subscriber's id is not reused."""
    sqlite_url = get_settings().database_url
    populate(sqlite_url, tmp_path, sample_issue_path)
    dump = tmp_path / "list.jsonl"
    exported = CliRunner().invoke(app, ["db", "export", str(dump)])
    assert exported.exit_code == 0, exported.output
    header = json.loads(dump.read_text("utf-8").splitlines()[0])
    assert (header["format"], header["version"]) == ("newsletter-dump", 1)

    monkeypatch.setenv("NEWSLETTER_DATABASE_URL", migrated_postgres_url)
    imported = CliRunner().invoke(app, ["db", "import", str(dump)])
    assert imported.exit_code == 0, imported.output + imported.stderr

    before, after = open_database(sqlite_url), open_database(migrated_postgres_url)
    try:
        original, moved = tables(before), tables(after)
        assert {k: len(v) for k, v in moved.items()} == {k: len(v) for k, v in original.items()}
        assert moved == original
        assert len(moved["suppressions"]) == 3  # unsubscribed, bounced, erased (hash only)
        assert len(moved["reader_preferences"]) == len(moved["paper_feedback"]) == 1
        store = SubscriberStore(after)
        for blocked in ("bounced@example.org", "erased@example.org"):
            with pytest.raises(SuppressedAddressError):
                store.add(blocked, status="active")
        highest = max(r["id"] for r in original["subscribers"]) + 1  # the erased one
        assert store.add("new@example.org", status="active").id > highest
    finally:
        before.close()
        after.close()


def test_import_refuses_a_database_that_has_rows(tmp_path: Path) -> None:
    """Importing over existing data is refused, naming what is there."""
    db = open_database(get_settings().database_url)
    SubscriberStore(db).add("someone@example.org", status="active")
    db.close()
    dump = tmp_path / "list.jsonl"
    assert CliRunner().invoke(app, ["db", "export", str(dump)]).exit_code == 0
    again = CliRunner().invoke(app, ["db", "import", str(dump)])
    assert again.exit_code == 1
    assert "already has subscribers" in again.stderr


def test_import_names_an_unreadable_line(tmp_path: Path) -> None:
    """A damaged dump is refused with its line number and nothing is stored."""
    dump = tmp_path / "list.jsonl"
    assert CliRunner().invoke(app, ["db", "export", str(dump)]).exit_code == 0
    dump.write_text(dump.read_text("utf-8") + '{"table": "subscribers", "row": {"nope": 1}}\n')
    monkey = tmp_path / "other.db"
    result = CliRunner().invoke(app, ["db", "import", str(dump)],
                                env={"NEWSLETTER_DATABASE_URL": f"sqlite:///{monkey}"})
    assert result.exit_code == 1
    assert "line 2: cannot be read: unknown columns nope" in result.stderr
