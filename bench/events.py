"""Benchmark: SES events applied per second, through SQS and through the webhook.

Side by side with the send rate of the same machine, since one poller must keep up with
the events of the senders (target: at least 3x one process's send rate), and with memory
over 100,000 events (target: flat).

- ``send``: ``newsletter send`` as a subprocess against ``tests/support/ses_sim.py`` (its own
  process, 50 ms per call, no throttling in reach), SQLite; the "this run" rate it prints.
- ``sqs``: an SQS queue filled with SES Send and Delivery events (raw delivery) for a
  campaign's deliveries, then ``events poll --once`` in this process (``poll``: 8
  receivers long-poll, one thread applies what they received, deletes in other threads);
  events / wall time. Against two servers, each in its own process:
  ``tests/support/sqs_sim.py``, each call 20 ms whatever the queue holds, as SQS answers
  (and 50 ms, a distant queue, reported only); and moto's server, which is right but
  scans its whole queue on every call (0.4 s per receive with 500 messages waiting), so
  that figure measures moto.
- ``webhook``: ``newsletter serve`` as a subprocess; signed SNS envelopes (a test
  certificate served on loopback) POSTed over 8 and 32 keep-alive connections by a lean
  asyncio client in this process (SNS delivers concurrently); events / wall time.
- ``memory``: 100,000 events through the same poller (``poll``: receivers, grouping,
  deletes) from an in-memory queue that makes each event as it is received, SQLite; RSS
  of this process after 10,000, 50,000 and 100,000 were applied and deleted.

SQLite always; PostgreSQL too when NEWSLETTER_TEST_POSTGRES_URL is set (a schema of its own).

    .venv/bin/python bench/events.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import httpx
from population import populate
from sqlalchemy import bindparam, select, text, update

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from support.delivery import subscribe  # noqa: E402
from support.sns import TOPIC, CertificateServer, notification  # noqa: E402

from newsletter import wiring  # noqa: E402
from newsletter.feedback.apply import Feedback, SnsVerifier, WebhookIntake  # noqa: E402
from newsletter.feedback.fetch import pinned_fetcher  # noqa: E402
from newsletter.feedback.sqs import QueueMessage, poll  # noqa: E402
from newsletter.settings import Settings  # noqa: E402
from newsletter.store.campaigns import CampaignStore  # noqa: E402
from newsletter.store.db import Database, make_engine, open_database, upgrade  # noqa: E402
from newsletter.store.events import EventStore  # noqa: E402
from newsletter.store.tables import deliveries, subscribers  # noqa: E402

BIN = Path(sys.executable).parent
ISSUE = ROOT / "issues" / "2022-09-07.yaml"
SECRET = "bench-secret-key-d16bb18bbb62a2f8d659657d"
SQS_LATENCY = 0.02  # seconds per call of the simulated SQS (judged)
SLOW_SQS_LATENCY = 0.05  # a distant queue (reported)
RECEIVERS = 8
AWS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
       "AWS_DEFAULT_REGION": "us-east-1"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        pages = int(handle.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


@contextmanager
def databases(tmp: Path) -> Iterator[list[tuple[str, str]]]:
    urls = [("SQLite", f"sqlite:///{tmp / 'events.db'}")]
    base = os.environ.get("NEWSLETTER_TEST_POSTGRES_URL")
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = make_engine(base) if base else None
    if admin is not None:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        sep = "&" if "?" in str(base) else "?"
        urls.append(("PostgreSQL", f"{base}{sep}options=-csearch_path%3D{schema}"))
    try:
        yield urls
    finally:
        if admin is not None:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()


def settle(url: str) -> None:
    """Between two measured paths: PostgreSQL vacuums and analyses what the previous path
    wrote (else autovacuum would run during the next one, on the same two cores); SQLite
    checkpoints its write-ahead log."""
    engine = make_engine(url)
    try:
        if engine.dialect.name == "postgresql":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE"))
        else:
            with engine.connect() as conn:
                conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    finally:
        engine.dispose()


def campaign(url: str, readers: int, date: str) -> tuple[Database, list[tuple[int, str]]]:
    """A campaign of ``readers`` deliveries, all recorded as sent."""
    if not url.startswith("sqlite"):
        upgrade(url)
    db = open_database(url)
    with db.engine.connect() as conn:
        empty = conn.execute(text("SELECT count(*) FROM subscribers")).scalar_one() == 0
    if empty and url.startswith("sqlite"):
        populate(db.engine, readers, varied=False)  # SQLite-only fast path
    elif empty:
        subscribe(url, readers)
    store = CampaignStore(db)
    started, _ = store.start(date, str(ISSUE), ["CL", "CV", "LG"])
    with db.engine.begin() as conn:
        rows = conn.execute(select(deliveries.c.id, subscribers.c.email)  # the reader's
                            .join_from(deliveries, subscribers,
                                       subscribers.c.id == deliveries.c.subscriber_id)
                            .where(deliveries.c.campaign_id == started.id)).all()
        # SES's message id is stored packed (issue 17's MessageId): written through its type.
        conn.execute(update(deliveries).where(deliveries.c.id == bindparam("b_id"))
                     .values(status="sent", provider_id=bindparam(
                         "b_mid", type_=deliveries.c.provider_id.type)),
                     [{"b_id": i, "b_mid": str(i)} for i, _ in rows])
    return db, [(int(i), str(e)) for i, e in rows]


def events(rows: list[tuple[int, str]], count: int, salt: str) -> Iterator[dict[str, Any]]:
    """``count`` distinct SES events (Send, then Delivery) naming the deliveries by tag."""
    n = 0
    while True:
        for kind in ("Send", "Delivery"):
            for delivery_id, email in rows:
                if n >= count:
                    return
                n += 1
                event: dict[str, Any] = {
                    "eventType": kind,
                    "mail": {"timestamp": "2022-09-07T06:00:00.000Z",
                             "messageId": f"{salt}-{delivery_id}-{n}",
                             "destination": [email],
                             "tags": {"nl_delivery": [str(delivery_id)]}},
                }
                if kind == "Delivery":
                    event["delivery"] = {"timestamp": "2022-09-07T06:00:01.000Z",
                                         "recipients": [email], "smtpResponse": "250 ok"}
                else:
                    event["send"] = {}
                yield event


# -- send rate ------------------------------------------------------------------------


def send_rate(tmp: Path, readers: int, bulk: bool = True) -> float:
    """One `newsletter send`'s msg/s to ``readers`` through the SES simulator: the bulk
    path (50 readers a call, the default) or, ``bulk=False``, one SendEmail a reader."""
    sim = subprocess.Popen([sys.executable, str(ROOT / "tests" / "support" / "ses_sim.py"),
                            "--rate", "100000", "--latency", "0.05"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert sim.stdout is not None
    url = sim.stdout.readline().strip().removeprefix("listening on ")
    db_url = f"sqlite:///{tmp / ('send.db' if bulk else 'send-single.db')}"
    try:
        db = open_database(db_url)
        populate(db.engine, readers, varied=False)
        db.close()
        env = dict(os.environ, **AWS, NEWSLETTER_DATABASE_URL=db_url, NEWSLETTER_SECRET_KEY=SECRET,
                   NEWSLETTER_TRANSPORT="ses", NEWSLETTER_SES_REGION="us-east-1",
                   NEWSLETTER_SES_ENDPOINT_URL=url, NEWSLETTER_MAX_SEND_RATE="100000",
                   NEWSLETTER_BASE_URL="https://news.example.org",
                   NEWSLETTER_SES_BULK="true" if bulk else "false",
                   AWS_CONFIG_FILE=str(tmp / "none"), AWS_SHARED_CREDENTIALS_FILE=str(tmp / "n"))
        done = subprocess.run([str(BIN / "newsletter"), "send", str(ISSUE), "--yes"], env=env,
                              capture_output=True, text=True, timeout=600, cwd=tmp)
        found = re.search(r"this run: ([\d,]+) sent.* in ([\d.]+) s", done.stdout)
        assert found, done.stdout + done.stderr
        return int(found.group(1).replace(",", "")) / float(found.group(2))
    finally:
        sim.terminate()
        sim.wait()
        sim.stdout.close()


# -- SQS ------------------------------------------------------------------------------


@contextmanager
def sqs_server(kind: str, latency: float) -> Iterator[str]:
    """The endpoint URL of an SQS server in its own process: the simulator or moto."""
    if kind == "sim":
        server = subprocess.Popen([sys.executable, str(ROOT / "tests" / "support" / "sqs_sim.py"),
                                   "--latency", str(latency)],
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert server.stdout is not None
        endpoint = server.stdout.readline().strip().removeprefix("listening on ")
    else:
        port = free_port()
        server = subprocess.Popen([str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(endpoint, timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, f"{kind} did not start"
                time.sleep(0.1)
        yield endpoint
    finally:
        server.terminate()
        server.wait()
        if server.stdout is not None:
            server.stdout.close()


def sqs_rate(kind: str, url: str, rows: list[tuple[int, str]], count: int,
             receivers: int = RECEIVERS, latency: float = SQS_LATENCY) -> tuple[int, float]:
    """Events/s drained from an SQS queue as ``events poll --once`` drains it."""
    with sqs_server(kind, latency) as endpoint:
        for key, value in AWS.items():
            os.environ.setdefault(key, value)
        sqs = boto3.session.Session().client("sqs", region_name="us-east-1",
                                             endpoint_url=endpoint)
        queue = sqs.create_queue(QueueName="ses-events")["QueueUrl"]
        settings = Settings(database_url=url, sqs_endpoint_url=endpoint, ses_region="us-east-1")
        # moto scans its whole queue on every call, which SQS does not: through moto the
        # queue is filled and drained 500 events at a time (only the draining is timed);
        # the simulator takes everything at once.
        step = 500 if kind == "moto" else count
        applied, elapsed = 0, 0.0
        pending = list(events(rows, count, f"sqs-{kind}-{latency}"))
        for start in range(0, len(pending), step):
            chunk = pending[start:start + step]
            for first in range(0, len(chunk), 10):
                entries: Any = [{"Id": str(i), "MessageBody": json.dumps(e)}
                                for i, e in enumerate(chunk[first:first + 10])]
                sqs.send_message_batch(QueueUrl=queue, Entries=entries)
            started = time.perf_counter()
            sqs_queue = wiring.sqs_queue(settings, queue)
            with wiring.database(settings) as db:
                result = poll(sqs_queue, wiring.feedback(settings, db), once=True, wait=0,
                              receivers=receivers)
            elapsed += time.perf_counter() - started
            applied += result.applied
        return applied, applied / elapsed


# -- webhook --------------------------------------------------------------------------


async def post_all(port: int, path: str, bodies: list[bytes],
                   connections: int) -> tuple[list[int], float]:
    """POST every body over ``connections`` keep-alive connections, one request in flight
    on each (as SNS does); the status codes and the wall time. A lean client on purpose:
    an HTTP library's per-request work would compete for these two cores with the server
    under test."""
    requests = iter(bodies)
    codes: list[int] = []

    async def connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for body in requests:
            writer.write(b"POST " + path.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                         b"Content-Type: text/plain; charset=UTF-8\r\n"
                         b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            codes.append(int(head[9:12]))
            length = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
            if length:
                await reader.readexactly(int(length.group(1)))
        writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(connections)))
    return codes, time.perf_counter() - started


def webhook_rate(tmp: Path, url: str, rows: list[tuple[int, str]], count: int,
                 connections: int) -> tuple[int, float]:
    certs = CertificateServer()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(os.environ, NEWSLETTER_DATABASE_URL=url, NEWSLETTER_SECRET_KEY=SECRET,
               NEWSLETTER_BASE_URL=base, NEWSLETTER_SNS_TOPIC_ARNS=TOPIC,
               NEWSLETTER_SNS_CERT_HOST_FOR_TESTS=certs.host)
    server = subprocess.Popen([str(BIN / "newsletter"), "serve", "--port", str(port)], env=env,
                              cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "serve did not start"
            time.sleep(0.1)
        bodies = [certs.sign(notification(e, f"wh-{connections}-{n}"))
                  for n, e in enumerate(events(rows, count, f"wh{connections}"))]
        codes, elapsed = asyncio.run(post_all(port, "/webhooks/ses", bodies, connections))
        assert codes == [200] * len(bodies), set(codes)
        return len(bodies), len(bodies) / elapsed
    finally:
        server.terminate()
        server.wait()
        certs.close()


# -- memory ---------------------------------------------------------------------------


def pipeline_rate(url: str, rows: list[tuple[int, str]], count: int) -> float:
    """Events/s through ``Feedback.from_queue`` alone (batches of 10, no network)."""
    db = open_database(url)
    feedback = Feedback(EventStore(db), None)
    bodies = [json.dumps(e) for e in events(rows, count, "pipe")]
    started = time.perf_counter()
    for first in range(0, len(bodies), 10):
        feedback.from_queue(bodies[first:first + 10])
    elapsed = time.perf_counter() - started
    db.close()
    return len(bodies) / elapsed


def webhook_pipeline_rate(url: str, rows: list[tuple[int, str]], count: int) -> float:
    """Events/s through ``WebhookIntake.receive`` with 8 requests in flight on one event loop
    (verification and group commit included, no HTTP): the webhook without the server."""
    certs = CertificateServer()
    db = open_database(url)
    try:
        verifier = SnsVerifier(pinned_fetcher(certs.host), frozenset([TOPIC]), certs.host)
        intake = WebhookIntake(Feedback(EventStore(db), verifier))
        bodies = [certs.sign(notification(e, f"wp-{n}"))
                  for n, e in enumerate(events(rows, count, "wp"))]

        async def drive() -> float:
            queue = iter(bodies)

            async def requests() -> None:
                for body in queue:
                    await intake.receive(body)

            started = time.perf_counter()
            await asyncio.gather(*(requests() for _ in range(8)))
            return time.perf_counter() - started

        return len(bodies) / asyncio.run(drive())
    finally:
        db.close()
        certs.close()


class GeneratedQueue:
    """An in-memory queue of ``count`` events made as they are received (so the queue itself
    holds nothing); RSS is read as the deletes pass the marks."""

    def __init__(self, rows: list[tuple[int, str]], count: int, marks: set[int]) -> None:
        self._events = events(rows, count, "mem")
        self._lock = threading.Lock()
        self._marks = marks
        self.deleted = 0
        self.rss: list[tuple[int, float]] = [(0, rss_mb())]

    def receive(self, wait_seconds: int) -> list[QueueMessage]:
        with self._lock:
            batch = [QueueMessage(json.dumps(e), "r") for e in itertools.islice(self._events, 10)]
        return batch

    def delete(self, receipts: Sequence[str]) -> None:
        with self._lock:
            before, self.deleted = self.deleted, self.deleted + len(receipts)
            for mark in sorted(self._marks):
                if before < mark <= self.deleted:
                    self.rss.append((mark, rss_mb()))


def memory(tmp: Path, count: int) -> list[tuple[int, float]]:
    """RSS while ``count`` events go through ``poll`` (receivers, grouping, deletes)."""
    db, rows = campaign(f"sqlite:///{tmp / 'memory.db'}", count // 2 + 10, "2022-09-08")
    queue = GeneratedQueue(rows, count, {10_000, count // 2, count})
    result = poll(queue, Feedback(EventStore(db), None), once=True, wait=0)
    assert result.applied == count, result
    db.close()
    return queue.rss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--quick", action="store_true", help="fewer events and readers")
    parser.add_argument("--no-moto", action="store_true", help="skip the SQS path through moto")
    args = parser.parse_args()
    readers, count = (1000, 2000) if args.quick else (3000, 6000)
    # (database, path, events, events/s, judged against the target)
    table: list[tuple[str, str, int, float, bool]] = []

    def row(label: str, path: str, n: int, rate: float, judged: bool) -> None:
        table.append((label, path, n, rate, judged))
        print(f"{label}: {path}: {n:,} events, {rate:,.0f}/s", flush=True)

    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        sending = send_rate(tmp, readers)
        print(f"send rate (one process, SQLite, 50 ms SES): {sending:,.0f} msg/s", flush=True)
        with databases(tmp) as urls:
            for label, url in urls:
                db, rows = campaign(url, readers, "2022-09-07")
                db.close()
                settle(url)
                row(label, "pipeline alone (batches of 10, one thread)", count,
                    pipeline_rate(url, rows, count), False)
                for latency in (SQS_LATENCY, SLOW_SQS_LATENCY):
                    settle(url)
                    n, rate = sqs_rate("sim", url, rows, count, latency=latency)
                    row(label, f"SQS: `events poll`, {RECEIVERS} receivers, simulated SQS "
                        f"({latency * 1000:.0f} ms per call)", n, rate, latency == SQS_LATENCY)
                if not args.no_moto:
                    settle(url)
                    n, rate = sqs_rate("moto", url, rows, count)
                    row(label, f"SQS: `events poll`, {RECEIVERS} receivers, moto's server",
                        n, rate, False)
                for connections in (8, 32):
                    settle(url)
                    n, rate = webhook_rate(tmp, url, rows, count, connections)
                    row(label, f"webhook: `serve`, {connections} connections", n, rate, True)
                settle(url)
                row(label, "webhook pipeline alone (8 in flight, no HTTP)", count // 2,
                    webhook_pipeline_rate(url, rows, count // 2), False)
        marks = memory(tmp, 20_000 if args.quick else 100_000)
    print()
    print("| database | path | events | events/s | x send rate |")
    print("|---|---|---:|---:|---:|")
    for label, path, n, rate, judged in table:
        print(f"| {label} | {path}{'' if judged else ' (not judged)'} | {n:,} | {rate:,.0f} | "
              f"{rate / sending:.1f}x |")
    print()
    print("memory (RSS of the applying process): " + ", ".join(
        f"{n:,} events: {mb:.1f} MB" for n, mb in marks))
    slowest = min((r for r in table if r[4]), key=lambda r: r[3])
    growth = marks[-1][1] - marks[1][1]
    print()
    print(f"target >= 3x send rate ({3 * sending:,.0f}/s), slowest judged path "
          f"({slowest[0]}, {slowest[1]}): {slowest[3]:,.0f}/s: "
          f"{'PASS' if slowest[3] >= 3 * sending else 'FAIL'}")
    print(f"target memory flat (10,000 -> {marks[-1][0]:,} events): {growth:+.1f} MB: "
          f"{'PASS' if growth < 20 else 'FAIL'}")


if __name__ == "__main__":
    main()
