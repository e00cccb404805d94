"""The outbox transport: one ``.eml`` file per message in a directory. The default."""

from __future__ import annotations

import contextlib
import os
import re
import uuid
from pathlib import Path

from newsletter.errors import PermanentTransportError

_UNSAFE = re.compile(r"[^A-Za-z0-9@._+-]")


class OutboxTransport:
    """Writes each message atomically (temporary file, then rename) under ``directory``."""

    name = "outbox"

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def send(self, raw: bytes, to: str) -> str:
        """Write the message; ``PermanentTransportError`` if the file cannot be written.

        A message whose file could not be written never left, so it is a failure with the
        reason, not a message in doubt.
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
                partial.unlink(missing_ok=True)
            raise PermanentTransportError(
                f"the outbox file {final} could not be written: {err.strerror or err}"
            ) from err
        return f"outbox-{message_id}"
