"""The server's speed right after a sign-up does not tell whether the address is known."""

from __future__ import annotations

import re
import socket
import statistics
import time

import httpx
import pytest
from support.env import WebServer

from newsletter.store.db import open_database
from newsletter.store.subscribers import SubscriberStore

PROBES = 50  # per group


@pytest.fixture
def behind_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    # Each probe comes "from" its own address, so the per-client limit does not interfere.
    monkeypatch.setenv("NEWSLETTER_TRUSTED_PROXIES", "127.0.0.1")


def probe(client: httpx.Client, token: str, address: str, n: int) -> float:
    """POST a sign-up, then time the next request: what an attacker measures."""
    headers = {"X-Forwarded-For": f"198.51.{n // 200}.{n % 200 + 1}"}
    response = client.post("/subscribe", headers=headers, data={
        "form_token": token, "email": address, "categories": ["LG"], "language": "en",
    })
    assert response.status_code == 200, response.text
    return timed_health_check(client.base_url.host, client.base_url.port or 80)


def timed_health_check(host: str, port: int) -> float:
    """Milliseconds for GET /healthz over a fresh socket: nothing of the client's own
    (TLS contexts, delayed ACKs on a kept-alive connection) in the measurement."""
    started = time.perf_counter()
    with socket.create_connection((host, port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: probe\r\nConnection: close\r\n\r\n")
        reply = b""
        while chunk := sock.recv(4096):
            reply += chunk
    elapsed = (time.perf_counter() - started) * 1000
    assert reply.startswith(b"HTTP/1.1 200"), reply[:100]
    return elapsed


# Compares latencies in milliseconds: `make test` runs it alone, after the parallel pass.
@pytest.mark.serial
def test_probes_after_sign_ups_of_known_and_new_addresses_do_not_separate(
    behind_proxy: None, web_server: WebServer
) -> None:
    """Over 50 probes each, timings after known and new addresses have the same median
    (within 1 ms or 15%) and neither group is mostly slower than the other."""
    db = open_database(web_server.database_url)
    try:
        store = SubscriberStore(db)
        for n in range(PROBES):
            store.add(f"known{n}@example.org", status="active", categories={"LG"})
    finally:
        db.close()
    known: list[float] = []
    new: list[float] = []
    with httpx.Client(base_url=web_server.url) as client:
        page = client.get("/subscribe")
        match = re.search(r'name="form_token" value="([0-9a-f]{32})"', page.text)
        assert match
        token = match.group(1)
        for _ in range(10):  # warm up
            client.get("/subscribe")
        for n in range(PROBES):  # interleaved, so drift affects both groups alike
            known.append(probe(client, token, f"known{n}@example.org", 2 * n))
            time.sleep(0.15)
            new.append(probe(client, token, f"new{n}@example.org", 2 * n + 1))
            time.sleep(0.15)
    median_known, median_new = statistics.median(known), statistics.median(new)
    # The share of (new, known) pairs in which the new probe was slower: 0.5 when the
    # distributions are the same (the Mann-Whitney statistic, normalised).
    slower = sum((a > b) + 0.5 * (a == b) for a in new for b in known) / PROBES**2
    summary = (f"median known {median_known:.2f} ms, new {median_new:.2f} ms, "
               f"P(new slower) {slower:.2f}")
    print(summary)
    assert abs(median_new - median_known) < max(1.0, 0.15 * median_known), summary
    assert 0.35 < slower < 0.65, summary
