"""Bulk sends (50 readers per SendBulkEmail call) SIGKILLed mid-send, or with the answer to
a 50-entry call lost: after SES's Send events come back (moto's SNS -> SQS, `events poll`)
and the send is resumed, every reader has the issue exactly once.

SES here is the loopback simulator (``tests/support/ses_sim.py``) in its own process,
keeping every message it accepted, with SES's 50 ms answer time.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.delivery import delivery_rows, subscribe
from support.env import SES_SIM, use_loopback_ses
from support.moto_ses import Accepted
from support.ses_events import publish, send_event, topic_to_queue

NEWSLETTER = str(Path(sys.executable).with_name("newsletter"))
DATE = "2022-09-07"


class Sim:
    """The simulator process and its control routes."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(SES_SIM), "--rate", "2000", "--latency", "0.05",
             "--keep-messages"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )
        assert self.process.stdout is not None
        self.url = self.process.stdout.readline().strip().removeprefix("listening on ")
        assert self.url.startswith("http://127.0.0.1:"), self.url

    def call(self, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data,
                                         method="POST" if data else "GET")
        with urllib.request.urlopen(request, timeout=30) as answer:
            return json.load(answer)

    def stats(self) -> dict[str, Any]:
        stats: dict[str, Any] = self.call("/_sim/stats")
        return stats

    def events(self) -> list[dict[str, Any]]:
        """The Send event SES would publish for each accepted message, with its tags."""
        events = []
        for kept in self.call("/_sim/messages")["messages"]:
            accepted = Accepted(kept["message_id"], kept["destinations"],
                                base64.b64decode(kept["raw"]))
            event = send_event(accepted)
            event["mail"]["tags"].update({k: [v] for k, v in kept["tags"].items()})
            events.append(event)
        return events

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)
        assert self.process.stdout is not None
        self.process.stdout.close()


@pytest.fixture
def sim(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Sim]:
    server = Sim()
    use_loopback_ses(monkeypatch, tmp_path, server.url)
    monkeypatch.setenv("NEWSLETTER_SES_BULK", "true")
    yield server
    server.close()


def run(args: list[str], env: dict[str, str]) -> str:
    done = subprocess.run([NEWSLETTER, *args], env=env, capture_output=True, text=True,
                          timeout=180)
    assert done.returncode in (0, 3), done.stdout + done.stderr
    return done.stdout + done.stderr


def events_env(moto_url: str) -> tuple[dict[str, str], str]:
    topic, queue_url = topic_to_queue(moto_url, f"ses-events-{time.monotonic_ns()}")
    env = dict(os.environ, NEWSLETTER_MAX_SEND_RATE="400", NEWSLETTER_SQS_QUEUE_URL=queue_url,
               NEWSLETTER_SQS_ENDPOINT_URL=moto_url, NEWSLETTER_RECONCILE_AFTER="0",
               NEWSLETTER_IN_DOUBT_POLICY="reconcile")
    return env, topic


def feed_back_and_resume(sim: Sim, moto_url: str, topic: str, env: dict[str, str],
                         issue: Path) -> str:
    events = sim.events()
    publish(moto_url, topic, events)
    polled = run(["events", "poll", "--once", "--wait", "1"], env)
    assert f"{len(events):,} events applied" in polled, polled
    return run(["send", str(issue), "--yes"], env) + run(["status", DATE], env)


def check_exactly_once(sim: Sim, readers: set[str], output: str) -> None:
    stats = sim.stats()
    assert stats["unique_recipients"] == len(readers)
    assert stats["duplicates"] == 0
    rows = delivery_rows(os.environ["NEWSLETTER_DATABASE_URL"])
    assert {str(r["email"]) for r in rows} == readers
    assert Counter(str(r["status"]) for r in rows) == {"sent": len(readers)}
    assert "0 in doubt" in output, output


def expected_readers(count: int) -> set[str]:
    return {r.email for r in subscribe(os.environ["NEWSLETTER_DATABASE_URL"], count)
            if r.expects_issue}


def test_bulk_send_killed_mid_send_ends_exactly_once(
    sim: Sim, moto_ses_url: str, sample_issue_path: Path
) -> None:
    readers = expected_readers(420)
    env, topic = events_env(moto_ses_url)
    process = subprocess.Popen([NEWSLETTER, "send", str(sample_issue_path), "--yes"], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 90
    while sim.stats()["accepted"] < 100:
        assert process.poll() is None, "the send finished before it could be killed"
        assert time.monotonic() < deadline, "the send made no progress"
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    rows = delivery_rows(os.environ["NEWSLETTER_DATABASE_URL"])
    left_sending = sum(r["status"] == "sending" for r in rows)
    assert 0 < sim.stats()["accepted"] < len(readers)

    output = feed_back_and_resume(sim, moto_ses_url, topic, env, sample_issue_path)

    check_exactly_once(sim, readers, output)
    assert left_sending > 0, "the kill should catch bulk calls in flight"
    assert "reconciled from SES events" in output, output


# How many readers the first call carries depends on the pace the run keeps: alone, it is
# the full fifty this test is about (under the parallel pass's load it can be fewer).
@pytest.mark.serial
def test_a_lost_answer_to_a_50_entry_call_ends_exactly_once(
    sim: Sim, moto_ses_url: str, sample_issue_path: Path
) -> None:
    readers = expected_readers(360)  # 52 in the first variant
    env, topic = events_env(moto_ses_url)
    sim.call("/_sim/fail", {"lose_answers": 1})

    first = run(["send", str(sample_issue_path), "--yes"], env)
    rows = delivery_rows(os.environ["NEWSLETTER_DATABASE_URL"])
    in_doubt = [r for r in rows if r["status"] == "in_doubt"]
    # The first call's 50 entries (deliveries are claimed in variant order).
    assert len(in_doubt) == 50, first
    assert sim.stats()["unique_recipients"] == len(readers)  # SES took them all

    output = feed_back_and_resume(sim, moto_ses_url, topic, env, sample_issue_path)

    check_exactly_once(sim, readers, output)
