"""When each bulk call of one worker is claimed and when it leaves (issue #23).

A sender thread takes its call's slot first (``due``: from the send schedule every worker
shares, ``WorkerRegistry.reserve``, or without one from this worker's token bucket), claims
its readers shortly before the slot (``claim_at``), and hands the call to the transport,
which builds and signs it and then asks ``departure`` when it may leave:

- each call leaves no sooner than this worker's previous one plus that call's share of a
  second (``spaced``);
- when other workers take slots of the schedule too (``shared``), a call that could leave
  only more than one slot (its recipients' share of a second) after its slot's time takes
  a new slot and waits for that. Sent late on its old slot, or on a moment this worker's
  spacing pushed past it, it reached SES in the same second as the calls of the slots
  after it, which the other worker sent on time: a two-worker run's throttled calls were
  all such calls, late from start-up, a slow claim or a thread's wait for a core, or
  catching up behind one at the whole rate. The slot it leaves unused is lost, and so is
  its place in this worker's spacing: the calls after it are spaced after the one before
  it (kept, a late call's spacing pushed each of the next few calls more than a slot past
  its own slot, and each of them took a new slot too).

Claims start as long before the slot as claiming and building took lately (``learn``), and
earlier still by how late calls were ready beyond that (``_ready_at``: fast when they are
late, slowly back while they are early), so that few calls need a new slot.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from newsletter.sending.pacing import AdaptiveRate
from newsletter.transports.bulk import Ready

# Seconds a transport may take to build and sign a call before it leaves (botocore's
# serialising of 50 entries, a few milliseconds); the claim starts earlier by as much.
SERIALIZING = 0.015
# New slots a late call may take before it leaves however late.
RENEWALS = 3
# How early a call aims to be ready before its slot (seconds), and the most its claim may
# start earlier than claiming and building take.
READY_MARGIN, MOST_SLACK = 0.01, 0.25
# Seconds after another worker last took slots of the schedule during which it is shared.
SHARED_FOR = 5.0


class Departures:
    """One worker's bulk calls on the schedule ``pace`` (seconds wanted -> their start,
    POSIX seconds; None: this worker's ``rate`` alone). ``on_late`` is called for each
    new slot a late call takes."""

    def __init__(self, rate: AdaptiveRate, pace: Callable[[float], float] | None,
                 stop: threading.Event, on_late: Callable[[], None] = lambda: None) -> None:
        self.rate = rate
        self.pace = pace
        self.stop = stop
        self.on_late = on_late
        # The shared schedule is in POSIX seconds (every host's clock), the waits in
        # monotonic ones: converted by one offset, so that spacing survives conversion.
        self._posix_offset = time.time() - time.monotonic()
        # How long claiming and building a call's entries takes (moving average, seconds),
        # and how much earlier still calls had to start to be ready in time.
        self.lead = 0.02
        self.slack = 0.0
        self._gate = threading.Lock()
        self._next_send = 0.0  # monotonic: the earliest the next call may leave
        # The last call spaced: when it was to leave, the earliest the next may leave
        # after it, and that earliest before it was spaced (``_unspace``).
        self._spacing = (math.nan, math.nan, 0.0)
        # The schedule as this worker saw it: where its own slots end (POSIX), and when
        # (monotonic) it last found another worker's slots between them.
        self._pace_lock = threading.Lock()
        self._schedule_end = 0.0
        self._others_at = -math.inf

    def due(self, count: int) -> float:
        """When (monotonic) the tokens of a call of ``count`` recipients are due.

        On the shared schedule, a slot that starts later than this worker's last one ended
        (and than now) follows slots another worker took: the schedule is shared. Slots
        are taken one at a time per worker, so that its own never look like another's.
        """
        if self.pace is None:
            return time.monotonic() + self.rate.reserve(count)
        interval = 1.0 / self.rate.rate
        seconds = count * interval
        with self._pace_lock:
            before = time.time()
            start = self.pace(seconds)  # POSIX seconds, on the shared schedule
            if start > max(self._schedule_end, before) + seconds / 2:
                self._others_at = time.monotonic()
            self._schedule_end = max(self._schedule_end, start + seconds)
        return start + (count - 1) * interval - self._posix_offset

    def shared(self) -> bool:
        """Whether another worker took slots of the schedule lately (see ``due``)."""
        return time.monotonic() - self._others_at < SHARED_FOR

    def claim_at(self, due: float) -> float:
        """When (monotonic) to claim the readers of a call whose slot is ``due``."""
        return due - self.lead - SERIALIZING - self.slack

    def learn(self, took: float) -> None:
        """Claiming and building a call's entries took ``took`` seconds."""
        self.lead = 0.8 * self.lead + 0.2 * took

    def spaced(self, entries: int, due: float) -> float:
        """When (monotonic) a call of ``entries`` whose slot is ``due`` may leave: not
        before this worker's previous call plus that call's share of a second. A call that
        leaves late (its thread waited for a core) would otherwise reach SES just before
        the next punctual one, and a second could hold more recipients than the rate."""
        with self._gate:
            at = max(due, self._next_send)
            before, self._next_send = (
                self._next_send, max(at, time.monotonic()) + entries / self.rate.rate)
            self._spacing = (at, self._next_send, before)
        return at

    def _unspace(self, at: float) -> None:
        """The call spaced to leave at ``at`` takes a new slot: it does not leave then, so
        the calls after it are spaced after the one before it. Only while no later call
        was spaced after it (the usual case: the next call is spaced when it is handed over,
        after this one was built and signed); otherwise they keep their places."""
        with self._gate:
            spaced_at, end, before = self._spacing
            if spaced_at == at and self._next_send == end:
                self._next_send = before

    def departure(self, entries: int, due: float, at: float) -> Ready:
        """What the transport asks once the call of ``entries`` (its slot due at ``due``,
        to leave at ``at``: ``spaced``) is built and signed, and after each wait: the
        moment to wait for, or None to go (see the module's docstring). A call goes
        however late after ``RENEWALS`` new slots, when the run stops, or when the schedule
        cannot be read (the send loop stops at its next slot)."""
        renewed = 0
        asked = False

        def ready() -> float | None:
            nonlocal due, at, renewed, asked
            now = time.monotonic()
            if not asked:
                asked = True
                self._ready_at(now - due)
            if (max(now, at) - due > entries / self.rate.rate and renewed < RENEWALS
                    and not self.stop.is_set() and self.shared()):
                try:
                    new = self.due(entries)
                except Exception:
                    return None
                self._unspace(at)
                due = at = new
                renewed += 1
                self.on_late()
            return at if at > now else None

        return ready

    def _ready_at(self, late: float) -> None:
        """A call was ready ``late`` seconds after its slot (negative: early): claims start
        earlier by as much at once, and later again slowly while calls are early (ready
        ``READY_MARGIN`` before the slot is the aim)."""
        error = late + READY_MARGIN
        with self._gate:
            grown = self.slack + (error if error > 0 else 0.1 * error)
            self.slack = min(MOST_SLACK, max(0.0, grown))
