"""A real SES v2 API server for tests: moto's server mode on loopback, read back over HTTP.

boto3 talks to it over real HTTP through ``NEWSLETTER_SES_ENDPOINT_URL``. Messages it
accepted are read back from moto's own API (``/moto-api/data.json``) and parsed with the
``email`` package. ``hook`` installs a botocore ``before-send`` handler on a transport's
client, to produce the faults moto cannot (throttling, 5xx, account suspension).
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from botocore.awsrequest import AWSResponse

SENDER_DOMAIN = "news.example.org"


@dataclass(frozen=True)
class Accepted:
    """One message the server accepted."""

    message_id: str
    destinations: list[str]
    raw: bytes

    def parsed(self) -> EmailMessage:
        message = message_from_bytes(self.raw, policy=policy.default)
        assert isinstance(message, EmailMessage)
        return message


class SesServer:
    """Controls a running ThreadedMotoServer at ``url``."""

    def __init__(self, url: str) -> None:
        self.url = url

    def _call(self, path: str, data: bytes | None = None) -> bytes:
        request = urllib.request.Request(self.url + path, data=data)
        with urllib.request.urlopen(request, timeout=10) as answer:
            body: bytes = answer.read()
        return body

    def reset(self) -> None:
        """Forget every identity and message."""
        self._call("/moto-api/reset", data=b"")

    def messages(self) -> list[Accepted]:
        """Every message accepted since the last reset, in order."""
        data = json.loads(self._call("/moto-api/data.json"))
        return [
            Accepted(m["id"], list(m["destinations"]), m["raw_data"].encode("utf-8"))
            for m in data.get("ses", {}).get("RawMessage", [])
        ]


def fault(status: int, code: str, message: str = "injected") -> AWSResponse:
    """An SES error answer as the real service sends it (REST-JSON, x-amzn-ErrorType)."""
    body = json.dumps({"message": message}).encode()
    headers = {"x-amzn-ErrorType": f"{code}:http://internal.amazon.com/", "content-type":
               "application/json"}
    return AWSResponse("https://email.invalid/", status, headers, _Raw(body))


def ok(payload: dict[str, Any]) -> AWSResponse:
    """A 200 answer with a JSON body."""
    return AWSResponse("https://email.invalid/", 200, {"content-type": "application/json"},
                       _Raw(json.dumps(payload).encode()))


class _Raw:
    """The minimal raw-body object AWSResponse reads from."""

    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Any:
        yield self.body

    def read(self, *_: Any) -> bytes:
        return self.body


def hook(client: Any, operation: str, answer: Callable[[Any], AWSResponse | None]) -> None:
    """Call ``answer(request)`` before each ``operation`` request; a response replaces it."""

    def before_send(request: Any, **_: Any) -> AWSResponse | None:
        return answer(request)

    client.meta.events.register(f"before-send.sesv2.{operation}", before_send)
