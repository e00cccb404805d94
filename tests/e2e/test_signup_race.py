"""Simultaneous sign-ups of one address across several ``serve`` processes on PostgreSQL."""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import httpx
from support.delivery import outbox
from support.servers import serve

ADDRESS = "racer@example.org"


def sign_up(url: str, barrier_at: float) -> int:
    with httpx.Client(base_url=url) as client:
        page = client.get("/subscribe")
        match = re.search(r'name="form_token" value="([0-9a-f]{32})"', page.text)
        assert match, page.text
        time.sleep(max(0.0, barrier_at - time.monotonic()))
        response = client.post("/subscribe", data={
            "form_token": match.group(1), "email": ADDRESS,
            "categories": ["LG"], "language": "both",
        })
        return response.status_code


def test_ten_simultaneous_sign_ups_send_one_confirmation(
    migrated_postgres_url: str, tmp_path: Path
) -> None:
    """Ten sign-ups of one address at once, over three servers, send exactly one email."""
    outbox_dir = tmp_path / "outbox"
    with ExitStack() as stack:
        servers = [
            stack.enter_context(serve(tmp_path, tmp_path / f"serve{n}.log",
                                      NEWSLETTER_DATABASE_URL=migrated_postgres_url,
                                      NEWSLETTER_OUTBOX_DIR=str(outbox_dir)))
            for n in range(3)
        ]
        at = time.monotonic() + 1.5
        with ThreadPoolExecutor(10) as pool:
            statuses = list(pool.map(lambda n: sign_up(servers[n % 3].url, at), range(10)))
        assert statuses == [200] * 10
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not outbox_dir.exists():
            time.sleep(0.1)
        time.sleep(3)  # let every queued sign-up finish before counting
        sent = [m for m in outbox(outbox_dir) if m["To"] == ADDRESS]
        assert len(sent) == 1, f"{len(sent)} confirmation emails"
