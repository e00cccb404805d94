"""The overview's costly counts are kept a while and recounted in the background."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from support.desk import desk_site

from newsletter.settings import get_settings
from newsletter.store.db import open_database
from newsletter.store.subscribers import SubscriberStore
from newsletter.web.admin.dashboard import Figures


def test_figures_are_counted_once_then_served_while_a_recount_runs() -> None:
    """The first call counts; later calls within max_age reuse it; a stale call returns the
    old figures at once and one background recount replaces them."""
    now = [0.0]
    counts: list[int] = []
    release = threading.Event()

    def count() -> dict[str, Any]:
        counts.append(1)
        if len(counts) > 1:
            assert release.wait(5)  # a slow recount: the caller must not wait for it
        return {"n": len(counts)}

    figures = Figures(count, max_age=30, clock=lambda: now[0])
    assert figures.get() == {"n": 1}
    now[0] = 29
    assert figures.get() == {"n": 1} and len(counts) == 1
    now[0] = 31
    assert figures.get() == {"n": 1}  # stale, returned at once
    assert figures.get() == {"n": 1}  # no second recount while one runs
    release.set()
    for _ in range(500):
        if figures.get() == {"n": 2}:
            break
        threading.Event().wait(0.01)
    assert figures.get() == {"n": 2} and len(counts) == 2


def test_the_overview_draws_the_last_30_days(tmp_path: Path) -> None:
    """The growth chart's caption counts the readers who joined and left in the window."""
    db = open_database(os.environ["NEWSLETTER_DATABASE_URL"])
    try:
        with desk_site(get_settings(), db, tmp_path / "outbox") as desk:
            store = SubscriberStore(db, clock=desk.clock)
            for n in range(3):
                store.add(f"r{n}@example.org", status="active", source="cli")
            gone = store.find("r0@example.org")
            assert gone is not None
            store.set_status(gone.id, "unsubscribed", "test")
            desk.sign_in()
            page = desk.client.get("/admin/")
            assert page.status_code == 200
            assert "3 joined, 1 left" in page.text
            assert page.text.count('class="bar-joined"') == 30
    finally:
        db.close()
