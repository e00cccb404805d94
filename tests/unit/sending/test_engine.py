"""The delivery engine: rate control, retries, throttling, pauses, in-doubt messages, the CLI."""

from __future__ import annotations

import json
import os
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from support.clock import FakeClock
from support.delivery import delivery_rows, outbox, subscribe
from support.moto_ses import fault, hook, ok
from support.sending import campaign_messages, campaign_status, plan_send, send_issue
from typer.testing import CliRunner

from newsletter import wiring
from newsletter.aws import ses_client
from newsletter.cli.main import app
from newsletter.cli.progress import LogProgress
from newsletter.issues.loader import load_issue
from newsletter.sending.engine import DeliveryRun
from newsletter.sending.messages import CampaignMessages
from newsletter.sending.pacing import AdaptiveRate, TokenBucket
from newsletter.sending.plan import RetryPolicy, RunConfig, plan_concurrency, plan_rate
from newsletter.sending.report import left_out_line
from newsletter.settings import get_settings
from newsletter.store.campaigns import CampaignStore
from newsletter.store.db import open_database
from newsletter.store.subscribers import SubscriberStore
from newsletter.transports import MAX_CONCURRENCY, SendQuota
from newsletter.transports.outbox import OutboxTransport
from newsletter.transports.ses import SesTransport

# -- rate control -----------------------------------------------------------------------


def test_bucket_paces_evenly_and_holds_only_its_burst() -> None:
    """Tokens are spaced 1/rate apart; an idle bucket grants only ``burst`` at once."""
    clock = FakeClock(100.0)
    bucket = TokenBucket(10, clock=clock.seconds)
    assert [round(bucket.reserve(), 3) for _ in range(4)] == [0.0, 0.1, 0.2, 0.3]
    clock.advance(seconds=60)  # idle for a minute: no stored burst beyond one token
    assert [round(bucket.reserve(), 3) for _ in range(3)] == [0.0, 0.1, 0.2]
    clock.advance(seconds=60)
    roomy = TokenBucket(10, burst=3, clock=clock.seconds)
    clock.advance(seconds=60)
    assert [round(roomy.reserve(), 3) for _ in range(4)] == [0.0, 0.0, 0.0, 0.1]


def test_bucket_penalty_and_new_rate_apply_to_later_tokens() -> None:
    """penalize() holds every caller back; set_rate() changes the spacing from then on."""
    clock = FakeClock(100.0)
    bucket = TokenBucket(10, clock=clock.seconds)
    bucket.reserve()
    bucket.penalize(2.0)
    assert bucket.reserve() == pytest.approx(2.0)
    bucket.set_rate(1)
    assert bucket.reserve() == pytest.approx(2.1)  # reserved at the old pace
    assert bucket.reserve() == pytest.approx(3.1)
    with pytest.raises(ValueError, match="positive"):
        bucket.set_rate(0)


def test_adaptive_rate_drops_once_per_volley_and_recovers() -> None:
    """Throttles cut the rate by a tenth (once per cooldown); successes bring it back up."""
    clock = FakeClock(100.0)
    bucket = TokenBucket(100, clock=clock.seconds)
    rate = AdaptiveRate(bucket, 100, clock=clock.seconds, jitter=lambda low, high: 1.0)
    for _ in range(10):  # a volley from many threads at the same moment
        rate.on_throttle()
    assert rate.rate == pytest.approx(90)
    assert rate.throttles == 10
    clock.advance(seconds=1.5)
    rate.on_throttle()
    assert rate.rate == pytest.approx(81)
    clock.advance(seconds=0.5)
    rate.on_success()  # +15% of the ceiling per second
    assert rate.rate == pytest.approx(88.5)
    clock.advance(seconds=60)
    rate.on_success()
    assert rate.rate == pytest.approx(100)  # never above the ceiling
    rate.set_ceiling(50)  # another worker joined
    assert rate.rate == pytest.approx(50)


def test_rate_is_our_cap_or_the_account_rate_less_headroom() -> None:
    """The send rate is min(MAX_SEND_RATE, MaxSendRate x (1 - headroom)); threads follow it."""
    quota = SendQuota(max_send_rate=14, max_24_hour_send=50_000, sent_last_24_hours=0)
    assert plan_rate(100, quota, 0.05) == pytest.approx(13.3)
    assert plan_rate(10, quota, 0.05) == 10
    assert plan_rate(10, None, 0.05) == 10
    assert plan_concurrency(14) == 3
    assert plan_concurrency(300) == 60
    assert plan_concurrency(5000) == 64
    assert plan_concurrency(14, configured=8) == 8


# -- through moto, with faults injected ---------------------------------------------------


def ses_transport() -> SesTransport:
    settings = get_settings()
    connections = max(MAX_CONCURRENCY, settings.send_concurrency)
    transport = SesTransport(
        ses_client(wiring.aws_config(settings), connections), settings.ses_configuration_set
    )
    return transport


def recipients(ses: Any) -> Counter[str]:
    return Counter(str(m.parsed()["To"]) for m in ses.messages())


def destination(request: Any) -> str:
    return str(json.loads(request.body)["Destination"]["ToAddresses"][0])


@pytest.mark.e2e  # a whole campaign or process: `make test`, not test-fast
def test_throttling_and_server_errors_still_deliver_exactly_once(
    ses: Any, sample_issue_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With every 3rd call throttled and every 7th a 503, each reader gets one message."""
    monkeypatch.setenv("NEWSLETTER_MAX_SEND_RATE", "500")
    url = os.environ["NEWSLETTER_DATABASE_URL"]
    readers = [r for r in subscribe(url, 90) if r.expects_issue]
    transport = ses_transport()
    calls = Counter[str]()
    lock = threading.Lock()

    def flaky(_request: Any) -> Any:
        with lock:
            calls["all"] += 1
            n = calls["all"]
        if n % 3 == 0:
            calls["throttled"] += 1
            return fault(429, "TooManyRequestsException", "Maximum sending rate exceeded.")
        if n % 7 == 0:
            calls["503"] += 1
            return fault(503, "ServiceUnavailable", "Service Unavailable")
        return None

    hook(transport.client, "SendEmail", flaky)
    summary = send_issue(get_settings(), str(sample_issue_path), transport=transport)

    assert summary.outcome == "done", summary.lines()
    assert recipients(ses) == Counter(r.email for r in readers)
    assert calls["throttled"] > 10 and calls["503"] > 3
    assert summary.run is not None and summary.run.throttled == calls["throttled"]
    assert summary.counts.sent == len(readers)


@pytest.mark.e2e  # a whole campaign or process: `make test`, not test-fast
def test_account_suspension_pauses_and_a_rerun_finishes(
    ses: Any, sample_issue_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SendingPaused stops the campaign cleanly; the next run sends the rest, nobody twice."""
    monkeypatch.setenv("NEWSLETTER_MAX_SEND_RATE", "500")
    url = os.environ["NEWSLETTER_DATABASE_URL"]
    readers = [r for r in subscribe(url, 120) if r.expects_issue]
    transport = ses_transport()
    calls = Counter[str]()
    lock = threading.Lock()

    def pause_after_30(_request: Any) -> Any:
        with lock:
            calls["all"] += 1
            n = calls["all"]
        if n > 30:
            return fault(400, "SendingPausedException", "Sending is paused for this account.")
        return None

    hook(transport.client, "SendEmail", pause_after_30)
    first = send_issue(get_settings(), str(sample_issue_path), transport=transport)

    assert first.outcome == "paused" and first.exit_code == 3
    assert "SendingPausedException" in first.campaign.paused_reason
    assert any(line.startswith("paused: ") for line in first.lines())
    assert first.counts.sending == 0 and first.counts.failed == 0
    assert first.counts.sent == sum(recipients(ses).values()) == 30

    second = send_issue(get_settings(), str(sample_issue_path), transport=ses_transport())

    assert second.outcome == "done" and second.exit_code == 0
    assert recipients(ses) == Counter(r.email for r in readers)
    assert second.campaign.paused_reason == ""


@pytest.mark.e2e  # a whole campaign or process: `make test`, not test-fast
def test_rejected_recipient_fails_alone_with_the_reason(
    ses: Any, sample_issue_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """MessageRejected for one address marks that delivery failed; everyone else gets it."""
    monkeypatch.setenv("NEWSLETTER_MAX_SEND_RATE", "500")
    url = os.environ["NEWSLETTER_DATABASE_URL"]
    readers = [r for r in subscribe(url, 21) if r.expects_issue]
    rejected = readers[4].email
    transport = ses_transport()
    hook(transport.client, "SendEmail", lambda request: fault(
        400, "MessageRejected", "Email address is on the account-level suppression list"
    ) if destination(request) == rejected else None)

    summary = send_issue(get_settings(), str(sample_issue_path), transport=transport)

    assert summary.outcome == "done"
    assert recipients(ses) == Counter(r.email for r in readers if r.email != rejected)
    row = next(r for r in delivery_rows(url) if r["email"] == rejected)
    assert row["status"] == "failed"
    assert "suppression list" in str(row["error"])


@pytest.mark.e2e  # a whole campaign or process: `make test`, not test-fast
def test_daily_quota_pauses_before_it_is_exceeded(
    ses: Any, sample_issue_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With 10 messages left in the 24-hour quota, 10 are sent and the campaign pauses."""
    monkeypatch.setenv("NEWSLETTER_MAX_SEND_RATE", "500")
    url = os.environ["NEWSLETTER_DATABASE_URL"]
    readers = [r for r in subscribe(url, 40) if r.expects_issue]
    quota = {"Max24HourSend": 1000.0, "MaxSendRate": 400.0, "SentLast24Hours": 990.0}
    transport = ses_transport()
    hook(transport.client, "GetAccount", lambda _request: ok({"SendQuota": quota}))

    first = send_issue(get_settings(), str(sample_issue_path), transport=transport)

    assert first.outcome == "paused"
    assert "24-hour sending quota" in first.campaign.paused_reason
    assert sum(recipients(ses).values()) == first.counts.sent == 10
    assert first.rate == pytest.approx(380)
    quota["SentLast24Hours"] = 0.0  # the window moved on
    second = send_issue(get_settings(), str(sample_issue_path), transport=transport)
    assert second.outcome == "done"
    assert recipients(ses) == Counter(r.email for r in readers)


@pytest.mark.e2e  # a whole campaign or process: `make test`, not test-fast
@pytest.mark.parametrize("policy", ["skip", "resend"])
def test_lost_answer_is_in_doubt_or_resent_by_policy(
    ses: Any, sample_issue_path: Path, monkeypatch: pytest.MonkeyPatch, policy: str
) -> None:
    """A read timeout leaves the message in doubt (skip, reported) or retried (resend)."""
    from botocore.exceptions import ReadTimeoutError

    monkeypatch.setenv("NEWSLETTER_MAX_SEND_RATE", "500")
    monkeypatch.setenv("NEWSLETTER_IN_DOUBT_POLICY", policy)
    url = os.environ["NEWSLETTER_DATABASE_URL"]
    readers = [r for r in subscribe(url, 14) if r.expects_issue]
    unlucky = readers[2].email
    transport = ses_transport()
    timed_out: list[str] = []

    def lose_first_answer(request: Any) -> None:
        if destination(request) == unlucky and not timed_out:
            timed_out.append(unlucky)
            raise ReadTimeoutError(endpoint_url="http://127.0.0.1")

    hook(transport.client, "SendEmail", lose_first_answer)
    summary = send_issue(get_settings(), str(sample_issue_path), transport=transport)

    assert timed_out == [unlucky]
    assert summary.outcome == "done"
    if policy == "skip":
        assert summary.counts.in_doubt == 1
        assert f"delivery {summary.in_doubt[0][0]}: {unlucky}" in "\n".join(summary.lines())
        assert unlucky not in recipients(ses)
    else:
        assert summary.counts.in_doubt == 0
        assert recipients(ses) == Counter(r.email for r in readers)


# -- the engine directly ------------------------------------------------------------------


class FailingFor:
    """The outbox, except that one address always gets a 5xx-like failure."""

    name = "failing"

    def __init__(self, directory: Path, address: str) -> None:
        self.outbox = OutboxTransport(directory)
        self.address = address
        self.calls = Counter[str]()

    def send(self, raw: bytes, to: str) -> str:
        from newsletter.errors import TransientTransportError

        self.calls[to] += 1
        if to == self.address:
            raise TransientTransportError("503 Service Unavailable")
        return self.outbox.send(raw, to)


def test_transient_failures_past_the_retries_leave_the_delivery_queued_for_later(
    tmp_path: Path, sample_issue_path: Path
) -> None:
    """After 5 tries a delivery is deferred (queued, not failed); the others are sent."""
    url = os.environ["NEWSLETTER_DATABASE_URL"]
    readers = [r for r in subscribe(url, 14) if r.expects_issue]
    settings = get_settings()
    db = open_database(url)
    store = CampaignStore(db)
    campaign, _ = store.start("2022-09-07", str(sample_issue_path), ["CL", "CV", "LG"])
    transport = FailingFor(tmp_path / "outbox", readers[0].email)
    messages = campaign_messages(
        settings, load_issue(sample_issue_path), store.variants(campaign.id), campaign.id
    )
    lines: list[str] = []
    with LogProgress("2022-09-07", len(readers), write=lines.append) as progress:
        result = DeliveryRun(
            store, transport, messages, AdaptiveRate(TokenBucket(1000), 1000),
            RunConfig(campaign.id, "w", concurrency=4, retry=RetryPolicy(base_delay=0.001)),
            progress=progress,
        ).run()

    assert transport.calls[readers[0].email] == 5
    assert (result.sent, result.deferred, result.failed) == (len(readers) - 1, 1, 0)
    counts = store.counts(campaign.id)
    assert (counts.queued, counts.deferred, counts.sent) == (1, 1, len(readers) - 1)
    assert not store.finish_if_complete(campaign.id)
    assert len(outbox(tmp_path / "outbox")) == len(readers) - 1
    assert lines[-1].startswith(f"2022-09-07: {len(readers) - 1}/{len(readers)} done")
    assert "deferred 1" in lines[-1]
    db.close()


def test_workers_share_the_rate(tmp_path: Path, sample_issue_path: Path) -> None:
    """When the heartbeat reports three busy workers, this one sends at a third of the rate."""
    url = os.environ["NEWSLETTER_DATABASE_URL"]
    subscribe(url, 7)
    db = open_database(url)
    store = CampaignStore(db)
    campaign, _ = store.start("2022-09-07", str(sample_issue_path), ["CL", "CV", "LG"])
    messages = campaign_messages(
        get_settings(), load_issue(sample_issue_path), store.variants(campaign.id), campaign.id
    )
    rate = AdaptiveRate(TokenBucket(300), 300)
    DeliveryRun(
        store, OutboxTransport(tmp_path / "outbox"), messages, rate,
        RunConfig(campaign.id, "w", concurrency=2), heartbeat=lambda: 3,
    ).run()
    assert rate.ceiling == pytest.approx(100)
    assert rate.rate <= 100
    db.close()


def test_messages_share_one_date_per_second() -> None:
    """The Date header is formatted once per second, not per message."""
    now = [1_662_530_400.2]
    messages = CampaignMessages({}, "k" * 32, 1, clock=lambda: now[0])
    first = messages.date()
    now[0] += 0.5
    assert messages.date() is first
    now[0] += 1
    assert messages.date() != first
    assert first == "Wed, 07 Sep 2022 06:00:00 +0000"


# -- the commands -------------------------------------------------------------------------


def test_send_refuses_without_a_terminal_or_yes(sample_issue_path: Path) -> None:
    """Cron must say --yes; without it, and without a terminal, nothing is sent."""
    subscribe(os.environ["NEWSLETTER_DATABASE_URL"], 7)
    result = CliRunner().invoke(app, ["send", str(sample_issue_path)])
    assert result.exit_code == 1
    assert "--yes" in result.output
    assert not Path("outbox").exists()
    assert delivery_rows(os.environ["NEWSLETTER_DATABASE_URL"]) == []


def test_send_requires_a_real_secret_key(
    sample_issue_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without NEWSLETTER_SECRET_KEY (or with an example value) send stops with a clear error."""
    monkeypatch.setenv("NEWSLETTER_SECRET_KEY", "change-me")
    result = CliRunner().invoke(app, ["send", str(sample_issue_path), "--yes"])
    assert result.exit_code == 1
    assert "NEWSLETTER_SECRET_KEY" in result.output
    assert "Traceback" not in result.output


@pytest.mark.e2e  # a whole campaign or process: `make test`, not test-fast
def test_send_then_status_through_the_commands(
    sample_issue_path: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`send --yes` sends through the outbox and exits 0; `status` shows the counts."""
    monkeypatch.setenv("NEWSLETTER_MAX_SEND_RATE", "500")
    readers = [r for r in subscribe(os.environ["NEWSLETTER_DATABASE_URL"], 21) if r.expects_issue]
    runner = CliRunner()
    sent = runner.invoke(app, ["send", "2022-09-07", "--yes"], env={
        "NEWSLETTER_ISSUES_DIR": str(sample_issue_path.parent)})
    assert sent.exit_code == 0, sent.output
    assert f"{len(readers)} sent" in sent.output
    assert Counter(m["To"] for m in outbox(tmp_path / "outbox")) == Counter(
        r.email for r in readers)
    status = runner.invoke(app, ["status", "2022-09-07"])
    assert status.exit_code == 0
    assert f"campaign 2022-09-07: done; {len(readers)} deliveries: {len(readers)} sent" in (
        status.output)
    again = runner.invoke(app, ["send", str(sample_issue_path), "--yes"])
    assert again.exit_code == 0
    assert len(outbox(tmp_path / "outbox")) == len(readers)


def test_status_of_an_unknown_campaign_is_a_clear_error() -> None:
    """`status` for an issue never sent says so and exits 1."""
    result = CliRunner().invoke(app, ["status", "2022-09-08"])
    assert result.exit_code == 1
    assert "no campaign for 2022-09-08" in result.output


def test_enqueue_only_snapshots_without_sending(sample_issue_path: Path) -> None:
    """`send --enqueue-only` queues every recipient and leaves sending to workers."""
    readers = [r for r in subscribe(os.environ["NEWSLETTER_DATABASE_URL"], 14) if r.expects_issue]
    result = CliRunner().invoke(app, ["send", str(sample_issue_path), "--yes", "--enqueue-only"])
    assert result.exit_code == 0, result.output
    rows = delivery_rows(os.environ["NEWSLETTER_DATABASE_URL"])
    assert len(rows) == len(readers) and {r["status"] for r in rows} == {"queued"}
    assert not Path("outbox").exists()


def test_progress_is_a_bar_on_a_terminal_and_log_lines_otherwise() -> None:
    """A terminal gets a live bar with sent/failed counts; a log gets throttled plain lines."""
    import io

    from rich.console import Console

    from newsletter.cli.progress import RichProgress

    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=120)
    with RichProgress("2022-09-07", 4, 1, console=console) as bar:
        for status in ("sent", "sent", "failed"):
            bar.advance(status)
        bar.note("paused: SendingPausedException")
    shown = screen.getvalue()
    assert "sent 2 · failed 1" in shown and "4/4" in shown
    assert "paused: SendingPausedException" in shown

    clock = FakeClock(100.0)
    lines: list[str] = []
    with LogProgress("2022-09-07", 100, write=lines.append, interval=5, clock=clock.seconds) as log:
        for _ in range(10):
            clock.advance(seconds=1)
            log.advance("sent")
    assert lines[0] == "2022-09-07: 100 of 100 to go"
    assert len(lines) == 4  # the start, one every 5 seconds, the end
    assert lines[-1] == (
        "2022-09-07: 10/100 done, sent 10, failed 0, in doubt 0, deferred 0, 1.0/s, ETA 1m30s"
    )


# -- who gets nothing -------------------------------------------------------------------


@pytest.mark.slow
def test_left_out_count_is_the_active_readers_the_snapshot_skips(
    database_url: str, sample_issue_path: Path
) -> None:
    """count_left_out counts exactly the active, unsuppressed readers the snapshot leaves out."""
    readers = subscribe(database_url, 30)
    db = open_database(database_url)
    try:
        subscribers = SubscriberStore(db)
        # Not active, or suppressed: not "left out" by this issue, whatever they chose.
        gone = subscribers.add("gone@example.com", categories={"RO"}, status="active")
        subscribers.set_status(gone.id, "unsubscribed", "test")
        subscribers.add("later@example.com", categories={"AS"}, status="pending")
        subscribers.add("quiet@example.com", categories={"RO"}, status="active")
        subscribers.suppress("quiet@example.com", "manual")
        cats = sorted({p.category for p in load_issue(sample_issue_path).papers})
        store = CampaignStore(db)
        left_out = store.count_left_out(cats)
        expected = sum(not r.expects_issue for r in readers)
        assert expected > 0
        assert left_out == expected
        assert store.count_recipients(cats) + left_out == len(readers)
        assert store.count_left_out([]) == len([r for r in readers if r.categories])
    finally:
        db.close()


@pytest.mark.e2e  # a whole campaign or process: `make test`, not test-fast
def test_send_says_how_many_readers_get_nothing(sample_issue_path: Path) -> None:
    """The send plan and summary name the active readers whose categories have no paper."""
    url = os.environ["NEWSLETTER_DATABASE_URL"]
    readers = subscribe(url, 14)
    nothing = sum(not r.expects_issue for r in readers)
    line = (f"{nothing} active subscribers chose only categories with no paper in this issue, "
            "so they get nothing today")  # fmt: skip
    plan = plan_send(get_settings(), str(sample_issue_path))
    assert plan.question() == f"Send 2022-09-07 to {len(readers) - nothing} subscribers? ({line})"
    assert plan.question().count("(") == 1  # no parentheses inside the parentheses
    sent = CliRunner().invoke(app, ["send", str(sample_issue_path), "--yes"])
    assert sent.exit_code == 0, sent.output
    assert f"{len(readers) - nothing} sent" in sent.stdout
    assert line in sent.stdout.splitlines()
    again = plan_send(get_settings(), str(sample_issue_path))
    assert again.campaign is not None and again.left_out == 0
    assert "get nothing" not in "\n".join(campaign_status(get_settings(), "2022-09-07").lines())


def test_one_reader_left_out_is_named_in_the_singular() -> None:
    """The line reads naturally for a single reader."""
    assert left_out_line(1) == (
        "1 active subscriber chose only categories with no paper in this issue, "
        "so they get nothing today"
    )
