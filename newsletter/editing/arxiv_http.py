"""The arXiv client's one network call: a GET bounded in size, time and where it may go.

The API's address is configured, but what answers there is not trusted to be arXiv: a
body is read only up to :data:`MAX_RESPONSE_BYTES`, the whole exchange must end within
an overall deadline (a server trickling a byte at a time never trips a per-read
timeout), and a redirect is followed only to the same host over http or https.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.parse
import urllib.request
from http.client import HTTPMessage
from typing import IO

from newsletter.errors import ArxivError

# A feed of 100 papers (one request's worth) is about 300 KB.
MAX_RESPONSE_BYTES = 16 * 1024 * 1024
DEADLINE = 120.0  # seconds for the whole request, redirects and body included
_CHUNK = 64 * 1024


class _SameHostRedirects(urllib.request.HTTPRedirectHandler):
    """Follows a redirect only to the same host, over http or https."""

    def redirect_request(
        self, req: urllib.request.Request, fp: IO[bytes], code: int, msg: str,
        headers: HTTPMessage, newurl: str,
    ) -> urllib.request.Request | None:
        old, new = urllib.parse.urlsplit(req.full_url), urllib.parse.urlsplit(newurl)
        if new.scheme not in ("http", "https") or new.hostname != old.hostname:
            raise ArxivError(
                f"the arXiv API at {req.full_url} answered with a redirect to "
                f"{newurl[:200]!r}; only redirects to the same host over http(s) are followed"
            )
        return super().redirect_request(req, fp, code, msg, headers, newurl)


_OPENER = urllib.request.build_opener(_SameHostRedirects())


def http_get(url: str, timeout: float = 30.0, deadline: float = DEADLINE) -> bytes:
    """GET ``url``; :class:`ArxivError` when the server cannot be reached or says no, the
    body passes :data:`MAX_RESPONSE_BYTES`, it takes over ``deadline`` seconds, or it
    redirects elsewhere. ``timeout`` bounds each wait for the network."""
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise ArxivError(f"NEWSLETTER_ARXIV_API_URL must be an http(s):// URL, not {url!r}")
    # The scheme is checked above, so urllib opens no file: or custom URLs.
    request = urllib.request.Request(  # noqa: S310
        url, headers={"User-Agent": "newsletter (issue drafts)"}
    )
    ends = time.monotonic() + deadline
    try:
        with _OPENER.open(request, timeout=min(timeout, deadline)) as response:
            return _read(response, url, ends, deadline)
    except urllib.error.HTTPError as err:
        err.close()  # it holds the response's socket
        if 300 <= err.code < 400:  # urllib refuses a redirect to file: and the like itself
            location = str(err.headers.get("Location", ""))[:200]
            raise ArxivError(
                f"the arXiv API at {url} answered with a redirect to {location!r}; only "
                "redirects to the same host over http(s) are followed"
            ) from err
        raise ArxivError(
            f"the arXiv API answered HTTP {err.code} for {url}; try again later"
        ) from err
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise ArxivError(f"cannot reach the arXiv API at {url}: {reason}") from err


def _read(response: IO[bytes], url: str, ends: float, deadline: float) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        if time.monotonic() > ends:
            raise ArxivError(f"the arXiv API at {url} took more than {deadline:.0f} seconds; "
                             "try again later")
        # read1: one read from the socket, so a trickle cannot hold a call until 64 KB.
        chunk = response.read1(_CHUNK)  # type: ignore[attr-defined]
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > MAX_RESPONSE_BYTES:
            raise ArxivError(f"the arXiv API at {url} answered more than "
                             f"{MAX_RESPONSE_BYTES:,} bytes; that is no answer to our query")
        chunks.append(chunk)
