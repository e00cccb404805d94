"""The links in ``send-test`` messages: a page saying "this is a test message".

Editors follow the unsubscribe and preferences links of the test messages they get, to
check them. Those links name :data:`TEST_SUBSCRIBER_ID`, which no reader ever has; the
reader's routes would call them "not valid", which looks like a broken newsletter.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from newsletter.errors import TokenError
from newsletter.sending.editor_send import TEST_SUBSCRIBER_ID
from newsletter.tokens import Purpose, read_token
from newsletter.web.pages import Pages
from newsletter.web.security import PRIVATE

Endpoint = Callable[[Request], Awaitable[Response]]


def is_test_token(secret: str, purpose: Purpose, token: str) -> bool:
    """True when ``token`` is a valid ``purpose`` token for the test subscriber."""
    try:
        return read_token(secret, purpose, token) == TEST_SUBSCRIBER_ID
    except TokenError:
        return False


def answering_test_links(
    endpoint: Endpoint, purpose: Purpose, secret: str, pages: Pages
) -> Endpoint:
    """``endpoint``, except that a test message's link gets the test-message page."""

    async def route(request: Request) -> Response:
        if is_test_token(secret, purpose, request.path_params["token"]):
            return pages.message(request, "test_message", headers=PRIVATE)
        return await endpoint(request)

    return route
