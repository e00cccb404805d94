"""Benchmark: SES events applied per second, through SQS and through the webhook.

Side by side with the send rate of the same machine, since one poller must keep up with
the events of the senders (target: at least 3x one process's send rate), and with memory
over 100,000 events (target: flat).

- ``send``: ``newsletter send`` as a subprocess against ``tests/support/ses_sim.py`` (its own
  process, 50 ms per call, no throttling in reach), SQLite; the "this run" rate it prints.
- ``sqs``: moto's server in its own process; an SQS queue filled with SES Send and Delivery
  events (raw delivery) for a campaign's deliveries, then ``events poll --once`` in this
  process (``run_poller``): long-poll receive of 10, apply, delete; events / wall time.
- ``webhook``: ``newsletter serve`` as a subprocess; 8 client threads POST signed SNS
  envelopes (a test certificate served on loopback); events / wall time.
- ``memory``: 100,000 events through the same pipeline (``Feedback.from_queue`` in batches
  of 10, an in-memory queue, SQLite); RSS of this process after 10,000 and 100,000.

SQLite always; PostgreSQL too when NEWSLETTER_TEST_POSTGRES_URL is set (a schema of its own).

    .venv/bin/python bench/events.py [--quick]
"""

from __future__ import annotations

import argparse
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
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import httpx
from population import populate
from sqlalchemy import Engine, select, text, update

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from support.delivery import subscribe  # noqa: E402
from support.sns import TOPIC, CertificateServer, notification  # noqa: E402

from newsletter.feedback.apply import Feedback, GroupCommit, SnsVerifier  # noqa: E402
from newsletter.feedback.fetch import pinned_fetcher  # noqa: E402
from newsletter.feedback.sqs import run_poller  # noqa: E402
from newsletter.settings import Settings  # noqa: E402
from newsletter.store.campaigns import CampaignStore  # noqa: E402
from newsletter.store.db import make_engine, open_database, upgrade  # noqa: E402
from newsletter.store.events import EventStore  # noqa: E402
from newsletter.store.tables import deliveries  # noqa: E402

BIN = Path(sys.executable).parent
ISSUE = ROOT / "issues" / "2022-09-07.yaml"
SECRET = "bench-secret-key-0123456789abcdef"
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


def campaign(url: str, readers: int, date: str) -> tuple[Engine, list[tuple[int, str]]]:
    """A campaign of ``readers`` deliveries, all recorded as sent."""
    if not url.startswith("sqlite"):
        upgrade(url)
    engine = open_database(url)
    with engine.connect() as conn:
        empty = conn.execute(text("SELECT count(*) FROM subscribers")).scalar_one() == 0
    if empty and url.startswith("sqlite"):
        populate(engine, readers, varied=False)  # SQLite-only fast path
    elif empty:
        subscribe(url, readers)
    store = CampaignStore(engine)
    started, _ = store.start(date, str(ISSUE), ["CL", "CV", "LG"])
    with engine.begin() as conn:
        conn.execute(update(deliveries).where(deliveries.c.campaign_id == started.id)
                     .values(status="sent", provider_id=deliveries.c.id))
        rows = conn.execute(select(deliveries.c.id, deliveries.c.email)
                            .where(deliveries.c.campaign_id == started.id)).all()
    return engine, [(int(i), str(e)) for i, e in rows]


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


def send_rate(tmp: Path, readers: int) -> float:
    sim = subprocess.Popen([sys.executable, str(ROOT / "tests" / "support" / "ses_sim.py"),
                            "--rate", "100000", "--latency", "0.05"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert sim.stdout is not None
    url = sim.stdout.readline().strip().removeprefix("listening on ")
    db = f"sqlite:///{tmp / 'send.db'}"
    try:
        engine = open_database(db)
        populate(engine, readers, varied=False)
        engine.dispose()
        env = dict(os.environ, **AWS, NEWSLETTER_DATABASE_URL=db, NEWSLETTER_SECRET_KEY=SECRET,
                   NEWSLETTER_TRANSPORT="ses", NEWSLETTER_SES_REGION="us-east-1",
                   NEWSLETTER_SES_ENDPOINT_URL=url, NEWSLETTER_MAX_SEND_RATE="100000",
                   NEWSLETTER_BASE_URL="https://news.example.org",
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


def sqs_rate(url: str, rows: list[tuple[int, str]], count: int) -> tuple[int, float]:
    port = free_port()
    moto = subprocess.Popen([str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(endpoint, timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "moto did not start"
                time.sleep(0.1)
        for key, value in AWS.items():
            os.environ.setdefault(key, value)
        sqs = boto3.session.Session().client("sqs", region_name="us-east-1",
                                             endpoint_url=endpoint)
        queue = sqs.create_queue(QueueName="ses-events")["QueueUrl"]
        settings = Settings(database_url=url, sqs_endpoint_url=endpoint, ses_region="us-east-1")
        # moto scans its whole queue on every receive (0.5 s per call with 2,000 messages
        # waiting), which real SQS does not: fill and drain 500 events at a time, and time
        # only the draining.
        applied, elapsed = 0, 0.0
        pending = list(events(rows, count, "sqs"))
        for start in range(0, len(pending), 500):
            chunk = pending[start:start + 500]
            for first in range(0, len(chunk), 10):
                entries: Any = [{"Id": str(i), "MessageBody": json.dumps(e)}
                                for i, e in enumerate(chunk[first:first + 10])]
                sqs.send_message_batch(QueueUrl=queue, Entries=entries)
            started = time.perf_counter()
            result = run_poller(settings, queue_url=queue, once=True, wait=0)
            elapsed += time.perf_counter() - started
            applied += result.applied
        return applied, applied / elapsed
    finally:
        moto.terminate()
        moto.wait()


# -- webhook --------------------------------------------------------------------------


def webhook_rate(tmp: Path, url: str, rows: list[tuple[int, str]], count: int) -> tuple[int, float]:
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
        bodies = [certs.sign(notification(e, f"wh-{n}"))
                  for n, e in enumerate(events(rows, count, "wh"))]
        local = threading.local()

        def post(body: bytes) -> int:
            if not hasattr(local, "client"):
                local.client = httpx.Client(timeout=30)
            return int(local.client.post(f"{base}/webhooks/ses", content=body).status_code)

        started = time.perf_counter()
        with ThreadPoolExecutor(8) as pool:
            codes = list(pool.map(post, bodies))
        elapsed = time.perf_counter() - started
        assert set(codes) == {200}, set(codes)
        return len(bodies), len(bodies) / elapsed
    finally:
        server.terminate()
        server.wait()
        certs.close()


# -- memory ---------------------------------------------------------------------------


def pipeline_rate(url: str, rows: list[tuple[int, str]], count: int) -> float:
    """Events/s through ``Feedback.from_queue`` alone (batches of 10, no network)."""
    engine = open_database(url)
    feedback = Feedback(EventStore(engine), None)
    bodies = [json.dumps(e) for e in events(rows, count, "pipe")]
    started = time.perf_counter()
    for first in range(0, len(bodies), 10):
        feedback.from_queue(bodies[first:first + 10])
    elapsed = time.perf_counter() - started
    engine.dispose()
    return len(bodies) / elapsed


def webhook_pipeline_rate(url: str, rows: list[tuple[int, str]], count: int) -> float:
    """Events/s through ``Feedback.from_webhook`` from 8 threads (signature verification and
    group commit included, no HTTP): what the webhook costs without the web server."""
    certs = CertificateServer()
    engine = open_database(url)
    try:
        verifier = SnsVerifier(pinned_fetcher(certs.host), frozenset([TOPIC]), certs.host)
        feedback = Feedback(GroupCommit(EventStore(engine)), verifier)
        bodies = [certs.sign(notification(e, f"wp-{n}"))
                  for n, e in enumerate(events(rows, count, "wp"))]
        started = time.perf_counter()
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(feedback.from_webhook, bodies))
        return len(bodies) / (time.perf_counter() - started)
    finally:
        engine.dispose()
        certs.close()


def memory(tmp: Path, count: int) -> list[tuple[int, float]]:
    engine, rows = campaign(f"sqlite:///{tmp / 'memory.db'}", count // 2 + 10, "2022-09-08")
    feedback = Feedback(EventStore(engine), None)
    marks: list[tuple[int, float]] = [(0, rss_mb())]
    batch: list[str] = []
    done = 0
    for event in events(rows, count, "mem"):
        batch.append(json.dumps(event))
        if len(batch) == 10:
            feedback.from_queue(batch)
            done += len(batch)
            batch = []
            if done in (10_000, count // 2, count):
                marks.append((done, rss_mb()))
    engine.dispose()
    return marks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--quick", action="store_true", help="fewer events and readers")
    args = parser.parse_args()
    readers, count = (1000, 2000) if args.quick else (3000, 6000)
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        sending = send_rate(tmp, readers)
        print(f"send rate (one process, SQLite, 50 ms SES): {sending:,.0f} msg/s", flush=True)
        table = []
        with databases(tmp) as urls:
            for label, url in urls:
                engine, rows = campaign(url, readers, "2022-09-07")
                engine.dispose()
                pipe = pipeline_rate(url, rows, count)
                n_sqs, sqs = sqs_rate(url, rows, count)
                n_wh, wh = webhook_rate(tmp, url, rows, count // 2)
                wpipe = webhook_pipeline_rate(url, rows, count // 2)
                table.append((label, n_sqs, sqs, n_wh, wh, pipe, wpipe))
                print(f"{label}: pipeline {pipe:,.0f}/s; sqs {n_sqs:,} events {sqs:,.0f}/s; "
                      f"webhook {n_wh:,} events {wh:,.0f}/s", flush=True)
        marks = memory(tmp, 20_000 if args.quick else 100_000)
    print()
    print("| database | path | events | events/s | x send rate |")
    print("|---|---|---:|---:|---:|")
    for label, n_sqs, sqs, n_wh, wh, pipe, wpipe in table:
        print(f"| {label} | pipeline alone (batches of 10) | {count:,} | {pipe:,.0f} | "
              f"{pipe / sending:.1f}x |")
        print(f"| {label} | SQS (`events poll`, moto) | {n_sqs:,} | {sqs:,.0f} | "
              f"{sqs / sending:.1f}x |")
        print(f"| {label} | webhook (8 clients) | {n_wh:,} | {wh:,.0f} | {wh / sending:.1f}x |")
        print(f"| {label} | webhook pipeline alone (8 threads, no HTTP) | {n_wh:,} | "
              f"{wpipe:,.0f} | {wpipe / sending:.1f}x |")
    print()
    print("memory (RSS of the applying process): " + ", ".join(
        f"{n:,} events: {mb:.1f} MB" for n, mb in marks))
    best = min(min(sqs, wh) for _, _, sqs, _, wh, _, _ in table)
    growth = marks[-1][1] - marks[1][1]
    print()
    print(f"target >= 3x send rate ({3 * sending:,.0f}/s), slowest path: {best:,.0f}/s: "
          f"{'PASS' if best >= 3 * sending else 'FAIL'}")
    print(f"target memory flat (10,000 -> {marks[-1][0]:,} events): {growth:+.1f} MB: "
          f"{'PASS' if growth < 20 else 'FAIL'}")


if __name__ == "__main__":
    main()
