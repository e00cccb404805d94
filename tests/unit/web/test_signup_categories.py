"""The sign-up form offers only the categories of published issues (issue #24, "Also").

A category found only in an issue file not yet sent (tomorrow's, or a draft) must not
appear on the public form: it would announce unpublished work, and a reader could choose
a category no issue has carried.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient
from support.archive import campaign, write_issue

from newsletter.settings import get_settings
from newsletter.web.app import create_app

NOW = dt.datetime(2022, 9, 10, 4, 0, tzinfo=dt.UTC)  # noon in Shanghai on the 10th


def with_category(path: Path, code: str, zh: str, en: str) -> None:
    text = path.read_text("utf-8").replace(
        "categories:\n", f"categories:\n  {code}:\n    zh: {zh}\n    en: {en}\n", 1)
    path.write_text(text, "utf-8")


@pytest.fixture
def client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    issues = tmp_path / "issues"
    monkeypatch.setenv("NEWSLETTER_ISSUES_DIR", str(issues))
    write_issue(issues, "2022-09-07")
    campaign(os.environ["NEWSLETTER_DATABASE_URL"], "2022-09-07", "done")
    with_category(write_issue(issues, "2022-09-08"), "QB", "量子比特", "Qubits")  # never sent
    with_category(write_issue(issues, "2022-09-20"), "QC", "量子计算", "Quantum")  # future
    with TestClient(create_app(get_settings(), clock=lambda: NOW)) as client:
        yield client


def offered(page: str) -> set[str]:
    return set(re.findall(r'name="categories" value="([A-Z]+)"', page))


def test_the_form_lists_only_published_categories(client: TestClient) -> None:
    """The published issue's legend is offered; codes from unsent or future files are not."""
    page = client.get("/subscribe").text
    assert offered(page) == {"LG", "CV", "CL", "AS", "RO"}
    assert "量子" not in page and "Quantum" not in page and "Qubits" not in page


def test_an_unpublished_category_is_refused_on_sign_up(client: TestClient) -> None:
    """Posting a code that only an unpublished issue has is an unknown category."""
    page = client.get("/subscribe").text
    token = re.search(r'name="form_token" value="([0-9a-f]{32})"', page)
    assert token is not None
    response = client.post("/subscribe", data={
        "form_token": token.group(1), "email": "reader@example.org",
        "categories": ["QC"], "language": "both"})
    assert response.status_code == 400, response.text[:500]
    assert "QC" in response.text


def test_the_form_shows_a_category_once_its_issue_is_published(
    client: TestClient, tmp_path: Path
) -> None:
    """Sending the issue that has QB makes QB choosable."""
    campaign(os.environ["NEWSLETTER_DATABASE_URL"], "2022-09-08", "done")
    # The archive rereads what is sent at most once a minute: a new app sees it at once.
    with TestClient(create_app(get_settings(), clock=lambda: NOW)) as fresh:
        assert "QB" in offered(fresh.get("/subscribe").text)
