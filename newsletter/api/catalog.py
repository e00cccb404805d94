"""Campaigns and issues through the API (read scope): lists with cursors, one with counts."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from newsletter.api.access import Caller
from newsletter.api.values import campaign_json, cursor, read_cursor, read_limit
from newsletter.errors import ApiError, IssueValidationError
from newsletter.issues.files import is_date, issue_files, path_for
from newsletter.issues.loader import load_issue
from newsletter.store.api_reads import CampaignPages
from newsletter.store.campaigns import CampaignStore


class CampaignsApi:
    def __init__(self, store: CampaignStore, pages: CampaignPages) -> None:
        self.store = store
        self.pages = pages

    def list(self, caller: Caller, params: Mapping[str, str]) -> dict[str, Any]:
        """Campaigns newest first, with a cursor to the older ones."""
        after = read_cursor(params.get("cursor"))
        if after is not None and not after.isdigit():
            raise ApiError(400, "invalid_cursor", "cursor is not one this API gave")
        found, more = self.pages.page(int(after) if after else None,
                                      read_limit(params.get("limit")))
        return {"data": [campaign_json(c) for c in found],
                "next_cursor": cursor(str(found[-1].id)) if more and found else None}

    def get(self, caller: Caller, ref: str) -> dict[str, Any]:
        """One campaign, by its issue's date or its id, with its delivery counts."""
        found = (self.store.get(ref) if is_date(ref)
                 else self.store.by_id(int(ref)) if ref.isdigit() and len(ref) < 19 else None)
        if found is None:
            raise ApiError(404, "not_found", "no such campaign; name it by id or issue date")
        return campaign_json(found, self.store.counts(found.id))


class IssuesApi:
    """The issue files in ``issues_dir``; ``sent`` says which went out."""

    def __init__(self, issues_dir: Path, base_url: str, store: CampaignStore) -> None:
        self.issues_dir = issues_dir
        self.base_url = base_url.rstrip("/")
        self.store = store

    def list(self, caller: Caller, params: Mapping[str, str]) -> dict[str, Any]:
        """Issues newest first (by date), with a cursor to the older ones."""
        before = read_cursor(params.get("cursor"))
        limit = read_limit(params.get("limit"))
        dates = [p.stem for p in reversed(issue_files(self.issues_dir))]
        if before is not None:
            dates = [d for d in dates if d < before]
        sent = self.store.sent_issue_dates()
        page = dates[:limit]
        return {"data": [self._summary(d, d in sent) for d in page],
                "next_cursor": cursor(page[-1]) if len(dates) > limit else None}

    def get(self, caller: Caller, date: str) -> dict[str, Any]:
        path = path_for(self.issues_dir, date)
        if path is None:
            raise ApiError(404, "not_found", "no issue file has that date (YYYY-MM-DD)")
        summary = self._summary(date, date in self.store.sent_issue_dates())
        try:
            issue = load_issue(path)
        except IssueValidationError as error:
            return {**summary, "valid": False, "problems": [str(p) for p in error.problems]}
        return {
            **summary, "valid": True, "title": issue.title, "title_en": issue.title_en,
            "categories": {code: name.model_dump() for code, name in issue.categories.items()},
            "papers": [{"arxiv_id": p.arxiv_id, "category": p.category, "title": p.title,
                        "title_zh": p.title_zh, "url": str(p.url),
                        "featured": n < len(issue.featured)}
                       for n, p in enumerate([*issue.featured, *issue.notable])],
        }

    def _summary(self, date: str, sent: bool) -> dict[str, Any]:
        return {"date": date, "sent": sent,
                "url": f"{self.base_url}/issues/{date}" if sent else None}
