"""Adding an endpoint: the URL and events checked, the address checked now too (so a
refused one is said at once, not a day later), and a fresh secret."""

from __future__ import annotations

from collections.abc import Collection
from typing import Protocol
from urllib.parse import urlsplit

from newsletter.model.webhooks import Endpoint
from newsletter.webhooks.guard import Resolver, allowed_addresses, check_events, check_url
from newsletter.webhooks.signing import new_secret


class Endpoints(Protocol):
    def add(self, url: str, events: Collection[str], secret: str) -> Endpoint: ...


def add_endpoint(store: Endpoints, url: str, events: Collection[str], *, allow_private: bool,
                 resolve: Resolver | None = None) -> Endpoint:
    """The new endpoint (its ``secret`` is shown once to the operator). Raises
    ``WebhookEndpointError`` for a bad URL, an unknown event or a refused address."""
    checked = check_url(url)
    chosen = check_events(events)
    parts = urlsplit(checked)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    if resolve is None:
        allowed_addresses(parts.hostname or "", port, allow_private)
    else:
        allowed_addresses(parts.hostname or "", port, allow_private, resolve)
    return store.add(checked, chosen, new_secret())
