"""What readers did, at scale: the report, the trends, storage and pruning on PostgreSQL.

A fresh schema in the PostgreSQL at ``--database-url`` (default NEWSLETTER_TEST_POSTGRES_URL)
gets, by set-based SQL (``INSERT ... SELECT`` over ``generate_series``; minutes, not hours):

- ``--deliveries`` active readers (1,000,000), each with a sign-up and a confirmation event
  spread over 90 days (2% also unsubscribed), and 90 campaigns, the newest with a sent
  delivery per reader (seven variants; SES-length message ids);
- that campaign's SES events as ``EventStore.apply`` leaves them (``--events``, 3,000,000):
  ``ses_events`` rows with no payload for Send, Delivery, Open and Click, with the JSON
  payload for bounces (2%) and complaints (0.1%); the rolled-up state: each delivery's on
  its ``deliveries`` row, ``campaign_counts`` per variant, ``campaign_links`` per paper and link and
  ``delivery_links`` per reader and link.

Then it times, with the project's own code: ``campaign_report`` (what ``newsletter report
ISSUE`` runs) and ``TrendStore.trends`` over 90 days; measures the bytes of the tables
that hold deliveries and their events, before and after ``EventPruner.prune`` removes the
rows past retention (timed, with its longest batch); shows ``ses_events`` staying flat over
simulated days of events pruned at the retention window; and, through the real SQS path
(``events poll`` against the simulated SQS, as ``bench/events.py``), the rate of applying
Delivery, Open and Click events with the roll-up, beside one sender's rate.

    .venv/bin/python bench/reports.py            # 1,000,000 deliveries, writes BENCHMARKS.md
    .venv/bin/python bench/reports.py --quick    # 50,000 deliveries, nothing written
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from apply_rate import PLANS, Rate, measure  # noqa: E402
from desk import drop_schema, fresh_schema  # noqa: E402
from report import cpu_model, markers, write_section  # noqa: E402

from newsletter.reports.campaign import campaign_report  # noqa: E402
from newsletter.store.campaigns import CampaignStore  # noqa: E402
from newsletter.store.db import make_engine, open_database, upgrade  # noqa: E402
from newsletter.store.packing import pack_payload, worker_key  # noqa: E402
from newsletter.store.prune import EventPruner  # noqa: E402
from newsletter.store.reports import ReportStore  # noqa: E402
from newsletter.store.trends import TrendStore  # noqa: E402

ISSUE = ROOT / "issues" / "2022-09-07.yaml"
FIXTURES = ROOT / "tests" / "fixtures" / "ses"
TARGETS = {"report_s": 2.0, "trends_ms": 500.0, "mb_per_million": 300.0, "apply_x": 3.0}
TABLES = ("deliveries", "delivery_links", "campaign_links",
          "campaign_counts", "reader_actions", "ses_events")
# SES's message id of delivery d (60 characters: 16 hex, a UUID, 6 digits), as hex and text.
HEX = "md5(g::text) || substr(md5('x' || g), 1, 16)"
SES_ID = ("(SELECT substr(h, 1, 16) || '-' || substr(h, 17, 8) || '-' || substr(h, 25, 4)"  # noqa: S608  (our own constants)
          " || '-' || substr(h, 29, 4) || '-' || substr(h, 33, 4) || '-' || substr(h, 37, 12)"
          " || '-000000' FROM (SELECT " + HEX.replace("g", "d.id") + " AS h) x)")
UA = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
      "(KHTML, like Gecko) Mobile/15E148")


def sql(url: str, *statements: str, **params: Any) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            for statement in statements:
                conn.execute(text(statement), params)
    finally:
        engine.dispose()


def vacuum(url: str, table: str = "", full: bool = False) -> None:
    engine = make_engine(url)
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f"VACUUM {'FULL ' if full else ''}ANALYZE {table}"))
    finally:
        engine.dispose()


def without_indexes(url: str, tables: tuple[str, ...]) -> Callable[[], None]:
    """Drop the secondary indexes and unique constraints of ``tables`` (a bulk load builds
    them once at the end, much faster than row by row); returns what puts them back."""
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            names = {"tables": list(tables)}
            constraints = conn.execute(text(
                "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)"
                " FROM pg_constraint WHERE conrelid::regclass::text = ANY(:tables)"
                " AND contype = 'u'"), names).all()
            for table, name, _ in constraints:
                conn.execute(text(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"'))
            indexes = conn.execute(text(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = ANY(:tables)"
                " AND schemaname = current_schema() AND indexname NOT LIKE 'pk_%'"),
                names).all()
            for name, _ in indexes:
                conn.execute(text(f'DROP INDEX "{name}"'))
    finally:
        engine.dispose()

    def restore() -> None:
        sql(url, *(f'ALTER TABLE {t} ADD CONSTRAINT "{name}" {definition}'
                   for t, name, definition in constraints),
            *(definition for _, definition in indexes))

    return restore


def populate(url: str, n: int, total_events: int) -> int:
    """Readers, their history, 90 campaigns, the newest's deliveries and rolled-up events.
    Returns the number of ``ses_events`` rows written."""
    bounce = json.dumps(json.loads((FIXTURES / "event_bounce.json").read_text()),
                        separators=(",", ":"))
    complaint = json.dumps(json.loads((FIXTURES / "event_complaint.json").read_text()),
                           separators=(",", ":"))
    # Per delivery: Send and Delivery (or a bounce); the rest of the events are opens
    # (two thirds; a third of them by machines) and clicks.
    extra = max(0, total_events - 2 * n)
    opens, clicks = extra * 2 // 3, extra - extra * 2 // 3
    restore = without_indexes(url, ("subscribers", "subscriber_events", "deliveries",
                                    "ses_events"))
    sql(url,
        "INSERT INTO subscribers (id, email, status, categories, language, source, created_at,"
        " updated_at, confirmed_at) SELECT g, 'reader' || g || '@example.com', 'active', '',"
        " (ARRAY['zh','en','both'])[1 + g % 3], 'web', now() - (g % 90) * interval '1 day',"
        " now(), now() - (g % 90) * interval '1 day' FROM generate_series(1, :n) g",
        "SELECT setval(pg_get_serial_sequence('subscribers', 'id'), :n)",
        "INSERT INTO subscriber_events (subscriber_id, kind, old_status, new_status, reason,"
        " created_at) SELECT g, 'created', NULL, 'pending', 'web sign-up',"
        " now() - (g % 90) * interval '1 day' - interval '5 minutes'"
        " FROM generate_series(1, :n) g",
        "INSERT INTO subscriber_events (subscriber_id, kind, old_status, new_status, reason,"
        " created_at) SELECT g, 'status', 'pending', 'active', 'confirmed by email link',"
        " now() - (g % 90) * interval '1 day' FROM generate_series(1, :n) g",
        "INSERT INTO subscriber_events (subscriber_id, kind, old_status, new_status, reason,"
        " created_at) SELECT g, 'status', 'active', 'unsubscribed', 'one-click (RFC 8058)',"
        " now() - (g % 89) * interval '1 day' FROM generate_series(1, :n, 50) g",
        "INSERT INTO campaigns (issue_date, issue_path, status, paused_reason, total,"
        " created_at, finished_at, content_sha256) SELECT"
        " to_char(date '2022-09-07' - d, 'YYYY-MM-DD'), :issue, 'done', '', :n,"
        " now() - d * interval '1 day' - interval '2 hours',"
        " now() - d * interval '1 day' - interval '1 hour', '' FROM generate_series(0, 89) d",
        n=n, issue=str(ISSUE))
    # Deliveries sent, with the state the roll-up leaves on them (store/rollup.py) and
    # SES-format message ids (60 characters; stored packed, as MessageId packs them).
    sql(url,
        "INSERT INTO deliveries (id, campaign_id, subscriber_id, variant, status,"  # noqa: S608  (our own constants)
        " attempts, claimed_by, claimed_at, sent_at, provider_id, delivered_at, bounced,"
        " complained, opened_at, machine_opened_at, opens, clicked_at, clicks) SELECT g,"
        " (SELECT id FROM campaigns WHERE issue_date = '2022-09-07'), g,"
        " (ARRAY['both:*','zh:*','en:*','en:CL,LG','zh:CV','both:LG','en:CV'])[1 + g % 7],"
        " 'sent', 1, :worker, now() - interval '2 hours', now() - interval '2 hours',"
        " '\\x01'::bytea || decode(" + HEX + ", 'hex') || '\\x000000'::bytea,"
        " CASE WHEN g % 50 <> 1 THEN now() - interval '2 hours' END,"
        " (g % 50 = 1)::int, (g % 997 = 1)::int,"
        " CASE WHEN g % 3 = 1 THEN now() - interval '1 hour' END,"
        " CASE WHEN g % 7 = 1 THEN now() - interval '2 hours' + interval '30 seconds' END,"
        " (g % 3 = 1)::int + (g % 7 = 1)::int,"
        " CASE WHEN g % 5 = 1 THEN now() - interval '50 minutes' END,"
        " (g % 5 = 1)::int FROM generate_series(1, :n) g",
        "SELECT setval(pg_get_serial_sequence('deliveries', 'id'), :n)", n=n,
        worker=worker_key("ip-172-31-20-145.eu-west-1.compute.internal"[:40] + ":12345:0a1b2c3d"))
    # ses_events as apply() stores them: the key, the delivery, no payload once rolled up.
    # (Rolled-up kinds keep neither SES's message id nor the address: event_rows.py.)
    common = ("INSERT INTO ses_events (event_key, kind, ses_message_id, delivery_id,"  # noqa: S608  (our own constants)
              " campaign_id, email, bounce_type, machine, detail, occurred_at, received_at,"
              " payload) SELECT md5(:salt || g) || md5(g || :salt), :kind,"
              " CASE WHEN :payload <> '' THEN " + SES_ID + " END,"
              " d.id, d.campaign_id,"
              " CASE WHEN :payload <> '' THEN 'reader' || d.id || '@example.com' ELSE '' END,"
              " :bounce_type, :machine, :detail,"
              " now() - interval '40 days', now() - interval '40 days', :payload"
              " FROM generate_series(1, :count) g"
              " JOIN deliveries d ON d.id = 1 + ((g * :step) % :n)")
    written = 0
    for kind, count, step, bounce_type, machine, detail, payload in (
        ("send", n, 1, "", 0, "send", ""),
        ("delivery", n - n // 50, 1, "", 0, "250 2.6.0 Message received", ""),
        ("bounce", n // 50, 50, "Permanent", 0, "Permanent/General: 550 5.1.1", bounce),
        ("complaint", n // 1000, 997, "", 0, "abuse", complaint),
        ("open", opens // 3, 7, "", 1, "Mozilla/5.0", ""),
        ("open", opens - opens // 3, 3, "", 0, UA, ""),
        ("click", clicks, 5, "", 0, "https://arxiv.org/abs/2209.01234", ""),
    ):
        sql(url, common, salt=f"{kind}{machine}", kind=kind, count=count, step=step,
            bounce_type=bounce_type, machine=machine, detail=detail,
            payload=pack_payload(payload), n=n)  # stored compressed, as Payload writes it
        written += count
    restore()
    # The per-link roll-up those events make, as store/rollup.py writes it.
    sql(url,
        "INSERT INTO campaign_links (campaign_id, kind, key, clicks, readers)"
        " SELECT c.id, 'paper', '2209.0' || (1000 + p), 0, 0 FROM campaigns c,"
        " generate_series(1, 30) p WHERE c.issue_date = '2022-09-07'",
        "INSERT INTO delivery_links (delivery_id, link_id, clicks)"
        " SELECT a.id, l.id, 1 FROM deliveries a JOIN campaign_links l"
        " ON l.campaign_id = a.campaign_id AND l.key = '2209.0' || (1000 + a.id % 30)"
        " WHERE a.clicked_at IS NOT NULL",
        "UPDATE campaign_links l SET clicks = s.n, readers = s.n FROM (SELECT link_id,"
        " count(*) n FROM delivery_links GROUP BY link_id) s WHERE s.link_id = l.id",
        "INSERT INTO campaign_counts SELECT a.campaign_id, a.variant,"
        " count(a.delivered_at), sum(a.bounced), sum(a.complained), count(a.opened_at),"
        " count(*) FILTER (WHERE a.opened_at IS NULL AND a.machine_opened_at IS NOT NULL),"
        " count(a.clicked_at), sum(a.opens), sum(a.clicks) FROM deliveries a"
        " GROUP BY a.campaign_id, a.variant",
        "INSERT INTO campaign_counts SELECT c.id, 'both:*', :n - :n / 50, :n / 50, :n / 1000,"
        " :n / 3, :n / 21, :n / 5, :n / 2, :n / 5 FROM campaigns c"
        " WHERE c.issue_date <> '2022-09-07'",
        n=n)
    vacuum(url)
    return written


def timed(call: Callable[[], object], runs: int) -> list[float]:
    call()  # warm: the first run reads pages into the cache
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return times


def sizes(url: str) -> dict[str, int]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return {t: int(conn.execute(text(f"SELECT pg_total_relation_size('{t}')"))
                           .scalar_one()) for t in TABLES}
    finally:
        engine.dispose()


def prune_all(url: str) -> tuple[int, int, float, float]:
    """The events (received 40 days ago) pruned at 30: (deleted, batches, s, longest batch s)."""
    db = open_database(url)
    marks: list[float] = [time.perf_counter()]
    started = marks[0]
    done = EventPruner(db).prune(dt.datetime.now(dt.UTC) - dt.timedelta(days=30),
                                 progress=lambda _: marks.append(time.perf_counter()))
    elapsed = time.perf_counter() - started
    db.close()
    longest = max((b - a for a, b in itertools.pairwise(marks)), default=0.0)
    return done.deleted, done.batches, elapsed, longest


def flat_growth(url: str, per_day: int, days: int) -> list[tuple[int, int]]:
    """Days of ``per_day`` rolled-up events, each day pruning what passed the retention
    (one day here, for speed); (rows, bytes of ses_events) after each day's prune."""
    db = open_database(url)
    pruner = EventPruner(db)
    found = []
    for day in range(days):
        sql(url, "INSERT INTO ses_events (event_key, kind, delivery_id, campaign_id, email,"
            " bounce_type, machine, detail, occurred_at, received_at, payload)"
            " SELECT md5(:day || '-' || g) || md5(g || '-' || :day), 'open', 1 + g, 1, '', '',"
            " 0, :ua, now() - :ago * interval '1 day', now() - :ago * interval '1 day', ''"
            " FROM generate_series(1, :count) g", ua=UA, count=per_day, day=f"day{day}",
            ago=days - day)
        cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(days=days - day + 0.5)  # keeps today
        pruner.prune(cutoff)
        vacuum(url, "ses_events")
        engine = make_engine(url)
        with engine.connect() as conn:
            rows = int(conn.execute(text("SELECT count(*) FROM ses_events")).scalar_one())
            size = int(conn.execute(text("SELECT pg_total_relation_size('ses_events')"))
                       .scalar_one())
        engine.dispose()
        found.append((rows, size))
    db.close()
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=3_000_000)
    parser.add_argument("--quick", action="store_true", help="50,000 deliveries; no writing")
    parser.add_argument("--database-url", default=os.environ.get("NEWSLETTER_TEST_POSTGRES_URL"))
    parser.add_argument("--no-write", action="store_true", help="leave BENCHMARKS.md alone")
    args = parser.parse_args(argv)
    if args.quick:
        args.deliveries, args.events, args.no_write = 50_000, 150_000, True
    if not args.database_url:
        parser.error("no PostgreSQL: pass --database-url or set NEWSLETTER_TEST_POSTGRES_URL")
    n = args.deliveries
    when = dt.datetime.now(dt.UTC)
    url, schema = fresh_schema(args.database_url)
    try:
        upgrade(url)
        started = time.perf_counter()
        written = populate(url, n, args.events)
        made = time.perf_counter() - started
        print(f"populated {n:,} deliveries and {written:,} events in {made:.0f} s", flush=True)
        db = open_database(url)
        campaigns, figures = CampaignStore(db), ReportStore(db)
        report = campaign_report("2022-09-07", campaigns, figures, ISSUE.parent)
        assert report.totals.sent == n, report.totals
        report_times = timed(lambda: campaign_report("2022-09-07", campaigns, figures,
                                                     ISSUE.parent), 5)
        today = dt.datetime.now(dt.UTC).date()
        trends = TrendStore(db)
        trend_times = timed(lambda: trends.trends(today - dt.timedelta(days=89), today), 5)
        db.close()
        print(f"report {statistics.median(report_times):.3f} s, trends "
              f"{statistics.median(trend_times) * 1000:.0f} ms", flush=True)
        before = sizes(url)
        deleted, batches, prune_s, longest = prune_all(url)
        # What an old campaign keeps for good; the space the pruned rows held is reused
        # by the days after (see the flat-growth row), VACUUM FULL shows the rest apart.
        vacuum(url, "ses_events", full=True)
        vacuum(url)
        after = sizes(url)
        print(f"pruned {deleted:,} rows in {prune_s:.1f} s", flush=True)
        growth = flat_growth(url, max(10_000, n // 4), 8)
    finally:
        drop_schema(args.database_url, schema)
    readers, count = (1_000, 3_000) if args.quick else (3_000, 9_000)
    send, single, rates = measure(args.database_url, readers, count, PLANS)
    block = render(n, written, made, report_times, trend_times, before, after, deleted,
                   batches, prune_s, longest, growth, send, single, rates, when,
                   report.totals.as_json())
    print(block)
    if not args.no_write:
        begin, end = markers("reports.py")
        write_section("reports.py", "What readers did", f"{begin}\n{block}\n{end}")
    return 0


def apply_row(rate: Rate, send: float, single: float) -> str:
    """A row of the table for one ``bench/apply_rate.py`` rate; judged with the roll-up."""
    ratio = rate.per_second / send
    judged = "PASS" if ratio >= TARGETS["apply_x"] else "FAIL"
    return (f"| applying Delivery, Open and Click events "
            f"{'with' if rate.roll_up else 'without'} the roll-up (`events poll`, "
            f"{rate.pollers} process{'es sharing the queue' if rate.pollers > 1 else ''}, "
            f"simulated SQS at 20 ms, {rate.applied:,} events; client CPU "
            f"{rate.cpu_ms_per_event:.2f} ms an event) | {rate.per_second:,.0f} events/s = "
            f"{ratio:.1f}x one sender ({send:,.0f} msg/s, bulk); "
            f"{rate.per_second / single:.1f}x one single-message sender ({single:,.0f} msg/s) | "
            + (f">= 3x | {judged} |" if rate.roll_up else "(reported) | |"))


def mb(value: float) -> str:
    return f"{value / 1e6:,.1f}"


def render(n: int, written: int, made: float, report_times: list[float],
           trend_times: list[float], before: dict[str, int], after: dict[str, int],
           deleted: int, batches: int, prune_s: float, longest: float,
           growth: list[tuple[int, int]], send: float, single: float, rates: list[Rate],
           when: dt.datetime, totals: dict[str, int]) -> str:
    scale = 1_000_000 / n
    events_kept = sum(v for t, v in after.items() if t != "deliveries") * scale
    kept = sum(after.values()) * scale
    within = sum(before.values()) * scale
    report_s, trends_ms = max(report_times), max(trend_times) * 1000
    # Flat: the last two days no more than 10% above the most of days 2-4 (the table holds
    # up to two days between a day's insert and the prune, so sizes alternate; the first
    # day starts from an empty table).
    sizes_ = [size for _, size in growth]
    flat = max(sizes_[-2:]) <= 1.10 * max(sizes_[1:4])
    lines = [
        f"Measured {when:%Y-%m-%d %H:%M} UTC by `bench/reports.py` on a shared 2-core machine "
        f"under load from other work ({cpu_model()}), PostgreSQL on loopback (the test "
        f"instance). Data made by set-based SQL in {made:.0f} s: {n:,} deliveries of one "
        f"campaign (89 older campaigns with counters only), {written:,} SES events as "
        "`EventStore.apply` stores them, their roll-up, and 90 days of reader history "
        f"({2 * n + n // 50:,} subscriber events). The report read: "
        f"{totals['delivered']:,} delivered, {totals['opened_unique']:,} opened, "
        f"{totals['clicked_unique']:,} clicked.",
        "",
        "| figure | measured | target | |",
        "|---|---:|---:|---|",
        f"| `report ISSUE` (`campaign_report`), worst of 5 after a warm-up | "
        f"{report_s * 1000:,.0f} ms (median {statistics.median(report_times) * 1000:,.0f}) "
        f"| <= 2 s | {'PASS' if report_s <= TARGETS['report_s'] else 'FAIL'} |",
        f"| trends over 90 days (`TrendStore.trends`), worst of 5 | {trends_ms:,.0f} ms "
        f"(median {statistics.median(trend_times) * 1000:,.0f}) | <= 500 ms | "
        f"{'PASS' if trends_ms <= TARGETS['trends_ms'] else 'FAIL'} |",
        f"| bytes per 1,000,000 deliveries including their events after roll-up and prune "
        f"(`deliveries` with each one's engagement, links, counters, bounces and "
        f"complaints; heap, indexes and TOAST) | {mb(kept)} MB | <= 300 MB | "
        f"{'PASS' if kept / 1e6 <= TARGETS['mb_per_million'] else 'FAIL'} |",
        f"| of which not in `deliveries` (links, counters, kept event rows) | "
        f"{mb(events_kept)} MB | (reported) | |",
        f"| everything within the retention window (all event rows kept, no payloads but "
        f"bounces' and complaints') | {mb(within)} MB | (reported) | |",
        f"| `ses_events` past the retention window ({len(growth)} simulated days, each "
        f"pruning the day before; {growth[0][0]:,} rows after the first; sizes after each) | "
        f"{', '.join(mb(s) + ' MB' for _, s in growth)} | flat | "
        f"{'PASS' if flat else 'FAIL'} |",
        *(apply_row(rate, send, single) for rate in rates),
        "",
        "Bytes by table (MB), within retention and after `db prune` (VACUUM FULL of "
        f"`ses_events` after the prune; for {n:,} deliveries):",
        "",
        "| table | within retention | after prune |",
        "|---|---:|---:|",
        *(f"| `{t}` | {mb(before[t])} | {mb(after[t])} |" for t in TABLES),
        f"| total | {mb(sum(before.values()))} | {mb(sum(after.values()))} |",
        "",
        f"`db prune` deleted {deleted:,} rows in {batches:,} batches of 5,000 in {prune_s:.1f} s "
        f"(longest batch {longest * 1000:,.0f} ms: no lock is held longer); bounces and "
        "complaints stay with their payloads. `deliveries` itself is most of what is left "
        "(since migration 0014 it also holds each delivery's engagement).",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
