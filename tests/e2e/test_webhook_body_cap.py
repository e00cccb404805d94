"""A 10 MB chunked body to the webhook of a real `newsletter serve`: refused, memory flat."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
from sqlalchemy import func, select
from support.serve import start_serve
from support.sns import TOPIC

from newsletter.store.db import open_database
from newsletter.store.tables import ses_events

CHUNK = b"x" * 65_536
CHUNKS = 160  # 10 MiB


def peak_rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):  # the peak: a body read whole and freed still shows
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def test_a_10_mb_chunked_body_is_refused_without_being_read(tmp_path: Path) -> None:
    """No Content-Length, 10 MB in 64 KB chunks: refused early, server RSS stays flat."""
    env = dict(os.environ, NEWSLETTER_SNS_TOPIC_ARNS=TOPIC)
    pulled = 0

    def body() -> Iterator[bytes]:
        nonlocal pulled
        for _ in range(CHUNKS):
            pulled += 1
            yield CHUNK

    with open(tmp_path / "serve.log", "wb") as log:
        server, url = start_serve(env, log)
        try:
            before = peak_rss_kb(server.pid)
            status: int | None = None
            # The server may close the connection before the client has sent it all.
            with contextlib.suppress(httpx.TransportError):
                status = httpx.post(f"{url}/webhooks/ses", content=body(), timeout=20).status_code
            after = peak_rss_kb(server.pid)
            assert httpx.get(f"{url}/healthz", timeout=5).status_code == 200
        finally:
            server.terminate()
            server.wait(timeout=10)
    assert status in (413, None)
    assert pulled >= 5  # more than the 256 KB cap was offered
    # Reading it whole would hold 10 MB (twice, joined); the cap keeps the server flat.
    assert after - before < 2_048, (before, after, status)
    db = open_database(os.environ["NEWSLETTER_DATABASE_URL"])
    with db.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(ses_events)).scalar_one() == 0
    db.close()
