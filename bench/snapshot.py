"""Benchmark: a 1,000,000-subscriber campaign on SQLite - the snapshot, and peak memory.

1. Snapshot: 1,000,000 varied subscribers (bench/population.py: languages, chosen
   categories, statuses, suppressions) are written with executemany, then the campaign
   for the sample issue is started with ``CampaignStore.start``, which snapshots every
   recipient into ``deliveries`` in one transaction. Timed: that call. The number of
   deliveries is checked against an independent count of who should get the issue.
2. Peak memory: in a fresh subprocess the delivery engine works through all the queued
   deliveries of that campaign (claim, build each message, hand it to a transport that
   does nothing, record) and reports its peak RSS (``ru_maxrss``).

Targets (issue #4): snapshot <= 30 s; peak RSS < 300 MB. Prints PASS/FAIL, exits 0.

    .venv/bin/python bench/snapshot.py [--quick] [--count N]
"""

from __future__ import annotations

import argparse
import itertools
import json
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from population import expected_recipients, populate

from newsletter import wiring
from newsletter.issues.loader import load_issue
from newsletter.settings import Settings
from newsletter.store.campaigns import CampaignStore
from newsletter.store.db import Database, make_engine, upgrade

HERE = Path(__file__).resolve().parent
SAMPLE = HERE.parent / "issues" / "2022-09-07.yaml"
SNAPSHOT_TARGET = 30.0  # seconds
RSS_TARGET = 300.0  # MB
SECRET = "bench-secret-key-d16bb18bbb62a2f8d659657d"


def snapshot(url: str, count: int, varied: bool = True) -> tuple[float, int, int]:
    """Populate ``count`` subscribers, start the campaign; (seconds, deliveries, expected)."""
    issue = load_issue(SAMPLE)
    categories = {paper.category for paper in issue.papers}
    upgrade(url)
    db = Database(make_engine(url))
    started = time.perf_counter()
    populate(db.engine, count, varied=varied)
    print(f"  {count:,} subscribers written in {time.perf_counter() - started:.1f} s", flush=True)
    store = CampaignStore(db)
    started = time.perf_counter()
    campaign, created = store.start(issue.date.isoformat(), str(SAMPLE), categories)
    elapsed = time.perf_counter() - started
    assert created, "the campaign existed before the snapshot"
    db.close()
    return elapsed, campaign.total, expected_recipients(count, categories, varied=varied)


class NullTransport:
    """Accepts every message at once and keeps nothing: only our own costs remain."""

    name = "null"

    def __init__(self) -> None:
        self._ids = itertools.count(1)

    def send(self, raw: bytes, to: str) -> str:
        return f"null-{next(self._ids)}"


def memory_child(url: str, seconds: float) -> None:
    """Run the engine over the campaign in ``url``; print JSON with the peak RSS.

    Runs until the campaign is done or ``seconds`` have passed (then stops cleanly).
    """
    settings = Settings(
        database_url=url,
        secret_key=SECRET,
        base_url="https://news.example.org",
        max_send_rate=1e9,  # no pacing: the null transport has no rate to respect
    )
    stop = threading.Event()
    timer = threading.Timer(seconds, stop.set)
    timer.daemon = True
    timer.start()
    started = time.perf_counter()
    with wiring.campaigns(settings, NullTransport()) as campaigns:
        summary = campaigns.send(campaigns.plan(str(SAMPLE)), stop=stop)
    elapsed = time.perf_counter() - started
    timer.cancel()
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kilobytes on Linux
    print(json.dumps({
        "outcome": summary.outcome,
        "sent": summary.counts.sent,
        "total": summary.counts.total,
        "seconds": elapsed,
        "concurrency": summary.concurrency,
        "peak_rss_mb": peak_kb / 1024,
    }))


def memory(url: str, seconds: float) -> dict[str, float]:
    """Peak RSS of a fresh process that sends the campaign in ``url`` (see memory_child)."""
    result = subprocess.run(
        [sys.executable, __file__, "--memory-child", url, "--seconds", str(seconds)],
        capture_output=True, text=True, check=False, timeout=seconds + 600,
    )
    if result.returncode != 0:
        raise RuntimeError(f"the memory run failed: {result.stderr.strip()[-2000:]}")
    figures: dict[str, float] = json.loads(result.stdout.strip().splitlines()[-1])
    return figures


def report_snapshot(label: str, count: int, seconds: float, total: int, expected: int) -> None:
    print(f"  {label}: snapshot of {total:,} deliveries in {seconds:.1f} s "
          f"({total / seconds:,.0f} rows/s)")
    scaled = seconds * 1_000_000 / count
    note = "" if count == 1_000_000 else f" ({scaled:.1f} s scaled to 1,000,000)"
    print(f"{'PASS' if scaled <= SNAPSHOT_TARGET else 'FAIL'} snapshot, {label}: "
          f"{seconds:.1f} s{note} (target <= {SNAPSHOT_TARGET:.0f} s)")
    print(f"{'PASS' if total == expected else 'FAIL'} snapshot, {label}: {total:,} deliveries, "
          f"{expected:,} expected by an independent count")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100,000 subscribers")
    parser.add_argument("--count", type=int, default=None, help="number of subscribers")
    parser.add_argument("--seconds", type=float, default=900.0,
                        help="stop the memory run after this long (default 900)")
    parser.add_argument("--memory-child", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_child:
        memory_child(args.memory_child, args.seconds)
        return 0
    count = args.count or (100_000 if args.quick else 1_000_000)
    print(f"campaign snapshot on SQLite, {count:,} subscribers", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-snapshot-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'varied.db'}"
        report_snapshot("varied list", count, *snapshot(url, count, varied=True))
        Path(tmp, "varied.db").unlink()
        url = f"sqlite:///{Path(tmp) / 'everyone.db'}"
        report_snapshot("everyone gets it", count, *snapshot(url, count, varied=False))
        print(f"  sending the {count:,} deliveries through a null transport in a fresh "
              f"process (at most {args.seconds:.0f} s)", flush=True)
        figures = memory(url, args.seconds)
    sent, total, rss = int(figures["sent"]), int(figures["total"]), figures["peak_rss_mb"]
    print(f"  {sent:,} of {total:,} sent in {figures['seconds']:.1f} s "
          f"({sent / figures['seconds']:,.0f}/s, {figures['concurrency']} threads, "
          f"outcome {figures['outcome']}); peak RSS {rss:.0f} MB")
    partial = "" if sent == total else f" (only {sent:,} of {total:,} sent: not a full run)"
    print(f"{'PASS' if rss < RSS_TARGET and sent == total else 'FAIL'} memory: peak RSS "
          f"{rss:.0f} MB over {sent:,} messages{partial} (target < {RSS_TARGET:.0f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
