"""Issue 25, item 2: `reconcile` resends an in-doubt reader only when the event feed is
current past that delivery; a late event or a stopped poller never causes a second copy.

Real parts: moto's SES, SNS and SQS over HTTP, SQLite on disk, `newsletter` processes, one
of them killed with SIGKILL mid-send.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from support.delivery import delivery_rows, subscribe
from support.moto_ses import SesServer
from support.ses_events import publish, send_event, topic_to_queue

NEWSLETTER = str(Path(sys.executable).with_name("newsletter"))
DATE = "2022-09-07"
AFTER = 2  # NEWSLETTER_RECONCILE_AFTER, seconds


def run(args: list[str], env: dict[str, str]) -> str:
    done = subprocess.run([NEWSLETTER, *args], env=env, capture_output=True, text=True,
                          timeout=180)
    assert done.returncode in (0, 3), done.stdout + done.stderr
    return done.stdout + done.stderr


def test_a_killed_send_with_late_events_and_the_poller_stopped_sends_nobody_twice(
    ses: SesServer, moto_ses_url: str, sample_issue_path: Path
) -> None:
    """SIGKILL mid-send; RECONCILE_AFTER passes with no Send event (the poller stopped):
    `send` keeps the in-doubt readers in doubt and says why; once the poller has applied
    the late events, every reader has exactly one copy."""
    readers = {r.email for r in subscribe(os.environ["NEWSLETTER_DATABASE_URL"], 200)
               if r.expects_issue}
    topic, queue_url = topic_to_queue(moto_ses_url)
    env = dict(os.environ, NEWSLETTER_MAX_SEND_RATE="40", NEWSLETTER_SQS_QUEUE_URL=queue_url,
               NEWSLETTER_SQS_ENDPOINT_URL=moto_ses_url,
               NEWSLETTER_RECONCILE_AFTER=str(AFTER))
    run(["events", "poll", "--once", "--wait", "1"], env)  # the poller ran, then stopped

    sender = subprocess.Popen([NEWSLETTER, "send", str(sample_issue_path), "--yes"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 90
    while len(ses.messages()) < 60:
        assert sender.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    sender.send_signal(signal.SIGKILL)
    sender.wait(timeout=30)
    accepted = ses.messages()
    time.sleep(AFTER + 1)  # RECONCILE_AFTER has passed; no Send event has arrived

    waiting = run(["send", str(sample_issue_path), "--yes"], env)
    waiting += run(["status", DATE], env)

    assert "in-doubt deliveries are not resent yet: the SES event feed" in waiting, waiting
    copies = Counter(d for m in ses.messages() for d in set(m.destinations))
    assert [email for email, n in copies.items() if n != 1] == []
    in_doubt = [r for r in delivery_rows(env["NEWSLETTER_DATABASE_URL"])
                if r["status"] == "in_doubt"]
    assert in_doubt, "the kill should leave deliveries in doubt"

    publish(moto_ses_url, topic, [send_event(m) for m in accepted])  # the events, late
    run(["events", "poll", "--once", "--wait", "1"], env)
    time.sleep(AFTER + 1)
    run(["events", "poll", "--once", "--wait", "1"], env)  # current past every claim now
    output = run(["send", str(sample_issue_path), "--yes"], env)
    output += run(["status", DATE], env)

    copies = Counter(d for m in ses.messages() for d in set(m.destinations))
    assert set(copies) == readers
    assert [email for email, n in copies.items() if n != 1] == []
    rows = delivery_rows(env["NEWSLETTER_DATABASE_URL"])
    assert Counter(str(r["status"]) for r in rows) == {"sent": len(readers)}
    assert "0 in doubt" in output and "not resent yet" not in output
