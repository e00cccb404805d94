"""The trends as JSON and CSV (the CLI and the desk share them)."""

from __future__ import annotations

import csv
import io
from typing import Any

from newsletter.model.reports import (
    GMAIL_COMPLAINT_LIMIT,
    SES_BOUNCE_REVIEW,
    SES_BOUNCE_WARNING,
    SES_COMPLAINT_REVIEW,
    SES_COMPLAINT_WARNING,
    Trends,
)

DAY_FIELDS = ("signups", "confirmations", "added", "left_reader", "left_bounce",
              "left_complaint", "left_inactive")


def trends_json(trends: Trends) -> dict[str, Any]:
    return {
        "since": trends.since.isoformat(),
        "until": trends.until.isoformat(),
        "thresholds": {
            "ses_bounce_warning": SES_BOUNCE_WARNING, "ses_bounce_review": SES_BOUNCE_REVIEW,
            "ses_complaint_warning": SES_COMPLAINT_WARNING,
            "ses_complaint_review": SES_COMPLAINT_REVIEW,
            "gmail_complaint_limit": GMAIL_COMPLAINT_LIMIT,
        },
        "days": [
            {"day": d.day.isoformat(), **{f: getattr(d, f) for f in DAY_FIELDS},
             "net": d.net, "confirmation_rate": d.confirmation_rate}
            for d in trends.days
        ],
        "campaigns": [
            {"issue": c.issue, "started_at": c.started_at.isoformat(),
             "finished_at": c.finished_at.isoformat() if c.finished_at else None,
             "send_seconds": c.send_seconds, "delivered": c.delivered, "bounced": c.bounced,
             "complained": c.complained, "bounce_rate": c.bounce_rate,
             "complaint_rate": c.complaint_rate, "warnings": c.warnings()}
            for c in trends.campaigns
        ],
    }


def trends_csv(trends: Trends) -> str:
    """One row per day."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["day", *DAY_FIELDS, "net", "confirmation_rate"])
    for d in trends.days:
        rate = d.confirmation_rate
        writer.writerow([d.day.isoformat(), *(getattr(d, f) for f in DAY_FIELDS), d.net,
                         "" if rate is None else f"{rate:.4f}"])
    return out.getvalue()
