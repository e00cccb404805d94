"""Failures that are not the reader's: unverified sender, unwritable outbox, unbuildable mail."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Any

import boto3
import pytest
from support.delivery import delivery_rows, subscribe
from support.sending import send_issue
from typer.testing import CliRunner

from newsletter.cli.main import app
from newsletter.model.campaigns import Claim
from newsletter.settings import get_settings

UNVERIFIED = "unverified.example.net"


@pytest.mark.e2e  # a whole campaign or process: `make test`, not test-fast
def test_unverified_sender_pauses_then_retry_failed_sends_everyone_once(
    ses: Any, moto_ses_url: str, sample_issue_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """MessageRejected for our From pauses the campaign; after verifying, each reader once."""
    readers = {r.email for r in subscribe(os.environ["NEWSLETTER_DATABASE_URL"], 30)
               if r.expects_issue}
    monkeypatch.setenv("NEWSLETTER_FROM_ADDRESS", f"Digest <digest@{UNVERIFIED}>")
    runner = CliRunner()
    first = runner.invoke(app, ["send", str(sample_issue_path), "--yes"])
    assert first.exit_code == 3, first.output
    assert "paused: SES refused the sender identity" in first.output
    assert ses.messages() == []
    rows = delivery_rows(os.environ["NEWSLETTER_DATABASE_URL"])
    assert {r["status"] for r in rows} == {"queued"}  # nobody failed for our mistake

    boto3.session.Session().client(
        "sesv2", region_name="us-east-1", endpoint_url=moto_ses_url
    ).create_email_identity(EmailIdentity=UNVERIFIED)
    again = runner.invoke(app, ["send", str(sample_issue_path), "--yes", "--retry-failed"])
    assert again.exit_code == 0, again.output
    copies = Counter(d for m in ses.messages() for d in set(m.destinations))
    assert set(copies) == readers and set(copies.values()) == {1}


@pytest.mark.e2e  # a whole campaign or process: `make test`, not test-fast
def test_an_unwritable_outbox_fails_deliveries_with_the_reason_not_in_doubt(
    tmp_path: Path, sample_issue_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An outbox file that cannot be written never left: failed, and --retry-failed resends."""
    readers = [r for r in subscribe(os.environ["NEWSLETTER_DATABASE_URL"], 10) if r.expects_issue]
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the outbox directory should be")
    monkeypatch.setenv("NEWSLETTER_OUTBOX_DIR", str(blocked))
    summary = send_issue(get_settings(), str(sample_issue_path))
    assert (summary.counts.failed, summary.counts.in_doubt) == (len(readers), 0)
    rows = delivery_rows(os.environ["NEWSLETTER_DATABASE_URL"])
    assert all("could not be written" in str(r["error"]) for r in rows)

    blocked.unlink()
    retried = send_issue(get_settings(), str(sample_issue_path), retry_failed=True)
    assert (retried.counts.sent, retried.requeued_failed) == (len(readers), len(readers))
    assert len(list(blocked.glob("*.eml"))) == len(readers)


@pytest.mark.e2e  # a whole campaign or process: `make test`, not test-fast
def test_a_message_that_cannot_be_built_fails_and_is_never_in_doubt(
    sample_issue_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A defect while building one reader's message fails that delivery with the reason."""
    readers = [r for r in subscribe(os.environ["NEWSLETTER_DATABASE_URL"], 10) if r.expects_issue]
    from newsletter.sending.messages import CampaignMessages

    real = CampaignMessages.build
    broken = readers[0].email

    def build(self: CampaignMessages, claim: Claim) -> bytes:
        if claim.email == broken:
            raise KeyError("no such template slot")
        return real(self, claim)

    monkeypatch.setattr(CampaignMessages, "build", build)
    summary = send_issue(get_settings(), str(sample_issue_path))
    assert (summary.counts.failed, summary.counts.in_doubt) == (1, 0)
    assert summary.counts.sent == len(readers) - 1
    failed = [r for r in delivery_rows(os.environ["NEWSLETTER_DATABASE_URL"])
              if r["status"] == "failed"]
    assert failed[0]["email"] == broken and "message not built" in str(failed[0]["error"])
