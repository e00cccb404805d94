"""A loopback stand-in for arXiv's export API that answers with recorded Atom feeds.

Each feed under ``tests/fixtures/arxiv/`` is the answer to one ``id_list``; a query
for any other set of IDs gets HTTP 500 naming it, so a test asking for something
unexpected fails loudly. Every request is kept, in order, for tests to inspect.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from support.env import ROOT

FIXTURES = ROOT / "tests" / "fixtures" / "arxiv"
# id_list (as a set) -> the recorded answer.
RECORDED: dict[frozenset[str], str] = {
    frozenset({"2209.01947"}): "one-paper.xml",
    frozenset({"2209.01947", "2209.01667"}): "two-featured.xml",
    frozenset({"2209.01947", "2209.01667", "2209.01540", "2209.01346"}): "four-papers.xml",
    frozenset({"2209.01947", "2213.00001"}): "unknown-id.xml",
    frozenset({"2209.01947", "2209.99999"}): "missing-id.xml",
    frozenset({"2209.01947", "2209.00404"}): "withdrawn.xml",
}


@dataclass
class ArxivServer:
    """Where the server listens, the requests it got, and a status to answer with instead."""

    url: str
    requests: list[dict[str, list[str]]] = field(default_factory=list)
    fail_with: int | None = None


@contextmanager
def arxiv_server() -> Iterator[ArxivServer]:
    """Serve the recorded feeds at ``http://127.0.0.1:PORT/api/query`` until the block ends."""
    state = ArxivServer("")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            query = parse_qs(parts.query)
            state.requests.append(query)
            ids = frozenset(",".join(query.get("id_list", [""])).split(","))
            name = RECORDED.get(ids)
            if state.fail_with is not None:
                self._answer(state.fail_with, b"Rate exceeded.", "text/plain")
            elif parts.path != "/api/query" or name is None:
                self._answer(500, f"no recorded answer for {sorted(ids)}".encode(), "text/plain")
            else:
                body = (FIXTURES / name).read_bytes()
                self._answer(200, body, "application/atom+xml; charset=utf-8")

        def _answer(self, status: int, body: bytes, kind: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/api/query"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
