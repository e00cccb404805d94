"""Exactly once: a send SIGKILLed mid-way, SES's Send events fed back, the send resumed.

Real parts throughout: moto's SES, SNS and SQS servers over HTTP on loopback, SQLite on
disk, and `newsletter` processes killed with SIGKILL. moto does not publish SES events, so
the test builds the Send event for each message moto's SES actually accepted and publishes
it through moto's SNS to an SQS queue (``events poll`` path) or, signed by a test CA, to
a running ``newsletter serve`` (webhook path).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from support.delivery import delivery_rows, subscribe
from support.moto_ses import Accepted, SesServer
from support.serve import start_serve
from support.ses_events import publish, send_event, topic_to_queue
from support.sns import TOPIC, CertificateServer, notification

from newsletter.store.db import open_database
from newsletter.store.subscribers import SubscriberStore

NEWSLETTER = str(Path(sys.executable).with_name("newsletter"))
DATE = "2022-09-07"


def run(args: list[str], env: dict[str, str], timeout: float = 180) -> str:
    done = subprocess.run([NEWSLETTER, *args], env=env, capture_output=True, text=True,
                          timeout=timeout)
    assert done.returncode in (0, 3), done.stdout + done.stderr
    return done.stdout + done.stderr


def kill_mid_send(issue: Path, env: dict[str, str], accepted: Callable[[], int],
                  after: int) -> None:
    process = subprocess.Popen([NEWSLETTER, "send", str(issue), "--yes"], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 90
    while accepted() < after:
        assert process.poll() is None, "the send finished before it could be killed"
        assert time.monotonic() < deadline, "the send made no progress"
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)


def expected_readers(count: int) -> set[str]:
    readers = subscribe(os.environ["NEWSLETTER_DATABASE_URL"], count)
    return {r.email for r in readers if r.expects_issue}


def in_flight_at_kill(accepted: list[Accepted]) -> tuple[int, int]:
    """Rows the kill left ``sending``: (SES had accepted them, it had not)."""
    taken = {str(m.parsed()["X-Newsletter-Delivery"]).split(".")[1] for m in accepted}
    rows = delivery_rows(os.environ["NEWSLETTER_DATABASE_URL"])
    sending = [str(r["id"]) for r in rows if r["status"] == "sending"]
    return sum(i in taken for i in sending), sum(i not in taken for i in sending)


def check_exactly_once(ses: SesServer, readers: set[str], output: str) -> None:
    # moto lists a raw message's recipient twice (Destination and the To header).
    copies = Counter(d for m in ses.messages() for d in set(m.destinations))
    assert set(copies) == readers
    assert [email for email, n in copies.items() if n != 1] == []
    rows = delivery_rows(os.environ["NEWSLETTER_DATABASE_URL"])
    assert Counter(str(r["status"]) for r in rows) == {"sent": len(readers)}
    assert "0 in doubt" in output


def test_killed_send_is_completed_exactly_once_through_sqs(
    ses: SesServer, moto_ses_url: str, sample_issue_path: Path
) -> None:
    """SIGKILL mid-send, Send events through SNS -> SQS, `events poll`, `send`: once each."""
    readers = expected_readers(350)
    topic, queue_url = topic_to_queue(moto_ses_url)
    env = dict(os.environ, NEWSLETTER_MAX_SEND_RATE="60", NEWSLETTER_SQS_QUEUE_URL=queue_url,
               NEWSLETTER_SQS_ENDPOINT_URL=moto_ses_url, NEWSLETTER_RECONCILE_AFTER="0")

    kill_mid_send(sample_issue_path, env, lambda: len(ses.messages()), after=120)
    accepted = ses.messages()
    assert 120 <= len(accepted) < len(readers)
    in_flight = in_flight_at_kill(accepted)
    publish(moto_ses_url, topic, [send_event(m) for m in accepted])
    polled = run(["events", "poll", "--once", "--wait", "1"], env)
    assert f"{len(accepted):,} events applied" in polled, polled
    output = run(["send", str(sample_issue_path), "--yes"], env)
    output += run(["status", DATE], env)

    check_exactly_once(ses, readers, output)
    assert any(in_flight), "the kill should catch messages in flight"
    line = (f"reconciled from SES events: {in_flight[0]:,} in-doubt found sent, "
            f"{in_flight[1]:,} never accepted and queued again")
    assert line in output, output


def test_killed_send_is_completed_exactly_once_through_the_webhook(
    ses: SesServer, sample_issue_path: Path, tmp_path: Path
) -> None:
    """The same, with each Send event signed by a test CA and POSTed to `newsletter serve`."""
    readers = expected_readers(350)
    certs = CertificateServer()
    env = dict(os.environ, NEWSLETTER_MAX_SEND_RATE="60", NEWSLETTER_SNS_TOPIC_ARNS=TOPIC,
               NEWSLETTER_SNS_CERT_HOST_FOR_TESTS=certs.host, NEWSLETTER_RECONCILE_AFTER="0")
    log = open(tmp_path / "serve.log", "wb")  # noqa: SIM115 -- closed below
    server, url = start_serve(env, log)
    try:
        kill_mid_send(sample_issue_path, env, lambda: len(ses.messages()), after=120)
        accepted = ses.messages()
        answers: list[Any] = []
        with httpx.Client(timeout=10) as web:
            for n, message in enumerate(accepted):
                body = certs.sign(notification(send_event(message), f"sns-{n}"))
                answers.append(web.post(f"{url}/webhooks/ses", content=body).json())
        assert all(a.get("event") == "send" for a in answers), answers[:3]
        output = run(["send", str(sample_issue_path), "--yes"], env)
        output += run(["status", DATE], env)
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()
        certs.close()
    assert "warning: NEWSLETTER_SNS_CERT_HOST_FOR_TESTS" in (tmp_path / "serve.log").read_text()
    check_exactly_once(ses, readers, output)


def test_opt_outs_after_the_snapshot_are_not_mailed(
    ses: SesServer, sample_issue_path: Path
) -> None:
    """Readers who unsubscribe or are suppressed after `send --enqueue-only` get nothing."""
    readers = sorted(expected_readers(40))
    env = dict(os.environ)
    run(["send", str(sample_issue_path), "--yes", "--enqueue-only"], env)
    db = open_database(os.environ["NEWSLETTER_DATABASE_URL"])
    people = SubscriberStore(db)
    leaving = people.find(readers[0])
    assert leaving is not None
    people.set_status(leaving.id, "unsubscribed", "clicked unsubscribe")
    db.close()
    run(["suppressions", "add", readers[1]], env)
    output = run(["send", str(sample_issue_path), "--yes"], env)
    mailed = {d for m in ses.messages() for d in m.destinations}
    assert mailed == set(readers[2:])
    assert "2 skipped" in output
