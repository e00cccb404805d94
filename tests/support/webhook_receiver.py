"""A webhook receiver on 127.0.0.1 (issue 22): it checks every request's signature with the
``standardwebhooks`` library, records what came, and answers as the test scripts it (500s
for a while, a hang, then 200s)."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from support.loopback import LoopbackServer


@dataclass(frozen=True)
class Received:
    id: str
    type: str
    data: dict[str, Any]
    verified: bool  # the signature is right (and, with check_time, the timestamp recent)
    answered: int  # the status the receiver gave (0: it hung up without answering)


class Receiver:
    """``answer(n)`` gives the status of the n-th request (from 1); ``"hang"`` holds it
    until ``release()``. ``check_time`` also checks the timestamp against the real clock
    (off for tests that move a fake one)."""

    def __init__(self, answer: Callable[[int], int | str] = lambda n: 200,
                 check_time: bool = True) -> None:
        self.answer = answer
        self.check_time = check_time
        self.secret = ""
        self.received: list[Received] = []
        self.hanging = threading.Event()
        self._release = threading.Event()
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.handle(self, body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = LoopbackServer(Handler).start()
        self.url = f"{self.server.url}/hooks"

    def verify(self, headers: dict[str, str], body: bytes) -> bool:
        hook = Webhook(self.secret)
        try:
            if self.check_time:
                hook.verify(body, headers)
                return True
            stamp = dt.datetime.fromtimestamp(int(headers["webhook-timestamp"]), dt.UTC)
            expected = hook.sign(headers["webhook-id"], stamp, body)
            return expected in headers["webhook-signature"].split(" ")
        except (WebhookVerificationError, KeyError, ValueError):
            return False

    def handle(self, request: BaseHTTPRequestHandler, body: bytes) -> None:
        headers = {k.lower(): v for k, v in request.headers.items()}
        with self._lock:
            number = len(self.received) + 1
            plan = self.answer(number)
        payload = json.loads(body)
        status = 0 if plan == "hang" else int(plan)
        with self._lock:
            self.received.append(Received(headers.get("webhook-id", ""), payload["type"],
                                          payload["data"], self.verify(headers, body), status))
        if plan == "hang":
            self.hanging.set()
            self._release.wait(30)
            return  # the sender is gone by now; nothing to answer
        request.send_response(status)
        request.send_header("Content-Length", "2")
        request.end_headers()
        request.wfile.write(b"ok")

    def release(self) -> None:
        self._release.set()

    def delivered(self) -> dict[str, str]:
        """Message id -> event type, of the messages answered with a 2xx."""
        return {r.id: r.type for r in self.received if 200 <= r.answered < 300}

    def stop(self) -> None:
        self.release()
        self.server.stop()
