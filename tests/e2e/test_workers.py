"""Two `newsletter worker` processes on one PostgreSQL share a campaign: each message once."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

from sqlalchemy import select
from support.delivery import delivery_rows, outbox, subscribe

from newsletter.store.db import open_database
from newsletter.store.tables import workers

NEWSLETTER = str(Path(sys.executable).with_name("newsletter"))


def test_two_workers_send_every_delivery_exactly_once(
    postgres_url: str, tmp_path: Path, sample_issue_path: Path
) -> None:
    """Both workers claim with SKIP LOCKED; together they send each delivery once."""
    readers = [r for r in subscribe(postgres_url, 420) if r.expects_issue]
    env = dict(
        os.environ,
        NEWSLETTER_DATABASE_URL=postgres_url,
        NEWSLETTER_MAX_SEND_RATE="150",
        NEWSLETTER_OUTBOX_DIR=str(tmp_path / "outbox"),
    )
    enqueue = subprocess.run(
        [NEWSLETTER, "send", str(sample_issue_path), "--yes", "--enqueue-only"],
        env=env, capture_output=True, text=True,
    )
    assert enqueue.returncode == 0, enqueue.stdout + enqueue.stderr
    assert not (tmp_path / "outbox").exists()

    processes = [
        subprocess.Popen([NEWSLETTER, "worker", "--once"], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=120)[0] for p in processes]

    assert [p.returncode for p in processes] == [0, 0], outputs
    rows = delivery_rows(postgres_url)
    assert len(rows) == len(readers)
    assert {r["status"] for r in rows} == {"sent"}
    copies = Counter(str(m["X-Newsletter-Delivery"]) for m in outbox(tmp_path / "outbox"))
    assert sorted(copies) == sorted(f"1.{r['id']}" for r in rows)
    assert set(copies.values()) == {1}
    # Both took part, and both went away cleanly.
    assert len({r["claimed_by"] for r in rows}) == 2
    assert any("campaign 2022-09-07: done" in out for out in outputs)
    db = open_database(postgres_url)
    with db.engine.connect() as conn:
        assert conn.execute(select(workers)).all() == []
    db.close()


def test_worker_once_without_open_campaigns_does_nothing(tmp_path: Path) -> None:
    """A worker with nothing to do exits 0 at once and sends nothing."""
    result = subprocess.run([NEWSLETTER, "worker", "--once"], capture_output=True, text=True,
                            env=dict(os.environ), timeout=60)
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "outbox").exists()
