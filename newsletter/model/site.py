"""What the public archive, its feeds and the static site show, and from where: one value."""

from __future__ import annotations

from dataclasses import dataclass
from email.utils import parseaddr
from pathlib import Path
from urllib.parse import urlsplit
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


def web_origin(entry: str) -> str:
    """``entry`` as browsers send an origin (``https://blog.example.org``, no path), or
    ValueError saying how to write one."""
    parts = urlsplit(entry.strip())
    if (parts.scheme not in ("http", "https") or not parts.hostname
            or parts.path not in ("", "/") or parts.query or parts.username):
        raise ValueError(
            f"{entry[:80]!r} is not an origin; write scheme://host[:port], e.g. "
            "https://blog.example.org,https://lab.example.edu"
        )
    return f"{parts.scheme}://{parts.netloc.lower()}"
