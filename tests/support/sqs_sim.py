"""A simulated Amazon SQS endpoint on loopback, for the events benchmark and its tests.

moto's SQS server is right but slow in a way SQS is not: every ReceiveMessage and
SendMessageBatch scans the whole queue (0.4 s per receive with 500 messages waiting), so a
benchmark through it measures moto. This simulator keeps a standard queue in a deque and a
dict, so each call costs the same whatever the queue holds, plus ``latency`` seconds (SQS
answers in tens of milliseconds; 20 ms by default), without holding up other calls: each
connection has its own thread.

It speaks the JSON protocol boto3's ``sqs`` client uses (``X-Amz-Target:
AmazonSQS.<Action>``) for CreateQueue, GetQueueUrl, SendMessage(Batch), ReceiveMessage
(with long polling), DeleteMessageBatch and GetQueueAttributes; a received message is
hidden for the queue's visibility timeout (30 s) and comes back if not deleted by then.
MD5 digests are real, since botocore checks them.

Run on its own, so that its work does not share a GIL with the poller under test::

    python tests/support/sqs_sim.py --latency 0.02

prints ``listening on http://127.0.0.1:PORT`` and serves until killed.
"""

from __future__ import annotations

import argparse
import hashlib
import heapq
import json
import sys
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make tests/ importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from support.loopback import JsonHandler, LoopbackServer

ACCOUNT = "123456789012"
VISIBILITY_TIMEOUT = 30.0


class _Error(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass
class _Message:
    id: str
    body: str
    md5: str
    receives: int = 0


@dataclass
class _Queue:
    visible: deque[_Message] = field(default_factory=deque)
    in_flight: dict[str, tuple[_Message, float]] = field(default_factory=dict)
    deadlines: list[tuple[float, str]] = field(default_factory=list)  # heap
    arrived: threading.Condition = field(default_factory=threading.Condition)
    deleted: int = 0


class SqsSimulator(LoopbackServer):
    """The simulated endpoint; ``start()`` it, point boto3 at ``url``, ``stop()`` it."""

    def __init__(self, latency: float = 0.02, port: int = 0) -> None:
        self.latency = latency
        self._queues: dict[str, _Queue] = {}
        self._lock = threading.Lock()
        super().__init__(_handler_for(self), port)

    # -- the actions ------------------------------------------------------------------

    def _queue(self, request: dict[str, Any]) -> _Queue:
        name = str(request.get("QueueUrl", "")).rstrip("/").rsplit("/", 1)[-1]
        with self._lock:
            queue = self._queues.get(name)
        if queue is None:
            raise _Error(400, "AWS.SimpleQueueService.NonExistentQueue",
                         "The specified queue does not exist.")
        return queue

    def call(self, action: str, request: dict[str, Any]) -> dict[str, Any]:
        if action == "CreateQueue":
            name = str(request["QueueName"])
            with self._lock:
                self._queues.setdefault(name, _Queue())
            return {"QueueUrl": f"{self.url}/{ACCOUNT}/{name}"}
        if action == "GetQueueUrl":
            name = str(request["QueueName"])
            self._queue({"QueueUrl": name})
            return {"QueueUrl": f"{self.url}/{ACCOUNT}/{name}"}
        queue = self._queue(request)
        if action == "SendMessage":
            sent = self._send(queue, [{"Id": "0", "MessageBody": request["MessageBody"]}])
            only = sent["Successful"][0]
            return {"MessageId": only["MessageId"], "MD5OfMessageBody": only["MD5OfMessageBody"]}
        if action == "SendMessageBatch":
            return self._send(queue, request.get("Entries", []))
        if action == "ReceiveMessage":
            return self._receive(queue, int(request.get("MaxNumberOfMessages", 1)),
                                 float(request.get("WaitTimeSeconds", 0)))
        if action == "DeleteMessageBatch":
            return self._delete(queue, request.get("Entries", []))
        if action == "GetQueueAttributes":
            with queue.arrived:
                self._expire(queue)
                return {"Attributes": {
                    "ApproximateNumberOfMessages": str(len(queue.visible)),
                    "ApproximateNumberOfMessagesNotVisible": str(len(queue.in_flight)),
                }}
        raise _Error(400, "InvalidAction", f"{action} is not simulated")

    def _send(self, queue: _Queue, entries: list[dict[str, Any]]) -> dict[str, Any]:
        if not 1 <= len(entries) <= 10:
            raise _Error(400, "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
                         "A batch holds 1 to 10 entries.")
        done = []
        with queue.arrived:
            for entry in entries:
                body = str(entry["MessageBody"])
                md5 = hashlib.md5(body.encode("utf-8")).hexdigest()  # noqa: S324 -- SQS's digest
                message = _Message(str(uuid.uuid4()), body, md5)
                queue.visible.append(message)
                done.append({"Id": entry["Id"], "MessageId": message.id,
                             "MD5OfMessageBody": md5})
            queue.arrived.notify_all()
        return {"Successful": done, "Failed": []}

    def _expire(self, queue: _Queue) -> None:
        """Messages whose visibility timeout passed become visible again (lock held)."""
        now = time.monotonic()
        while queue.deadlines and queue.deadlines[0][0] <= now:
            _, receipt = heapq.heappop(queue.deadlines)
            held = queue.in_flight.pop(receipt, None)
            if held is not None:
                queue.visible.appendleft(held[0])

    def _receive(self, queue: _Queue, count: int, wait: float) -> dict[str, Any]:
        until = time.monotonic() + min(wait, 20.0)
        messages = []
        with queue.arrived:
            while True:
                self._expire(queue)
                while queue.visible and len(messages) < min(max(count, 1), 10):
                    message = queue.visible.popleft()
                    message.receives += 1
                    receipt = uuid.uuid4().hex
                    deadline = time.monotonic() + VISIBILITY_TIMEOUT
                    queue.in_flight[receipt] = (message, deadline)
                    heapq.heappush(queue.deadlines, (deadline, receipt))
                    messages.append({"MessageId": message.id, "ReceiptHandle": receipt,
                                     "MD5OfBody": message.md5, "Body": message.body})
                left = until - time.monotonic()
                if messages or left <= 0:
                    break
                queue.arrived.wait(min(left, 1.0))
        return {"Messages": messages} if messages else {}

    def _delete(self, queue: _Queue, entries: list[dict[str, Any]]) -> dict[str, Any]:
        done, failed = [], []
        with queue.arrived:
            for entry in entries:
                if queue.in_flight.pop(str(entry["ReceiptHandle"]), None) is None:
                    failed.append({"Id": entry["Id"], "SenderFault": True,
                                   "Code": "ReceiptHandleIsInvalid",
                                   "Message": "The receipt handle has expired."})
                else:
                    queue.deleted += 1
                    done.append({"Id": entry["Id"]})
        return {"Successful": done, "Failed": failed}


def _handler_for(sim: SqsSimulator) -> type[BaseHTTPRequestHandler]:
    class Handler(JsonHandler):
        content_type = "application/x-amz-json-1.0"

        def _answer(self, status: int, payload: dict[str, Any], code: str = "") -> None:
            self.answer(status, payload, {"x-amzn-query-error": f"{code};Sender"} if code else None)

        def do_POST(self) -> None:
            started = time.monotonic()
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b"{}"
            action = str(self.headers.get("X-Amz-Target", "")).rpartition(".")[2]
            try:
                status, payload, code = 200, sim.call(action, json.loads(raw or b"{}")), ""
            except _Error as err:
                status, code = err.status, err.code
                payload = {"__type": f"com.amazonaws.sqs#{err.code}", "message": err.message}
            except (KeyError, ValueError, TypeError) as err:
                status, code = 400, "InvalidParameterValue"
                payload = {"__type": f"com.amazonaws.sqs#{code}", "message": str(err)}
            # The simulated service latency (after any long-poll wait); other connections
            # carry on meanwhile.
            time.sleep(max(0.0, sim.latency - (time.monotonic() - started)))
            self._answer(status, payload, code)

    return Handler


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="A simulated SQS endpoint on 127.0.0.1.")
    parser.add_argument("--latency", type=float, default=0.02, help="seconds per call")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    args = parser.parse_args(argv)
    return SqsSimulator(args.latency, port=args.port).run_as_script()


if __name__ == "__main__":
    raise SystemExit(main())
