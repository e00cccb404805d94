"""The bulk side of a transport: one call for many readers of one variant, one result each.

``send_bulk`` returns, per entry and in order, the provider's message id or the error that
entry met (``newsletter.errors``: the same classes a single send raises). An error of the
whole call is raised instead: ``ThrottledError``, ``TransientTransportError``,
``InDoubtTransportError`` (the answer was lost: any entry may have been sent),
``PermanentTransportError`` or ``AccountPausedError``. ``leave_at`` (``time.monotonic()``)
is the moment before which the call must not reach the provider: the transport prepares it
and waits, so that the call leaves on time however long preparing took. ``ready``, when
given, replaces it: asked once the call is built and signed, and again after each wait, it
gives the moment to wait for, or None to let the call go (``hold``); so the moment may
change while the call waits (a call ready too late for its slot takes a new one).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

from newsletter.errors import TransportError
from newsletter.model.bulk import BulkContent, BulkEntry

EntryResult = str | TransportError
# Asked when a call is ready to leave: the moment (monotonic) to wait for, or None: go.
Ready = Callable[[], float | None]


def hold(leave_at: float | None, ready: Ready | None = None,
         sleep: Callable[[float], object] = time.sleep) -> None:
    """Wait until ``leave_at`` (monotonic; None: no wait), or with ``ready`` until it
    gives None (see the module's docstring)."""
    if ready is None:
        delay = 0.0 if leave_at is None else leave_at - time.monotonic()
        if delay > 0:
            sleep(delay)
        return
    while (moment := ready()) is not None:
        delay = moment - time.monotonic()
        if delay > 0:
            sleep(delay)


@runtime_checkable
class BulkTransport(Protocol):
    """A transport that sends one content to up to ``max_entries`` readers per call."""

    max_entries: int

    def send_bulk(
        self, content: BulkContent, entries: Sequence[BulkEntry],
        leave_at: float | None = None, ready: Ready | None = None,
    ) -> list[EntryResult]: ...
