"""An HTTP server on 127.0.0.1 with a thread per connection: the base of the simulated AWS
endpoints (``ses_sim.py``, ``sqs_sim.py``), which the benchmarks also run as scripts."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self


class _Server(ThreadingHTTPServer):
    # A client opens dozens of connections at once; the default backlog of 5 would make
    # the kernel drop connection attempts, which an AWS endpoint does not do.
    request_queue_size = 256
    daemon_threads = True


class LoopbackServer:
    """``start()`` it (a background thread) or ``serve_forever()`` in this one; ``url``."""

    def __init__(self, handler: type[BaseHTTPRequestHandler], port: int = 0) -> None:
        self._server = _Server(("127.0.0.1", port), handler)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def serve_forever(self) -> None:
        """Serve in this thread until ``stop()`` is called from another (or the process ends)."""
        try:
            self._server.serve_forever()
        finally:
            self._server.server_close()

    def start(self) -> Self:
        """Serve in a background thread; returns self."""
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
