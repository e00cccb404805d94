"""Benchmark: web sign-ups through the queue in the database (issue 25, item 6; #24 item 15).

A real ``newsletter serve`` on a SQLite file (outbox transport, trusted proxy so each
sign-up comes from its own address), 200 known (active) and 200 new addresses signed up
interleaved, one at a time:

1. the answer time of ``POST /subscribe`` (now one INSERT into ``signup_queue``), median
   and 95th percentile, for known and new addresses apart;
2. the gap between the starts of consecutive sign-ups on the sign-up thread, read from
   the server's log of each sign-up's end: the same slot whatever the address;
3. how long the queue takes to drain (``NEWSLETTER_SIGNUP_SLOT_MS`` each).

There is no target: the figures say what the durable queue costs a sign-up.

    .venv/bin/python bench/signups.py [--count N] [--slot-ms MS]
"""

from __future__ import annotations

import argparse
import itertools
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from newsletter.store.db import open_database, upgrade
from newsletter.store.subscribers import SubscriberStore

NEWSLETTER = str(Path(sys.executable).with_name("newsletter"))
SECRET = "bench-signups-0f3a9c2e7d41b856"


def start(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        process = subprocess.Popen([NEWSLETTER, "serve", "--port", str(port)], env=env,
                                   stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit("serve did not start: " + log.read_text())
        time.sleep(0.1)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=200, help="known and new addresses each")
    parser.add_argument("--slot-ms", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        url = f"sqlite:///{root / 'bench.db'}"
        upgrade(url)
        db = open_database(url)
        store = SubscriberStore(db)
        for n in range(args.count):
            store.add(f"known{n}@example.org", status="active", categories={"LG"})
        db.close()
        port = 18000 + os.getpid() % 1000
        env = dict(os.environ, NEWSLETTER_DATABASE_URL=url, NEWSLETTER_SECRET_KEY=SECRET,
                   NEWSLETTER_OUTBOX_DIR=str(root / "outbox"), NEWSLETTER_TRANSPORT="outbox",
                   NEWSLETTER_BASE_URL=f"http://127.0.0.1:{port}",
                   NEWSLETTER_TRUSTED_PROXIES="127.0.0.1",
                   NEWSLETTER_SIGNUP_SLOT_MS=str(args.slot_ms))
        server = start(env, port, root / "serve.log")
        answers: dict[str, list[float]] = {"known": [], "new": []}
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
                page = client.get("/subscribe")
                token = re.search(r'name="form_token" value="([0-9a-f]{32})"', page.text)
                assert token is not None
                began = time.monotonic()
                for n in range(2 * args.count):
                    kind = "known" if n % 2 == 0 else "new"
                    started = time.perf_counter()
                    response = client.post("/subscribe", headers={
                        "X-Forwarded-For": f"10.{n // 250}.{n % 250}.1"}, data={
                        "form_token": token.group(1), "email": f"{kind}{n // 2}@example.org",
                        "categories": ["LG"], "language": "en"})
                    answers[kind].append((time.perf_counter() - started) * 1000)
                    assert response.status_code == 200, response.text
                outbox = root / "outbox"
                while len(list(outbox.glob("*.eml"))) < args.count:
                    if time.monotonic() - began > 600:
                        raise SystemExit("the queue did not drain in 10 minutes")
                    time.sleep(0.2)
                drained = time.monotonic() - began
        finally:
            server.terminate()
            server.wait(timeout=30)
        ends = [time.mktime(time.strptime(m.group(1), "%Y-%m-%d %H:%M:%S")) + int(m.group(2))
                / 1000 for m in re.finditer(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3}) INFO "
                                            r"web sign-up", (root / "serve.log").read_text())]
    gaps = [b - a for a, b in itertools.pairwise(ends)][1:]
    for kind, values in answers.items():
        print(f"POST /subscribe, {kind} addresses: median {statistics.median(values):.1f} ms, "
              f"p95 {percentile(values, 0.95):.1f} ms")
    if gaps:
        print(f"sign-up thread: {len(ends)} handled, one every {statistics.median(gaps) * 1000:.0f}"
              f" ms (median; slot {args.slot_ms} ms)")
    print(f"{2 * args.count} sign-ups answered and {args.count} confirmations sent in "
          f"{drained:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
