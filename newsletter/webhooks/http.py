"""POSTing one webhook, connected to an address the guard checked (no DNS in between), with
a timeout, never following a redirect, reading at most a little of the answer."""

from __future__ import annotations

import http.client
import socket
import ssl
from collections.abc import Mapping
from urllib.parse import urlsplit

from newsletter.errors import WebhookEndpointError
from newsletter.webhooks.guard import Resolver, allowed_addresses

READ_AT_MOST = 4096  # bytes of an answer kept (for the error shown when it is not 2xx)


class _Pinned(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedTls(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self.address = address

    def connect(self) -> None:
        sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(  # type: ignore[attr-defined]
            sock, server_hostname=self.host)


class HttpPoster:
    """Posts to webhook endpoints; ``post`` returns the status, or raises
    ``WebhookEndpointError`` when the address is refused or the endpoint unreachable."""

    def __init__(self, allow_private: bool, timeout: float,
                 resolve: Resolver = socket.getaddrinfo) -> None:
        self.allow_private = allow_private
        self.timeout = timeout
        self.resolve = resolve

    def post(self, url: str, headers: Mapping[str, str], body: bytes) -> tuple[int, str]:
        """(status, the start of the answer's body)."""
        parts = urlsplit(url)
        host = parts.hostname or ""
        tls = parts.scheme == "https"
        port = parts.port or (443 if tls else 80)
        address = allowed_addresses(host, port, self.allow_private, self.resolve)[0]
        kind = _PinnedTls if tls else _Pinned
        connection = kind(host, port, address, self.timeout)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        try:
            connection.request("POST", path, body=body, headers=dict(headers))
            answer = connection.getresponse()
            text = answer.read(READ_AT_MOST).decode("utf-8", "replace")
            return answer.status, text
        except (OSError, http.client.HTTPException) as error:
            raise WebhookEndpointError(f"{host}: {type(error).__name__}: {error}") from None
        finally:
            connection.close()
