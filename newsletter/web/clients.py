"""Who the client is: the peer address, or the forwarded one when the peer is a trusted proxy.

Behind a reverse proxy every request comes from the proxy's address, so per-client limits
would put every reader in one bucket. The proxy's ``X-Forwarded-For`` header names the
real client, but anyone can send that header: it is believed only when the connection
comes from an address in ``NEWSLETTER_TRUSTED_PROXIES`` (none by default), and then only
up to the first address (from the right) that is not itself a trusted proxy.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
IPV6_BUCKET_PREFIX = 64  # one household or server usually gets a whole /64


def parse_networks(values: Iterable[str]) -> tuple[Network, ...]:
    """Addresses or CIDRs (``10.0.0.0/8``, ``::1``) as networks; raises ``ValueError``."""
    return tuple(ipaddress.ip_network(value.strip(), strict=False) for value in values)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # "[2001:db8::1]:443"
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # "192.0.2.1:443"
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def rate_key(host: str) -> str:
    """The rate-limit bucket of a client address: IPv4 as is, IPv6 by its /64."""
    address = _address(host)
    if address is None:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((address, IPV6_BUCKET_PREFIX), strict=False))
    return str(address)


def is_trusted(host: str, trusted: tuple[Network, ...]) -> bool:
    """True when ``host`` is an address inside one of the ``trusted`` networks."""
    address = _address(host)
    return address is not None and any(address in network for network in trusted)


def forwarded_client(peer: str, forwarded_for: str, trusted: tuple[Network, ...]) -> str:
    """The client to believe, given the peer address and the ``X-Forwarded-For`` value."""
    if not is_trusted(peer, trusted):
        return peer
    client = peer
    for hop in reversed([h.strip() for h in forwarded_for.split(",") if h.strip()]):
        address = _address(hop)
        if address is None:
            break  # garbage: keep the last address we could believe
        client = str(address)
        if not is_trusted(hop, trusted):
            break
    return client


class ProxyHeaders:
    """ASGI middleware: set the client (and scheme) from a trusted proxy's headers."""

    def __init__(self, app: ASGIApp, trusted: tuple[Network, ...] = ()) -> None:
        self.app = app
        self.trusted = trusted

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and self.trusted and scope.get("client"):
            peer, port = scope["client"]
            headers = dict(scope.get("headers", []))
            forwarded = headers.get(b"x-forwarded-for", b"").decode("latin-1")
            if is_trusted(peer, self.trusted):
                client = forwarded_client(peer, forwarded, self.trusted)
                scope = {**scope, "client": (client, port)}
                proto = headers.get(b"x-forwarded-proto", b"").decode("latin-1").strip()
                if proto in ("http", "https"):
                    scope["scheme"] = proto
        await self.app(scope, receive, send)
