"""The outbox transport: one ``.eml`` file per message in a directory. The default."""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path

_UNSAFE = re.compile(r"[^A-Za-z0-9@._+-]")


class OutboxTransport:
    """Writes each message atomically (temporary file, then rename) under ``directory``."""

    name = "outbox"

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def send(self, raw: bytes, to: str) -> str:
        self.directory.mkdir(parents=True, exist_ok=True)
        message_id = uuid.uuid4().hex
        final = self.directory / f"{_UNSAFE.sub('_', to)}.{message_id}.eml"
        partial = final.with_suffix(".tmp")
        with open(partial, "wb") as handle:
            handle.write(raw)
            handle.flush()
            os.fsync(handle.fileno())
        partial.rename(final)
        return f"outbox-{message_id}"
