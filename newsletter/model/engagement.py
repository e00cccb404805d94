"""What readers did with one message, as plain values: links by kind, machine opens, state.

An SES Click event names the clicked URL; :func:`classify_link` says what it was (a paper,
by the arXiv identifier in an ``abs``, ``pdf`` or ``html`` link, else the archive, the
preferences or unsubscribe page, or another link) and the key its per-link counter is kept
under. An Open event is a *machine open* when SES flags it, when it comes within seconds of
delivery (nobody reads that fast), or when a mail-privacy proxy that fetches every message
on arrival (Apple Mail Privacy Protection and the like, told by the user agent) makes it
within :data:`PROXY_WINDOW` of delivery.

:class:`Engagement` is one delivery's rolled-up state; :meth:`Engagement.flags` turns it into
the 0/1 figures the per-campaign counters add up, so a counter moves by the difference of a
delivery's flags before and after a batch of events, never by an event count.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

LinkKind = Literal["paper", "archive", "preferences", "unsubscribe", "keep", "other"]

# New-style (2209.01234, 0704.0001) and old-style (hep-th/9901001, math.GT/0309136) ids.
_NEW_ID = r"\d{4}\.\d{4,5}"
_OLD_ID = r"[a-z][a-z\-]*(?:\.[A-Z]{2})?/\d{7}"
_ARXIV_PATH = re.compile(
    rf"^/(?:abs|pdf|html|format)/(?P<id>{_NEW_ID}|{_OLD_ID})(?:v\d+)?(?:\.pdf)?(?:/.*)?$"
)
_ARXIV_HOSTS = ("arxiv.org", "www.arxiv.org", "export.arxiv.org")
MAX_KEY = 300

# Seconds after delivery within which any open is a machine's: a person cannot have read it.
INSTANT_OPEN = dt.timedelta(seconds=2)
# Proxies that fetch every message as it arrives open it within a minute or so of delivery.
PROXY_WINDOW = dt.timedelta(seconds=90)
# User agents of proxies that prefetch on arrival. Apple Mail Privacy Protection sends a bare
# "Mozilla/5.0" or a WebKit string without a browser name and version; the others name
# themselves. (Gmail's image proxy fetches only when the reader opens the message.)
_PROXY_AGENTS = re.compile(
    r"^Mozilla/5\.0$"
    r"|^Mozilla/5\.0 \([^)]*\) AppleWebKit/[\d.]+ \(KHTML, like Gecko\)$"
    r"|YahooMailProxy|Barracuda|Mimecast|ProofPoint|Symantec|MessageLabs",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class LinkAction:
    """A reader's action through a link of ours signed at ``issued`` (unsubscribe,
    preferences, keep): attributed to the issue whose message carried the link."""

    issued: dt.datetime
    action: str


@dataclass(frozen=True)
class Link:
    """What a clicked URL was: its kind, and the key of its per-campaign counter."""

    kind: LinkKind
    key: str  # the arXiv id for a paper; the kind for per-reader pages; else the URL


def classify_link(url: str, base_url: str = "") -> Link:
    """Which paper or page a clicked URL leads to (tokens and queries are not kept)."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower()
    if host in _ARXIV_HOSTS:
        match = _ARXIV_PATH.match(parts.path)
        if match:
            return Link("paper", match.group("id"))
    ours = urlsplit(base_url.strip()) if base_url else None
    path = parts.path
    if ours is not None and host == (ours.hostname or "").lower():
        root = ours.path.rstrip("/")
        if root and path.startswith(root + "/"):
            path = path[len(root):]
        first = path.strip("/").split("/", 1)[0]
        if first in ("preferences", "unsubscribe", "keep"):
            return Link(first, first)  # type: ignore[arg-type]  # checked just above
        if first in ("archive", "issues", "feed.xml", ""):
            return Link("archive", f"{host}{parts.path}"[:MAX_KEY])
    return Link("other", f"{host}{parts.path}"[:MAX_KEY] or url[:MAX_KEY])


def is_machine_open(user_agent: str, opened_at: dt.datetime | None,
                    delivered_at: dt.datetime | None, flagged: bool = False) -> bool:
    """Whether an open was made by a machine rather than a reader (see the module doc)."""
    if flagged:
        return True
    if opened_at is None or delivered_at is None:
        return False
    after = opened_at - delivered_at
    if after < INSTANT_OPEN:
        return True
    return after <= PROXY_WINDOW and bool(_PROXY_AGENTS.search(user_agent.strip()))


FLAGS = ("delivered", "bounced", "complained", "opened_unique", "opened_machine",
         "clicked_unique")


@dataclass(frozen=True)
class Engagement:
    """One delivery's rolled-up state: first times, and how many opens and clicks."""

    delivered_at: dt.datetime | None = None
    bounced: bool = False
    complained: bool = False
    opened_at: dt.datetime | None = None  # the first open by a reader
    machine_opened_at: dt.datetime | None = None  # the first open by a machine
    opens: int = 0
    clicked_at: dt.datetime | None = None
    clicks: int = 0

    def flags(self) -> dict[str, int]:
        """The 0/1 figures of this delivery the campaign's counters add up.

        A delivery opened only by machines counts in ``opened_machine``; once a reader opens
        it, in ``opened_unique`` alone.
        """
        return {
            "delivered": int(self.delivered_at is not None),
            "bounced": int(self.bounced),
            "complained": int(self.complained),
            "opened_unique": int(self.opened_at is not None),
            "opened_machine": int(self.opened_at is None and self.machine_opened_at is not None),
            "clicked_unique": int(self.clicked_at is not None),
        }

    def merged(self, **changes: object) -> Engagement:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


def earliest(a: dt.datetime | None, b: dt.datetime | None) -> dt.datetime | None:
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)
