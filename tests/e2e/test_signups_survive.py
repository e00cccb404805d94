"""Issue 25, item 6: sign-ups answered "check your inbox" survive a SIGKILL of `serve`.

Real parts: `newsletter serve` processes (SIGKILLed, then started again), SQLite on disk,
the outbox transport, HTTP over loopback.
"""

from __future__ import annotations

import os
import re
import signal
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from support.delivery import outbox
from support.serve import start_serve

SIGN_UPS = 500
PER_CLIENT = 3  # what one source may have waiting (web.signups.PER_SOURCE)


def sign_up_batch(url: str, first: int, count: int) -> list[int]:
    """``count`` sign-ups over one client, each group of three from its own address."""
    statuses = []
    with httpx.Client(base_url=url, timeout=30) as client:
        page = client.get("/subscribe")
        match = re.search(r'name="form_token" value="([0-9a-f]{32})"', page.text)
        assert match, page.text
        for n in range(first, first + count):
            source = f"10.{n // PER_CLIENT // 250}.{n // PER_CLIENT % 250}.1"
            response = client.post("/subscribe", headers={"X-Forwarded-For": source}, data={
                "form_token": match.group(1), "email": f"reader{n}@example.org",
                "categories": ["LG"], "language": "en",
            })
            statuses.append(response.status_code)
    return statuses


def test_500_sign_ups_answered_200_survive_a_sigkill_of_serve(tmp_path: Path) -> None:
    """500 sign-ups get 200; `serve` is killed with most still queued; a new `serve`
    sends all 500 confirmation emails, one each."""
    outbox_dir = Path(os.environ["NEWSLETTER_OUTBOX_DIR"])
    env = dict(os.environ, NEWSLETTER_TRUSTED_PROXIES="127.0.0.1",
               NEWSLETTER_SIGNUP_SLOT_MS="200")  # slow: most wait when it is killed
    with (tmp_path / "serve1.log").open("wb") as log:
        first, url = start_serve(env, log)
        try:
            with ThreadPoolExecutor(5) as pool:
                chunks = [(n * 100, 100) for n in range(SIGN_UPS // 100)]
                statuses = [s for batch in pool.map(lambda c: sign_up_batch(url, *c), chunks)
                            for s in batch]
            assert Counter(statuses) == {200: SIGN_UPS}
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=30)
    before = len(outbox(outbox_dir)) if outbox_dir.exists() else 0
    assert before < SIGN_UPS, "the kill should catch sign-ups still queued"

    env["NEWSLETTER_SIGNUP_SLOT_MS"] = "5"
    with (tmp_path / "serve2.log").open("wb") as log:
        second, _ = start_serve(env, log)
        try:
            deadline = time.monotonic() + 120
            while len(outbox(outbox_dir)) < SIGN_UPS and time.monotonic() < deadline:
                time.sleep(0.5)
            time.sleep(1)  # anything more would be a duplicate
        finally:
            second.terminate()
            second.wait(timeout=30)

    sent = Counter(str(m["To"]) for m in outbox(outbox_dir))
    assert set(sent) == {f"reader{n}@example.org" for n in range(SIGN_UPS)}
    assert [to for to, n in sent.items() if n != 1] == []
