"""Helpers for the archive tests: issue files for any date, and campaigns that sent them."""

from __future__ import annotations

from pathlib import Path

from newsletter.model.campaigns import DeliveryResult
from newsletter.store.campaigns import CampaignStore
from newsletter.store.db import open_database
from support.delivery import subscribe
from support.env import SAMPLE_ISSUE


def write_issue(folder: Path, date: str, title: str | None = None) -> Path:
    """The sample issue (papers in CL, CV, LG), dated ``date``; optionally another title."""
    folder.mkdir(parents=True, exist_ok=True)
    text = SAMPLE_ISSUE.read_text("utf-8").replace("2022-09-07", date)
    if title is not None:
        text = text.replace(f"title: arXiv AI 前沿论文速递 · {date}", f"title: {title!r}", 1)
    path = folder / f"{date}.yaml"
    path.write_text(text, "utf-8")
    return path


def campaign(database_url: str, date: str, how: str) -> None:
    """A campaign for ``date``: "done", "enqueued" (snapshot only) or "partly" (one sent)."""
    db = open_database(database_url)
    try:
        store = CampaignStore(db)
        if how == "partly":
            subscribe(database_url, 3, prefix=f"r{date.replace('-', '')}")
        started, _ = store.start(date, f"issues/{date}.yaml", ["CL", "CV", "LG"])
        if how == "done":
            store.set_status(started.id, "done")
        elif how == "partly":
            claims = store.claim(started.id, "test-worker", 1)
            assert claims
            store.record("test-worker", [DeliveryResult(claims[0].id, "sent", "ses-id-1")])
        else:
            assert how == "enqueued", how
    finally:
        db.close()
