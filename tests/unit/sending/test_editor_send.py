"""`newsletter send-test`: editors get what readers get (the variant named in a header);
no campaign is created or touched."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from support.delivery import delivery_rows, outbox, subscribe
from support.env import TEST_SECRET
from typer.testing import CliRunner

from newsletter.cli.main import app
from newsletter.errors import TokenError
from newsletter.issues.loader import load_issue
from newsletter.sending.editor_send import TEST_HEADER, TEST_SUBSCRIBER_ID
from newsletter.store.db import open_database
from newsletter.store.tables import campaigns
from newsletter.tokens import Purpose, read_token

EDITORS = ["editor@example.org", "chief@example.org"]


def campaign_rows() -> list[Any]:
    db = open_database(os.environ["NEWSLETTER_DATABASE_URL"])
    with db.engine.connect() as conn:
        rows = conn.execute(select(campaigns)).all()
    db.close()
    return rows


def unsubscribe_token(message: Any) -> str:
    return str(message["List-Unsubscribe"]).split("/unsubscribe/")[1].split(">")[0]


def test_send_test_goes_to_the_editors_with_the_readers_subject(
    sample_issue_path: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Each editor gets the full issue under the subject readers see (a "[TEST]" prefix
    scored in spam filters), marked in a header; campaigns stay as they were."""
    monkeypatch.setenv("NEWSLETTER_EDITORS", json.dumps(EDITORS))
    readers = subscribe(os.environ["NEWSLETTER_DATABASE_URL"], 7)
    issue = load_issue(sample_issue_path)

    result = CliRunner().invoke(app, ["send-test", str(sample_issue_path)])

    assert result.exit_code == 0, result.output
    messages = outbox(tmp_path / "outbox")
    assert sorted(m["To"] for m in messages) == sorted(EDITORS)
    assert {m["Subject"] for m in messages} == {issue.title}
    assert {m[TEST_HEADER] for m in messages} == {"both:*"}
    assert campaign_rows() == [] and delivery_rows(os.environ["NEWSLETTER_DATABASE_URL"]) == []
    for message in messages:
        token = unsubscribe_token(message)
        # The link names no real subscriber: it cannot unsubscribe anybody.
        assert read_token(TEST_SECRET, Purpose.UNSUBSCRIBE, token) == TEST_SUBSCRIBER_ID
        assert TEST_SUBSCRIBER_ID not in {r.id for r in readers}
        with pytest.raises(TokenError):
            read_token(TEST_SECRET, Purpose.PREFERENCES, token)


def test_send_test_to_given_addresses_with_every_variant_in_use(
    sample_issue_path: Path, tmp_path: Path
) -> None:
    """--all-variants sends one message per variant subscribers receive, each named in
    the X-Newsletter-Test header, with the subject readers of that variant get."""
    readers = subscribe(os.environ["NEWSLETTER_DATABASE_URL"], 14)
    in_use = Counter(r.expected_variant for r in readers if r.expects_issue)
    issue = load_issue(sample_issue_path)

    result = CliRunner().invoke(app, [
        "send-test", str(sample_issue_path), "--to", "proof@example.net", "--all-variants",
    ])

    assert result.exit_code == 0, result.output
    messages = outbox(tmp_path / "outbox")
    assert {m["To"] for m in messages} == {"proof@example.net"}
    subjects = sorted((str(m[TEST_HEADER]), str(m["Subject"])) for m in messages)
    expected = sorted(
        (key, issue.title_en if key.startswith("en:") else issue.title) for key in in_use
    )
    assert subjects == expected
    assert len(in_use) >= 4
    assert campaign_rows() == []


def test_send_test_with_nobody_to_send_to_says_what_to_do(sample_issue_path: Path) -> None:
    """Without --to and NEWSLETTER_EDITORS the command explains and sends nothing."""
    result = CliRunner().invoke(app, ["send-test", str(sample_issue_path)])
    assert result.exit_code == 1
    assert "NEWSLETTER_EDITORS" in result.output
    assert not Path("outbox").exists()


def test_send_test_leaves_a_running_campaign_alone(
    sample_issue_path: Path, tmp_path: Path
) -> None:
    """A test send between `send --enqueue-only` and the real send changes no delivery."""
    subscribe(os.environ["NEWSLETTER_DATABASE_URL"], 14)
    runner = CliRunner()
    assert runner.invoke(app, ["send", str(sample_issue_path), "--yes", "--enqueue-only"]
                         ).exit_code == 0
    before = delivery_rows(os.environ["NEWSLETTER_DATABASE_URL"])
    result = runner.invoke(app, ["send-test", str(sample_issue_path), "--to", "e@example.org"])
    assert result.exit_code == 0, result.output
    assert delivery_rows(os.environ["NEWSLETTER_DATABASE_URL"]) == before
    assert [tuple(r)[1:4] for r in campaign_rows()] == [
        ("2022-09-07", str(sample_issue_path), "sending")
    ]
    assert len(outbox(tmp_path / "outbox")) == 1
