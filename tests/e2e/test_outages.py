"""Issue 25, item 3: `worker` and `events poll` outlive a 20 s PostgreSQL stop and an SQS
outage: each says so in a line, waits, and carries on when the service is back.

Real parts: a PostgreSQL server of this test's own (its own port, stopped and started; the
shared one is never touched), the SQS simulator on a loopback port of its own (stopped, then a
new one started on the same port), moto's SES, and `newsletter` processes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text
from support.delivery import delivery_rows, subscribe
from support.postgres_instance import PostgresInstance, stable_port
from support.ses_events import client

from newsletter.store.db import open_database, upgrade
from newsletter.store.tables import ses_events

NEWSLETTER = str(Path(sys.executable).with_name("newsletter"))
OUTAGE = 20.0
SQS_SIM = Path(__file__).resolve().parents[1] / "support" / "sqs_sim.py"


@pytest.fixture
def postgres() -> Iterator[PostgresInstance]:
    server = PostgresInstance()
    server.start()
    try:
        yield server
    finally:
        server.stop()
        server.remove()


class SqsProcess:
    """The SQS simulator in a process of its own on ``port``: killed, every connection dies
    (as when SQS is unreachable), and a new one can take the same port."""

    def __init__(self, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.process = subprocess.Popen(
            [sys.executable, str(SQS_SIM), "--latency", "0", "--port", str(port)],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert self.process.stdout is not None
        assert self.process.stdout.readline().startswith("listening on")
        self.queue = client("sqs", self.url).create_queue(QueueName="events")["QueueUrl"]

    def send(self, body: str) -> None:
        client("sqs", self.url).send_message(QueueUrl=self.queue, MessageBody=body)

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(timeout=30)
        assert self.process.stdout is not None
        self.process.stdout.close()


def bounce(address: str) -> str:
    return json.dumps({
        "eventType": "Bounce",
        "bounce": {"bounceType": "Permanent", "bounceSubType": "General",
                   "bouncedRecipients": [{"emailAddress": address}]},
        "mail": {"messageId": f"ses-{address}", "destination": [address]},
    })


def stored_events(url: str) -> int:
    db = open_database(url)
    try:
        with db.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(ses_events)).scalar_one())
    finally:
        db.close()


def connections(url: str) -> int:
    """Client connections to the database other than this one."""
    db = open_database(url)
    try:
        with db.engine.connect() as conn:
            return int(conn.execute(text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid()")).scalar_one())
    finally:
        db.close()


def wait_for(check: Callable[[], bool], seconds: float, what: str,
             detail: Callable[[], str] = str) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}\n{detail()}"
        time.sleep(0.5)


def test_worker_and_poller_survive_a_postgres_stop_and_an_sqs_outage(
    postgres: PostgresInstance, ses: Any, sample_issue_path: Path, tmp_path: Path
) -> None:
    """PostgreSQL stopped for 20 s (SQS down for the last 10 of them): both processes log
    the outage, stay up, and afterwards the worker sends a campaign and the poller applies
    an event."""
    url = postgres.fresh_database()
    upgrade(url)
    readers = [r for r in subscribe(url, 20) if r.expects_issue]
    port = stable_port()  # the simulator starts again on it after the outage
    sqs = SqsProcess(port)
    queue = sqs.queue
    env = dict(os.environ, NEWSLETTER_DATABASE_URL=url, NEWSLETTER_SQS_QUEUE_URL=queue,
               NEWSLETTER_SQS_ENDPOINT_URL=sqs.url, NEWSLETTER_MAX_SEND_RATE="50",
               NEWSLETTER_IN_DOUBT_POLICY="skip")
    worker_log, poller_log = tmp_path / "worker.log", tmp_path / "poller.log"
    with worker_log.open("wb") as w_out, poller_log.open("wb") as p_out:
        worker = subprocess.Popen([NEWSLETTER, "worker", "--poll", "1"], env=env,
                                  stdout=w_out, stderr=subprocess.STDOUT)
        poller = subprocess.Popen([NEWSLETTER, "events", "poll", "--wait", "1",
                                   "--receivers", "2"], env=env, stdout=p_out,
                                  stderr=subprocess.STDOUT)
    alive = lambda: worker.poll() is None and poller.poll() is None  # noqa: E731
    logs = lambda: worker_log.read_text() + poller_log.read_text()  # noqa: E731
    try:
        # Both have started (each holds a pooled connection) before the outages begin.
        wait_for(lambda: connections(url) >= 2, 60, "the worker and the poller to start")
        sqs.kill()  # SQS first, alone
        time.sleep(8)
        assert alive(), logs()
        sqs = SqsProcess(port)
        postgres.stop()  # then PostgreSQL, with an event waiting to be applied
        sqs.send(bounce("early@x.org"))
        time.sleep(OUTAGE)
        assert alive(), logs()
        postgres.restart()
        sqs.send(bounce(readers[0].email))
        enqueued = subprocess.run([NEWSLETTER, "send", str(sample_issue_path), "--yes",
                                   "--enqueue-only"], env=env, capture_output=True, text=True,
                                  timeout=60)
        assert enqueued.returncode == 0, enqueued.stdout + enqueued.stderr

        wait_for(lambda: stored_events(url) >= 1, 60, "the poller to apply the event", logs)
        wait_for(lambda: all(r["status"] in ("sent", "skipped") for r in delivery_rows(url)),
                 60, "the worker to send the campaign", logs)
        assert alive(), logs()
    finally:
        for process in (worker, poller):
            process.terminate()
            process.wait(timeout=30)
        sqs.kill()

    worker_text, poller_text = worker_log.read_text(), poller_log.read_text()
    assert "worker: the database failed" in worker_text and "trying again in" in worker_text
    assert "worker: the database answers again" in worker_text
    assert "events poll:" in poller_text and "trying again in" in poller_text
    assert "cannot read the SQS queue" in poller_text
    assert "Traceback" not in worker_text + poller_text
    sent = {str(m.parsed()["To"]) for m in ses.messages()}
    assert len(ses.messages()) == len(sent) >= len(readers) - 1
