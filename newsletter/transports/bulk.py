"""The bulk side of a transport: one call for many readers of one variant, one result each.

``send_bulk`` returns, per entry and in order, the provider's message id or the error that
entry met (``newsletter.errors``: the same classes a single send raises). An error of the
whole call is raised instead: ``ThrottledError``, ``TransientTransportError``,
``InDoubtTransportError`` (the answer was lost: any entry may have been sent),
``PermanentTransportError`` or ``AccountPausedError``. ``leave_at`` (``time.monotonic()``)
is the moment before which the call must not reach the provider: the transport prepares it
and waits, so that the call leaves on time however long preparing took.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from newsletter.errors import TransportError
from newsletter.model.bulk import BulkContent, BulkEntry

EntryResult = str | TransportError


@runtime_checkable
class BulkTransport(Protocol):
    """A transport that sends one content to up to ``max_entries`` readers per call."""

    max_entries: int

    def send_bulk(
        self, content: BulkContent, entries: Sequence[BulkEntry],
        leave_at: float | None = None,
    ) -> list[EntryResult]: ...
