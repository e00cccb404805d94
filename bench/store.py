"""Store benchmark: importing a subscriber CSV and streaming a big recipient list.

Measures, on fresh SQLite files in a temporary directory:

* import: 100,000 generated subscribers (varied categories and languages, 1 % bad rows,
  0.5 % duplicates) read from a CSV by ``import_csv``, the code behind
  ``newsletter subscribers import``; migrations are applied beforehand and not counted.
  The same file is then imported a second time (everything already present), and the
  parse-and-validate step alone (``read_rows``, no database) is timed for comparison;
* streaming: 1,000,000 active subscribers written with one ``executemany`` (not timed
  as part of the target), then iterated with ``SubscriberStore.list(status="active")`` in a
  fresh child process that reports its peak RSS (``ru_maxrss``) before and after the
  iteration, so neither the generation nor the parent pollutes the figure.

Prints the figures and PASS/FAIL per target, writes them into the "Store" section of
BENCHMARKS.md (not with ``--quick``), and exits 0 whatever the targets say.

Usage: python bench/store.py [--quick] [--no-write]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from report import cpu_model, markers, write_section

from newsletter.store.db import open_database
from newsletter.store.subscribers import SubscriberStore
from newsletter.subscribers.csv_io import import_csv, read_rows

ROOT = Path(__file__).resolve().parent.parent
BEGIN, END = markers("store.py")
STORE_INTRO = (
    "`bench/store.py`: `newsletter subscribers import` and the recipient stream that "
    "delivery reads. The block below is rewritten by each run."
)

IMPORT_ROWS, QUICK_IMPORT_ROWS = 100_000, 10_000
STREAM_ROWS, QUICK_STREAM_ROWS = 1_000_000, 100_000
IMPORT_TARGET_S = 20.0
RSS_TARGET_MB = 200.0
CATEGORIES = ("LG", "CV", "CL", "AS", "RO")
LANGUAGES = ("zh", "en", "both")


def write_csv(path: Path, rows: int, seed: int = 3) -> tuple[int, int]:
    """A subscriber CSV with ``rows`` data rows; returns (bad rows, duplicate rows) in it."""
    rng = random.Random(seed)
    bad = duplicates = 0
    with path.open("w", encoding="utf-8", newline="") as file:
        file.write("email,categories,language\n")
        for i in range(rows):
            roll = rng.random()
            if roll < 0.01:
                email, bad = f"broken{i}.example.org", bad + 1
            elif roll < 0.015 and i:
                email, duplicates = f"Reader{i - 1}@Example{(i - 1) % 97}.org", duplicates + 1
            else:
                email = f"reader{i}@example{i % 97}.org"
            chosen = rng.sample(CATEGORIES, rng.randint(0, 3))
            file.write(f"{email},{' '.join(chosen)},{rng.choice(LANGUAGES)}\n")
    return bad, duplicates


def _open_store(path: Path) -> SubscriberStore:
    """A store on a migrated SQLite file at ``path``."""
    return SubscriberStore(open_database(f"sqlite:///{path}"))


@dataclass(frozen=True)
class ImportFigures:
    rows: int
    bad_in_file: int
    duplicates_in_file: int
    validate_s: float
    first_s: float
    first_summary: str
    second_s: float
    second_summary: str


def measure_import(workdir: Path, rows: int) -> ImportFigures:
    csv_path = workdir / "subscribers.csv"
    bad, duplicates = write_csv(csv_path, rows)
    store = _open_store(workdir / "import.db")

    def timed_import() -> tuple[float, str]:
        start = time.perf_counter()
        with csv_path.open(encoding="utf-8-sig", errors="surrogateescape", newline="") as file:
            report = import_csv(store, file, reason="benchmark")
        return time.perf_counter() - start, report.summary()

    start = time.perf_counter()
    with csv_path.open(encoding="utf-8-sig", newline="") as file:
        for _ in read_rows(file):
            pass
    validate_s = time.perf_counter() - start
    first_s, first_summary = timed_import()
    second_s, second_summary = timed_import()
    return ImportFigures(
        rows, bad, duplicates, validate_s, first_s, first_summary, second_s, second_summary
    )


def populate(path: Path, rows: int) -> float:
    """Write ``rows`` active subscribers straight into a migrated SQLite file; seconds taken."""
    _open_store(path)  # applies the migrations
    start = time.perf_counter()
    created = "2026-01-01 00:00:00.000000"  # SQLAlchemy's DATETIME text format on SQLite

    def values() -> Iterator[tuple[str, str, str, str, str]]:
        for i in range(1, rows + 1):
            cats = ",".join(CATEGORIES[: i % 4])
            yield f"reader{i}@example.com", cats, LANGUAGES[i % 3], created, created

    con = sqlite3.connect(path)
    con.executemany(
        "INSERT INTO subscribers (email, status, categories, language, source, created_at, "
        "updated_at, confirmed_at) VALUES (?, 'active', ?, ?, 'import', ?, ?, NULL)",
        values(),
    )
    con.commit()
    con.close()
    return time.perf_counter() - start


def stream_child(db_path: str) -> None:
    """Run in a child process: iterate the active list and print figures as JSON."""
    store = _open_store(Path(db_path))
    before_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    count = last_id = 0
    for sub in store.list(status="active"):
        # Touch what delivery uses, and check the order while at it.
        assert sub.id > last_id and sub.email
        last_id = sub.id
        count += 1
    elapsed = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"count": count, "seconds": elapsed, "before_mb": before_mb,
                      "peak_mb": peak_mb}))  # fmt: skip


@dataclass(frozen=True)
class StreamFigures:
    rows: int
    populate_s: float
    count: int
    seconds: float
    before_mb: float
    peak_mb: float


def measure_stream(workdir: Path, rows: int) -> StreamFigures:
    db_path = workdir / "stream.db"
    populate_s = populate(db_path, rows)
    child = subprocess.run(
        [sys.executable, __file__, "--stream-child", str(db_path)],
        check=True,
        capture_output=True,
        text=True,
    )
    figures = json.loads(child.stdout)
    return StreamFigures(rows, populate_s, figures["count"], figures["seconds"],
                         figures["before_mb"], figures["peak_mb"])  # fmt: skip


def targets(imp: ImportFigures, stream: StreamFigures) -> list[tuple[str, bool, str]]:
    return [
        (
            f"import {imp.rows:,} rows from CSV <= {IMPORT_TARGET_S:.0f} s",
            imp.first_s <= IMPORT_TARGET_S,
            f"{imp.first_s:.2f} s",
        ),
        (
            f"stream {stream.rows:,} recipients, peak RSS < {RSS_TARGET_MB:.0f} MB",
            stream.peak_mb < RSS_TARGET_MB and stream.count == stream.rows,
            f"{stream.peak_mb:.1f} MB ({stream.count:,} rows)",
        ),
    ]




def report(imp: ImportFigures, stream: StreamFigures) -> str:
    """The generated part of BENCHMARKS.md's Store section."""
    lines = [
        BEGIN,
        f"Measured {dt.datetime.now(dt.UTC).date().isoformat()} on {os.cpu_count()} cores "
        f"({cpu_model()}), Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
        f"a fresh SQLite file (WAL) in the temporary directory; load average "
        f"{os.getloadavg()[0]:.1f} at the end (other jobs on the machine slow the figures).",
        "",
        "| measurement | figure |",
        "|---|---|",
        f"| import {imp.rows:,} CSV rows ({imp.bad_in_file:,} bad, "
        f"{imp.duplicates_in_file:,} duplicates), first run | {imp.first_s:.2f} s "
        f"({imp.rows / imp.first_s:,.0f} rows/s): {imp.first_summary} |",
        f"| · of which parse + validate alone (`read_rows`, no database) | "
        f"{imp.validate_s:.2f} s |",
        f"| the same file again (nothing new) | {imp.second_s:.2f} s: {imp.second_summary} |",
        f"| write {stream.rows:,} subscribers with one executemany (setup) | "
        f"{stream.populate_s:.2f} s |",
        f"| stream {stream.count:,} active subscribers via `SubscriberStore.list` | "
        f"{stream.seconds:.2f} s ({stream.count / stream.seconds:,.0f} rows/s) |",
        f"| · peak RSS of the streaming process, before / after iterating | "
        f"{stream.before_mb:.1f} MB / {stream.peak_mb:.1f} MB |",
        "",
        "| target | result | figures |",
        "|---|---|---|",
    ]
    for name, met, figures in targets(imp, stream):
        lines.append(f"| {name} | {'PASS' if met else 'FAIL'} | {figures} |")
    lines.append(END)
    return "\n".join(lines)



def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="10x fewer rows, for a smoke test")
    parser.add_argument("--no-write", action="store_true", help="do not update BENCHMARKS.md")
    parser.add_argument("--stream-child", metavar="DB", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.stream_child:
        stream_child(args.stream_child)
        return 0
    with tempfile.TemporaryDirectory(prefix="bench-store-") as tmp:
        workdir = Path(tmp)
        imp = measure_import(workdir, QUICK_IMPORT_ROWS if args.quick else IMPORT_ROWS)
        print(f"import: {imp.first_s:.2f} s first run ({imp.first_summary}); "
              f"validate alone {imp.validate_s:.2f} s; "
              f"second run {imp.second_s:.2f} s ({imp.second_summary})")  # fmt: skip
        stream = measure_stream(workdir, QUICK_STREAM_ROWS if args.quick else STREAM_ROWS)
        print(f"stream: {stream.count:,} rows in {stream.seconds:.2f} s, peak RSS "
              f"{stream.before_mb:.1f} MB before, {stream.peak_mb:.1f} MB after; "
              f"setup {stream.populate_s:.2f} s")  # fmt: skip
    print()
    for name, met, figures in targets(imp, stream):
        print(f"{'PASS' if met else 'FAIL'}  {name}: {figures}")
    if args.quick or args.no_write:
        print("(BENCHMARKS.md not updated)")
    else:
        write_section("store.py", "Store", report(imp, stream), STORE_INTRO)
        print("wrote the figures into BENCHMARKS.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
