"""The ``workers`` table: which sending processes are alive, and what they work on.

Each process that sends registers a row and refreshes ``heartbeat_at`` every few seconds.
A worker is dead when its heartbeat is older than the lease (30 s), or at once when it ran
on this host and its process id no longer exists (a SIGKILLed ``send`` resumed at once
need not wait out the lease). Dead workers' rows are deleted, and the deliveries they left
in ``sending`` are then settled by ``CampaignStore.recover``.

Live workers that are working on a campaign split the account's send rate equally: each
learns the count from its own heartbeat. Bulk senders instead take each call's slot from
one schedule in the database (``reserve``), so their calls interleave evenly (issue 23).
A worker that stalls longer than the lease is taken for dead; its in-flight messages
become in doubt, and "sent" still wins if it reports one later.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import secrets
import socket
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Float, String, bindparam, case, delete, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError

from newsletter.clock import utc_now
from newsletter.errors import StoreError
from newsletter.store.base import Store
from newsletter.store.db import Database
from newsletter.store.tables import workers
from newsletter.store.tables_sending import send_pace

LEASE = dt.timedelta(seconds=30)
HEARTBEAT_SECONDS = 2.0


_NO_FLUSH = text("SET LOCAL synchronous_commit TO OFF")


@functools.cache
def _take_slot() -> Any:
    """The schedule's one statement, built once: next_at = max(next_at, now) + seconds."""
    now = bindparam("p_now", type_=Float())
    start = case((send_pace.c.next_at > now, send_pace.c.next_at), else_=now)
    return (
        update(send_pace)
        .where(send_pace.c.name == bindparam("p_name", type_=String()))
        .values(next_at=start + bindparam("p_seconds", type_=Float()))
        .returning(send_pace.c.next_at)
    )


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class WorkerRegistry(Store):
    """Registers this process as a worker and tells live workers from dead ones."""

    def __init__(
        self,
        db: Database,
        clock: Callable[[], dt.datetime] = utc_now,
        lease: dt.timedelta = LEASE,
        host: str | None = None,
        alive: Callable[[int], bool] = pid_alive,
    ) -> None:
        super().__init__(db)
        self.clock = clock
        self.lease = lease
        self.host = (host or socket.gethostname())[:255]
        self.alive = alive
        self.wall = time.time  # the shared schedule's clock (POSIX seconds, every host's)

    def register(self, pid: int | None = None) -> str:
        """Add a worker row for this process; return its id (host:pid:random)."""
        pid = os.getpid() if pid is None else pid
        worker_id = f"{self.host[:40]}:{pid}:{secrets.token_hex(4)}"
        now = self.clock()
        with self.engine.begin() as conn:
            conn.execute(
                insert(workers).values(
                    id=worker_id, host=self.host, pid=pid, campaign_id=None,
                    started_at=now, heartbeat_at=now,
                )
            )
        return worker_id

    def heartbeat(self, worker_id: str, campaign_id: int | None) -> int:
        """Refresh this worker's row; return how many live workers have a campaign (>= 1).

        A row deleted by another worker (which took this one for dead) is written again.
        """
        now = self.clock()
        with self.engine.begin() as conn:
            changed = conn.execute(
                update(workers)
                .where(workers.c.id == worker_id)
                .values(heartbeat_at=now, campaign_id=campaign_id)
            ).rowcount
            if not changed:
                conn.execute(
                    insert(workers).values(
                        id=worker_id, host=self.host, pid=os.getpid(),
                        campaign_id=campaign_id, started_at=now, heartbeat_at=now,
                    )
                )
            busy = conn.execute(
                select(func.count())
                .select_from(workers)
                .where(
                    workers.c.campaign_id.is_not(None),
                    workers.c.heartbeat_at >= now - self.lease,
                )
            ).scalar_one()
        return max(1, int(busy))

    def unregister(self, worker_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(workers).where(workers.c.id == worker_id))

    def live(self) -> set[str]:
        """Ids of live workers; rows of dead ones are deleted on the way."""
        cutoff = self.clock() - self.lease
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(workers.c.id, workers.c.host, workers.c.pid, workers.c.heartbeat_at)
            ).all()
        dead = [
            wid for wid, host, pid, beat in rows
            if beat < cutoff or (host == self.host and not self.alive(int(pid)))
        ]
        if dead:
            with self.engine.begin() as conn:
                conn.execute(delete(workers).where(workers.c.id.in_(dead)))
        return {str(wid) for wid, *_ in rows} - set(dead)

    def reserve(self, seconds: float, name: str = "ses") -> float:
        """Take the next ``seconds`` of the shared send schedule ``name``; return when they
        start (POSIX seconds: now, or later when other calls hold the time before).

        One UPDATE: concurrent workers (and threads) each get their own slot, one after
        another. The row is made on first use.
        """
        for _ in range(2):
            now = self.wall()
            with self.engine.begin() as conn:
                if conn.dialect.name == "postgresql":
                    # A slot lost in a crash costs nothing; waiting for the WAL's flush on
                    # every call serialised all workers behind the disk.
                    conn.execute(_NO_FLUSH)
                after = conn.execute(
                    _take_slot(), {"p_name": name, "p_now": now, "p_seconds": seconds}
                ).scalar()
            if after is not None:
                return float(after) - seconds
            try:
                with self.engine.begin() as conn:
                    conn.execute(insert(send_pace).values(name=name, next_at=now + seconds))
                return now
            except IntegrityError:  # another worker made it meanwhile: take a slot after it
                continue
        raise StoreError(f"the send schedule {name!r} could not be read or made")
