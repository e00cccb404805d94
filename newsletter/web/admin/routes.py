"""The desk's router: every page group's routes, behind one guard."""

from __future__ import annotations

from starlette.routing import Router
from starlette.types import ASGIApp

from newsletter.web.admin import (
    auth,
    campaigns,
    dashboard,
    integrations,
    issue_actions,
    issue_editor,
    issues,
    reader_delivery,
    reports,
    subscribers,
    suppressions,
    weekly,
)
from newsletter.web.admin.guard import DeskGuard
from newsletter.web.admin.parts import Desk

# Each page group is a module with ``routes(desk) -> list[BaseRoute]``.
GROUPS = (auth, dashboard, issues, issue_actions, issue_editor, campaigns, subscribers,
          suppressions, reports, integrations, reader_delivery, weekly)


def desk_router(desk: Desk) -> Router:
    """Every desk route, unguarded (the guard wraps it in :func:`desk_app`)."""
    return Router(routes=[route for group in GROUPS for route in group.routes(desk)])


def desk_app(desk: Desk) -> ASGIApp:
    """The desk as mounted at ``/admin``: the routes behind :class:`DeskGuard`."""
    return DeskGuard(desk_router(desk), desk.sign_in)
