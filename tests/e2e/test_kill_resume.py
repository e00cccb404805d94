"""`newsletter send` SIGKILLed mid-send, again and again, then resumed: nobody gets two copies.

Two real destinations: the outbox (every copy is a file we can count per delivery) and the
simulated SES endpoint of ``bench/ses_sim.py`` with SES's 50 ms answer time over HTTP, so
each kill catches messages that SES accepted but whose answer never arrived.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support.delivery import delivery_rows, outbox, subscribe
from support.env import SES_SIM, use_loopback_ses

NEWSLETTER = str(Path(sys.executable).with_name("newsletter"))
SIM = SES_SIM


def start_send(issue: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [NEWSLETTER, "send", str(issue), "--yes"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


def kill_mid_send(
    issue: Path, env: dict[str, str], progress: Callable[[], int], after: int
) -> bool:
    """Start a send, SIGKILL it once ``after`` more messages are out; False if it finished."""
    before = progress()
    process = start_send(issue, env)
    deadline = time.monotonic() + 60
    while progress() < before + after:
        if process.poll() is not None:
            return False
        assert time.monotonic() < deadline, "the send made no progress"
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=30)
    return True


@pytest.fixture
def ses_sim(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[str]:
    """The simulated SES endpoint in its own process, 50 ms per call, a generous rate."""
    process = subprocess.Popen(
        [sys.executable, str(SIM), "--rate", "1000", "--latency", "0.05"],
        # Its stderr would fill with the broken pipes of the killed senders' connections.
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    assert process.stdout is not None
    url = process.stdout.readline().strip().removeprefix("listening on ")
    assert url.startswith("http://127.0.0.1:"), url
    use_loopback_ses(monkeypatch, tmp_path, url)
    # These kills count single sends; bulk calls are killed in test_bulk_kill.py.
    monkeypatch.setenv("NEWSLETTER_SES_BULK", "false")
    yield url
    process.terminate()
    process.wait(timeout=10)
    process.stdout.close()


def sim_stats(url: str) -> dict[str, int]:
    with urllib.request.urlopen(f"{url}/_sim/stats", timeout=10) as answer:
        stats: dict[str, int] = json.load(answer)
    return stats


def four_kills_then_resume(
    issue: Path, policy: str, progress: Callable[[], int]
) -> tuple[str, list[dict[str, object]]]:
    env = dict(os.environ, NEWSLETTER_MAX_SEND_RATE="80", NEWSLETTER_IN_DOUBT_POLICY=policy)
    kills = sum(kill_mid_send(issue, env, progress, after=17 + 9 * n) for n in range(4))
    assert kills == 4, "every kill should land while messages were being sent"
    final = start_send(issue, env)
    output, _ = final.communicate(timeout=120)
    assert final.returncode == 0, output
    status = subprocess.run(
        [NEWSLETTER, "status", "2022-09-07"], env=env, capture_output=True, text=True, check=True
    )
    return output + status.stdout, delivery_rows(os.environ["NEWSLETTER_DATABASE_URL"])


@pytest.mark.parametrize("policy", ["skip", "resend"])
def test_killed_outbox_sends_resume_without_second_copies(
    tmp_path: Path, sample_issue_path: Path, policy: str
) -> None:
    """After 4 SIGKILLs and a resume, per delivery: sent means one copy (skip) or more."""
    readers = [r for r in subscribe(os.environ["NEWSLETTER_DATABASE_URL"], 260)
               if r.expects_issue]
    directory = tmp_path / "outbox"

    output, rows = four_kills_then_resume(
        sample_issue_path, policy, lambda: len(list(directory.glob("*.eml")))
    )

    copies = Counter(str(m["X-Newsletter-Delivery"]).split(".")[1] for m in outbox(directory))
    assert {r["email"] for r in rows} == {r.email for r in readers}
    if policy == "skip":
        # At most once: a delivery recorded as sent has exactly one copy, an in-doubt one
        # has at most one, and nothing else is left.
        assert {r["status"] for r in rows} <= {"sent", "in_doubt"}
        for row in rows:
            assert copies[str(row["id"])] == 1 if row["status"] == "sent" else (
                copies[str(row["id"])] <= 1), row
        in_doubt = [r for r in rows if r["status"] == "in_doubt"]
        assert f"{len(in_doubt)} in doubt" in output
    else:
        # At least once: everybody has a copy and every delivery ends sent.
        assert {r["status"] for r in rows} == {"sent"}
        assert all(copies[str(r["id"])] >= 1 for r in rows)


def test_killed_ses_sends_resume_and_report_the_messages_in_doubt(
    ses_sim: str, sample_issue_path: Path
) -> None:
    """With SES's latency, each kill leaves a few messages in doubt; none is sent twice."""
    readers = [r for r in subscribe(os.environ["NEWSLETTER_DATABASE_URL"], 260)
               if r.expects_issue]

    output, rows = four_kills_then_resume(
        sample_issue_path, "skip", lambda: int(sim_stats(ses_sim)["accepted"])
    )

    stats = sim_stats(ses_sim)
    statuses = Counter(str(r["status"]) for r in rows)
    assert {r["email"] for r in rows} == {r.email for r in readers}
    assert set(statuses) <= {"sent", "in_doubt"}
    assert stats["duplicates"] == 0
    # Everyone recorded as sent reached SES; the in-doubt ones may or may not have.
    assert statuses["sent"] <= stats["unique_recipients"] <= len(rows)
    assert 1 <= statuses["in_doubt"] <= 4 * 64
    assert f"{statuses['in_doubt']} in doubt" in output
    for row in [r for r in rows if r["status"] == "in_doubt"][:20]:  # the report lists 20
        assert f"delivery {row['id']}: {row['email']}" in output
