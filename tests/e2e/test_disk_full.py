"""A disk that fills up during a send stops every sender with one clear line."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.delivery import subscribe
from support.env import SAMPLE_ISSUE

from newsletter.store.db import open_database
from newsletter.store.tables import deliveries

NEWSLETTER = str(Path(sys.executable).parent / "newsletter")


@pytest.fixture
def tiny_disk(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Path]:
    """A real filesystem (tmpfs) of 1 MB, or of ``@pytest.mark.disk_mb(N)``: room for what
    the test puts there first and a few messages, then ENOSPC."""
    marker = request.node.get_closest_marker("disk_mb")
    size = marker.args[0] if marker is not None else 1
    mount = tmp_path / "tiny"
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}m", "tmpfs", str(mount)],
                          capture_output=True, check=False)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=False)


def test_a_full_outbox_disk_pauses_the_send_with_one_line(
    tiny_disk: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`newsletter send` to a filling outbox: one line naming the disk, no traceback, the
    campaign paused with nothing counted as sent that was not written."""
    url = os.environ["NEWSLETTER_DATABASE_URL"]
    subscribe(url, 60)
    env = {**os.environ, "NEWSLETTER_OUTBOX_DIR": str(tiny_disk / "outbox"),
           "NEWSLETTER_MAX_SEND_RATE": "500", "NEWSLETTER_SEND_CONCURRENCY": "16"}
    result = subprocess.run([NEWSLETTER, "send", str(SAMPLE_ISSUE), "--yes"], env=env,
                            capture_output=True, text=True, timeout=120, check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 3, output
    assert "Traceback" not in output
    # The summary says it once; the progress display notes the pause once.
    assert result.stdout.count("No space left on device") == 1, output
    assert result.stderr.count("No space left on device") <= 1, output
    written = len(list((tiny_disk / "outbox").glob("*.eml")))
    assert not list((tiny_disk / "outbox").glob("*.tmp"))
    db = open_database(url)
    try:
        with db.engine.connect() as conn:
            statuses = [row.status for row in conn.execute(deliveries.select())]
    finally:
        db.close()
    assert statuses.count("sent") == written
    assert "in_doubt" not in statuses


# The database's schema alone is over a megabyte (fourteen migrations); three leave room
# for it and about twenty messages.
@pytest.mark.disk_mb(3)
def test_a_full_disk_under_the_database_stops_with_one_line(
    tiny_disk: Path, tmp_path: Path
) -> None:
    """With the SQLite file and the outbox on a disk that fills up, the send stops with a
    few lines and no traceback from any of its threads."""
    url = f"sqlite:///{tiny_disk / 'list.db'}"
    subscribe(url, 60)
    env = {**os.environ, "NEWSLETTER_DATABASE_URL": url,
           "NEWSLETTER_OUTBOX_DIR": str(tiny_disk / "outbox"),
           "NEWSLETTER_MAX_SEND_RATE": "500", "NEWSLETTER_SEND_CONCURRENCY": "16"}
    result = subprocess.run([NEWSLETTER, "send", str(SAMPLE_ISSUE), "--yes"], env=env,
                            capture_output=True, text=True, timeout=120, check=False)
    output = result.stdout + result.stderr
    assert result.returncode in (1, 3), output
    assert "Traceback" not in output
    assert "No space left on device" in output or "disk is full" in output, output
    assert len(output.splitlines()) < 20, output
