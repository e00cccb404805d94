"""What readers did, end to end: an issue sent to 300 readers through moto's SES, their
Delivery, Open, Click, Bounce and Complaint events through SQS (the loopback simulator, raw
message delivery) to `newsletter events poll`, one-click unsubscribes and a preferences
change on a running `newsletter serve`; then `report --json`, the sunset dry run and
`db prune`, all as the operator runs them.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update
from support.delivery import subscribe
from support.moto_ses import Accepted, SesServer
from support.servers import serve
from support.ses_events import client, engagement_event
from support.sqs_sim import SqsSimulator

from newsletter.store.db import open_database
from newsletter.store.tables import ses_events, subscribers

NEWSLETTER = str(Path(sys.executable).with_name("newsletter"))
PAPER_1, PAPER_2 = "2209.01234", "2209.05678"
IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
          "(KHTML, like Gecko) Mobile/15E148")
APPLE_PROXY = "Mozilla/5.0"


def run(args: list[str], env: dict[str, str]) -> str:
    done = subprocess.run([NEWSLETTER, *args], env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture
def sqs() -> Iterator[SqsSimulator]:
    with SqsSimulator(latency=0) as sim:
        yield sim


def paper_ids(issue: Path) -> tuple[str, str]:
    from newsletter.issues.loader import load_issue

    papers = load_issue(issue).papers
    return papers[0].arxiv_id, papers[1].arxiv_id


def link(message: Accepted, path: str) -> str:
    text = message.parsed().get_body(("plain",))
    assert text is not None
    found = re.search(rf"https?://\S+/{path}/[A-Za-z0-9._-]+", text.get_content())
    assert found, path
    return found.group(0)


def test_report_counts_what_300_readers_did_exactly(
    ses: SesServer, sqs: SqsSimulator, sample_issue_path: Path, tmp_path: Path
) -> None:
    readers = [r.email for r in subscribe(os.environ["NEWSLETTER_DATABASE_URL"], 350)
               if r.expects_issue]
    assert len(readers) == 300
    queue = client("sqs", sqs.url).create_queue(QueueName="ses-events")["QueueUrl"]
    with serve(tmp_path, tmp_path / "serve.log") as server:
        env = dict(os.environ, NEWSLETTER_BASE_URL=server.url, NEWSLETTER_MAX_SEND_RATE="500",
                   NEWSLETTER_SQS_QUEUE_URL=queue, NEWSLETTER_SQS_ENDPOINT_URL=sqs.url)
        run(["send", str(sample_issue_path), "--yes"], env)
        accepted = {m.destinations[0]: m for m in ses.messages()}
        assert sorted(accepted) == sorted(readers)
        mail = [accepted[email] for email in readers]  # reader n is mail[n]
        p1, p2 = paper_ids(sample_issue_path)

        # -- SES's events, through the queue ----------------------------------------------
        t0 = dt.datetime.now(dt.UTC)
        at = lambda seconds: t0 + dt.timedelta(seconds=seconds)  # noqa: E731
        events: list[dict[str, Any]] = []
        bounced, complained = range(290, 296), range(296, 298)
        for n, message in enumerate(mail):
            if n in bounced:
                events.append(engagement_event(message, "bounce", at(2)))
            else:
                events.append(engagement_event(message, "delivery", at(2)))
            if n in complained:
                events.append(engagement_event(message, "complaint", at(600)))
        for n in range(100):  # readers open it
            events.append(engagement_event(mail[n], "open", at(3600 + n), userAgent=IPHONE))
        for n in range(100, 140):  # Apple's proxy fetches it on arrival
            events.append(engagement_event(mail[n], "open", at(30), userAgent=APPLE_PROXY))
        for n in range(130, 140):  # ... and ten of those readers open it later themselves
            events.append(engagement_event(mail[n], "open", at(7200), userAgent=IPHONE))
        for n in range(50):
            events.append(engagement_event(mail[n], "click", at(3700 + n),
                                           link=f"https://arxiv.org/abs/{p1}"))
        for n in range(20):  # the same paper again, by its PDF
            events.append(engagement_event(mail[n], "click", at(3800 + n),
                                           link=f"https://arxiv.org/pdf/{p1}v1"))
        for n in range(20, 40):
            events.append(engagement_event(mail[n], "click", at(3800 + n),
                                           link=f"https://arxiv.org/html/{p2}v2"))
        for repeat in range(3):
            events.append(engagement_event(mail[0], "click", at(4000 + repeat),
                                           link=f"https://arxiv.org/abs/{p1}v2"))
        events.append(engagement_event(mail[60], "click", at(3900),
                                       link=f"{server.url}/archive/"))
        replayed = [events[-1], events[0], events[310]]  # a click, a delivery, an open
        bodies = [json.dumps(e) for e in [*events, *replayed]]
        sqs_client = client("sqs", sqs.url)
        for start in range(0, len(bodies), 10):
            entries = [{"Id": str(i), "MessageBody": b}
                       for i, b in enumerate(bodies[start:start + 10])]
            sqs_client.send_message_batch(QueueUrl=queue, Entries=entries)
        polled = subprocess.run([NEWSLETTER, "events", "poll", "--once", "--wait", "1"],
                                env=env, capture_output=True, text=True, timeout=300)
        assert polled.returncode == 0, polled.stdout + polled.stderr
        assert f"{len(events):,} events applied, 3 duplicates" in polled.stdout, polled.stdout

        # -- readers leave through the issue's links ------------------------------------
        with httpx.Client(timeout=10) as web:
            for n in range(200, 205):  # RFC 8058 one-click, as a mail provider posts it
                url = str(mail[n].parsed()["List-Unsubscribe"]).split(",")[0].strip("<> ")
                answer = web.post(url, data={"List-Unsubscribe": "One-Click"})
                assert answer.status_code == 200, answer.text
            page = web.get(link(mail[205], "preferences"))
            token = re.search(r'name="form_token" value="([^"]+)"', page.text)
            assert page.status_code == 200 and token
            saved = web.post(link(mail[205], "preferences"),
                             data={"form_token": token.group(1), "language": "en",
                                   "categories": ["CL"]})  # the client keeps its cookie
            assert saved.status_code == 200, saved.text
            leave = re.search(r'action="([^"]*/unsubscribe/[^"]+)"', saved.text)
            assert leave
            assert web.post(leave.group(1)).status_code == 200

    report = json.loads(run(["report", "2022-09-07", "--json"], env))
    expected = {
        "issue": "2022-09-07", "recipients": 300, "sent": 300, "delivered": 294,
        "bounced": 6, "complained": 2, "opened_unique": 110, "opened_machine": 30,
        "clicked_unique": 51, "clicks_total": 50 + 20 + 20 + 3 + 1, "unsubscribed": 6,
        "preferences_changed": 1,
    }
    assert {k: report[k] for k in expected} == expected
    assert set(report) == {*expected, "by_variant", "papers"}
    for name in ("sent", "delivered", "opened_unique", "clicks_total", "unsubscribed"):
        assert sum(v[name] for v in report["by_variant"].values()) == expected[name]
    top, second = report["papers"][:2]
    assert (top["arxiv_id"], top["readers"], top["clicks"]) == (p1, 50, 73)
    assert (second["arxiv_id"], second["readers"], second["clicks"]) == (p2, 20, 20)
    assert top["title"] and all(p["readers"] == 0 for p in report["papers"][2:])

    # -- the sunset dry run names the readers with no open or click -----------------------
    left = {*range(200, 206), *bounced, *complained}
    inactive = {readers[n] for n in range(140, 300) if n not in left}
    dry = run(["hygiene", "--sunset-issues", "1"], env)
    named = set(re.findall(r"^  (\S+@\S+)$", dry.split("would ask to stay:")[1].split(
        "would unsubscribe")[0], re.M))
    assert named == inactive and len(named) == 146
    assert "dry run: nothing changed" in dry

    # -- forty days later, the prune keeps bounces and complaints -------------------------
    db = open_database(os.environ["NEWSLETTER_DATABASE_URL"])
    with db.engine.begin() as conn:
        conn.execute(update(ses_events).values(
            received_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=40)))
        assert conn.execute(select(subscribers.c.status).where(
            subscribers.c.email == readers[296])).scalar_one() == "complained"
    run(["db", "prune"], env)
    with db.engine.connect() as conn:
        kept = conn.execute(select(ses_events.c.kind, ses_events.c.payload)).all()
    db.close()
    assert sorted(kind for kind, _ in kept) == ["bounce"] * 6 + ["complaint"] * 2
    assert all(json.loads(payload)["eventType"] in ("Bounce", "Complaint")
               for _, payload in kept)
    assert json.loads(run(["report", "2022-09-07", "--json"], env)) == report
