"""One issue's report: the counters, with each paper's title from the issue file.

Every paper of the issue has a row (a paper nobody clicked shows 0), then any other paper
readers reached from the message or gave feedback on; rows are sorted by readers, then
clicks, then the issue's order. Each row also counts the readers who pressed "More like
this" and "Not for me" under the paper (issue 21).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from functools import reduce
from pathlib import Path
from typing import Protocol

from newsletter.errors import CampaignError, IssueFileError, IssueValidationError
from newsletter.issues.files import date_ref, resolve
from newsletter.issues.loader import load_issue
from newsletter.model.campaigns import Campaign
from newsletter.model.reports import CampaignReport, Counts, LinkRow, PaperRow
from newsletter.subscribers.csv_io import neutralise


class Campaigns(Protocol):
    def get(self, issue_date: str) -> Campaign | None: ...


class Figures(Protocol):
    def counts(self, campaign_id: int) -> dict[str, Counts]: ...
    def links(self, campaign_id: int) -> list[LinkRow]: ...
    def feedback(self, campaign_id: int) -> dict[str, dict[str, int]]: ...


def issue_date(ref: str, issues_dir: Path) -> str:
    """The date an issue reference (a date or an issue file) names."""
    date = date_ref(ref)
    if date is not None:
        return date
    return load_issue(resolve(ref, issues_dir)).date.isoformat()


def campaign_report(ref: str, campaigns: Campaigns, figures: Figures, issues_dir: Path,
                    titles: Callable[[str], dict[str, str]] | None = None) -> CampaignReport:
    """The report of the issue ``ref`` names; :class:`CampaignError` if it was never sent."""
    date = issue_date(ref, issues_dir)
    campaign = campaigns.get(date)
    if campaign is None:
        raise CampaignError(f"no campaign for {date}: nothing was sent, so there is no report")
    by_variant = figures.counts(campaign.id)
    totals = reduce(Counts.plus, by_variant.values(), Counts())
    links = figures.links(campaign.id)
    named = (titles or issue_titles)(campaign.issue_path)
    return CampaignReport(
        issue=date, status=campaign.status, started_at=campaign.created_at,
        finished_at=campaign.finished_at, totals=totals, by_variant=by_variant,
        papers=paper_rows(named, [link for link in links if link.kind == "paper"],
                          figures.feedback(campaign.id)),
        links=[link for link in links if link.kind != "paper"],
    )


def issue_titles(path: str) -> dict[str, str]:
    """arXiv id -> title of every paper in the issue file, in its order ({} if unreadable)."""
    try:
        issue = load_issue(path)
    except (IssueFileError, IssueValidationError, OSError):
        return {}
    return {paper.arxiv_id: paper.title for paper in issue.papers}


def paper_rows(titles: dict[str, str], clicked: list[LinkRow],
               feedback: dict[str, dict[str, int]] | None = None) -> list[PaperRow]:
    order = {arxiv_id: n for n, arxiv_id in enumerate(titles)}
    counts = {link.key: link for link in clicked}
    pressed = feedback or {}
    ids = list(dict.fromkeys([*titles, *counts, *pressed]))
    rows = [PaperRow(i, titles.get(i, ""), counts[i].clicks if i in counts else 0,
                     counts[i].readers if i in counts else 0,
                     pressed.get(i, {}).get("more", 0), pressed.get(i, {}).get("less", 0))
            for i in ids]
    return sorted(rows, key=lambda r: (-r.readers, -r.clicks, order.get(r.arxiv_id, len(order))))


def counts_csv(report: CampaignReport) -> str:
    """The figures as CSV: one row for the whole issue ("all"), then one per variant."""
    out = io.StringIO()
    names = list(Counts.__dataclass_fields__)
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["issue", "variant", *names])
    for variant, counts in [("all", report.totals), *sorted(report.by_variant.items())]:
        writer.writerow([report.issue, variant, *(getattr(counts, n) for n in names)])
    return out.getvalue()


def papers_csv(report: CampaignReport) -> str:
    """Papers, then the other links, as CSV: kind, id, title and each paper figure."""
    out = io.StringIO()
    names = [n for n in PaperRow.__dataclass_fields__ if n not in ("arxiv_id", "title")]
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["issue", "kind", "id", "title", *names])
    for paper in report.papers:
        writer.writerow([report.issue, "paper", paper.arxiv_id, neutralise(paper.title),
                         *(getattr(paper, n) for n in names)])
    for link in report.links:
        values = {"clicks": link.clicks, "readers": link.readers}
        writer.writerow([report.issue, link.kind, neutralise(link.key), "",
                         *(values.get(n, "") for n in names)])
    return out.getvalue()

