"""The outbox transport: one ``.eml`` file per message in a directory. The default."""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path

from newsletter.errors import AccountPausedError

_UNSAFE = re.compile(r"[^A-Za-z0-9@._+-]")


class OutboxTransport:
    """Writes each message atomically (temporary file, then rename) under ``directory``."""

    name = "outbox"

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def send(self, raw: bytes, to: str) -> str:
        """Write one message; raises :class:`AccountPausedError` when the directory cannot
        be written (disk full, read-only, no permission): no message can be, so the
        campaign pauses with that one reason instead of failing message by message."""
        message_id = uuid.uuid4().hex
        final = self.directory / f"{_UNSAFE.sub('_', to)}.{message_id}.eml"
        partial = final.with_suffix(".tmp")
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            with open(partial, "wb") as handle:
                handle.write(raw)
                handle.flush()
                os.fsync(handle.fileno())
            partial.rename(final)
        except OSError as err:
            partial.unlink(missing_ok=True)  # nothing half-written is left to look sent
            reason = err.strerror or type(err).__name__
            raise AccountPausedError(
                f"cannot write to the outbox {self.directory}: {reason}; "
                "make room (or fix the directory), then run the send again"
            ) from None
        return f"outbox-{message_id}"
