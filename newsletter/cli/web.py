"""The ``newsletter serve`` command: the subscription web app under uvicorn."""

from __future__ import annotations

import errno
import logging
import re
import socket
import time
from typing import Annotated, Any

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


# The signed token in a reader's link works as a password for that reader's subscription.
_TOKEN_IN_PATH = re.compile(r"(/(?:confirm|unsubscribe|preferences)/)[^/?#\s]+")


class CommonLogFormatter(logging.Formatter):
    """uvicorn's access records in the Common Log Format, one line per request:
    ``127.0.0.1 - - [07/Sep/2022:07:30:00 +0800] "GET /archive/ HTTP/1.1" 200 -``.

    The client is the peer's address without its port (behind a reverse proxy, the proxy's);
    the size is ``-`` (uvicorn does not report it); the tokens in confirm, unsubscribe and
    preferences links are written as ``(token)``.
    """

    def format(self, record: logging.LogRecord) -> str:
        args = record.args
        if not isinstance(args, tuple) or len(args) != 5:
            return super().format(record)
        client, method, path, version, status = args
        host = str(client).rsplit(":", 1)[0] if client else "-"
        when = time.strftime("%d/%b/%Y:%H:%M:%S %z", time.localtime(record.created))
        path = _TOKEN_IN_PATH.sub(r"\1(token)", str(path))
        return f'{host} - - [{when}] "{method} {path} HTTP/{version}" {status} -'


def log_config(access_log: bool) -> dict[str, Any]:
    """uvicorn's logging: warnings and errors on stderr as before, and (``access_log``) one
    Common Log Format line per request on stdout."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "default": {"()": "uvicorn.logging.DefaultFormatter",
                        "fmt": "%(levelprefix)s %(message)s"},
            "access": {"()": CommonLogFormatter},
        },
        "handlers": {
            "default": {"formatter": "default", "class": "logging.StreamHandler",
                        "stream": "ext://sys.stderr"},
            "access": {"formatter": "access", "class": "logging.StreamHandler",
                       "stream": "ext://sys.stdout"},
        },
        "loggers": {
            "uvicorn": {"handlers": ["default"], "level": "WARNING", "propagate": False},
            "uvicorn.error": {"level": "WARNING"},
            "uvicorn.access": {"handlers": ["access"] if access_log else [],
                               "level": "INFO" if access_log else "WARNING",
                               "propagate": False},
        },
    }


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.", metavar="HOST")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(help="Port to listen on.", metavar="PORT")] = 8000,
    access_log: Annotated[bool, typer.Option(
        "--access-log/--no-access-log",
        help="Write one line per request to stdout (Common Log Format).",
    )] = True,
    header_timeout: Annotated[float, typer.Option(
        help="Seconds a client has to send a request's headers (408 and closed after).",
        metavar="SECONDS", min=0.1,
    )] = 10.0,
) -> None:
    """Serve the subscription pages (subscribe, confirm, unsubscribe, preferences, archive).

    Needs NEWSLETTER_SECRET_KEY (a long random value); links in pages and emails are built
    from NEWSLETTER_BASE_URL. Each request is logged to stdout in the Common Log Format
    unless --no-access-log is given. A request's URL may have 8 KB, its headers 16 KB and
    100 fields, sent within --header-timeout seconds.

    Example: newsletter serve --port 8000
    """
    import uvicorn

    from newsletter.web.app import create_app
    from newsletter.web.http_limits import LimitedHttpToolsProtocol

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
    # Request heads are capped in size and count and must arrive within header_timeout
    # seconds (web/http_limits.py): `serve` may face the internet without a proxy.
    protocol = type("Protocol", (LimitedHttpToolsProtocol,), {"head_timeout": header_timeout})
    config = uvicorn.Config(app, host=host, port=port, log_config=log_config(access_log),
                            access_log=access_log, proxy_headers=False, http=protocol,
                            timeout_keep_alive=5)
    uvicorn.Server(config).run(sockets=[sock])
