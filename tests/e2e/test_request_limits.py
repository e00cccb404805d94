"""Request bodies are capped while they stream in, against a real ``newsletter serve``."""

from __future__ import annotations

import contextlib
import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from support.env import WebServer

GIGABYTE = 1024**3


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS line")


def stream_chunked(url: str, path: str, total: int) -> tuple[int, int]:
    """POST ``total`` bytes of form as a chunked body; return (status, bytes sent)."""
    parts = urlsplit(url)
    sent = 0
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n"
            "Transfer-Encoding: chunked\r\n\r\n".encode()
        )
        chunk = b"a" * 65536
        framed = b"%x\r\n" % len(chunk) + chunk + b"\r\n"
        sock.setblocking(False)
        reply = b""
        while sent < total:
            with contextlib.suppress(BlockingIOError):
                reply += sock.recv(65536)
            if reply:
                break
            try:
                sock.sendall(framed)
            except BlockingIOError:
                time.sleep(0.001)
                continue
            except OSError:
                break  # the server closed the connection after answering
            sent += len(chunk)
        sock.setblocking(True)
        while b"\r\n" not in reply:
            more = sock.recv(65536)
            if not more:
                break
            reply += more
    status = int(reply.split(b" ", 2)[1]) if reply else 0
    return status, sent


@pytest.mark.parametrize("path", ["/subscribe", "/unsubscribe/anything"])
def test_a_gigabyte_form_is_refused_without_reading_it(web_server: WebServer, path: str) -> None:
    """A 1 GB chunked form gets 413 after a few KB; the server's memory does not grow."""
    before = rss_kib(web_server.pid)
    status, sent = stream_chunked(web_server.url, path, GIGABYTE)
    assert status == 413
    assert sent < 16 * 1024 * 1024, f"the server kept reading: {sent:,} bytes"
    grown = rss_kib(web_server.pid) - before
    assert grown < 20 * 1024, f"memory grew by {grown:,} KiB"
    assert httpx.get(f"{web_server.url}/healthz").status_code == 200


@pytest.mark.parametrize("path", ["/subscribe", "/unsubscribe/anything", "/preferences/x"])
def test_a_declared_length_over_the_cap_is_refused_at_once(
    web_server: WebServer, path: str
) -> None:
    """A Content-Length over 16 KB gets 413; a form just under it is read normally."""
    too_big = httpx.post(f"{web_server.url}{path}", content=b"a=" + b"b" * 16 * 1024,
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert too_big.status_code == 413
    assert too_big.headers["X-Frame-Options"] == "DENY"
    fits = httpx.post(f"{web_server.url}{path}", content=b"a=" + b"b" * 16000,
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert fits.status_code != 413
