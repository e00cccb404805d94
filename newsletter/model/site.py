"""What the public archive, its feeds and the static site show, and from where: one value."""

from __future__ import annotations

from dataclasses import dataclass
from email.utils import parseaddr
from pathlib import Path
from zoneinfo import ZoneInfo


def site_name(from_address: str) -> str:
    """The newsletter's name: the display name of ``NEWSLETTER_FROM_ADDRESS``."""
    name, address = parseaddr(from_address)
    return name or address or "Newsletter"


@dataclass(frozen=True)
class SiteConfig:
    """The archive's settings as values (``wiring.site_config`` builds it).

    ``timezone`` names the zone an issue's date belongs to; an issue is public once its
    campaign sent it, or, with ``archive_unsent``, once its day has come.
    """

    issues_dir: Path
    templates_dir: Path
    base_url: str
    name: str
    timezone: str
    archive_unsent: bool = False

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)
