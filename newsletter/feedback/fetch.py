"""Fetching SNS's own URLs (signing certificates, subscription confirmations): the one
piece of network I/O of SNS verification, pinned to SNS's hosts.
"""

from __future__ import annotations

import urllib.request

from newsletter.errors import WebhookError
from newsletter.feedback.sns import SUBSCRIBE_URL, Fetcher, cert_url_allowed

MAX_BODY = 256 * 1024


def pinned_fetcher(test_host: str | None = None) -> Fetcher:
    """GET one of SNS's own URLs (certificate or subscription confirmation).

    Refuses any URL the pinned patterns do not match, so a forged message cannot make the
    server fetch an address of the attacker's choosing. ``test_host`` also allows http
    certificates from that loopback host (``NEWSLETTER_SNS_CERT_HOST_FOR_TESTS``).
    Certificates are cached by the verifier (``CertificateCache``), not here.
    """

    def fetch(url: str) -> bytes:
        if cert_url_allowed(url, test_host) or SUBSCRIBE_URL.fullmatch(url):
            return _get(url)
        raise WebhookError(f"refusing to fetch {url!r}")

    return fetch


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 -- pinned URL
        body: bytes = response.read(MAX_BODY)
    return body


fetch_pinned = pinned_fetcher()
