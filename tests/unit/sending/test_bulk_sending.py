"""Bulk sending through ``newsletter send`` into the loopback SES simulator: per-entry
results set each delivery's state by the rules of a single send, a lost answer leaves its
call's entries in doubt, the rate counts recipients, the setting turns bulk off."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.delivery import delivery_rows, subscribe
from support.env import use_loopback_ses
from support.sending import send_issue
from support.ses_sim import SesSimulator

from newsletter.sending.batch import entries_per_call
from newsletter.sending.pacing import TokenBucket
from newsletter.settings import Settings


@pytest.fixture
def sim(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[SesSimulator]:
    with SesSimulator(1000, latency=0.0) as server:
        use_loopback_ses(monkeypatch, tmp_path, server.url)
        yield server


def readers(count: int) -> list[str]:
    import os

    return [r.email for r in subscribe(os.environ["NEWSLETTER_DATABASE_URL"], count)
            if r.expects_issue]


def rows_by_email() -> dict[str, dict[str, object]]:
    import os

    return {str(r["email"]): r for r in delivery_rows(os.environ["NEWSLETTER_DATABASE_URL"])}


@pytest.mark.e2e  # a whole campaign
def test_each_entry_is_judged_by_the_rules_of_a_single_send(
    sim: SesSimulator, sample_issue_path: Path
) -> None:
    emails = readers(30)
    retried, rejected, throttled = emails[0], emails[1], emails[2]
    sim.fail_entry(retried, "TRANSIENT_FAILURE")
    sim.fail_entry(rejected, "MESSAGE_REJECTED")
    sim.fail_entry(throttled, "ACCOUNT_THROTTLED", "ACCOUNT_THROTTLED")

    summary = send_issue(Settings(), str(sample_issue_path))

    rows = rows_by_email()
    assert rows[rejected]["status"] == "failed"
    assert "MessageRejected" in str(rows[rejected]["error"])
    assert Counter(str(r["status"]) for r in rows.values()) == {"sent": len(emails) - 1,
                                                               "failed": 1}
    stats = sim.stats()
    assert stats["duplicates"] == 0 and stats["unique_recipients"] == len(emails) - 1
    assert stats["calls"] - 1 == stats["bulk_calls"]  # GetAccount, then bulk calls only
    assert summary.run is not None and summary.run.throttled >= 1  # AIMD slowed down


@pytest.mark.e2e  # a whole campaign
def test_a_lost_answer_leaves_its_entries_in_doubt_never_sent_twice(
    sim: SesSimulator, sample_issue_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSLETTER_IN_DOUBT_POLICY", "skip")
    emails = readers(140)
    sim.lose_answers(1)

    summary = send_issue(Settings(), str(sample_issue_path))

    statuses = Counter(str(r["status"]) for r in rows_by_email().values())
    stats = sim.stats()
    # The lost call's entries (one variant's share of a claim) are in doubt; SES took them.
    assert 1 <= statuses["in_doubt"] <= 50
    assert statuses["sent"] + statuses["in_doubt"] == len(emails)
    assert stats["unique_recipients"] == len(emails) and stats["duplicates"] == 0
    assert summary.counts.in_doubt == statuses["in_doubt"]


@pytest.mark.e2e  # a whole campaign
def test_an_account_level_entry_status_pauses_the_campaign(
    sim: SesSimulator, sample_issue_path: Path
) -> None:
    emails = readers(30)
    sim.fail_entry(emails[0], "ACCOUNT_SENDING_PAUSED")

    summary = send_issue(Settings(), str(sample_issue_path))

    statuses = Counter(str(r["status"]) for r in rows_by_email().values())
    assert summary.outcome == "paused"
    assert statuses["queued"] >= 1 and statuses.keys() <= {"queued", "sent"}
    assert sim.stats()["unique_recipients"] == statuses["sent"]


@pytest.mark.e2e  # a whole campaign
def test_the_setting_turns_bulk_off(
    sim: SesSimulator, sample_issue_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSLETTER_SES_BULK", "false")
    emails = readers(14)

    send_issue(Settings(), str(sample_issue_path))

    stats = sim.stats()
    assert stats["bulk_calls"] == 0 and stats["unique_recipients"] == len(emails)


@pytest.mark.e2e  # a whole campaign
def test_a_call_holds_no_more_readers_than_the_rate_allows_in_a_second(
    sim: SesSimulator, sample_issue_path: Path
) -> None:
    sim.reset(12)  # GetAccount says MaxSendRate 12: 11.4/s after the 5% headroom
    emails = readers(40)

    summary = send_issue(Settings(), str(sample_issue_path))

    stats = sim.stats()
    assert summary.counts.sent == len(emails) and stats["unique_recipients"] == len(emails)
    assert stats["throttled"] == 0
    assert stats["bulk_calls"] >= len(emails) / 11


def test_a_bulk_call_takes_one_token_per_recipient() -> None:
    now = [100.0]
    bucket = TokenBucket(100.0, clock=lambda: now[0])
    # 50 recipients at 100/s: the call goes when its last token is due (0.49 s), and the
    # next call's tokens follow on.
    assert bucket.reserve(50) == pytest.approx(0.49)
    assert bucket.reserve(50) == pytest.approx(0.99)
    assert bucket.reserve() == pytest.approx(1.0)


@pytest.mark.parametrize("rate", [0.95, 1.0, 11.4, 13.3, 60.0, 95.0, 285.0, 950.0, 2425.0, 1e5])
def test_a_second_never_holds_more_than_the_rate_plus_a_reader_per_call(rate: float) -> None:
    k = entries_per_call(rate, 50)
    calls_in_a_second = math.ceil(rate / k)  # calls paced k / rate apart
    assert 1 <= k <= 50
    assert k * calls_in_a_second <= rate + calls_in_a_second
    if rate <= 50:  # one call a second, of no more readers than the rate rounded up
        assert calls_in_a_second == 1 and k == math.ceil(rate)
