"""Issue 25, item 5: the health limits a campaign runs under are stored with it, so a
campaign resumed with a higher bounce limit is not paused again by another process (an
`events poll` running with the default 4%).

Real parts: SQLite on disk, the outbox transport, SES events applied through the event
store exactly as the poller applies them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from support.delivery import subscribe
from support.sending import send_issue
from typer.testing import CliRunner

from newsletter.cli.main import app
from newsletter.errors import CampaignError
from newsletter.feedback.ses_events import event_from
from newsletter.model.campaigns import DeliveryResult
from newsletter.model.events import DELIVERY_TAG
from newsletter.settings import get_settings
from newsletter.store.campaigns import CampaignStore
from newsletter.store.db import Database, open_database
from newsletter.store.events import EventStore, HealthLimits, Received
from newsletter.transports.outbox import OutboxTransport

DATE = "2022-09-07"


def bounce(delivery_id: int, address: str) -> Received:
    return Received(event_from({
        "eventType": "Bounce",
        "bounce": {"bounceType": "Permanent", "bounceSubType": "General",
                   "bouncedRecipients": [{"emailAddress": address}]},
        "mail": {"messageId": f"ses-{delivery_id}", "destination": [address],
                 "tags": {DELIVERY_TAG: [str(delivery_id)]}},
    }))


class PollerAlongside:
    """The outbox; after its 10th message, a poller with the default limits (4%) applies
    three more hard bounces of earlier deliveries."""

    name = "outbox-with-poller"

    def __init__(self, directory: Path, db: Database, late: list[tuple[int, str]]) -> None:
        self.outbox = OutboxTransport(directory)
        self.events = EventStore(db, HealthLimits())
        self.late = late
        self.sent = 0

    def send(self, raw: bytes, to: str) -> str:
        self.sent += 1
        if self.sent == 10:
            result = self.events.apply([bounce(i, email) for i, email in self.late])
            assert result.stored == len(self.late)
        return self.outbox.send(raw, to)


def paused_campaign(db: Database, sample_issue_path: Path) -> tuple[CampaignStore, int,
                                                                      list[tuple[int, str]]]:
    """A campaign with 600 sent and 26 hard bounces (4.3%): paused by its health check."""
    store = CampaignStore(db)
    campaign, _ = store.start(DATE, str(sample_issue_path), ["CL", "CV", "LG"])
    store.set_limits(campaign.id, 0.04, 0.0008)
    claims = store.claim(campaign.id, "earlier", 600)
    store.record("earlier", [DeliveryResult(c.id, "sent", provider_id=f"ses-{c.id}")
                             for c in claims])
    events = EventStore(db, HealthLimits())
    events.apply([bounce(c.id, c.email) for c in claims[:26]])
    found = store.by_id(campaign.id)
    assert found is not None and found.status == "paused", "4.3% is above 4%"
    assert "send ISSUE --resume --max-bounce-rate" in found.paused_reason
    return store, campaign.id, [(c.id, c.email) for c in claims[26:29]]


@pytest.mark.slow
def test_a_campaign_resumed_with_a_higher_limit_is_not_paused_again_by_the_poller(
    sample_issue_path: Path, tmp_path: Path
) -> None:
    """Resumed at 6%, the campaign finishes although a poller with 4% applies bounces that
    take it to 4.8% meanwhile; the limit is stored with the campaign."""
    url = os.environ["NEWSLETTER_DATABASE_URL"]
    readers = [r for r in subscribe(url, 760) if r.expects_issue]
    db = open_database(url)
    try:
        _, campaign_id, late = paused_campaign(db, sample_issue_path)
        transport = PollerAlongside(tmp_path / "outbox", db, late)

        summary = send_issue(get_settings(), str(sample_issue_path), transport=transport,
                             resume=True, max_bounce_rate=0.06)

        assert transport.sent == len(readers) - 600
        assert summary.outcome == "done", summary.lines()
        assert summary.health.hard_bounced == 29
        with db.engine.connect() as conn:
            from newsletter.store.tables import campaigns

            limits = conn.execute(campaigns.select().where(campaigns.c.id == campaign_id)).one()
        assert (limits.max_bounce_rate, limits.max_complaint_rate) == (0.06, 0.0008)
    finally:
        db.close()


def test_resume_refuses_to_start_a_campaign(sample_issue_path: Path) -> None:
    """`send --resume` only continues: with no campaign for the issue it starts nothing."""
    subscribe(os.environ["NEWSLETTER_DATABASE_URL"], 7)
    with pytest.raises(CampaignError, match="no campaign for 2022-09-07 to resume"):
        send_issue(get_settings(), str(sample_issue_path), resume=True)
    result = CliRunner().invoke(app, ["send", str(sample_issue_path), "--yes", "--resume",
                                      "--max-bounce-rate", "0.06"])
    assert result.exit_code == 1
    assert "no campaign for 2022-09-07 to resume" in result.output
    db = open_database(os.environ["NEWSLETTER_DATABASE_URL"])
    assert CampaignStore(db).get(DATE) is None
    db.close()
