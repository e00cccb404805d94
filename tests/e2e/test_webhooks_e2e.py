"""Done-when of issue 22, with whole processes: readers sign up and confirm on the web app;
a loopback receiver checks every webhook with the standardwebhooks library, answers 500 for
a while, and hangs on one request while a ``newsletter worker`` process is killed (SIGKILL)
mid-delivery; a new worker then delivers the rest, and the receiver has every event, each
by its id exactly once."""

from __future__ import annotations

import email
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from email import policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient
from support.webhook_receiver import Receiver
from typer.testing import CliRunner

from newsletter.cli.main import app as cli_app
from newsletter.settings import get_settings
from newsletter.store.db import Database, make_engine
from newsletter.store.tables_api import webhook_messages
from newsletter.web.app import create_app

pytestmark = pytest.mark.e2e

NEWSLETTER = str(Path(sys.executable).parent / "newsletter")
READERS = ("one@example.org", "two@example.org", "three@example.org")
ENV = {"NEWSLETTER_WEBHOOKS_ALLOW_PRIVATE": "true", "NEWSLETTER_WEBHOOKS_RETRY_SECONDS": "0.2",
       "NEWSLETTER_WEBHOOKS_TIMEOUT": "2"}


def plan(n: int) -> int | str:
    """500 for the first three requests, then the fourth hangs, then 200s."""
    return 500 if n <= 3 else "hang" if n == 4 else 200


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver(plan)
    yield found
    found.stop()


def wait(condition: object, what: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def sign_up_and_confirm(client: TestClient, outbox: Path, address: str) -> None:
    page = client.get("/subscribe").text
    token = re.search(r'name="form_token" value="([0-9a-f]{32})"', page)
    assert token
    answer = client.post("/subscribe", data={
        "form_token": token.group(1), "email": address, "categories": ["LG"],
        "language": "both"})
    assert answer.status_code == 200
    assert client.app.state.signups.wait_idle()  # type: ignore[attr-defined]
    for path in outbox.glob("*.eml"):
        message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        assert isinstance(message, EmailMessage)
        text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        found = re.search(r"https://news\.example\.org(/confirm/\S+)", text)
        if message["To"] == address and found:
            assert client.post(found.group(1)).status_code == 200
            return
    raise AssertionError(f"no confirmation to {address}")


def worker(env: dict[str, str], cwd: Path, log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen([NEWSLETTER, "worker", "--poll", "0.5"], env=env, cwd=cwd,
                                stdout=out, stderr=out)


def test_every_event_arrives_signed_and_once_by_id_through_500s_and_a_killed_worker(
    tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    env = dict(os.environ)
    added = CliRunner().invoke(cli_app, ["webhooks", "add", receiver.url, "--events",
                                         "subscriber.created,subscriber.confirmed"])
    assert added.exit_code == 0, added.output
    receiver.secret = added.output.strip().splitlines()[-1]
    assert receiver.secret.startswith("whsec_")
    # The readers sign up and confirm on the web app (in this process: the worker is the
    # process this test is about), sharing the database with the workers.
    settings = get_settings()
    outbox = settings.outbox_dir
    with TestClient(create_app(settings)) as client:
        for address in READERS:
            sign_up_and_confirm(client, outbox, address)
    first = worker(env, tmp_path, tmp_path / "worker.log")
    try:
        wait(receiver.hanging.is_set, "the request the receiver holds", 60)
        os.kill(first.pid, signal.SIGKILL)  # mid-delivery: the request is still open
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
    receiver.release()
    second = worker(env, tmp_path, tmp_path / "worker.log")
    try:
        wait(lambda: len(receiver.delivered()) == 2 * len(READERS), "every event", 90)
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(30)
    assert receiver.received and all(r.verified for r in receiver.received)
    delivered = receiver.delivered()
    for address in READERS:
        kinds = sorted(delivered[r.id] for r in receiver.received
                       if r.id in delivered and r.data["email"] == address)
        assert sorted(set(kinds)) == ["subscriber.confirmed", "subscriber.created"], address
    ok = [r.id for r in receiver.received if 200 <= r.answered < 300]
    assert len(ok) == len(set(ok)) == 2 * len(READERS)  # each id taken exactly once
    held = receiver.received[3]
    assert held.answered == 0 and held.id in delivered  # the killed delivery, sent again
    assert sum(r.id == held.id for r in receiver.received) >= 2
    db = Database(make_engine(settings.database_url))
    try:
        with db.engine.connect() as conn:
            states = conn.execute(select(webhook_messages.c.status)).scalars().all()
    finally:
        db.close()
    assert states == ["delivered"] * (2 * len(READERS))
