"""Other routes' latency while unauthenticated clients flood the SES webhook with big JSON.

Used by ``tests/e2e/test_webhook_flood.py`` (generous bounds) and ``bench/webhook_flood.py``
(figures for BENCHMARKS.md). The flood is what the issue measured: 16 connections each
posting a 256 KB JSON body (an SNS-looking object with a list of 85,000 numbers, slow to
build and walk) back to back. It runs in a process of its own (this file run as a
script, raw sockets), so that the probe's timings are not the flood clients' own GIL.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx

FLOOD_CONNECTIONS = 16
_TOPIC = "arn:aws:sns:eu-west-1:123456789012:ses-feedback"  # support.sns.TOPIC
FLOOD_BODY = json.dumps({"Type": "Notification", "TopicArn": _TOPIC, "Message": "x",
                         "Padding": [7] * 85_000}).encode()
assert len(FLOOD_BODY) <= 256 * 1024, len(FLOOD_BODY)


@dataclass(frozen=True)
class Latency:
    """Latencies of the probed routes, in milliseconds."""

    samples: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def p90(self) -> float:
        return statistics.quantiles(self.samples, n=10)[-1]


def probe(url: str, paths: list[str], seconds: float) -> Latency:
    """GET each of ``paths`` in turn for ``seconds``; every answer must be 200."""
    samples: list[float] = []
    ends = time.monotonic() + seconds
    with httpx.Client(base_url=url, timeout=60) as client:
        while time.monotonic() < ends:
            for path in paths:
                started = time.perf_counter()
                response = client.get(path)
                samples.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200, (path, response.status_code)
    return Latency(samples)


@contextmanager
def flood(url: str, log: Path) -> Iterator[Path]:
    """The flood, from another process, until the block ends; yields the file where it
    counts its answers (one line per status)."""
    process = subprocess.Popen([sys.executable, __file__, url, str(log)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(1.0)  # the flood under way
        yield log
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def flooded(
    url: str, paths: list[str], seconds: float, log: Path
) -> tuple[Latency, dict[str, int]]:
    """Latency of ``paths`` during the flood, and the flood's answers by status."""
    with flood(url, log):
        latency = probe(url, paths, seconds)
    counts: dict[str, int] = {}
    for status in log.read_text().split():
        counts[status] = counts.get(status, 0) + 1
    return latency, counts


def _flood_main(url: str, log_path: str) -> None:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    request = (
        f"POST /webhooks/ses HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Content-Type: text/plain\r\nContent-Length: {len(FLOOD_BODY)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode() + FLOOD_BODY
    stop = threading.Event()
    lock = threading.Lock()
    log = open(log_path, "w")  # noqa: SIM115 -- closed when the process ends

    def post() -> None:
        while not stop.is_set():
            try:
                with socket.create_connection((host, port), timeout=60) as sock:
                    sock.sendall(request)
                    reply = sock.recv(64)
                status = reply.split(b" ", 2)[1].decode() if reply else "closed"
            except OSError:
                status = "error"
            with lock:
                log.write(status + "\n")
                log.flush()

    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    threads = [threading.Thread(target=post, daemon=True) for _ in range(FLOOD_CONNECTIONS)]
    for thread in threads:
        thread.start()
    while not stop.is_set():
        time.sleep(0.1)
    os._exit(0)


if __name__ == "__main__":
    _flood_main(sys.argv[1], sys.argv[2])
