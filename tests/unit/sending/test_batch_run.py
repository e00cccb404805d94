"""The bulk engine (``sending/batch.py``) with a scripted transport and an in-memory store:
each entry's result is judged by the rules of a single send, fast and without a server."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from newsletter.errors import (
    AccountPausedError,
    CampaignError,
    InDoubtTransportError,
    PermanentTransportError,
    ThrottledError,
    TransientTransportError,
)
from newsletter.model.bulk import BulkContent, BulkEntry
from newsletter.model.campaigns import Claim, DeliveryResult
from newsletter.sending.batch import BatchRun
from newsletter.sending.pacing import AdaptiveRate, TokenBucket
from newsletter.sending.plan import RetryPolicy, RunConfig
from newsletter.transports.bulk import EntryResult, Ready

CONTENT = BulkContent("n@example.org", "s", "t", "h", ())
FAST = RetryPolicy(attempts=3, throttle_attempts=3, base_delay=0.0, max_delay=0.0)


class Store:
    """Claims in id order; keeps every recorded outcome."""

    def __init__(self, count: int) -> None:
        self.queue = [Claim(i, i, f"r{i}@example.com", "en:*") for i in range(1, count + 1)]
        self.recorded: dict[int, DeliveryResult] = {}
        self.paused: str | None = None
        self.lock = threading.Lock()

    def claim(self, campaign_id: int, worker_id: str, limit: int) -> list[Claim]:
        with self.lock:
            taken, self.queue = self.queue[:limit], self.queue[limit:]
            return taken

    def record(self, worker_id: str, results: Sequence[DeliveryResult]) -> None:
        with self.lock:
            self.recorded.update({r.delivery_id: r for r in results})

    def pause(self, campaign_id: int, reason: str) -> None:
        self.paused = reason


class Messages:
    def __init__(self, broken: set[int] = frozenset()) -> None:  # type: ignore[assignment]
        self.broken = broken

    def entry(self, claim: Claim) -> BulkEntry:
        if claim.id in self.broken:
            raise CampaignError("no such variant")
        return BulkEntry(claim.email, "{}", (), (("nl_delivery", str(claim.id)),))

    def content(self, variant: str) -> BulkContent:
        return CONTENT

    def build(self, claim: Claim) -> bytes:
        return b""


class Transport:
    """Answers each call with ``script(call number, entries)``."""

    name = "scripted"
    max_entries = 50

    def __init__(self, script: Callable[[int, Sequence[BulkEntry]], list[EntryResult]]) -> None:
        self.script = script
        self.calls: list[list[str]] = []
        self.lock = threading.Lock()

    def send(self, raw: bytes, to: str) -> str:
        raise AssertionError("campaigns go in bulk calls")

    def send_bulk(self, content: BulkContent, entries: Sequence[BulkEntry],
                  leave_at: float | None = None,
                  ready: Ready | None = None) -> list[EntryResult]:
        with self.lock:
            self.calls.append([e.to for e in entries])
            number = len(self.calls)
        return self.script(number, entries)


def ok(entries: Sequence[BulkEntry]) -> list[EntryResult]:
    return [f"m-{e.to}" for e in entries]


def run(store: Store, transport: Transport, *, policy: Any = "skip",
        messages: Messages | None = None, rate: float = 100_000.0) -> BatchRun:
    engine = BatchRun(
        store, transport, messages or Messages(),  # type: ignore[arg-type]
        AdaptiveRate(TokenBucket(rate), rate),
        RunConfig(1, "w", 2, campaign_tag="2022-09-07", in_doubt_policy=policy, retry=FAST),
    )
    engine.run()
    return engine


def statuses(store: Store) -> dict[str, int]:
    found: dict[str, int] = {}
    for result in store.recorded.values():
        found[result.status] = found.get(result.status, 0) + 1
    return found


def test_fifty_readers_a_call_each_sent_once() -> None:
    store = Store(120)
    transport = Transport(lambda n, entries: ok(entries))
    engine = run(store, transport)
    assert statuses(store) == {"sent": 120}
    assert sorted(len(c) for c in transport.calls) == [20, 50, 50]
    assert engine.result.sent == 120
    assert store.recorded[7].provider_id == "m-r7@example.com"


def test_entry_failures_are_retried_failed_or_deferred_by_the_single_send_rules() -> None:
    store = Store(5)

    def script(n: int, entries: Sequence[BulkEntry]) -> list[EntryResult]:
        out: list[EntryResult] = []
        for e in entries:
            if e.to == "r1@example.com" and n == 1:
                out.append(TransientTransportError("TRANSIENT_FAILURE"))
            elif e.to == "r2@example.com":
                out.append(PermanentTransportError("MessageRejected"))
            elif e.to == "r3@example.com":
                out.append(TransientTransportError("always"))
            elif e.to == "r4@example.com" and n <= 2:
                out.append(ThrottledError("ACCOUNT_THROTTLED"))
            else:
                out.append(f"m-{e.to}")
        return out

    transport = Transport(script)
    engine = run(store, transport)
    assert store.recorded[1].status == "sent"
    assert store.recorded[2].status == "failed" and "MessageRejected" in str(
        store.recorded[2].error)
    deferred = store.recorded[3]
    assert deferred.status == "queued" and deferred.not_before is not None
    assert store.recorded[4].status == "sent" and store.recorded[5].status == "sent"
    assert engine.rate.throttles == 2
    # Retries carry only the entries still open: the first call had all five.
    assert transport.calls[0] == [f"r{i}@example.com" for i in range(1, 6)]
    assert all("r2@example.com" not in call for call in transport.calls[1:])


@pytest.mark.parametrize(("policy", "expected"), [("skip", "in_doubt"),
                                                  ("reconcile", "in_doubt"),
                                                  ("resend", "sent")])
def test_a_lost_answer_leaves_the_whole_call_in_doubt_unless_resending(
    policy: str, expected: str
) -> None:
    store = Store(50)

    def script(n: int, entries: Sequence[BulkEntry]) -> list[EntryResult]:
        if n == 1:
            raise InDoubtTransportError("no answer from SES")
        return ok(entries)

    run(store, Transport(script), policy=policy)
    assert statuses(store) == {expected: 50}


def test_an_account_level_status_pauses_and_hands_back_what_was_not_sent() -> None:
    store = Store(150)

    def script(n: int, entries: Sequence[BulkEntry]) -> list[EntryResult]:
        if n == 1:
            return [*ok(entries[:10]), AccountPausedError("ACCOUNT_SENDING_PAUSED"),
                    *ok(entries[11:])]
        raise AccountPausedError("SendingPausedException")

    engine = run(store, Transport(script))
    assert store.paused is not None and engine.result.paused_reason is not None
    counted = statuses(store)
    assert counted["sent"] == 49 and counted.get("queued", 0) >= 1
    assert "failed" not in counted and "in_doubt" not in counted


def test_a_throttled_call_slows_the_rate_and_is_sent_again() -> None:
    store = Store(50)

    def script(n: int, entries: Sequence[BulkEntry]) -> list[EntryResult]:
        if n == 1:
            raise ThrottledError("TooManyRequestsException")
        return ok(entries)

    engine = run(store, Transport(script))
    assert statuses(store) == {"sent": 50}
    assert engine.rate.throttles == 1 and engine.rate.rate < 100_000


def test_an_entry_that_cannot_be_built_fails_and_never_leaves() -> None:
    store = Store(3)
    transport = Transport(lambda n, entries: ok(entries))
    run(store, transport, messages=Messages({2}))
    assert store.recorded[2].status == "failed"
    assert "message not built" in str(store.recorded[2].error)
    assert transport.calls == [["r1@example.com", "r3@example.com"]]


@pytest.mark.slow
def test_a_call_holds_no_more_readers_than_a_second_of_the_rate() -> None:
    store = Store(30)
    transport = Transport(lambda n, entries: ok(entries))
    run(store, transport, rate=200.0)  # 50 a call
    assert max(len(c) for c in transport.calls) == 30
    store = Store(24)
    transport = Transport(lambda n, entries: ok(entries))
    run(store, transport, rate=12.0)  # 12 a call, one call a second
    assert [len(c) for c in transport.calls] == [12, 12]
