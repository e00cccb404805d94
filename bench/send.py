"""Benchmark: sending against a simulated SES that allows R messages/s (tests/support/ses_sim.py).

For R = 14, 100 and 300 the simulator runs in its own process (50 ms per call, 429 above R
accepted sends in any sliding second, MaxSendRate = R through GetAccount), and three
senders each get R * 15 messages, one per distinct recipient:

- ``ours``: ``newsletter send ISSUE --yes`` as a subprocess on a fresh SQLite database
  with R * 15 subscribers, the SES transport pointed at the simulator through
  ``NEWSLETTER_SES_ENDPOINT_URL`` (dummy AWS credentials). NEWSLETTER_MAX_SEND_RATE is
  set far above R, so the rate comes from the account quota read through GetAccount.
- ``naive``: one ``send_email`` after another with boto3's default client.
- ``pool``: a thread pool (enough threads for twice R at 50 ms) relying on botocore's
  own retries, standard mode.

The baselines stop starting new sends after a deadline (the time ``ours`` should need,
plus a margin); what they did not attempt is reported, not counted as lost.
Per run: sustained rate (messages accepted after the first second, over the time from
then to the last acceptance, by the simulator's clock), % of R, messages lost (attempted
but never accepted), duplicates (accepted more than once), % of SendEmail calls throttled.
Targets for ``ours``: >= 90% of R, nothing lost, <= 5% of calls throttled.
Prints PASS/FAIL per target and always exits 0.

    .venv/bin/python bench/send.py [--quick] [--rates 14,100]
    .venv/bin/python bench/send.py --bulk [send_bulk.py's options]   # issue #23
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from population import populate
from sqlalchemy import text

from newsletter import wiring
from newsletter.issues.loader import load_issue
from newsletter.mail.message import MessageTemplate, Recipient
from newsletter.settings import Settings
from newsletter.store.db import make_engine, upgrade
from newsletter.tokens import Purpose, make_token
from newsletter.vocabulary import Variant

HERE = Path(__file__).resolve().parent
SES_SIM = HERE.parent / "tests" / "support" / "ses_sim.py"
SAMPLE = HERE.parent / "issues" / "2022-09-07.yaml"
SECRET = "bench-secret-key-d16bb18bbb62a2f8d659657d"
LATENCY = 0.05
WARM_UP = 1.0  # seconds after the first acceptance left out of the sustained rate
RATE_TARGET, THROTTLE_TARGET = 0.90, 0.05
DUMMY_AWS = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_DEFAULT_REGION": "us-east-1",
}


class Simulator:
    """tests/support/ses_sim.py in its own process, so its work does not share our GIL."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(SES_SIM), "--latency", str(LATENCY)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.startswith("listening on "):
            self.process.kill()
            raise RuntimeError(f"the SES simulator did not start: {line!r}")
        self.url = line.split()[-1]

    def _call(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        data = json.dumps(body).encode() if body is not None else None
        method = "POST" if data else "GET"
        request = urllib.request.Request(self.url + path, data=data, method=method)
        with urllib.request.urlopen(request, timeout=10) as answer:
            result: dict[str, Any] = json.load(answer)
        return result

    def reset(self, rate: float) -> None:
        self._call("/_sim/reset", {"max_send_rate": rate})

    def stats(self) -> dict[str, Any]:
        return self._call("/_sim/stats")

    def calls(self) -> list[list[Any]]:
        """Every send call: [POSIX time admitted or refused, first recipient, recipients,
        accepted] (issue #23's bulk bench: the busiest second)."""
        calls: list[list[Any]] = self._call("/_sim/calls")["calls"]
        return calls

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(10)


@dataclass
class Run:
    """What one sender did in one run, from the simulator's records."""

    sender: str
    rate: float
    asked: int
    attempted: int
    accepted: int
    unique: int
    duplicates: int
    throttled: int
    sustained: float
    wall: float
    note: str = ""

    @property
    def lost(self) -> int:
        return self.attempted - self.unique

    @property
    def throttled_share(self) -> float:
        calls = self.accepted + self.throttled
        return self.throttled / calls if calls else 0.0


def sustained_rate(accepted_at: list[float]) -> float:
    """Acceptances per second after the warm-up, by the simulator's clock."""
    if not accepted_at:
        return 0.0
    start = accepted_at[0] + WARM_UP
    after = [t for t in accepted_at if t >= start]
    if len(after) < 2:
        return 0.0
    return (len(after) - 1) / (after[-1] - after[0])


def run_from(sender: str, rate: float, asked: int, attempted: int, wall: float,
             stats: dict[str, Any], note: str = "") -> Run:
    return Run(
        sender=sender,
        rate=rate,
        asked=asked,
        attempted=attempted,
        accepted=stats["accepted"],
        unique=stats["unique_recipients"],
        duplicates=stats["duplicates"],
        throttled=stats["throttled"],
        sustained=sustained_rate(stats["accepted_at"]),
        wall=wall,
        note=note,
    )


# --- our engine ---------------------------------------------------------------------


def engine_env(sim_url: str, database_url: str, outbox: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSLETTER_", "AWS_"))}
    env.update(DUMMY_AWS)
    env.update(
        NEWSLETTER_SECRET_KEY=SECRET,
        NEWSLETTER_BASE_URL="https://news.example.org",
        NEWSLETTER_DATABASE_URL=database_url,
        NEWSLETTER_TRANSPORT="ses",
        NEWSLETTER_SES_REGION="us-east-1",
        NEWSLETTER_SES_ENDPOINT_URL=sim_url,
        # Far above R: the account's MaxSendRate (GetAccount) must be what limits us.
        NEWSLETTER_MAX_SEND_RATE="100000",
        NEWSLETTER_OUTBOX_DIR=str(outbox),
    )
    return env


def run_ours(sim: Simulator, rate: float, count: int, workdir: Path) -> Run:
    """``newsletter send`` to ``count`` fresh subscribers; checks the deliveries table too."""
    sim.reset(rate)
    database = workdir / f"send-{int(rate)}.db"
    url = f"sqlite:///{database}"
    upgrade(url)
    engine = make_engine(url)
    populate(engine, count, varied=False)
    command = [sys.executable, "-m", "newsletter.cli.main", "send", str(SAMPLE), "--yes"]
    newsletter_bin = Path(sys.executable).with_name("newsletter")
    if newsletter_bin.exists():
        command = [str(newsletter_bin), "send", str(SAMPLE), "--yes"]
    started = time.monotonic()
    result = subprocess.run(
        command, env=engine_env(sim.url, url, workdir / "outbox"), cwd=workdir,
        capture_output=True, text=True, timeout=max(120, count / rate * 4),
    )
    wall = time.monotonic() - started
    with engine.connect() as conn:
        states: dict[str, int] = dict(conn.execute(
            text("SELECT status, count(*) FROM deliveries GROUP BY status")
        ).all())
        errors = conn.execute(text(
            "SELECT status, error, count(*) FROM deliveries WHERE status != 'sent' "
            "GROUP BY status, error LIMIT 5"
        )).all()
    engine.dispose()
    note = f"exit {result.returncode}; deliveries {states}"
    for status, error, n in errors:
        note += f"\n      {n} {status}: {error}"
    if result.returncode != 0:
        note += f"\n      output: {result.stdout.strip()[-800:]} {result.stderr.strip()[-800:]}"
    return run_from("ours", rate, count, count, wall, sim.stats(), note)


# --- baselines ----------------------------------------------------------------------


def messages(count: int) -> Iterator[tuple[bytes, str]]:
    """(raw message, recipient) for ``count`` distinct recipients, built by the fast path."""
    settings = Settings(secret_key=SECRET, base_url="https://news.example.org")
    rendered = wiring.renderer(settings).render(load_issue(SAMPLE), Variant())
    template = MessageTemplate(rendered, wiring.sender(settings), "2022-09-07")
    date = format_datetime(dt.datetime(2022, 9, 7, 8, 0, tzinfo=dt.UTC))
    for i in range(1, count + 1):
        to = f"reader{i}@example.com"
        yield template.build(
            Recipient(to, f"2022-09-07.{i}", make_token(SECRET, Purpose.UNSUBSCRIBE, i),
                      make_token(SECRET, Purpose.PREFERENCES, i)),
            date,
        ), to


def client(url: str, config: Config | None = None) -> Any:
    return boto3.client(
        "sesv2", endpoint_url=url, region_name="us-east-1",
        aws_access_key_id="bench", aws_secret_access_key="bench", config=config,
    )


def send_one(ses: Any, raw: bytes, to: str) -> bool:
    try:
        ses.send_email(Destination={"ToAddresses": [to]}, Content={"Raw": {"Data": raw}})
    except (ClientError, BotoCoreError):
        return False
    return True


def run_naive(sim: Simulator, rate: float, count: int, deadline: float) -> Run:
    """One ``send_email`` after another, boto3's defaults, until done or the deadline."""
    sim.reset(rate)
    ses = client(sim.url)
    attempted = 0
    started = time.monotonic()
    for raw, to in messages(count):
        if time.monotonic() - started > deadline:
            break
        attempted += 1
        send_one(ses, raw, to)
    wall = time.monotonic() - started
    note = "" if attempted == count else f"stopped at the {deadline:.0f} s deadline"
    return run_from("naive", rate, count, attempted, wall, sim.stats(), note)


def run_pool(sim: Simulator, rate: float, count: int, deadline: float) -> Run:
    """A thread pool sized for twice R at 50 ms, botocore standard-mode retries."""
    sim.reset(rate)
    workers = math.ceil(2 * rate * LATENCY) + 1
    ses = client(sim.url, Config(retries={"mode": "standard"}, max_pool_connections=workers))
    attempted = 0
    lock = threading.Lock()
    started = time.monotonic()

    def task(item: tuple[bytes, str]) -> None:
        nonlocal attempted
        if time.monotonic() - started > deadline:
            return
        with lock:
            attempted += 1
        send_one(ses, *item)

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(task, list(messages(count))))
    wall = time.monotonic() - started
    note = f"{workers} threads"
    if attempted < count:
        note += f"; stopped at the {deadline:.0f} s deadline"
    return run_from("pool", rate, count, attempted, wall, sim.stats(), note)


# --- report -------------------------------------------------------------------------


def report(runs: list[Run]) -> None:
    print(f"{'R':>5} {'sender':<7}{'msgs':>7}{'tried':>7}{'accepted':>9}{'sustained/s':>12}"
          f"{'% of R':>8}{'lost':>6}{'dups':>6}{'throttled':>10}{'wall s':>8}")
    for r in runs:
        print(f"{r.rate:>5.0f} {r.sender:<7}{r.asked:>7}{r.attempted:>7}{r.accepted:>9}"
              f"{r.sustained:>12.1f}{r.sustained / r.rate:>8.0%}{r.lost:>6}{r.duplicates:>6}"
              f"{r.throttled_share:>10.1%}{r.wall:>8.1f}  {r.note}")
    for r in (r for r in runs if r.sender == "ours"):
        checks: list[tuple[bool, str]] = [
            (r.sustained >= RATE_TARGET * r.rate,
             f"sustained {r.sustained:.1f}/s = {r.sustained / r.rate:.0%} of R (target >= 90%)"),
            (r.lost == 0 and r.accepted >= r.asked,
             f"{r.lost} lost, {r.accepted} of {r.asked} accepted (target: none lost)"),
            (r.duplicates == 0, f"{r.duplicates} duplicates (target: none)"),
            (r.throttled_share <= THROTTLE_TARGET,
             f"{r.throttled_share:.1%} of calls throttled (target <= 5%)"),
        ]
        for ok, message in checks:
            print(f"{'PASS' if ok else 'FAIL'} R={r.rate:.0f} ours: {message}")


def main(argv: list[str] | None = None) -> int:
    args_in = sys.argv[1:] if argv is None else argv
    if args_in[:1] == ["--bulk"]:  # issue #23: SendBulkEmail at R = 2,500 (send_bulk.py)
        from send_bulk import main as bulk_main

        return bulk_main(args_in[1:])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="R * 4 messages per run")
    parser.add_argument("--rates", default="14,100,300", help="comma-separated R values")
    parser.add_argument("--only", default="ours,naive,pool", help="senders to run")
    args = parser.parse_args(argv)
    rates = [float(r) for r in args.rates.split(",")]
    seconds = 4 if args.quick else 15
    senders = args.only.split(",")
    runners: dict[str, Callable[[Simulator, float, int, Path, float], Run]] = {
        "ours": lambda s, r, n, w, d: run_ours(s, r, n, w),
        "naive": lambda s, r, n, w, d: run_naive(s, r, n, d),
        "pool": lambda s, r, n, w, d: run_pool(s, r, n, d),
    }
    sim = Simulator()
    runs: list[Run] = []
    try:
        with tempfile.TemporaryDirectory(prefix="bench-send-") as tmp:
            for rate in rates:
                count = int(rate * seconds)
                deadline = seconds / 0.95 + 2
                for name in senders:
                    run = runners[name](sim, rate, count, Path(tmp), deadline)
                    runs.append(run)
                    print(f"R={rate:.0f} {name}: {run.accepted}/{run.asked} accepted "
                          f"in {run.wall:.1f} s", flush=True)
    finally:
        sim.close()
    print(f"sending, {LATENCY * 1000:.0f} ms per call, {seconds} s worth of messages per run")
    report(runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
