"""`db import` checks every record as the rest of the system would, all or nothing (#24, item 10).

A dump is a file anyone could have edited: each refusal names the line and what is
wrong, and nothing at all is stored.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from newsletter.cli.main import app
from newsletter.settings import get_settings
from newsletter.store.db import open_database
from newsletter.store.dump import TABLES
from newsletter.tokens import NO_SUBSCRIBER_ID

NOW = "2025-01-02T03:04:05+00:00"
HEADER = {"format": "newsletter-dump", "version": 1, "schema": "x", "exported_at": NOW,
          "next_ids": {t.name: 1 for t in TABLES}}


def reader(id_: int, email: str, **changes: Any) -> dict[str, Any]:
    row = {
        "id": id_, "email": email, "status": "active", "categories": "", "language": "both",
        "source": "web", "created_at": NOW, "updated_at": NOW, "confirmed_at": NOW,
        "confirmation_sent_at": None, "pending_categories": None, "pending_language": None,
    }
    return row | changes


def write(path: Path, rows: list[tuple[str, dict[str, Any]]], header: Any = None) -> Path:
    lines = [json.dumps(HEADER if header is None else header)]
    lines += [json.dumps({"table": table, "row": row}) for table, row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def import_(path: Path) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["db", "import", str(path)])
    assert "Traceback" not in result.output + result.stderr
    return result.exit_code, result.stderr


def stored_rows() -> int:
    db = open_database(get_settings().database_url)
    try:
        with db.engine.connect() as conn:
            return sum(conn.execute(select(func.count()).select_from(t)).scalar_one()
                       for t in TABLES)
    finally:
        db.close()


GOOD = ("subscribers", reader(1, "first@example.org"))
BAD_ROWS: dict[str, tuple[tuple[str, dict[str, Any]], str]] = {
    "reserved id": (("subscribers", reader(NO_SUBSCRIBER_ID, "t@example.org")), "id"),
    "id too big": (("subscribers", reader(NO_SUBSCRIBER_ID + 5, "t@example.org")), "id"),
    "id not a number": (("subscribers", reader("7", "t@example.org")), "id"),
    "upper case": (("subscribers", reader(2, "First@example.org")), "email"),
    "not an address": (("subscribers", reader(2, "nobody")), "email"),
    "huge address": (("subscribers", reader(2, "a" * 50_000_000 + "@example.org")), "email"),
    "status": (("subscribers", reader(2, "b@example.org", status="gone")), "status"),
    "categories": (("subscribers", reader(2, "b@example.org", categories="lg,x")), "categories"),
    "language": (("subscribers", reader(2, "b@example.org", language="fr")), "language"),
    "source": (("subscribers", reader(2, "b@example.org", source="elsewhere")), "source"),
    "date": (("subscribers", reader(2, "b@example.org", created_at="yesterday")), "created_at"),
    "missing": (("subscribers", {"id": 2, "email": "b@example.org"}), "status"),
    "suppression hash": (("suppressions", {
        "id": 1, "email_hash": "0" * 64, "email": "b@example.org", "reason": "bounced",
        "detail": "", "created_at": NOW}), "email_hash"),
}


@pytest.mark.parametrize("name", sorted(BAD_ROWS))
@pytest.mark.slow
def test_a_bad_record_is_refused_by_line_and_nothing_is_stored(tmp_path: Path, name: str) -> None:
    """The third line is refused with its line number and field; no row is stored."""
    row, field = BAD_ROWS[name]
    code, stderr = import_(write(tmp_path / "d.jsonl", [GOOD, row]))
    assert code == 1, stderr
    assert "line 3" in stderr and field in stderr, stderr
    assert len(stderr) < 1000
    assert stored_rows() == 0


def test_the_same_address_twice_names_both_lines(tmp_path: Path) -> None:
    """A repeated address is refused naming both lines (other spellings are refused above
    as not normalised, so case cannot hide a repeat)."""
    rows = [GOOD, ("subscribers", reader(2, "first@example.org"))]
    code, stderr = import_(write(tmp_path / "d.jsonl", rows))
    assert code == 1
    assert "line 3" in stderr and "line 2" in stderr, stderr
    assert stored_rows() == 0


@pytest.mark.parametrize(
    "next_ids", ["many", ["subscribers", 3], {"subscribers": "x"}, {"subscribers": -4},
                 {"subscribers": 10**30}, {"subscribers": NO_SUBSCRIBER_ID + 1}, {"nope": 3}],
)
def test_bad_next_ids_are_refused_on_line_1(tmp_path: Path, next_ids: Any) -> None:
    """next_ids must map known tables to ids a token can name; line 1 is named."""
    code, stderr = import_(write(tmp_path / "d.jsonl", [GOOD], HEADER | {"next_ids": next_ids}))
    assert code == 1, stderr
    assert "line 1" in stderr and "next_ids" in stderr, stderr
    assert stored_rows() == 0


def test_a_good_dump_still_imports(tmp_path: Path) -> None:
    """The checks pass a well-formed dump; the reader arrives."""
    code, stderr = import_(write(tmp_path / "d.jsonl", [GOOD]))
    assert code == 0, stderr
    assert stored_rows() == 1


def test_checks_hold_on_postgresql(
    tmp_path: Path, migrated_postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A NUL character (which PostgreSQL cannot store) is refused by line, not a traceback."""
    monkeypatch.setenv("NEWSLETTER_DATABASE_URL", migrated_postgres_url)
    rows = [GOOD, ("subscriber_events", {
        "id": 1, "subscriber_id": 1, "kind": "signup", "old_status": None,
        "new_status": "active", "reason": "a\x00b", "created_at": NOW})]
    code, stderr = import_(write(tmp_path / "d.jsonl", rows))
    assert code == 1
    assert "line 3" in stderr and "reason" in stderr, stderr
    assert stored_rows() == 0
