"""An HTTP server on 127.0.0.1 with a thread per connection: the base of the simulated AWS
endpoints (``ses_sim.py``, ``sqs_sim.py``), which the benchmarks also run as scripts."""

from __future__ import annotations

import contextlib
import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


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

    def run_as_script(self) -> int:
        """Print ``listening on URL`` (what the benchmarks read) and serve until interrupted."""
        print(f"listening on {self.url}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            self.serve_forever()
        return 0

    def start(self) -> Self:
        """Serve in a background thread; returns self."""
        # A short poll interval: shutdown() waits up to one interval (0.5 s by default).
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        daemon=True)
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


class JsonHandler(BaseHTTPRequestHandler):
    """Answers in JSON over kept-alive connections, quietly."""

    # HTTP/1.1 keeps botocore's pooled connections open between calls.
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; with Nagle's algorithm the body would
    # wait for the client's delayed ACK (about 40 ms) and distort the latency.
    disable_nagle_algorithm = True
    content_type = "application/json"

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: a benchmark makes thousands of calls."""

    def answer(self, status: int, payload: dict[str, Any],
               headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", self.content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
