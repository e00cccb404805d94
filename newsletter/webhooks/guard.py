"""Where webhooks may go: http(s) URLs whose host resolves only to public addresses.

Loopback, private, link-local, carrier-grade NAT, multicast and other special addresses
are refused (an operator's webhook must not become a way into the server's own network),
unless the operator allows private ones (``NEWSLETTER_WEBHOOKS_ALLOW_PRIVATE=true``, for
a receiver on the same network, and for tests). The check runs on every attempt, on the
addresses the request then connects to (``http.py``), so DNS cannot change them between
the check and the connection.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Collection
from typing import Any
from urllib.parse import urlsplit

from newsletter.errors import WebhookEndpointError
from newsletter.model.webhooks import EVENT_TYPES

Resolver = Callable[..., list[tuple[Any, ...]]]
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def check_url(url: str) -> str:
    """The URL if an endpoint may have it (http or https, a host, no user or password)."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookEndpointError(f"{url[:200]!r} is not an http:// or https:// URL")
    if parts.username is not None or parts.password is not None or parts.fragment:
        raise WebhookEndpointError("the URL must not hold a user name, password or #fragment")
    if any(ch.isspace() or ord(ch) < 0x20 for ch in url) or len(url) > 2000:
        raise WebhookEndpointError("the URL must be at most 2000 characters, without spaces")
    try:
        parts.port  # noqa: B018 (raises for a port out of range)
    except ValueError:
        raise WebhookEndpointError("the URL's port is not valid") from None
    return url


def check_events(events: Collection[str]) -> frozenset[str]:
    """The event types, each one we send; at least one."""
    chosen = frozenset(e.strip() for e in events if e.strip())
    unknown = sorted(chosen - set(EVENT_TYPES))
    if unknown or not chosen:
        said = f"unknown event type {', '.join(unknown)}" if unknown else "no event chosen"
        raise WebhookEndpointError(f"{said}; the events are {', '.join(EVENT_TYPES)}")
    return chosen


def _kind(address: IpAddress) -> str | None:
    """Why ``address`` is not public, or None when it is."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    for test, kind in ((address.is_loopback, "loopback"), (address.is_link_local, "link-local"),
                       (address.is_multicast, "multicast"),
                       (address.is_unspecified, "unspecified"),
                       (address.is_private, "private"), (not address.is_global, "non-public")):
        if test:
            return kind
    return None


def allowed_addresses(host: str, port: int, allow_private: bool,
                      resolve: Resolver = socket.getaddrinfo) -> list[str]:
    """The addresses ``host`` resolves to, every one of them allowed; raises
    ``WebhookEndpointError`` naming the first that is not (or when none resolve)."""
    try:
        found = resolve(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as error:
        raise WebhookEndpointError(f"{host} cannot be resolved: {error}") from None
    addresses = list(dict.fromkeys(str(item[4][0]).split("%")[0] for item in found))
    if not addresses:
        raise WebhookEndpointError(f"{host} resolves to no address")
    for text in addresses:
        address = ipaddress.ip_address(text)
        kind = _kind(address)
        never = kind in ("multicast", "unspecified")
        if kind is not None and (never or not allow_private):
            hint = "" if never else " (set NEWSLETTER_WEBHOOKS_ALLOW_PRIVATE=true to allow it)"
            raise WebhookEndpointError(f"{host} resolves to {text}, a {kind} address; "
                                       f"webhooks are not sent there{hint}")
    return addresses
