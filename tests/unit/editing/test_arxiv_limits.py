"""The arXiv client bounds what a server can make it do (issue #24, item 14): a size cap,
an overall deadline, and redirects only to the same host over http(s)."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from newsletter.editing.arxiv_http import MAX_RESPONSE_BYTES, http_get
from newsletter.errors import ArxivError

Handler = Callable[[BaseHTTPRequestHandler], None]


@contextmanager
def server(handle: Handler, host: str = "127.0.0.1") -> Iterator[tuple[str, list[str]]]:
    """A loopback server answering GETs with ``handle``; yields its URL and the paths asked."""
    paths: list[str] = []

    class Answer(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            paths.append(self.path)
            # The client hanging up (as it should, past a limit) is no error here.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                handle(self)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer((host, 0), Answer)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{httpd.server_address[1]}", paths
    finally:
        httpd.shutdown()
        httpd.server_close()


def endless(request: BaseHTTPRequestHandler) -> None:
    """An answer with no end: 1 MB chunks until the client leaves."""
    request.send_response(200)
    request.send_header("Content-Type", "application/atom+xml")
    request.end_headers()
    chunk = b"<a>" + b"x" * (1024 * 1024) + b"</a>"
    for _ in range(2000):  # 2 GB at most, should the client never stop
        request.wfile.write(chunk)


def trickle(request: BaseHTTPRequestHandler) -> None:
    """A byte every 0.2 s, forever: no single read ever times out."""
    request.send_response(200)
    request.end_headers()
    for _ in range(600):
        request.wfile.write(b"<")
        request.wfile.flush()
        time.sleep(0.2)


def test_an_endless_answer_is_cut_at_the_size_cap() -> None:
    """A body over MAX_RESPONSE_BYTES is refused, having read little more than the cap."""
    with server(endless) as (url, _), pytest.raises(ArxivError, match="bytes"):
        http_get(f"{url}/api/query")


@pytest.mark.slow
def test_a_trickling_answer_meets_the_deadline() -> None:
    """A server sending one byte at a time is given up on at the overall deadline."""
    with server(trickle) as (url, _):
        started = time.monotonic()
        with pytest.raises(ArxivError, match="seconds"):
            http_get(f"{url}/api/query", timeout=1.0, deadline=2.0)
        assert time.monotonic() - started < 6


def redirect_to(location: str) -> Handler:
    def handle(request: BaseHTTPRequestHandler) -> None:
        request.send_response(302)
        request.send_header("Location", location)
        request.send_header("Content-Length", "0")
        request.end_headers()
    return handle


def feed(request: BaseHTTPRequestHandler) -> None:
    body = b"<feed xmlns='http://www.w3.org/2005/Atom'/>"
    request.send_response(200)
    request.send_header("Content-Length", str(len(body)))
    request.end_headers()
    request.wfile.write(body)


def test_a_redirect_to_another_host_is_refused() -> None:
    """A redirect to another host is an error, and that host is never asked."""
    with server(feed, "127.0.0.2") as (other, asked), server(redirect_to(f"{other}/x")) as (
        url, _
    ), pytest.raises(ArxivError, match="redirect"):
        http_get(f"{url}/api/query")
    assert asked == []


@pytest.mark.parametrize("location", ["ftp://127.0.0.1/feed.xml", "file:///etc/passwd"])
def test_a_redirect_to_another_scheme_is_refused(location: str) -> None:
    """ftp:// and file:// redirects are errors naming the redirect."""
    with server(redirect_to(location)) as (url, _), pytest.raises(ArxivError, match="redirect"):
        http_get(f"{url}/api/query")


def test_a_redirect_on_the_same_host_is_followed() -> None:
    """/old -> /api/query on the same server still works."""
    def handle(request: BaseHTTPRequestHandler) -> None:
        if request.path.startswith("/old"):
            redirect_to("/api/query?x=1")(request)
        else:
            feed(request)

    with server(handle) as (url, paths):
        assert http_get(f"{url}/old").startswith(b"<feed")
    assert paths == ["/old", "/api/query?x=1"]


def test_the_cap_is_generous_for_real_answers() -> None:
    """100 papers' feed is about 300 KB; the cap leaves room for far more."""
    assert MAX_RESPONSE_BYTES >= 5 * 1024 * 1024
