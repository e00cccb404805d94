"""``db export`` / ``db import``: the whole list as JSON lines, for moving a database.

Everything that matters travels: subscribers (with their ids, which signed links name,
and every timestamp), their event log, every suppression (including erased addresses,
kept only as a hash, and bounced addresses with no subscriber row), campaigns and
deliveries (with what readers did with each), the SES events (soft-bounce counts and
campaign health come from them), what readers did per issue (issue 17's counters, links,
clicks, actions through links and re-engagement asks), readers' own choices and feedback
(issue 21), welcome emails, API tokens (their hashes only) and webhook endpoints (with the
secret that signs for them) and messages (issue 22), and the highest id ever handed out,
so that an erased subscriber's id is never reused after the move. Not moved: worker
heartbeats and event feeds (they describe processes), trend days (counted again from the
subscriber events), the desk's sign-in links and sessions, dead letters, the sign-up queue.
A dump made before these tables travelled imports as before (their rows are simply absent).

Format: the first line is a header ``{"format": "newsletter-dump", "version": 1, ...}``;
each further line is ``{"table": NAME, "row": {COLUMN: VALUE}}`` with datetimes as ISO 8601.
An import goes into an empty database only, in one transaction: all or nothing. Every
value is checked first (``dump_checks.py``); a bad one is refused with its line.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, TextIO

from sqlalchemy import Connection, Table, func, insert, select, text

from newsletter.errors import ImportFileError
from newsletter.store.db import Database, current_revision
from newsletter.store.dump_checks import RowChecker, check_next_ids
from newsletter.store.packing import worker_key
from newsletter.store.tables import (
    campaigns,
    deliveries,
    ses_events,
    subscriber_events,
    subscribers,
    suppressions,
)
from newsletter.store.tables_activity import (
    campaign_counts,
    campaign_links,
    delivery_links,
    reader_actions,
    reengagements,
)
from newsletter.store.tables_api import (
    api_tokens,
    webhook_endpoints,
    webhook_messages,
    welcome_emails,
)
from newsletter.store.tables_editions import paper_feedback, reader_preferences

FORMAT = "newsletter-dump"
VERSION = 1
# Parents before children, so foreign keys hold while importing.
# ses_events: the soft-bounce count and campaign health come from them.
# reader_preferences and paper_feedback (issue 21): readers' own choices and feedback.
# Issue 17's per-issue figures, issue 22's welcome outbox, API tokens and webhooks.
TABLES: tuple[Table, ...] = (
    subscribers, subscriber_events, suppressions, campaigns, deliveries, ses_events,
    reader_preferences, paper_feedback,
    campaign_counts, campaign_links, delivery_links, reader_actions, reengagements,
    welcome_emails, api_tokens, webhook_endpoints, webhook_messages,
)
# Tables whose ids are handed out by the database (reader_preferences is keyed by reader).
_COUNTED = tuple(table for table in TABLES if "id" in table.c)
_BY_NAME = {table.name: table for table in TABLES}
_ORDER = {table.name: index for index, table in enumerate(TABLES)}
_BATCH = 1000


@dataclass
class DumpCounts:
    """Rows per table written or read."""

    rows: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        return ", ".join(f"{name} {self.rows.get(name, 0):,}" for name in _BY_NAME)


def _encode(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.datetime) else value


def export_dump(db: Database, out: TextIO) -> DumpCounts:
    """Write every table that matters to ``out`` as JSON lines; the rows per table."""
    counts = DumpCounts()
    with db.translated(), db.engine.connect() as conn:
        header = {
            "format": FORMAT, "version": VERSION, "schema": current_revision(db.engine),
            "exported_at": dt.datetime.now(dt.UTC).isoformat(),
            "next_ids": {table.name: _next_id(conn, table) for table in _COUNTED},
        }
        out.write(json.dumps(header) + "\n")
        for table in TABLES:
            counts.rows[table.name] = 0
            order = table.primary_key.columns
            for row in conn.execute(select(table).order_by(*order)).mappings():
                line = {"table": table.name, "row": {k: _encode(v) for k, v in row.items()}}
                out.write(json.dumps(line, ensure_ascii=False) + "\n")
                counts.rows[table.name] += 1
    return counts


def import_dump(db: Database, lines: Iterable[str]) -> DumpCounts:
    """Load a dump into an empty database, ids and timestamps as they were.

    Raises :class:`ImportFileError` for a file that is not a dump of a known version, a
    line that cannot be read (naming it), or a database that already has rows.
    """
    counts = DumpCounts()
    numbered = enumerate(lines, start=1)
    header = _header(next(numbered, (1, ""))[1])
    try:
        next_ids = check_next_ids(header.get("next_ids", {}), _BY_NAME)
    except ValueError as err:
        raise ImportFileError(f"line 1: {err}") from None
    checker = RowChecker()
    with db.translated(), db.engine.begin() as conn:
        for table in TABLES:
            if conn.execute(select(func.count()).select_from(table)).scalar_one():
                raise ImportFileError(
                    f"the database already has {table.name}; import into an empty database "
                    "(create it, run `newsletter db upgrade`, then import)"
                )
        pending: dict[str, list[dict[str, Any]]] = {name: [] for name in _BY_NAME}

        def flush(upto: str) -> None:
            # Parents first: rows of earlier tables go in before a batch of a later one.
            for table in TABLES[: _ORDER[upto] + 1]:
                if pending[table.name]:
                    conn.execute(insert(table), pending[table.name])
                    pending[table.name].clear()

        for number, line in numbered:
            if not line.strip():
                continue
            name, row = _row(number, line, checker)
            pending[name].append(row)
            counts.rows[name] = counts.rows.get(name, 0) + 1
            if len(pending[name]) >= _BATCH:
                flush(name)
        flush(TABLES[-1].name)
        for table in _COUNTED:
            _set_next_id(conn, table, next_ids.get(table.name, 1))
    return counts


def _header(line: str) -> dict[str, Any]:
    try:
        header = json.loads(line)
    except json.JSONDecodeError:
        header = None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ImportFileError("line 1: not a newsletter dump (made by `newsletter db export`)")
    if header.get("version") != VERSION:
        raise ImportFileError(
            f"line 1: dump format version {header.get('version')!r}; this version reads "
            f"{VERSION} only"
        )
    return header


def _row(number: int, line: str, checker: RowChecker) -> tuple[str, dict[str, Any]]:
    try:
        item = json.loads(line)
        if not isinstance(item, dict) or not isinstance(item.get("row"), dict):
            raise ValueError('not {"table": NAME, "row": {...}}')
        table = _BY_NAME[item["table"]]
        raw = _from_older(table.name, item["row"])
        unknown = set(raw) - set(table.c.keys())
        if unknown:
            raise ValueError(f"unknown columns {', '.join(sorted(unknown))}")
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
        raise ImportFileError(f"line {number}: cannot be read: {str(err)[:200]}") from None
    try:
        return table.name, checker.check(number, table, raw)
    except ValueError as err:
        raise ImportFileError(f"line {number}: {table.name}: {str(err)[:300]}") from None


def _from_older(table: str, row: dict[str, Any]) -> dict[str, Any]:
    """A row of a dump made before migration 0014 as this schema has it: a delivery kept
    its reader's address (now the subscriber's alone) and its worker's id (now a key)."""
    if table != "deliveries":
        return row
    row = {name: value for name, value in row.items() if name != "email"}
    if isinstance(row.get("claimed_by"), str):
        row["claimed_by"] = worker_key(row["claimed_by"])
    return row


def _next_id(conn: Connection, table: Table) -> int:
    """The id the table would hand out next (above every id ever used, erased ones too)."""
    highest = conn.execute(select(func.max(table.c.id))).scalar_one() or 0
    if conn.dialect.name == "sqlite":
        used = conn.execute(
            text("SELECT seq FROM sqlite_sequence WHERE name = :name"), {"name": table.name}
        ).scalar_one_or_none() if _has_sqlite_sequence(conn) else None
        return max(highest, used or 0) + 1
    if conn.dialect.name == "postgresql":
        sequence = conn.execute(
            text("SELECT pg_get_serial_sequence(:table, 'id')"), {"table": table.name}
        ).scalar_one_or_none()
        if sequence:
            last, called = conn.execute(
                text(f"SELECT last_value, is_called FROM {sequence}")  # noqa: S608 -- our name
            ).one()
            return max(int(highest), int(last) if called else int(last) - 1) + 1
    return highest + 1


def _has_sqlite_sequence(conn: Connection) -> bool:
    return bool(conn.execute(
        text("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_sequence'")
    ).scalar_one())


def _set_next_id(conn: Connection, table: Table, next_id: int) -> None:
    highest = conn.execute(select(func.max(table.c.id))).scalar_one() or 0
    next_id = max(next_id, highest + 1)
    if conn.dialect.name == "sqlite" and table.dialect_options["sqlite"]["autoincrement"]:
        conn.execute(text("DELETE FROM sqlite_sequence WHERE name = :name"), {"name": table.name})
        conn.execute(text("INSERT INTO sqlite_sequence (name, seq) VALUES (:name, :seq)"),
                     {"name": table.name, "seq": next_id - 1})
    elif conn.dialect.name == "postgresql":
        conn.execute(
            text("SELECT setval(pg_get_serial_sequence(:table, 'id'), :value, false)"),
            {"table": table.name, "value": next_id},
        )
