"""Outgoing webhooks (issue 22): what the outbox costs a subscriber change, and how fast one
worker delivers it.

1. **Outbox write**: ``--changes`` status changes (unsubscribe, then confirm again) through
   ``SubscriberStore.set_status``, with no endpoint and with one that takes every event
   (each change then also writes its message in its transaction), in five alternating
   rounds; the median of each.
2. **Delivery**: ``--messages`` messages delivered by ``Webhooks.drain`` (what ``newsletter
   worker`` runs) to a loopback receiver that answers 200, one request at a time, each
   signed (Standard Webhooks) and pinned to its checked address.

On SQLite, and on PostgreSQL when ``--database-url`` or NEWSLETTER_TEST_POSTGRES_URL is set.

    .venv/bin/python bench/webhooks.py            # writes BENCHMARKS.md
    .venv/bin/python bench/webhooks.py --quick    # fewer, nothing written
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
import uuid
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from report import cpu_model, markers, write_section  # noqa: E402
from sqlalchemy import text  # noqa: E402
from support.loopback import LoopbackServer  # noqa: E402

from newsletter.model.subscribers import NewSubscriber  # noqa: E402
from newsletter.model.webhooks import EVENT_TYPES  # noqa: E402
from newsletter.store.db import Database, make_engine, upgrade  # noqa: E402
from newsletter.store.subscribers import SubscriberStore  # noqa: E402
from newsletter.store.webhooks import WebhookStore  # noqa: E402
from newsletter.webhooks.dispatch import Webhooks  # noqa: E402
from newsletter.webhooks.http import HttpPoster  # noqa: E402
from newsletter.webhooks.signing import new_secret  # noqa: E402


class Ok(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def changes_per_second(db: Database, count: int, prefix: str) -> float:
    store = SubscriberStore(db)
    store.add_many([NewSubscriber(f"{prefix}{n}@example.org") for n in range(count // 2)])
    ids = [s.id for s in store.list("active") if s.email.startswith(prefix)]
    started = time.perf_counter()
    for sid in ids:
        store.set_status(sid, "unsubscribed", "bench")
        store.set_status(sid, "active", "bench")
    return 2 * len(ids) / (time.perf_counter() - started)


def compare(db: Database, count: int, receiver: str, rounds: int = 5) -> tuple[float, float]:
    """Changes per second without and with an endpoint, in alternating rounds (the machine
    is shared: its load changes from one minute to the next), the median of each."""
    bare, hooked = [], []
    hooks = WebhookStore(db)
    for n in range(rounds):
        bare.append(changes_per_second(db, count // rounds, f"a{n}-"))
        endpoint = hooks.add(receiver, EVENT_TYPES, new_secret())
        hooked.append(changes_per_second(db, count // rounds, f"b{n}-"))
        hooks.remove(endpoint.id)
    return statistics.median(bare), statistics.median(hooked)


def delivered_per_second(db: Database, count: int, url: str) -> float:
    hooks = WebhookStore(db)
    endpoint = hooks.add(url, EVENT_TYPES, new_secret())
    store = SubscriberStore(db)
    store.add_many([NewSubscriber(f"d{n}@example.org") for n in range(count)])
    sender = Webhooks(hooks, HttpPoster(True, 10.0), lambda: dt.datetime.now(dt.UTC),
                      first_retry=5, timeout=10)
    started = time.perf_counter()
    done = 0
    while (got := sender.drain(200)):
        done += got
    elapsed = time.perf_counter() - started
    assert done >= count, (done, count)
    hooks.remove(endpoint.id)
    return done / elapsed


def run(url: str, changes: int, messages: int, receiver: str) -> tuple[float, float, float]:
    upgrade(url)
    db = Database(make_engine(url))
    try:
        bare, with_hook = compare(db, changes, receiver)
        delivery = delivered_per_second(db, messages, receiver)
    finally:
        db.close()
    return bare, with_hook, delivery


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--changes", type=int, default=3000)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--database-url", default=os.environ.get("NEWSLETTER_TEST_POSTGRES_URL"))
    parser.add_argument("--quick", action="store_true", help="a tenth of the work, no writing")
    args = parser.parse_args()
    changes, messages = (args.changes // 10, args.messages // 10) if args.quick else (
        args.changes, args.messages)
    receiver = LoopbackServer(Ok).start()
    rows = []
    try:
        with tempfile.TemporaryDirectory() as folder:
            found = run(f"sqlite:///{folder}/bench.db", changes, messages, receiver.url)
            rows.append(("SQLite", *found))
        if args.database_url:
            schema = f"bench_{uuid.uuid4().hex[:8]}"
            admin = make_engine(args.database_url)
            with admin.begin() as conn:
                conn.execute(text(f'CREATE SCHEMA "{schema}"'))
            try:
                sep = "&" if "?" in args.database_url else "?"
                url = f"{args.database_url}{sep}options=-csearch_path%3D{schema}"
                rows.append(("PostgreSQL", *run(url, changes, messages, receiver.url)))
            finally:
                with admin.begin() as conn:
                    conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
                admin.dispose()
    finally:
        receiver.stop()
    lines = ["| database | changes/s, no endpoint | changes/s, one endpoint (every event) | "
             "cost | webhooks delivered/s (one worker) |", "|---|---:|---:|---:|---:|"]
    for name, bare, hooked, delivery in rows:
        lines.append(f"| {name} | {bare:,.0f} | {hooked:,.0f} | {100 * (1 - hooked / bare):.0f}% "
                     f"| {delivery:,.0f} |")
    table = "\n".join(lines)
    print(table)
    if not args.quick:
        load = os.getloadavg()[0]
        block = (
            f"`bench/webhooks.py`, {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {changes:,} "
            "subscriber status changes (five alternating rounds without and with an "
            f"endpoint, the median of each) and {messages:,} deliveries per database, on a shared "
            f"2-core machine under load ({cpu_model()}, load average {load:.1f} at the end): "
            "a change with an endpoint writes its message in the same transaction; delivery "
            "is one request at a time to a loopback receiver answering 200. PostgreSQL is the "
            "test instance on loopback (`fsync=off`). The machine was far busier than its two "
            "cores (other benchmarks and test suites), so the absolute figures are low; the "
            "comparison within a row is the measurement.\n\n" + table + "\n"
        )
        begin, end = markers("webhooks.py")
        write_section("webhooks.py", "Webhooks (issue 22)", f"{begin}\n{block}{end}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
