"""The desk with a million readers in PostgreSQL: how fast each page answers.

A fresh schema in the PostgreSQL at ``--database-url`` (default: NEWSLETTER_TEST_POSTGRES_URL)
gets ``--readers`` subscribers (varied statuses, languages and categories, one sign-up event
each, 1% suppressed), and one sent campaign with a delivery for every active reader. A real
``newsletter serve`` process answers; an editor's session is made in the database (as the
sign-in link would make it) and every desk page is requested ``--requests`` times in turn
over one keep-alive connection. Targets (issue 16): every page p95 <= 150 ms, a reader search
<= 100 ms, the dashboard <= 200 ms.

    .venv/bin/python bench/desk.py                 # 1,000,000 readers, writes BENCHMARKS.md
    .venv/bin/python bench/desk.py --quick         # 20,000 readers, nothing written
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from sqlalchemy import text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from newsletter.store.db import make_engine, open_database, upgrade  # noqa: E402
from newsletter.store.desk import DeskStore  # noqa: E402

EDITOR = "bench-editor@example.org"
SECRET = "bench-desk-6575ce8abfacfa18ca38aab3e67aceac"
STATUSES = ("active",) * 90 + ("unsubscribed",) * 5 + ("pending",) * 3 + ("bounced",) * 2
CATEGORIES = ("LG", "CV", "CL", "AS", "RO")
LANGUAGES = ("zh", "en", "both")
CREATED = "2022-09-01 00:00:00+00"
TARGETS = {"dashboard": 200.0, "search": 100.0, "page": 150.0}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def fresh_schema(base: str) -> tuple[str, str]:
    """A new empty schema in the server at ``base``; (its URL, its name)."""
    schema = f"bench_desk_{uuid.uuid4().hex[:10]}"
    admin = make_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3D{schema}", schema


def drop_schema(base: str, schema: str) -> None:
    admin = make_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def populate(url: str, readers: int) -> tuple[int, int]:
    """Readers, their sign-up events, suppressions, one done campaign with its deliveries.

    Returns (the campaign's id, a reader id to open). COPY, not INSERTs: a million rows in
    seconds.
    """
    rng = random.Random(7)
    engine = make_engine(url)
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        subs = io.StringIO()
        events = io.StringIO()
        suppressions = io.StringIO()
        active: list[tuple[int, str, str]] = []
        for i in range(1, readers + 1):
            email = f"reader{i}@example.com"
            status = rng.choice(STATUSES)
            chosen = "" if rng.random() < 0.5 else ",".join(sorted(rng.sample(CATEGORIES, 2)))
            language = rng.choice(LANGUAGES)
            subs.write(f"{i}\t{email}\t{status}\t{chosen}\t{language}\timport\t{CREATED}\t"
                       f"{CREATED}\t{CREATED}\n")
            events.write(f"{i}\tsubscribed\t\\N\t{status}\timport\t{CREATED}\n")
            if status == "active":
                active.append((i, email, f"{language}:*"))
            if status == "bounced" or (status == "active" and rng.random() < 0.01):
                suppressions.write(f"h{i}\t{email}\tbounce\t\t{CREATED}\n")
        for buffer, sql in (
            (subs, "COPY subscribers (id, email, status, categories, language, source, "
                   "created_at, updated_at, confirmed_at) FROM STDIN"),
            (events, "COPY subscriber_events (subscriber_id, kind, old_status, new_status, "
                     "reason, created_at) FROM STDIN"),
            (suppressions, "COPY suppressions (email_hash, email, reason, detail, created_at) "
                           "FROM STDIN"),
        ):
            buffer.seek(0)
            with cursor.copy(sql) as copy:  # type: ignore[attr-defined]
                copy.write(buffer.read())
        cursor.execute("SELECT setval(pg_get_serial_sequence('subscribers', 'id'), %s)",
                       (readers,))
        cursor.execute(
            "INSERT INTO campaigns (issue_date, issue_path, status, paused_reason, total, "
            "created_at, finished_at, content_sha256) VALUES ('2022-09-07', "
            "'issues/2022-09-07.yaml', 'done', '', %s, %s, %s, '') RETURNING id",
            (len(active), CREATED, CREATED),
        )
        campaign_id = int(cursor.fetchone()[0])
        deliveries = io.StringIO()
        for n, (sid, _email, variant) in enumerate(active):
            status = "failed" if n % 997 == 0 else "sent"
            deliveries.write(f"{campaign_id}\t{sid}\t{variant}\t{status}\t1\t"
                             f"{CREATED}\t\\\\x00{f'ses-{sid}'.encode().hex()}\n")  # packed
        deliveries.seek(0)
        with cursor.copy("COPY deliveries (campaign_id, subscriber_id, variant, status, "  # type: ignore[attr-defined]
                         "attempts, sent_at, provider_id) FROM STDIN") as copy:
            copy.write(deliveries.read())
        cursor.execute("ANALYZE")
        raw.commit()
    finally:
        raw.close()
        engine.dispose()
    return campaign_id, active[len(active) // 2][0]


def serve(url: str, tmp: Path, port: int) -> subprocess.Popen[bytes]:
    issues = tmp / "issues"
    issues.mkdir()
    shutil.copy(ROOT / "issues" / "2022-09-07.yaml", issues)
    env = {
        **os.environ,
        "NEWSLETTER_DATABASE_URL": url,
        "NEWSLETTER_BASE_URL": f"http://127.0.0.1:{port}",
        "NEWSLETTER_SECRET_KEY": SECRET,
        "NEWSLETTER_EDITORS": EDITOR,
        "NEWSLETTER_ISSUES_DIR": str(issues),
        "NEWSLETTER_OUTBOX_DIR": str(tmp / "outbox"),
        "NEWSLETTER_TRANSPORT": "outbox",
    }
    command = [str(Path(sys.executable).parent / "newsletter"), "serve", "--port", str(port),
               "--no-access-log"]
    return subprocess.Popen(command, env=env, cwd=tmp, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def time_pages(base: str, cookie: str, pages: dict[str, str], requests: int
               ) -> dict[str, list[float]]:
    timings: dict[str, list[float]] = {name: [] for name in pages}
    with httpx.Client(base_url=base, timeout=60, cookies={"nl_desk": cookie},
                      follow_redirects=False) as client:
        for _ in range(300):
            try:
                if client.get("/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        for path in pages.values():  # one warm-up each
            answer = client.get(path)
            assert answer.status_code == 200, (path, answer.status_code, answer.text[:300])
        for _ in range(requests):
            for name, path in pages.items():
                started = time.perf_counter()
                answer = client.get(path)
                timings[name].append((time.perf_counter() - started) * 1000)
                assert answer.status_code == 200, (path, answer.status_code)
    return timings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readers", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=40, help="timed GETs a page")
    parser.add_argument("--quick", action="store_true", help="20,000 readers, 10 requests")
    parser.add_argument("--database-url", default=os.environ.get("NEWSLETTER_TEST_POSTGRES_URL"))
    parser.add_argument("--no-write", action="store_true", help="leave BENCHMARKS.md alone")
    args = parser.parse_args(argv)
    if args.quick:
        args.readers, args.requests, args.no_write = 20_000, 10, True
    if not args.database_url:
        parser.error("no PostgreSQL: pass --database-url or set NEWSLETTER_TEST_POSTGRES_URL")
    url, schema = fresh_schema(args.database_url)
    tmp = Path(tempfile.mkdtemp(prefix="bench-desk-"))
    server = None
    try:
        upgrade(url)
        started = time.perf_counter()
        campaign_id, reader_id = populate(url, args.readers)
        print(f"populated {args.readers:,} readers in {time.perf_counter() - started:.1f} s")
        db = open_database(url)
        cookie = DeskStore(db).new_session(EDITOR)
        db.close()
        port = free_port()
        server = serve(url, tmp, port)
        pages = {
            "dashboard": "/admin/",
            "issues": "/admin/issues",
            "campaigns": "/admin/campaigns",
            "campaign": f"/admin/campaigns/{campaign_id}",
            "campaign progress": f"/admin/campaigns/{campaign_id}/progress",
            "readers": "/admin/subscribers",
            "search: exact address": f"/admin/subscribers?q=reader{reader_id}@example.com",
            "search: address prefix": "/admin/subscribers?q=reader12345",
            "search: status and category": "/admin/subscribers?status=unsubscribed&category=CV",
            "search: address contains": "/admin/subscribers?q=eader4321&match=contains",
            "reader": f"/admin/subscribers/{reader_id}",
            "suppressions": "/admin/suppressions",
            "audit log": "/admin/audit",
        }
        timings = time_pages(f"http://127.0.0.1:{port}", cookie, pages, args.requests)
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=10)
        shutil.rmtree(tmp, ignore_errors=True)
        drop_schema(args.database_url, schema)
    rows = []
    failed = False
    for name, values in timings.items():
        target = (TARGETS["dashboard"] if name == "dashboard"
                  else TARGETS["search"] if name.startswith("search") else TARGETS["page"])
        p50, p95 = percentile(values, 0.5), percentile(values, 0.95)
        ok = p95 <= target
        failed |= not ok
        rows.append(f"| {name} | {p50:.1f} | {p95:.1f} | {target:.0f} | {'ok' if ok else 'FAIL'} |")
    table = "\n".join(["| page | p50 ms | p95 ms | target p95 ms | |", "|---|---:|---:|---:|---|",
                       *rows])
    print(table)
    if not args.no_write:
        write_section(table, args.readers, args.requests)
    return 1 if failed else 0


def write_section(table: str, readers: int, requests: int) -> None:
    path = ROOT / "BENCHMARKS.md"
    old = path.read_text("utf-8")
    head = "## The desk"
    body = (
        f"{head}\n\n`bench/desk.py`, {dt.date.today().isoformat()}: {readers:,} readers in "
        f"PostgreSQL (one sign-up event each, a sent campaign with a delivery per active "
        f"reader), a real `newsletter serve`, {requests} timed GETs a page over one "
        "keep-alive connection, on this 2-core machine.\n\n" + table + "\n"
    )
    if head in old:
        start = old.index(head)
        end = old.find("\n## ", start + len(head))
        new = old[:start] + body + (old[end:] if end >= 0 else "")
    else:
        new = old.rstrip() + "\n\n" + body
    path.write_text(new, "utf-8")


if __name__ == "__main__":
    raise SystemExit(main())
