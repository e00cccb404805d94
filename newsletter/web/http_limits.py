"""Limits on request heads for ``newsletter serve`` facing the internet without a proxy.

uvicorn's httptools protocol (the fast parser this project installs) keeps whatever a
client sends as the URL and headers, without a limit on their size or number, and gives
a client any time to finish them: eight connections sending 100 MB of headers each grew
the server from 125 MB to over 1 GB, and a client trickling a header byte now and then
held its connection open indefinitely. :class:`LimitedHttpToolsProtocol` is that protocol
with the limits a proxy would apply: the URL, the headers' total size and their number
are capped (414 or 431, and the connection closed, as soon as a limit is passed), and a
request head must be complete within :data:`HEAD_TIMEOUT` seconds of the connection or
of its first byte (408 after). Bodies are capped by the app (``limits.py``).
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MAX_URL_BYTES = 8 * 1024  # nginx's large_client_header_buffers default
MAX_HEAD_BYTES = 16 * 1024  # URL and headers together
MAX_HEADERS = 100
# The most uvicorn reads at once: what a finished head may share a read with.
_READ_SLACK = 64 * 1024
HEAD_TIMEOUT = 10.0  # seconds to send a request head (nginx: client_header_timeout 60 s)

_REASONS = {408: b"Request Timeout", 414: b"URI Too Long",
            431: b"Request Header Fields Too Large"}


class _HeadRefused(Exception):
    """Stops the parser once the head passed a limit (the answer is already written)."""


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with caps on the request head and a time limit for it."""

    head_timeout = HEAD_TIMEOUT

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_bytes = 0
        self._header_count = 0
        self._head_timer: asyncio.TimerHandle | None = None
        self._refused = False
        self._head_done = False  # the current request's head is complete
        self._unfinished = 0  # bytes read while a head was unfinished

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()  # a client that connects and sends nothing is not kept either

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        super().data_received(data)
        if self._refused or self._head_done or self.transport.is_closing():
            return
        # The parser hands a header over only once it is complete, keeping the unfinished
        # one itself: so the bytes of a head still unfinished after this read are counted
        # here. The count may include the end of a previous body read in the same chunk,
        # hence the slack of one read.
        self._unfinished += len(data)
        if self._unfinished > MAX_HEAD_BYTES + _READ_SLACK:
            self._answer(431, f"The request head is over {MAX_HEAD_BYTES} bytes.")

    def send_400_response(self, msg: str) -> None:
        if not self._refused:  # a head already answered 414 or 431 is not answered again
            super().send_400_response(msg)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_bytes = self._header_count = self._unfinished = 0
        self._head_done = False
        self._arm()

    def on_url(self, url: bytes) -> None:
        self._head_bytes += len(url)
        if len(self.url) + len(url) > MAX_URL_BYTES:
            self._refuse(414, "The URL is too long.")
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        self._head_bytes += len(name) + len(value) + 4
        if self._header_count > MAX_HEADERS:
            self._refuse(431, f"More than {MAX_HEADERS} header fields.")
        if self._head_bytes > MAX_HEAD_BYTES:
            self._refuse(431, f"The request head is over {MAX_HEAD_BYTES} bytes.")
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._disarm()
        self._head_done = True
        super().on_headers_complete()

    def _arm(self) -> None:
        self._disarm()
        self._head_timer = self.loop.call_later(self.head_timeout, self._too_slow)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _too_slow(self) -> None:
        self._head_timer = None
        if not self.transport.is_closing():
            self._answer(408, "The request head took too long.")

    def _refuse(self, status: int, message: str) -> None:
        self._answer(status, message)
        raise _HeadRefused(message)

    def _answer(self, status: int, message: str) -> None:
        """Write a small plain-text answer and close the connection."""
        self._refused = True
        self._disarm()
        body = message.encode("ascii")
        self.transport.write(
            b"HTTP/1.1 %d %s\r\ncontent-type: text/plain; charset=utf-8\r\n"
            b"content-length: %d\r\nconnection: close\r\n\r\n%s"
            % (status, _REASONS[status], len(body), body)
        )
        self.transport.close()
