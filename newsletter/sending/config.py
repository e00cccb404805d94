"""What sending needs from the configuration, as one value that ``wiring`` builds.

Services below the entry points never read ``Settings``: they get this.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from newsletter.vocabulary import InDoubtPolicy


@dataclass(frozen=True)
class SendConfig:
    """The settings of sending, checked (``wiring.send_config`` builds it from ``Settings``).

    ``secret`` is the signing key of readers' links (already judged safe);
    ``timezone`` names the zone an issue's date belongs to (``zone`` is that zone).
    """

    issues_dir: Path
    secret: str
    max_send_rate: float
    rate_headroom: float
    concurrency: int  # threads; 0 sizes them from the rate
    in_doubt_policy: InDoubtPolicy
    reconcile_after: dt.timedelta
    size_limit_bytes: int
    timezone: str
    editors: tuple[str, ...] = ()
    # Seconds a delivery's transient failures are retried within the run; deliveries in a
    # row deferred or in doubt before the campaign is paused (see ``RetryPolicy``).
    retry_seconds: float = 15.0
    brake_after: int = 10

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)
