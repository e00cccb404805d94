"""The ``newsletter serve`` command: the subscription web app under uvicorn."""

from __future__ import annotations

import errno
import socket
from typing import Annotated

import typer

from newsletter.cli.output import err, fail, out
from newsletter.errors import NewsletterError
from newsletter.settings import get_settings


def listen(host: str, port: int) -> socket.socket:
    """A socket listening on HOST:PORT for uvicorn; exit status 1 with one line if it cannot.

    Binding here, before anything is printed, turns "port already in use" into one clear
    line instead of a "Serving at" line followed by uvicorn's traceback; and handing the
    bound socket to uvicorn leaves no moment in which another program could take the port.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP named explicitly: asyncio turns Nagle's algorithm off (TCP_NODELAY) only
    # on sockets whose protocol says TCP, and with it on every response waited ~40 ms for
    # the client's delayed ACK between its header and body writes.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    # As uvicorn does: a port left in TIME_WAIT by a previous run may be reused at once.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as error:
        sock.close()
        reason = error.strerror or str(error)
        hint = "; choose another --port" if error.errno == errno.EADDRINUSE else ""
        raise fail(f"cannot listen on {host}:{port}: {reason}{hint}") from None
    return sock


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.", metavar="HOST")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(help="Port to listen on.", metavar="PORT")] = 8000,
) -> None:
    """Serve the subscription pages (subscribe, confirm, unsubscribe, preferences, archive).

    Needs NEWSLETTER_SECRET_KEY (a long random value); links in pages and emails are built
    from NEWSLETTER_BASE_URL.

    Example: newsletter serve --port 8000
    """
    import uvicorn

    from newsletter.web.app import create_app

    settings = get_settings()
    try:
        app = create_app(settings)
    except NewsletterError as error:
        raise fail(f"cannot start: {error}") from None
    sock = listen(host, port)
    out.print(
        f"Serving at http://{host}:{port} (links use {settings.base_url}); Ctrl-C to stop",
        markup=False,
    )
    if settings.chosen_transport() == "outbox":
        err.print(f"confirmation emails go to the outbox: {settings.outbox_dir}", markup=False)
    if settings.sns_cert_host_for_tests:
        err.print("warning: NEWSLETTER_SNS_CERT_HOST_FOR_TESTS is set: SNS certificates are "
                  f"also fetched over http from {settings.sns_cert_host_for_tests}; never set "
                  "it in production", markup=False)
    # Forwarded headers are handled by the app, believing only NEWSLETTER_TRUSTED_PROXIES.
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", proxy_headers=False)
    uvicorn.Server(config).run(sockets=[sock])
