"""Per-client rate limits behind (and without) a reverse proxy, against a real ``serve``."""

from __future__ import annotations

import httpx
import pytest
from support.env import WebServer

LIMIT = 10  # web.app.SUBSCRIBE_LIMIT


def post(server: WebServer, forwarded_for: str | None = None) -> int:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    # No form token: the rate limit is counted before the form is looked at (400 here).
    return httpx.post(f"{server.url}/subscribe", data={"email": "a@example.org"},
                      headers=headers).status_code


@pytest.fixture
def behind_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSLETTER_TRUSTED_PROXIES", "127.0.0.1")


def test_forwarded_for_is_ignored_without_trusted_proxies(web_server: WebServer) -> None:
    """From 127.0.0.1 with no trusted proxy, a forged X-Forwarded-For gets a fresh bucket never."""
    statuses = [post(web_server, f"198.51.100.{n}") for n in range(LIMIT + 1)]
    assert statuses[:LIMIT] == [400] * LIMIT
    assert statuses[LIMIT] == 429


def test_readers_behind_a_trusted_proxy_have_their_own_buckets(
    behind_proxy: None, web_server: WebServer
) -> None:
    """Behind a trusted proxy, one client's posts lock out that client only."""
    attacker = [post(web_server, "203.0.113.7") for _ in range(LIMIT + 1)]
    assert attacker[LIMIT] == 429
    assert post(web_server, "198.51.100.20") == 400
    # A client cannot escape its bucket by prepending a forged hop of its own.
    assert post(web_server, "192.0.2.1, 203.0.113.7") == 429


def test_ipv6_clients_are_bucketed_by_their_64(behind_proxy: None, web_server: WebServer) -> None:
    """Addresses inside one IPv6 /64 share a bucket; another /64 does not."""
    statuses = [post(web_server, f"2001:db8:1:2::{n:x}") for n in range(1, LIMIT + 2)]
    assert statuses[LIMIT] == 429
    assert post(web_server, "2001:db8:1:2:ffff::1") == 429
    assert post(web_server, "2001:db8:1:3::1") == 400
