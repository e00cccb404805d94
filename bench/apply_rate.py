"""Benchmark: Delivery, Open and Click events applied with the roll-up through `events poll`.

Issue 17's figure "applying events keeps the rate the last issue reached (at least 3x one
sending process), with the roll-up included", measured apart from the rest of
``bench/reports.py`` (which calls it for its table) so that it can be re-run alone. On
PostgreSQL (a schema of its own), against ``tests/support/sqs_sim.py`` at 20 ms a call:

- one poller (``poll`` in this process, as ``events poll --once``: 8 receivers, one
  applier thread, deletes in other threads), with the roll-up and without it;
- two pollers, each a process of its own sharing the queue (forked after the queue was
  filled; they start together), with the roll-up: events/s from their start to the end
  of the last;
- the client CPU per event (this process, or the pollers' own), which survives a loaded
  machine better than the wall-clock rate;
- the database's CPU per event: the PostgreSQL backends serving the pollers' connections
  (found by their ``application_name``), read from ``/proc`` (the server runs on this
  machine; "n/a" when it does not);
- one sender's rate (``bench/events.py``'s ``send``) for the ratio: the bulk sender (50
  readers a SendBulkEmail call, #23's default), and beside it the single-message sender
  (one SendEmail a reader, ``NEWSLETTER_SES_BULK=false``), the sending process this
  target was set against;
- what this machine can do at most: its cores divided by the CPU an event takes, client and
  database together (with the roll-up, the most pollers' figure): more ``events poll``
  processes raise the rate until the cores are busy, and no further.

    NEWSLETTER_TEST_POSTGRES_URL=... .venv/bin/python bench/apply_rate.py [--events N] [--write]

``--write`` puts the figures in BENCHMARKS.md (the ``bench/apply_rate.py`` block under
"What readers did"); ``bench/reports.py`` prints the same rates in its own table.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from sqlalchemy import text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import events as events_bench  # noqa: E402
from desk import drop_schema, fresh_schema  # noqa: E402
from report import cpu_model, markers, write_section  # noqa: E402

from newsletter import wiring  # noqa: E402
from newsletter.feedback.sqs import poll  # noqa: E402
from newsletter.settings import Settings  # noqa: E402
from newsletter.store.db import make_engine  # noqa: E402

UA = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
      "(KHTML, like Gecko) Mobile/15E148")


@dataclass(frozen=True)
class Rate:
    pollers: int
    roll_up: bool
    applied: int
    seconds: float
    cpu_s: float  # the pollers' own CPU time (user + system)
    db_cpu_s: float | None = None  # their PostgreSQL backends' (None: not readable here)

    @property
    def per_second(self) -> float:
        return self.applied / self.seconds

    @property
    def cpu_ms_per_event(self) -> float:
        return 1000 * self.cpu_s / self.applied

    @property
    def db_cpu_ms_per_event(self) -> float | None:
        return None if self.db_cpu_s is None else 1000 * self.db_cpu_s / self.applied


def mixed_events(rows: list[tuple[int, str]], count: int, salt: str) -> Iterator[dict[str, Any]]:
    """Delivery, then Open, then Click events for the deliveries: what the roll-up does."""
    n = 0
    for kind in ("Delivery", "Open", "Click") * max(1, count // max(1, len(rows))):
        for delivery_id, email in rows:
            if n >= count:
                return
            n += 1
            mail = {"timestamp": "2022-09-07T06:00:00.000Z", "messageId": f"{salt}-{n}",
                    "destination": [email], "tags": {"nl_delivery": [str(delivery_id)]}}
            part: dict[str, Any] = {"timestamp": f"2022-09-07T0{6 + n % 3}:00:0{n % 10}.000Z"}
            if kind == "Delivery":
                part.update(recipients=[email], smtpResponse="250 ok")
            elif kind == "Open":
                part.update(userAgent=UA, ipAddress="192.0.2.1")
            else:
                part.update(link=f"https://arxiv.org/abs/2209.0{1000 + n % 30}",
                            userAgent=UA, ipAddress="192.0.2.1")
            yield {"eventType": kind, "mail": mail, kind.lower(): part}


def named(url: str, name: str) -> str:
    """``url`` with its connections named ``name`` (``application_name``)."""
    return f"{url}{'&' if '?' in url else '?'}application_name={name}"


def backend_cpu(url: str, name: str) -> dict[int, float] | None:
    """CPU seconds (user + system) of each PostgreSQL backend serving a connection named
    ``name``, read from ``/proc`` (the server runs on this machine); None if it cannot be."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            pids = [int(p) for p in conn.execute(text(
                "SELECT pid FROM pg_stat_activity WHERE application_name = :n"),
                {"n": name}).scalars()]
    finally:
        engine.dispose()
    ticks = os.sysconf("SC_CLK_TCK")
    found: dict[int, float] = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        found[pid] = (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return found


def spent(before: dict[int, float] | None, after: dict[int, float] | None) -> float | None:
    """The backends' CPU seconds between two ``backend_cpu`` readings."""
    if before is None or after is None:
        return None
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


def _poller(url: str, endpoint: str, queue: str, start: Any, out: Any, name: str) -> None:
    """One ``events poll --once`` (a forked process):
    (applied, started, ended, CPU s, its database backends' CPU s)."""
    settings = Settings(database_url=named(url, name), sqs_endpoint_url=endpoint,
                        ses_region="us-east-1")
    sqs_queue = wiring.sqs_queue(settings, queue)
    with wiring.database(settings) as db:
        feedback = wiring.feedback(settings, db)
        start.wait()
        db_before = backend_cpu(url, name)
        began, cpu = time.monotonic(), time.process_time()
        result = poll(sqs_queue, feedback, once=True, wait=0)
        ended, cpu = time.monotonic(), time.process_time() - cpu
        out.put((result.applied, began, ended, cpu, spent(db_before, backend_cpu(url, name))))


def drain(url: str, rows: list[tuple[int, str]], count: int, pollers: int,
          roll_up: bool) -> Rate:
    """Fill a simulated SQS queue with ``count`` events, then drain it with ``pollers``."""
    import newsletter.store.events as store_events

    real = store_events.roll_up
    if not roll_up:  # the comparison: everything else as it is
        store_events.roll_up = lambda *args, **kwargs: {}  # type: ignore[assignment]
    try:
        with events_bench.sqs_server("sim", events_bench.SQS_LATENCY) as endpoint:
            for key, value in events_bench.AWS.items():
                os.environ.setdefault(key, value)
            sqs = boto3.session.Session().client("sqs", region_name="us-east-1",
                                                 endpoint_url=endpoint)
            queue = sqs.create_queue(QueueName="ses-events")["QueueUrl"]
            pending = [json.dumps(e) for e in mixed_events(rows, count, f"apply-{pollers}")]
            for first in range(0, len(pending), 10):
                entries: Any = [{"Id": str(i), "MessageBody": body}
                                for i, body in enumerate(pending[first:first + 10])]
                sqs.send_message_batch(QueueUrl=queue, Entries=entries)
            tag = f"bench-apply-{os.getpid()}-{pollers}"
            if pollers == 1:
                settings = Settings(database_url=named(url, tag), sqs_endpoint_url=endpoint,
                                    ses_region="us-east-1")
                with wiring.database(settings) as db:
                    feedback = wiring.feedback(settings, db)
                    sqs_queue = wiring.sqs_queue(settings, queue)
                    db_before = backend_cpu(url, tag)
                    began, cpu = time.perf_counter(), time.process_time()
                    result = poll(sqs_queue, feedback, once=True, wait=0)
                    seconds, cpu = time.perf_counter() - began, time.process_time() - cpu
                    return Rate(1, roll_up, result.applied, seconds, cpu,
                                spent(db_before, backend_cpu(url, tag)))
            fork = multiprocessing.get_context("fork")
            start, out = fork.Event(), fork.Queue()
            procs = [fork.Process(target=_poller,
                                  args=(url, endpoint, queue, start, out, f"{tag}-{n}"))
                     for n in range(pollers)]
            for proc in procs:
                proc.start()
            time.sleep(2.0)  # each has opened its database and queue
            start.set()
            found = [out.get(timeout=600) for _ in procs]
            for proc in procs:
                proc.join()
            began = min(f[1] for f in found)
            ended = max(f[2] for f in found)
            db_cpu = [f[4] for f in found]
            return Rate(pollers, roll_up, sum(f[0] for f in found), ended - began,
                        sum(f[3] for f in found),
                        None if None in db_cpu else sum(c for c in db_cpu if c is not None))
    finally:
        store_events.roll_up = real


def measure(base: str, readers: int, count: int, plans: list[tuple[int, bool]],
            progress: Callable[[str], None] = print) -> tuple[float, float, list[Rate]]:
    """(one bulk sender's msg/s, one single-message sender's msg/s, a rate per (pollers,
    roll-up) plan), each plan on a fresh campaign of ``readers`` deliveries in a schema of
    its own."""
    tmp = Path(tempfile.mkdtemp(prefix="bench-apply-"))
    send = events_bench.send_rate(tmp, readers)
    progress(f"one sender: {send:,.0f} msg/s")
    single = events_bench.send_rate(tmp, readers, bulk=False)
    progress(f"one single-message sender: {single:,.0f} msg/s")
    rates = []
    for pollers, roll_up in plans:
        url, schema = fresh_schema(base)
        try:
            db, rows = events_bench.campaign(url, readers, "2022-09-07")
            db.close()
            events_bench.settle(url)
            rate = drain(url, rows, count, pollers, roll_up)
        finally:
            drop_schema(base, schema)
        progress(describe(rate, send) + f" ({rate.per_second / single:.1f}x one "
                 "single-message sender)")
        rates.append(rate)
    return send, single, rates


def describe(rate: Rate, send: float) -> str:
    db = rate.db_cpu_ms_per_event
    return (f"{rate.pollers} poller{'s' if rate.pollers > 1 else ''}, "
            f"{'with' if rate.roll_up else 'without'} the roll-up: {rate.applied:,} events "
            f"in {rate.seconds:.1f} s = {rate.per_second:,.0f} events/s = "
            f"{rate.per_second / send:.1f}x one sender; client CPU "
            f"{rate.cpu_ms_per_event:.3f} ms an event, database CPU "
            + ("n/a" if db is None else f"{db:.3f} ms"))


def ceiling(rates: list[Rate], cores: int) -> tuple[float, float] | None:
    """(CPU ms an event, client and database, with the roll-up; the events/s ``cores``
    can apply at that cost), from the run with the most pollers; None without the
    database's CPU."""
    judged = max((r for r in rates if r.roll_up), key=lambda r: r.pollers, default=None)
    if judged is None or judged.db_cpu_ms_per_event is None:
        return None
    total = judged.cpu_ms_per_event + judged.db_cpu_ms_per_event
    return total, cores * 1000 / total


def block(send: float, single: float, rates: list[Rate], load: float, cores: int) -> str:
    """The BENCHMARKS.md block of this run."""
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    rows = []
    for rate in rates:
        db = rate.db_cpu_ms_per_event
        rows.append(
            f"| {rate.pollers} | {'with' if rate.roll_up else 'without'} | {rate.applied:,} "
            f"| {rate.per_second:,.0f} | {rate.per_second / send:.2f}x "
            f"| {rate.per_second / single:.2f}x | {rate.cpu_ms_per_event:.3f} "
            f"| {'n/a' if db is None else f'{db:.3f}'} |")
    top = ceiling(rates, cores)
    most = ("" if top is None else
            f"\n\nAt {top[0]:.3f} ms of CPU an event (client and database, with the "
            f"roll-up), {cores} cores apply at most {top[1]:,.0f} events/s = "
            f"{top[1] / send:.1f}x one sender, however many pollers share them (the "
            f"simulated SQS's own CPU left out: SQS does not run on the pollers' machine).")
    return (
        f"Measured {when} by `bench/apply_rate.py` on {cores} cores ({cpu_model()}), load "
        f"average {load:.1f} at the end; PostgreSQL on loopback (the test instance), "
        f"simulated SQS at 20 ms a call. One sender (`bench/events.py`'s, the bulk sender): "
        f"{send:,.0f} msg/s; one single-message sender (one SendEmail a reader): "
        f"{single:,.0f} msg/s. Target: applying with the roll-up >= 3x one sender.\n\n"
        "| pollers | roll-up | events | events/s | x one sender (bulk) "
        "| x one single-message sender | client CPU ms/event "
        "| database CPU ms/event |\n|---:|---|---:|---:|---:|---:|---:|---:|\n"
        + "\n".join(rows) + most)


PLANS = [(1, True), (1, False), (2, True)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readers", type=int, default=3_000)
    parser.add_argument("--events", type=int, default=9_000)
    parser.add_argument("--database-url", default=os.environ.get("NEWSLETTER_TEST_POSTGRES_URL"))
    parser.add_argument("--write", action="store_true", help="put the figures in BENCHMARKS.md")
    args = parser.parse_args(argv)
    if not args.database_url:
        parser.error("no PostgreSQL: pass --database-url or set NEWSLETTER_TEST_POSTGRES_URL")
    send, single, rates = measure(args.database_url, args.readers, args.events, PLANS)
    load, cores = os.getloadavg()[0], os.cpu_count() or 1
    top = ceiling(rates, cores)
    if top is not None:
        print(f"at {top[0]:.3f} ms of CPU an event, {cores} cores apply at most "
              f"{top[1]:,.0f} events/s = {top[1] / send:.1f}x one sender")
    print(f"load average {load:.1f} (1 min) on {cores} cores")
    if args.write:
        begin, end = markers("apply_rate.py")
        write_section("apply_rate.py", "What readers did",
                      f"{begin}\n{block(send, single, rates, load, cores)}\n{end}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
