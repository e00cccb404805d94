"""Everything the API's routes need, built once by ``wiring_api.api_services``."""

from __future__ import annotations

from dataclasses import dataclass

from newsletter.api.catalog import CampaignsApi, IssuesApi
from newsletter.api.readers import ReadersApi
from newsletter.store.api_tokens import ApiTokenStore


@dataclass(frozen=True)
class ApiServices:
    tokens: ApiTokenStore
    readers: ReadersApi
    campaigns: CampaignsApi
    issues: IssuesApi
    base_url: str
    embed_origins: tuple[str, ...]  # who may post to /api/v1/subscribe
    rate_limit: int  # requests per token per minute
