"""A simulated Amazon SES (API v2) endpoint on loopback, for benchmarks and tests.

It speaks enough of the SES v2 REST-JSON API for boto3's ``sesv2`` client:

- ``POST /v2/email/outbound-emails`` (SendEmail): accepted unless accepting it would make
  more than ``max_send_rate`` accepted sends within any sliding one-second window, in which
  case it answers 429 ``TooManyRequestsException`` in the shape SES uses (the
  ``x-amzn-ErrorType`` header and a JSON ``message``), so botocore maps the code.
- ``GET /v2/email/account`` (GetAccount): ``SendQuota`` with ``MaxSendRate``,
  ``Max24HourSend`` and ``SentLast24Hours``.

Every call takes ``latency`` seconds (50 ms by default) without holding up other calls:
each connection has its own thread. Every accepted message is recorded (its recipients and
acceptance time) so a benchmark can check that nothing was lost or sent twice.

Run on its own (the benchmarks do, so that its work does not share a GIL with the
sender under test)::

    python bench/ses_sim.py --rate 14

prints ``listening on http://127.0.0.1:PORT`` and serves until killed. Two extra routes
control it: ``GET /_sim/stats`` (the recorded figures as JSON) and ``POST /_sim/reset``
with ``{"max_send_rate": R}`` (forget everything, start again with rate R).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import sys
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable
from email.parser import BytesHeaderParser
from email.utils import getaddresses
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make tests/ importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from support.loopback import JsonHandler, LoopbackServer

SEND_PATH = "/v2/email/outbound-emails"
ACCOUNT_PATH = "/v2/email/account"
WINDOW = 1.0  # seconds: SES measures its maximum send rate over a sliding second


class _Error(Exception):
    """An SES error answer: HTTP status, error code, message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def recipients_of(request: dict[str, Any]) -> list[str]:
    """The addresses a SendEmail request is for: ``Destination`` if given, else the headers.

    SES itself reads To/Cc/Bcc from a raw message when no ``Destination`` is given.
    Raises ``_Error`` (400 BadRequestException) for a request without raw content.
    """
    raw_part = request.get("Content", {}).get("Raw", {}).get("Data")
    if not isinstance(raw_part, str):
        raise _Error(400, "BadRequestException", "Content.Raw.Data is required")
    destination = request.get("Destination") or {}
    listed = [
        address
        for key in ("ToAddresses", "CcAddresses", "BccAddresses")
        for address in destination.get(key, [])
    ]
    if listed:
        return [a.lower() for a in listed]
    try:
        raw = base64.b64decode(raw_part, validate=True)
    except binascii.Error as err:
        raise _Error(400, "BadRequestException", "Content.Raw.Data is not base64") from err
    headers = BytesHeaderParser().parsebytes(raw)
    found = getaddresses(headers.get_all("To", []) + headers.get_all("Cc", []))
    addresses = [address.lower() for _, address in found if address]
    if not addresses:
        raise _Error(400, "BadRequestException", "the message names no recipient")
    return addresses


class SesSimulator(LoopbackServer):
    """The simulated endpoint; ``start()`` it, point boto3 at ``url``, ``stop()`` it.

    ``clock`` is the time source for the sliding window (``time.monotonic`` by default).
    """

    def __init__(
        self,
        max_send_rate: float,
        latency: float = 0.05,
        max_24_hour_send: float = 10_000_000.0,
        port: int = 0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.latency = latency
        self.max_24_hour_send = max_24_hour_send
        self.clock = clock
        self._lock = threading.Lock()
        super().__init__(_handler_for(self), port)
        self.reset(max_send_rate)

    def reset(self, max_send_rate: float) -> None:
        """Forget every call and message; throttle at ``max_send_rate`` from now on."""
        with self._lock:
            self.max_send_rate = max_send_rate
            self._window: deque[float] = deque()
            self.started = self.clock()
            self.accepted_at: list[float] = []
            self.recipients: Counter[str] = Counter()
            self.calls = 0
            self.throttled = 0

    def send_email(self, request: dict[str, Any]) -> dict[str, Any]:
        """Accept or throttle one SendEmail call; raises ``_Error`` when refused."""
        addresses = recipients_of(request)
        with self._lock:
            self.calls += 1
            now = self.clock()
            while self._window and self._window[0] <= now - WINDOW:
                self._window.popleft()
            if len(self._window) + 1 > self.max_send_rate:
                self.throttled += 1
                raise _Error(429, "TooManyRequestsException", "Maximum sending rate exceeded.")
            self._window.append(now)
            self.accepted_at.append(now - self.started)
            self.recipients.update(addresses)
        return {"MessageId": f"sim-{uuid.uuid4().hex}"}

    def get_account(self) -> dict[str, Any]:
        with self._lock:
            self.calls += 1
            sent = float(len(self.accepted_at))
        return {
            "DedicatedIpAutoWarmupEnabled": False,
            "EnforcementStatus": "HEALTHY",
            "ProductionAccessEnabled": True,
            "SendingEnabled": True,
            "SendQuota": {
                "Max24HourSend": self.max_24_hour_send,
                "MaxSendRate": float(self.max_send_rate),
                "SentLast24Hours": sent,
            },
        }

    def stats(self) -> dict[str, Any]:
        """The figures so far: calls, accepted and throttled sends, recipients, times."""
        with self._lock:
            return {
                "max_send_rate": self.max_send_rate,
                "calls": self.calls,
                "accepted": len(self.accepted_at),
                "throttled": self.throttled,
                "unique_recipients": len(self.recipients),
                "duplicates": sum(n - 1 for n in self.recipients.values()),
                "accepted_at": list(self.accepted_at),
            }


def _handler_for(sim: SesSimulator) -> type[BaseHTTPRequestHandler]:
    class Handler(JsonHandler):
        def _body(self) -> dict[str, Any]:
            length = int(self.headers.get("Content-Length") or 0)
            data = self.rfile.read(length) if length else b""
            if not data:
                return {}
            try:
                parsed = json.loads(data)
            except json.JSONDecodeError as err:
                raise _Error(400, "BadRequestException", "the body is not JSON") from err
            if not isinstance(parsed, dict):
                raise _Error(400, "BadRequestException", "the body is not a JSON object")
            return parsed

        def _answer(self, status: int, payload: dict[str, Any], code: str = "") -> None:
            self.answer(status, payload, {"x-amzn-ErrorType": f"{code}:"} if code else None)

        def _route(self, method: str) -> None:
            path = self.path.split("?", 1)[0]
            try:
                body = self._body()
                if method == "GET" and path == "/_sim/stats":
                    self._answer(200, sim.stats())
                    return
                if method == "POST" and path == "/_sim/reset":
                    sim.reset(float(body.get("max_send_rate", sim.max_send_rate)))
                    self._answer(200, {"reset": True})
                    return
                started = time.monotonic()
                try:
                    if method == "POST" and path == SEND_PATH:
                        status, payload, code = 200, sim.send_email(body), ""
                    elif method == "GET" and path == ACCOUNT_PATH:
                        status, payload, code = 200, sim.get_account(), ""
                    else:
                        raise _Error(404, "NotFoundException", f"no route {method} {path}")
                except _Error as err:
                    status, payload, code = err.status, {"message": err.message}, err.code
                # The simulated API latency; other connections carry on meanwhile.
                time.sleep(max(0.0, sim.latency - (time.monotonic() - started)))
                self._answer(status, payload, code)
            except _Error as err:
                self._answer(err.status, {"message": err.message}, err.code)

        def do_GET(self) -> None:
            self._route("GET")

        def do_POST(self) -> None:
            self._route("POST")

    return Handler


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="A simulated SES v2 endpoint on 127.0.0.1.")
    parser.add_argument("--rate", type=float, default=14.0, help="MaxSendRate (messages/s)")
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per call")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    args = parser.parse_args(argv)
    return SesSimulator(args.rate, latency=args.latency, port=args.port).run_as_script()


if __name__ == "__main__":
    raise SystemExit(main())
