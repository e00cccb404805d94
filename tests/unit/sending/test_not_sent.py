"""Issue 25, items 1 and 7: what never reached SES is "not sent", a brake pauses a run that
only fails, and a short burst of 5xx is ridden out within the run.

Real parts: moto's SES server over HTTP, a closed loopback port (connection refused), moto's
plain-HTTP port spoken to over https (the TLS handshake fails), a dead HTTP proxy. The 503
burst is injected with a botocore event hook: moto cannot produce it.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from support.delivery import delivery_rows, outbox, subscribe
from support.moto_ses import fault, hook
from support.sending import campaign_messages, send_issue

from newsletter import wiring
from newsletter.aws import ses_client
from newsletter.errors import InDoubtTransportError, TransientTransportError
from newsletter.issues.loader import load_issue
from newsletter.sending.engine import DeliveryRun
from newsletter.sending.pacing import AdaptiveRate, TokenBucket
from newsletter.sending.plan import RetryPolicy, RunConfig
from newsletter.settings import Settings, get_settings
from newsletter.store.campaigns import CampaignStore
from newsletter.store.db import open_database
from newsletter.transports import MAX_CONCURRENCY
from newsletter.transports.outbox import OutboxTransport
from newsletter.transports.ses import SesTransport

RAW = b"From: digest@news.example.org\r\nTo: a@example.com\r\nSubject: hi\r\n\r\nhi\r\n"


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def transport_for(settings: Settings) -> SesTransport:
    return SesTransport(ses_client(wiring.aws_config(settings), MAX_CONCURRENCY))


def recipients(ses: Any) -> Counter[str]:
    return Counter(str(m.parsed()["To"]) for m in ses.messages())


# -- the seam -----------------------------------------------------------------------------


def test_failed_tls_handshake_is_not_sent(ses: Any, moto_ses_url: str) -> None:
    """https to a server that speaks plain HTTP fails the handshake: never sent, not in doubt."""
    port = moto_ses_url.rsplit(":", 1)[1]
    transport = transport_for(Settings(ses_region="us-east-1",
                                       ses_endpoint_url=f"https://127.0.0.1:{port}"))
    with pytest.raises(TransientTransportError) as caught:
        transport.send(RAW, "a@example.com")
    assert not isinstance(caught.value, InDoubtTransportError)
    assert "SSL" in type(caught.value.__cause__).__name__
    assert ses.messages() == []


def test_dead_http_proxy_is_not_sent(
    ses: Any, moto_ses_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An HTTP_PROXY that refuses connections: the request never left, so not in doubt."""
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{closed_port()}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    transport = transport_for(Settings(ses_region="us-east-1", ses_endpoint_url=moto_ses_url))
    with pytest.raises(TransientTransportError) as caught:
        transport.send(RAW, "a@example.com")
    assert not isinstance(caught.value, InDoubtTransportError)
    assert "Proxy" in type(caught.value.__cause__).__name__
    assert ses.messages() == []


# -- whole sends ------------------------------------------------------------------------------


@pytest.mark.e2e  # whole campaigns: `make test`, not test-fast
@pytest.mark.parametrize("fault_kind", ["refused", "tls"])
def test_unreachable_ses_pauses_with_everyone_still_to_send_then_sends_each_once(
    ses: Any, moto_ses_url: str, sample_issue_path: Path, monkeypatch: pytest.MonkeyPatch,
    fault_kind: str,
) -> None:
    """SES refusing connections (or failing TLS): paused, exit 3, nobody in doubt; the
    same send once SES is back delivers each reader once."""
    url = os.environ["NEWSLETTER_DATABASE_URL"]
    readers = [r for r in subscribe(url, 40) if r.expects_issue]
    port = moto_ses_url.rsplit(":", 1)[1]
    broken = {"refused": f"http://127.0.0.1:{closed_port()}",
              "tls": f"https://127.0.0.1:{port}"}[fault_kind]
    monkeypatch.setenv("NEWSLETTER_SES_ENDPOINT_URL", broken)
    monkeypatch.setenv("NEWSLETTER_SEND_RETRY_SECONDS", "0")
    monkeypatch.setenv("NEWSLETTER_SEND_BRAKE_AFTER", "3")
    monkeypatch.setenv("NEWSLETTER_MAX_SEND_RATE", "500")

    first = send_issue(get_settings(), str(sample_issue_path))

    assert first.outcome == "paused" and first.exit_code == 3, first.lines()
    assert "3 deliveries in a row could not be handed to SES" in first.campaign.paused_reason
    assert first.counts.in_doubt == 0 and first.counts.sent == 0 and first.counts.failed == 0
    assert first.counts.queued == len(readers)
    assert ses.messages() == []

    monkeypatch.setenv("NEWSLETTER_SES_ENDPOINT_URL", moto_ses_url)
    second = send_issue(get_settings(), str(sample_issue_path))

    assert second.outcome == "done", second.lines()
    assert recipients(ses) == Counter(r.email for r in readers)
    assert Counter(str(r["status"]) for r in delivery_rows(url)) == {"sent": len(readers)}


@pytest.mark.e2e  # a whole campaign: `make test`, not test-fast
def test_a_three_second_burst_of_503s_is_ridden_out_within_the_run(
    ses: Any, sample_issue_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SES answering 503 to everything for 3 s mid-send: the run still sends every reader."""
    monkeypatch.setenv("NEWSLETTER_MAX_SEND_RATE", "50")
    url = os.environ["NEWSLETTER_DATABASE_URL"]
    readers = [r for r in subscribe(url, 60) if r.expects_issue]
    transport = transport_for(get_settings())
    calls = Counter[str]()
    burst: list[float] = []
    lock = threading.Lock()

    def outage(_request: Any) -> Any:
        with lock:
            calls["all"] += 1
            if calls["all"] == 10:
                burst.append(time.monotonic() + 3.0)
            if burst and time.monotonic() < burst[0]:
                calls["503"] += 1
                return fault(503, "ServiceUnavailable", "Service Unavailable")
        return None

    hook(transport.client, "SendEmail", outage)
    summary = send_issue(get_settings(), str(sample_issue_path), transport=transport)

    assert calls["503"] >= 5
    assert summary.outcome == "done", summary.lines()
    assert summary.run is not None and summary.run.deferred == 0
    assert recipients(ses) == Counter(r.email for r in readers)


class DownFor:
    """The outbox behind an SES that answers 5xx to everything for ``seconds`` from the
    first call."""

    name = "down-for"

    def __init__(self, directory: Path, seconds: float) -> None:
        self.outbox = OutboxTransport(directory)
        self.seconds = seconds
        self.until: float | None = None
        self.failures = 0
        self.lock = threading.Lock()

    def send(self, raw: bytes, to: str) -> str:
        with self.lock:
            if self.until is None:
                self.until = time.monotonic() + self.seconds
        if time.monotonic() < self.until:
            self.failures += 1
            raise TransientTransportError("SES failed: ServiceUnavailable (503)")
        return self.outbox.send(raw, to)


def run_engine(tmp_path: Path, sample_issue_path: Path, transport: Any,
               retry: RetryPolicy) -> tuple[Any, CampaignStore, int, int]:
    url = os.environ["NEWSLETTER_DATABASE_URL"]
    readers = [r for r in subscribe(url, 14) if r.expects_issue]
    db = open_database(url)
    store = CampaignStore(db)
    campaign, _ = store.start("2022-09-07", str(sample_issue_path), ["CL", "CV", "LG"])
    messages = campaign_messages(get_settings(), load_issue(sample_issue_path),
                                 store.variants(campaign.id), campaign.id)
    result = DeliveryRun(store, transport, messages, AdaptiveRate(TokenBucket(1000), 1000),
                         RunConfig(campaign.id, "w", concurrency=3, retry=retry)).run()
    return result, store, campaign.id, len(readers)


@pytest.mark.slow
def test_transient_failures_are_retried_for_the_window_not_only_five_times(
    tmp_path: Path, sample_issue_path: Path
) -> None:
    """Five quick tries fall inside a 1 s outage; the window keeps trying until it is over."""
    transport = DownFor(tmp_path / "outbox", 1.0)
    result, store, campaign_id, count = run_engine(
        tmp_path, sample_issue_path, transport,
        RetryPolicy(base_delay=0.01, max_delay=0.1, window=3.0))

    assert transport.failures > 3 * 5  # more than five tries each, for the first three
    assert (result.sent, result.deferred, result.paused_reason) == (count, 0, None)
    assert len(outbox(tmp_path / "outbox")) == count
    assert store.counts(campaign_id).sent == count


def test_the_brake_pauses_after_so_many_failed_deliveries_in_a_row(
    tmp_path: Path, sample_issue_path: Path
) -> None:
    """An SES that only fails: the run pauses at the brake, and nothing is left in doubt
    or waiting on ``not_before`` once resumed."""
    transport = DownFor(tmp_path / "outbox", 3600.0)
    result, store, campaign_id, count = run_engine(
        tmp_path, sample_issue_path, transport,
        RetryPolicy(base_delay=0.001, max_delay=0.01, brake_after=4))

    assert result.paused_reason is not None
    assert "4 deliveries in a row could not be handed to SES" in result.paused_reason
    assert "ServiceUnavailable" in result.paused_reason
    assert result.sent == 0 and result.in_doubt == 0 and result.deferred < 4
    campaign = store.by_id(campaign_id)
    assert campaign is not None and campaign.status == "paused"
    counts = store.counts(campaign_id)
    assert (counts.queued, counts.in_doubt, counts.sending) == (count, 0, 0)
    store.resume(campaign_id)
    assert store.counts(campaign_id).deferred == 0  # resumed: every one is due now


class LosesFirstAnswer:
    """The outbox, except that the first send to ``address`` loses its answer (it may or
    may not have been delivered: here it was)."""

    name = "loses-first-answer"

    def __init__(self, directory: Path, address: str) -> None:
        self.outbox = OutboxTransport(directory)
        self.address = address
        self.lost = False

    def send(self, raw: bytes, to: str) -> str:
        message_id = self.outbox.send(raw, to)
        if to == self.address and not self.lost:
            self.lost = True
            raise InDoubtTransportError("no answer from SES; the message may have been sent")
        return message_id


def test_a_resend_after_a_lost_answer_is_counted_as_a_possible_duplicate(
    tmp_path: Path, sample_issue_path: Path
) -> None:
    """Under "resend" a lost answer is retried and sent; the count of readers who may have
    two copies says 1 (and here the reader really has two)."""
    url = os.environ["NEWSLETTER_DATABASE_URL"]
    first = next(r for r in subscribe(url, 14) if r.expects_issue)
    db = open_database(url)
    store = CampaignStore(db)
    campaign, _ = store.start("2022-09-07", str(sample_issue_path), ["CL", "CV", "LG"])
    transport = LosesFirstAnswer(tmp_path / "outbox", first.email)
    messages = campaign_messages(get_settings(), load_issue(sample_issue_path),
                                 store.variants(campaign.id), campaign.id)
    DeliveryRun(store, transport, messages, AdaptiveRate(TokenBucket(1000), 1000),
                RunConfig(campaign.id, "w", concurrency=2, in_doubt_policy="resend",
                          retry=RetryPolicy(base_delay=0.001))).run()

    counts = store.counts(campaign.id)
    assert transport.lost and counts.in_doubt == 0
    assert counts.maybe_twice == 1
    assert Counter(str(m["To"]) for m in outbox(tmp_path / "outbox"))[first.email] == 2
    db.close()
