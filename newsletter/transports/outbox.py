"""The outbox transport: one ``.eml`` file per message in a directory. The default."""

from __future__ import annotations

import contextlib
import errno
import os
import re
import uuid
from pathlib import Path

from newsletter.errors import AccountPausedError, PermanentTransportError

_UNSAFE = re.compile(r"[^A-Za-z0-9@._+-]")
# Errors that stop every message alike: the disk is full or cannot be written at all.
_WHOLE_DISK = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS})


class OutboxTransport:
    """Writes each message atomically (temporary file, then rename) under ``directory``."""

    name = "outbox"

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def send(self, raw: bytes, to: str) -> str:
        """Write one message, atomically.

        A disk that is full or read-only raises :class:`AccountPausedError`: no message can
        be written, so the campaign pauses with that one reason instead of failing reader by
        reader. Any other write error raises :class:`PermanentTransportError`: that message
        never left, so it is a failure with the reason (``send --retry-failed`` resends it),
        never a message in doubt.
        """
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
            with contextlib.suppress(OSError):
                partial.unlink(missing_ok=True)  # nothing half-written is left to look sent
            reason = err.strerror or type(err).__name__
            if err.errno in _WHOLE_DISK:
                raise AccountPausedError(
                    f"cannot write to the outbox {self.directory}: {reason}; "
                    "make room (or fix the directory), then run the send again"
                ) from None
            raise PermanentTransportError(
                f"the outbox file {final} could not be written: {reason}"
            ) from err
        return f"outbox-{message_id}"
