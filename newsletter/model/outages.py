"""Growing pauses while a dependency (the database, the SQS queue) is down.

A long-running process (``worker``, ``events poll``) that meets an outage says so in one
line, waits, and tries again, as Postfix's master and Mailman's runners do, instead of
exiting on the first failure; the pause grows so that a long outage costs little.
"""

from __future__ import annotations

from dataclasses import dataclass, field

DELAYS = (1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0)


@dataclass
class OutageBackoff:
    """How long to wait after each failure in a row; ``recovered`` starts again."""

    delays: tuple[float, ...] = DELAYS
    failures: int = field(default=0, init=False)

    def failed(self) -> float:
        """Count a failure; the seconds to wait before trying again."""
        delay = self.delays[min(self.failures, len(self.delays) - 1)]
        self.failures += 1
        return delay

    def recovered(self) -> bool:
        """Count a success; True when it ends an outage (worth a line in the log)."""
        was_down = self.failures > 0
        self.failures = 0
        return was_down
