"""``newsletter serve`` logs each request (uvicorn's access log, in the Common Log Format)
unless ``--no-access-log`` is given."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import httpx
import pytest
from support.servers import free_port, running

# Real `serve` processes: whole-process tests (`make test`, not test-fast).
pytestmark = pytest.mark.e2e

NEWSLETTER = str(Path(sys.executable).with_name("newsletter"))
# host ident authuser [date] "request line" status bytes (uvicorn does not know the size)
COMMON = re.compile(
    r'^127\.0\.0\.1 - - \[\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}\] '
    r'"(?P<request>[^"]*)" (?P<status>\d{3}) -$'
)
TOKEN = "A" * 42


def serve_and_get(tmp_path: Path, *options: str) -> list[str]:
    """Start ``serve`` with ``options``, fetch three pages, stop it; its output lines."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    env = {**os.environ, "NEWSLETTER_BASE_URL": url}
    with running([NEWSLETTER, "serve", "--port", str(port), *options], env, tmp_path,
                 f"{url}/healthz", log):
        assert httpx.get(f"{url}/healthz?probe=1").status_code == 200
        assert httpx.get(f"{url}/no-such-page").status_code == 404
        httpx.get(f"{url}/unsubscribe/{TOKEN}")
    return log.read_text().splitlines()


def test_serve_writes_an_access_log_in_the_common_format(tmp_path: Path) -> None:
    """Each request is one Common Log Format line: client, time, request, status."""
    lines = serve_and_get(tmp_path)
    logged = {m["request"]: m["status"] for line in lines if (m := COMMON.match(line))}
    assert logged["GET /healthz?probe=1 HTTP/1.1"] == "200"
    assert logged["GET /no-such-page HTTP/1.1"] == "404"
    # The signed token in a reader's link is a credential: it is not written to the log.
    assert not any(TOKEN in line for line in lines)
    assert "GET /unsubscribe/(token) HTTP/1.1" in logged
    # Only the access log: uvicorn's start-up chatter stays off.
    assert not any("Uvicorn running" in line or "Started server" in line for line in lines)


def test_no_access_log_turns_it_off(tmp_path: Path) -> None:
    """With --no-access-log no request is logged."""
    lines = serve_and_get(tmp_path, "--no-access-log")
    assert lines, "serve printed nothing at all"
    assert not any(COMMON.match(line) or "/healthz" in line for line in lines)
