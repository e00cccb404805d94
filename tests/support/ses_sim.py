"""A simulated Amazon SES (API v2) endpoint on loopback, for benchmarks and tests.

It speaks enough of the SES v2 REST-JSON API for boto3's ``sesv2`` client:

- ``POST /v2/email/outbound-emails`` (SendEmail): accepted unless accepting it would make
  more than ``max_send_rate`` accepted sends within any sliding one-second window, in which
  case it answers 429 ``TooManyRequestsException`` in the shape SES uses (the
  ``x-amzn-ErrorType`` header and a JSON ``message``), so botocore maps the code.
- ``GET /v2/email/account`` (GetAccount): ``SendQuota`` with ``MaxSendRate``,
  ``Max24HourSend`` and ``SentLast24Hours``.
- ``POST /v2/email/outbound-bulk-emails`` (SendBulkEmail, issue #23): up to 50 entries;
  each recipient counts against ``max_send_rate`` (a call that would exceed it is refused
  whole with 429); per entry a ``BulkEmailEntryResults`` status, ``SUCCESS`` unless a
  failure was queued for that address (``fail_entry``); templates rendered as
  ``ses_bulk_sim.py`` describes when messages are kept (``keep_messages``).

``lose_answers(n)`` makes the next ``n`` send calls (either kind) be accepted and then
answered by a closed connection: the answer is lost, the messages went out. With
``keep_messages`` every accepted message is kept (raw MIME, tags, SES's message id) and
listed by ``GET /_sim/messages``; ``bytes_received`` counts the request bodies of sends.

Every call takes ``latency`` seconds (50 ms by default) without holding up other calls:
each connection has its own thread. Every accepted message is recorded (its recipients and
acceptance time) so a benchmark can check that nothing was lost or sent twice.

Run on its own (the benchmarks do, so that its work does not share a GIL with the
sender under test)::

    python bench/ses_sim.py --rate 14

prints ``listening on http://127.0.0.1:PORT`` and serves until killed. Two extra routes
control it: ``GET /_sim/stats`` (the recorded figures as JSON) and ``POST /_sim/reset``
with ``{"max_send_rate": R}`` (forget everything, start again with rate R); ``GET
/_sim/calls`` lists every send call as [POSIX time admitted or refused, first recipient,
recipients, accepted].
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import socket
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
from support.ses_bulk_sim import MAX_ENTRIES, Rendered, RenderingFailure, entry_data, render_message

SEND_PATH = "/v2/email/outbound-emails"
ACCOUNT_PATH = "/v2/email/account"
BULK_PATH = "/v2/email/outbound-bulk-emails"
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
        keep_messages: bool = False,
    ) -> None:
        self.latency = latency
        self.keep_messages = keep_messages
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
            self.bulk_calls = 0
            self.account_calls = 0
            self.bytes_received = 0
            # Per send call: (POSIX time it was admitted or refused, first recipient,
            # recipients, accepted): GET /_sim/calls, to line calls up with senders' logs.
            self.call_log: list[tuple[float, str, int, bool]] = []
            self.messages: list[Rendered] = []
            self._failures: dict[str, list[str]] = {}
            self._lose = 0

    def fail_entry(self, address: str, *statuses: str) -> None:
        """The next bulk entries for ``address`` get these statuses, one per call."""
        with self._lock:
            self._failures.setdefault(address.lower(), []).extend(statuses)

    def lose_answers(self, count: int) -> None:
        """Accept the next ``count`` send calls but close the connection instead of answering."""
        with self._lock:
            self._lose += count

    def answer_lost(self) -> bool:
        """Whether the answer to the call just accepted is to be lost (counts it down)."""
        with self._lock:
            if self._lose <= 0:
                return False
            self._lose -= 1
            return True

    def _admit(self, count: int, first: str = "") -> float:
        """Count ``count`` recipients against the sliding-second rate; 429 if too many."""
        now = self.clock()
        while self._window and self._window[0] <= now - WINDOW:
            self._window.popleft()
        accepted = len(self._window) + count <= self.max_send_rate
        self.call_log.append((time.time(), first, count, accepted))
        if not accepted:
            self.throttled += 1
            raise _Error(429, "TooManyRequestsException", "Maximum sending rate exceeded.")
        self._window.extend([now] * count)
        return now

    def send_email(self, request: dict[str, Any]) -> dict[str, Any]:
        """Accept or throttle one SendEmail call; raises ``_Error`` when refused."""
        addresses = recipients_of(request)
        message_id = f"sim-{uuid.uuid4().hex}"
        with self._lock:
            self.calls += 1
            now = self._admit(1, addresses[0] if addresses else "")
            self.accepted_at.append(now - self.started)
            self.recipients.update(addresses)
            if self.keep_messages:
                raw = base64.b64decode(request["Content"]["Raw"]["Data"])
                tags = {t["Name"]: t["Value"] for t in request.get("EmailTags", [])}
                self.messages.append(Rendered(message_id, addresses, raw, tags))
        return {"MessageId": message_id}

    def send_bulk_email(self, request: dict[str, Any]) -> dict[str, Any]:
        """Accept, fail per entry or throttle one SendBulkEmail call (``_Error`` if refused)."""
        entries = request.get("BulkEmailEntries")
        template = (request.get("DefaultContent") or {}).get("Template") or {}
        if not isinstance(entries, list) or not 0 < len(entries) <= MAX_ENTRIES:
            raise _Error(400, "BadRequestException", "BulkEmailEntries must hold 1 to 50 entries")
        if "TemplateContent" not in template or not request.get("FromEmailAddress"):
            raise _Error(400, "BadRequestException", "an inline template and a From are required")
        results: list[dict[str, Any]] = []
        with self._lock:
            self.calls += 1
            self.bulk_calls += 1
            first = (entries[0].get("Destination") or {}).get("ToAddresses") or [""]
            now = self._admit(len(entries), str(first[0]).lower())
            for entry in entries:
                to = [a.lower() for a in (entry.get("Destination") or {}).get("ToAddresses", [])]
                queued = self._failures.get(to[0] if to else "", [])
                if queued:
                    status = queued.pop(0)
                    results.append({"Status": status, "Error": f"simulated {status}"})
                    continue
                message_id = f"sim-{uuid.uuid4().hex}"
                if self.keep_messages:
                    try:
                        data = json.loads(entry_data(template, entry))
                        made = render_message(request, entry, data)
                    except (RenderingFailure, json.JSONDecodeError) as err:
                        results.append({"Status": "INVALID_PARAMETER", "Error": str(err)})
                        continue
                    message_id = made.message_id
                    self.messages.append(made)
                self.accepted_at.append(now - self.started)
                self.recipients.update(to)
                results.append({"Status": "SUCCESS", "MessageId": message_id})
        return {"BulkEmailEntryResults": results}

    def get_account(self) -> dict[str, Any]:
        with self._lock:
            self.calls += 1
            self.account_calls += 1
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
                "bulk_calls": self.bulk_calls,
                "account_calls": self.account_calls,
                "bytes_received": self.bytes_received,
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
            if self.path.startswith((SEND_PATH, BULK_PATH)):
                with sim._lock:
                    sim.bytes_received += length
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
                if method == "GET" and path == "/_sim/calls":
                    with sim._lock:
                        calls = list(sim.call_log)
                    self._answer(200, {"calls": calls})
                    return
                if method == "POST" and path == "/_sim/reset":
                    sim.reset(float(body.get("max_send_rate", sim.max_send_rate)))
                    self._answer(200, {"reset": True})
                    return
                if method == "GET" and path == "/_sim/messages":
                    with sim._lock:
                        kept = list(sim.messages)
                    self._answer(200, {"messages": [
                        {"message_id": m.message_id, "destinations": m.to, "tags": m.tags,
                         "raw": base64.b64encode(m.raw).decode()} for m in kept]})
                    return
                if method == "POST" and path == "/_sim/fail":
                    for address, statuses in body.get("entries", {}).items():
                        sim.fail_entry(address, *statuses)
                    sim.lose_answers(int(body.get("lose_answers", 0)))
                    self._answer(200, {"ok": True})
                    return
                started = time.monotonic()
                try:
                    if method == "POST" and path == SEND_PATH:
                        status, payload, code = 200, sim.send_email(body), ""
                    elif method == "POST" and path == BULK_PATH:
                        status, payload, code = 200, sim.send_bulk_email(body), ""
                    elif method == "GET" and path == ACCOUNT_PATH:
                        status, payload, code = 200, sim.get_account(), ""
                    else:
                        raise _Error(404, "NotFoundException", f"no route {method} {path}")
                except _Error as err:
                    status, payload, code = err.status, {"message": err.message}, err.code
                # The simulated API latency; other connections carry on meanwhile.
                time.sleep(max(0.0, sim.latency - (time.monotonic() - started)))
                if status == 200 and path in (SEND_PATH, BULK_PATH) and sim.answer_lost():
                    self.close_connection = True  # accepted, but the answer never arrives
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
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
    parser.add_argument("--keep-messages", action="store_true",
                        help="keep every accepted message (GET /_sim/messages)")
    args = parser.parse_args(argv)
    return SesSimulator(args.rate, latency=args.latency, port=args.port,
                        keep_messages=args.keep_messages).run_as_script()


if __name__ == "__main__":
    raise SystemExit(main())
