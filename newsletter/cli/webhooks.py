"""``webhooks``: the endpoints that get outgoing webhooks (issue 22). Thin wrappers over
the store and ``webhooks/endpoints.py``; ``newsletter worker`` delivers the messages."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer

from newsletter import wiring
from newsletter.cli.help import COMMAND
from newsletter.cli.output import fail, out, reported
from newsletter.model.webhooks import EVENT_TYPES
from newsletter.settings import get_settings
from newsletter.store.webhooks import WebhookStore
from newsletter.webhooks.endpoints import add_endpoint

webhooks_app = typer.Typer(help="Endpoints that get outgoing webhooks (Standard Webhooks).",
                           no_args_is_help=True)


@contextmanager
def _store() -> Iterator[WebhookStore]:
    with reported(), wiring.database(get_settings()) as db:
        yield WebhookStore(db)


@webhooks_app.command("add", **COMMAND)
def add(
    url: Annotated[str, typer.Argument(help="Where to POST the events (http or https).")],
    events: Annotated[str, typer.Option(
        help=f"Comma-separated event types: {', '.join(EVENT_TYPES)}.",
        metavar="EVENT[,EVENT...]")],
) -> None:
    """Add an endpoint and print its signing secret (whsec_...) on its own line, once.

    Receivers verify each request with it, as the Standard Webhooks specification says
    (webhook-id, webhook-timestamp, webhook-signature). Loopback, private and link-local
    addresses are refused unless NEWSLETTER_WEBHOOKS_ALLOW_PRIVATE=true.

    Example: newsletter webhooks add https://crm.example.org/hooks --events subscriber.created
    """
    allow = get_settings().webhooks_allow_private
    with _store() as store:
        endpoint = add_endpoint(store, url, events.split(","), allow_private=allow)
    out.print(f"endpoint {endpoint.id}: {endpoint.url} ({', '.join(sorted(endpoint.events))})",
              markup=False)
    out.print("its signing secret, shown only now:", markup=False)
    out.print(endpoint.secret, markup=False)


@webhooks_app.command("list", **COMMAND)
def list_endpoints() -> None:
    """Every endpoint: id, URL, events, messages waiting and given up, and whether (and
    why) it is disabled.

    Example: newsletter webhooks list
    """
    with _store() as store:
        found = store.all()
    if not found:
        out.print("no webhook endpoints (add one: newsletter webhooks add URL --events ...)",
                  markup=False)
    for e in found:
        state = (f"DISABLED {e.disabled_at.isoformat(timespec='minutes')}: {e.disabled_reason}"
                 if e.disabled_at else "enabled")
        out.print(f"{e.id}  {e.url}  {','.join(sorted(e.events))}  {e.pending} waiting  "
                  f"{e.failed} given up  {state}", markup=False)


@webhooks_app.command("remove", **COMMAND)
def remove(endpoint_id: Annotated[int, typer.Argument(help="The endpoint's id.")]) -> None:
    """Remove an endpoint and the messages waiting for it.

    Example: newsletter webhooks remove 3
    """
    with _store() as store:
        if not store.remove(endpoint_id):
            raise fail(f"no webhook endpoint has id {endpoint_id} (see: newsletter webhooks list)")
    out.print(f"removed endpoint {endpoint_id}", markup=False)


@webhooks_app.command("enable", **COMMAND)
def enable(endpoint_id: Annotated[int, typer.Argument(help="The endpoint's id.")]) -> None:
    """Enable a disabled endpoint again; what it missed is retried for another 24 hours.

    Example: newsletter webhooks enable 3
    """
    with _store() as store:
        if not store.enable(endpoint_id):
            raise fail(f"no webhook endpoint has id {endpoint_id} (see: newsletter webhooks list)")
    out.print(f"enabled endpoint {endpoint_id}", markup=False)
