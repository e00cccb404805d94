"""The engine's parts that are plain values and contracts: the protocols it talks to, the
rate and thread plan, the retry policy and what a run did. No threads here.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from newsletter.model.campaigns import Claim, DeliveryResult
from newsletter.transports import MAX_CONCURRENCY, SendQuota
from newsletter.vocabulary import InDoubtPolicy

# A guess at SES's answer time, used to size the thread pool; twice the guess is allowed.
EXPECTED_LATENCY = 0.1


class DeliveryStore(Protocol):
    def claim(self, campaign_id: int, worker_id: str, limit: int) -> list[Claim]: ...

    def record(self, worker_id: str, results: Sequence[DeliveryResult]) -> None: ...

    def pause(self, campaign_id: int, reason: str) -> None: ...


class MessageSource(Protocol):
    def build(self, claim: Claim) -> bytes:
        """The complete message for one claimed delivery; NewsletterError if it cannot be."""
        ...


class ProgressSink(Protocol):
    def advance(self, status: str) -> None: ...

    def note(self, message: str) -> None: ...


def plan_rate(max_send_rate: float, quota: SendQuota | None, headroom: float) -> float:
    """Messages per second: our own cap, and the account's rate less the headroom."""
    rate = max_send_rate
    if quota is not None and quota.max_send_rate > 0:
        rate = min(rate, quota.max_send_rate * (1.0 - headroom))
    if rate <= 0:
        raise ValueError(f"the send rate must be positive, not {rate}")
    return rate


def plan_concurrency(rate: float, configured: int = 0, latency: float = EXPECTED_LATENCY) -> int:
    """Threads enough to hold ``rate`` at twice the expected latency, 1..MAX_CONCURRENCY."""
    wanted = configured if configured > 0 else math.ceil(rate * latency * 2)
    return max(1, min(MAX_CONCURRENCY, wanted))


@dataclass(frozen=True)
class RetryPolicy:
    """How the engine retries one delivery, and when it stops the whole run.

    A transient failure is tried again at least ``attempts`` times in all and for at least
    ``window`` seconds after the first (a short burst of 5xx ends within the run, not at
    the next one hours later); ``brake_after`` deliveries in a row deferred or in doubt
    pause the campaign.
    """

    attempts: int = 5
    throttle_attempts: int = 30
    base_delay: float = 0.5
    max_delay: float = 20.0
    defer: dt.timedelta = dt.timedelta(minutes=5)
    window: float = 0.0
    brake_after: int = 10

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Full-jitter exponential back-off before try ``attempt + 1`` (seconds)."""
        return rng.uniform(0, min(self.max_delay, self.base_delay * 2**attempt))


DEFAULT_RETRY = RetryPolicy()


@dataclass(frozen=True)
class RunConfig:
    """What one engine run works on and how: the values ``DeliveryRun`` is built from.

    ``daily_budget`` is how many more messages the account may send in its 24-hour window
    (None: unknown); ``campaign_tag`` goes on every message as the ``nl_campaign`` tag.
    """

    campaign_id: int
    worker_id: str
    concurrency: int
    campaign_tag: str | None = None
    in_doubt_policy: InDoubtPolicy = "skip"
    daily_budget: int | None = None
    batch_size: int = 50
    retry: RetryPolicy = DEFAULT_RETRY
    heartbeat_seconds: float = 5.0


@dataclass
class RunResult:
    """What one run of the engine did (this process only)."""

    sent: int = 0
    failed: int = 0
    in_doubt: int = 0
    deferred: int = 0
    released: int = 0
    throttled: int = 0
    late_calls: int = 0  # bulk calls ready too late for their slot, sent on a new one (#23)
    paused_reason: str | None = None
    stopped_reason: str | None = None
    error: str | None = None
    elapsed: float = 0.0

