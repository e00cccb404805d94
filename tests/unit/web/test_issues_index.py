"""``/issues/``, the folder every issue's link lives in, leads to the archive (not a 404)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from newsletter.settings import get_settings
from newsletter.web.app import create_app


def client_for(base_url: str) -> Iterator[TestClient]:
    settings = get_settings().model_copy(update={"base_url": base_url})
    with TestClient(create_app(settings), follow_redirects=False) as client:
        yield client


@pytest.fixture
def client() -> Iterator[TestClient]:
    yield from client_for("https://news.example.org")


@pytest.mark.parametrize("path", ["/issues/", "/issues"])
def test_the_issues_folder_redirects_to_the_archive(client: TestClient, path: str) -> None:
    """GET /issues/ (and /issues) answers a redirect to /archive/."""
    response = client.get(path)
    assert response.status_code in (301, 303)
    assert response.headers["location"].endswith("/archive/")
    followed = client.get(response.headers["location"])
    assert followed.status_code == 200


def test_the_redirect_keeps_the_base_path() -> None:
    """Under NEWSLETTER_BASE_URL=https://example.org/news it goes to /news/archive/."""
    for client in client_for("https://example.org/news"):
        response = client.get("/news/issues/")
        assert response.status_code in (301, 303)
        assert response.headers["location"] == "/news/archive/"


def test_an_issue_page_is_still_an_issue_page(client: TestClient) -> None:
    """/issues/<date> is untouched: an unknown date is still 404."""
    assert client.get("/issues/2099-01-01").status_code == 404
