"""The desk's records: sign-in links, editors' sessions, the audit log, scheduled sends.

Secrets (a link's, a session's) are never stored: each row is keyed by the sha256 of its
secret, so a copy of the database signs nobody in. Using a link and checking a session are
single conditional statements, so two requests racing with one secret cannot both win.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import delete, exists, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from newsletter.clock import utc_now
from newsletter.store.base import Store
from newsletter.store.db import Database
from newsletter.store.tables import audit_log, campaigns, desk_links, desk_sessions, schedules


def _key(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: dt.datetime
    actor: str
    action: str
    target: str
    detail: str


@dataclass(frozen=True)
class Schedule:
    issue_date: str
    issue_path: str
    send_at: dt.datetime
    created_by: str
    started_at: dt.datetime | None


class DeskStore(Store):
    """Links, sessions and the audit log of the desk; ``clock`` gives aware UTC times."""

    def __init__(self, db: Database, clock: Callable[[], dt.datetime] = utc_now) -> None:
        super().__init__(db)
        self.clock = clock

    # -- sign-in links -------------------------------------------------------------------

    def new_link(self, email: str) -> str:
        """A new single-use sign-in secret for ``email``."""
        secret = secrets.token_urlsafe(32)
        with self.engine.begin() as conn:
            conn.execute(insert(desk_links).values(
                id=_key(secret), email=email, created_at=self.clock(), used_at=None,
            ))
        return secret

    def link_email(self, secret: str, max_age: dt.timedelta) -> str | None:
        """Whose unused link of at most ``max_age`` this is (None: unknown, used, expired)."""
        with self.engine.connect() as conn:
            row = conn.execute(select(desk_links.c.email).where(
                desk_links.c.id == _key(secret), desk_links.c.used_at.is_(None),
                desk_links.c.created_at >= self.clock() - max_age,
            )).first()
        return str(row.email) if row else None

    def use_link(self, secret: str, max_age: dt.timedelta) -> str | None:
        """Use the link once: its address, or None when it is unknown, used or expired."""
        now = self.clock()
        key = _key(secret)
        with self.engine.begin() as conn:
            used = conn.execute(update(desk_links).where(
                desk_links.c.id == key, desk_links.c.used_at.is_(None),
                desk_links.c.created_at >= now - max_age,
            ).values(used_at=now)).rowcount
            if not used:
                return None
            email = conn.execute(select(desk_links.c.email).where(desk_links.c.id == key))
            return str(email.scalar_one())

    # -- sessions ------------------------------------------------------------------------

    def new_session(self, email: str) -> str:
        """A new session for ``email``; the returned secret goes in the cookie only."""
        secret = secrets.token_urlsafe(32)
        now = self.clock()
        with self.engine.begin() as conn:
            conn.execute(insert(desk_sessions).values(
                id=_key(secret), email=email, created_at=now, last_seen_at=now,
            ))
        return secret

    def session_email(self, secret: str, idle: dt.timedelta) -> str | None:
        """The editor of a live session (seen within ``idle``, not revoked), which is
        marked as seen now; None otherwise."""
        now = self.clock()
        key = _key(secret)
        with self.engine.begin() as conn:
            seen = conn.execute(update(desk_sessions).where(
                desk_sessions.c.id == key, desk_sessions.c.revoked_at.is_(None),
                desk_sessions.c.last_seen_at >= now - idle,
            ).values(last_seen_at=now)).rowcount
            if not seen:
                return None
            email = conn.execute(select(desk_sessions.c.email).where(desk_sessions.c.id == key))
            return str(email.scalar_one())

    def end_session(self, secret: str) -> None:
        """Sign out: the session cannot be used again."""
        with self.engine.begin() as conn:
            conn.execute(update(desk_sessions).where(
                desk_sessions.c.id == _key(secret), desk_sessions.c.revoked_at.is_(None),
            ).values(revoked_at=self.clock()))

    def end_sessions_of(self, email: str) -> int:
        """Sign ``email`` out everywhere; how many sessions ended."""
        with self.engine.begin() as conn:
            return int(conn.execute(update(desk_sessions).where(
                desk_sessions.c.email == email, desk_sessions.c.revoked_at.is_(None),
            ).values(revoked_at=self.clock())).rowcount)

    # -- the audit log -------------------------------------------------------------------

    def audit(self, actor: str, action: str, target: str = "", detail: str = "") -> None:
        """Record that ``actor`` did ``action`` to ``target``."""
        with self.engine.begin() as conn:
            conn.execute(insert(audit_log).values(
                at=self.clock(), actor=actor[:320], action=action[:64], target=target[:320],
                detail=detail,
            ))

    def audit_entries(self, limit: int = 100, before: int | None = None) -> list[AuditEntry]:
        """The newest ``limit`` entries (older than id ``before`` when given), newest first."""
        query = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
        if before is not None:
            query = query.where(audit_log.c.id < before)
        with self.engine.connect() as conn:
            return [AuditEntry(int(r.id), r.at, r.actor, r.action, r.target, r.detail)
                    for r in conn.execute(query)]

    def audit_count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(audit_log)).scalar_one())

    # -- scheduled sends -----------------------------------------------------------------

    def schedule(self, issue_date: str, issue_path: str, send_at: dt.datetime,
                 by: str) -> bool:
        """Schedule (or move) an issue's send; False when its send has already started.

        A schedule the worker took but could not start (its issue failed preflight: no
        campaign exists) counts as not started: scheduling it again re-arms it.
        """
        no_campaign = ~exists().where(campaigns.c.issue_date == issue_date)
        with self.engine.begin() as conn:
            moved = conn.execute(update(schedules).where(
                schedules.c.issue_date == issue_date,
                or_(schedules.c.started_at.is_(None), no_campaign),
            ).values(issue_path=issue_path, send_at=send_at, created_by=by,
                     created_at=self.clock(), started_at=None)).rowcount
            if moved:
                return True
            try:
                with conn.begin_nested():
                    conn.execute(insert(schedules).values(
                        issue_date=issue_date, issue_path=issue_path, send_at=send_at,
                        created_by=by, created_at=self.clock(), started_at=None,
                    ))
            except IntegrityError:
                return False  # there is one, and it has started
        return True

    def unschedule(self, issue_date: str) -> bool:
        """Cancel a schedule that has not started; whether there was one."""
        with self.engine.begin() as conn:
            return bool(conn.execute(delete(schedules).where(
                schedules.c.issue_date == issue_date, schedules.c.started_at.is_(None),
            )).rowcount)

    def scheduled(self) -> list[Schedule]:
        """Every schedule, soonest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(schedules).order_by(schedules.c.send_at)).all()
        return [Schedule(r.issue_date, r.issue_path, r.send_at, r.created_by, r.started_at)
                for r in rows]

    def take_due(self) -> list[Schedule]:
        """Schedules due now and not started, each marked started by this caller alone."""
        now = self.clock()
        taken: list[Schedule] = []
        for item in self.scheduled():
            if item.started_at is not None or item.send_at > now:
                continue
            with self.engine.begin() as conn:
                won = conn.execute(update(schedules).where(
                    schedules.c.issue_date == item.issue_date, schedules.c.started_at.is_(None),
                ).values(started_at=now)).rowcount
            if won:
                taken.append(item)
        return taken
