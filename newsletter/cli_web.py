"""The ``newsletter serve`` command: the subscription web app under uvicorn."""

from __future__ import annotations

from typing import Annotated

import typer

from newsletter.errors import NewsletterError
from newsletter.settings import get_settings


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
) -> None:
    """Serve the subscription pages (subscribe, confirm, unsubscribe, preferences, archive).

    Needs NEWSLETTER_SECRET_KEY (a long random value); links in pages and emails are built
    from NEWSLETTER_BASE_URL. Example: newsletter serve --port 8000
    """
    import uvicorn

    from newsletter.cli import err, fail, out
    from newsletter.web import create_app

    settings = get_settings()
    try:
        app = create_app(settings)
    except NewsletterError as error:
        raise fail(f"cannot start: {error}") from None
    out.print(
        f"Serving at http://{host}:{port} (links use {settings.base_url}); Ctrl-C to stop",
        markup=False,
    )
    if settings.chosen_transport() == "outbox":
        err.print(f"confirmation emails go to the outbox: {settings.outbox_dir}", markup=False)
    uvicorn.run(app, host=host, port=port, log_level="warning", proxy_headers=True)
