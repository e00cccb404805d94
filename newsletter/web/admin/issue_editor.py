"""The desk's issue editor pages (being built)."""

from __future__ import annotations

from starlette.routing import BaseRoute

from newsletter.web.admin.parts import Desk


def routes(desk: Desk) -> list[BaseRoute]:
    return []
