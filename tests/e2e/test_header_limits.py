"""`newsletter serve` facing the internet without a proxy: request heads are capped in size
and count, and must arrive in time (issue #24, item 8).

Measured before: eight connections sending 100 MB of unfinished headers grew the server
from 125 MB to over 1 GB, and slow-header connections stayed open past 60 s.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from support.env import TEST_SECRET, WebServer
from support.servers import free_port, running

pytestmark = pytest.mark.e2e  # a real `newsletter serve` process


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebServer]:
    """One `newsletter serve --header-timeout 2` for the module (the slow-client tests then
    take seconds); its own settings, since the per-test environment is not set up yet."""
    tmp_path = tmp_path_factory.mktemp("header-limits")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "NEWSLETTER_BASE_URL": url, "NEWSLETTER_SECRET_KEY": TEST_SECRET,
           "NEWSLETTER_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}",
           "NEWSLETTER_OUTBOX_DIR": str(tmp_path / "outbox"), "NEWSLETTER_TRANSPORT": "outbox"}
    command = [str(Path(sys.executable).parent / "newsletter"), "serve", "--port", str(port),
               "--header-timeout", "2", "--no-access-log"]
    with running(command, env, tmp_path, f"{url}/healthz", tmp_path / "serve.log") as pid:
        yield WebServer(url, Path(env["NEWSLETTER_OUTBOX_DIR"]), env["NEWSLETTER_DATABASE_URL"],
                        pid)


def connect(server: WebServer) -> socket.socket:
    host, port = server.url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    return sock


def answer(sock: socket.socket) -> bytes:
    """What the server writes until it closes the connection."""
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def send_ignoring_reset(sock: socket.socket, data: bytes) -> None:
    # The server having refused and closed is what these tests want.
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        sock.sendall(data)


@pytest.mark.parametrize(("head", "status"), [
    (b"GET /" + b"a" * 20_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", b"414"),
    (b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 64_000 + b"\r\n\r\n", b"431"),
    (b"GET / HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: 1\r\n" % n for n in range(200))
     + b"\r\n", b"431"),
])
def test_an_oversized_head_is_refused_and_the_server_serves_on(
    server: WebServer, head: bytes, status: bytes
) -> None:
    """A 20 KB URL gets 414; 64 KB of headers or 200 fields get 431; the server answers
    other clients as before."""
    with connect(server) as sock:
        send_ignoring_reset(sock, head)
        reply = answer(sock)
    assert reply.startswith(b"HTTP/1.1 " + status), reply[:200]
    assert httpx.get(f"{server.url}/healthz", timeout=5).text == "ok"


def test_unfinished_headers_do_not_grow_the_server(server: WebServer) -> None:
    """Eight connections sending 4 MB of header each (never finished) cost under 30 MB."""
    before = rss_kb(server.pid)
    socks = [connect(server) for _ in range(8)]
    try:
        for sock in socks:
            send_ignoring_reset(sock, b"GET / HTTP/1.1\r\nHost: x\r\nX-Flood: ")
            for _ in range(64):
                send_ignoring_reset(sock, b"f" * 65536)
        grown = rss_kb(server.pid) - before
    finally:
        for sock in socks:
            sock.close()
    assert grown < 30 * 1024, f"grew {grown} KB"
    assert httpx.get(f"{server.url}/healthz", timeout=5).text == "ok"


@pytest.mark.parametrize("trickle", [b"", b"GET / HTTP/1.1\r\nHost: x\r\n"])
def test_a_slow_client_is_closed_at_the_header_timeout(
    server: WebServer, trickle: bytes
) -> None:
    """A client sending nothing, or a header byte a second, gets 408 and is closed at the
    --header-timeout (2 s here), not kept for minutes."""
    with connect(server) as sock:
        started = time.monotonic()
        sock.settimeout(0.5)
        send_ignoring_reset(sock, trickle)
        reply = b""
        while time.monotonic() - started < 15:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                if trickle:
                    send_ignoring_reset(sock, b"X")  # one more byte of a header name
                continue
            if not chunk:
                break
            reply += chunk
        elapsed = time.monotonic() - started
    assert reply.startswith(b"HTTP/1.1 408"), reply[:200]
    assert elapsed < 6, elapsed
