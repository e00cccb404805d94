"""Paper pages, their citations and search, through the web app (SQLite; the store's own
tests run both databases)."""

from __future__ import annotations

import datetime as dt
import html
import json
import re
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import bibtexparser
import pytest
import rispy
from starlette.testclient import TestClient
from support.archive import write_issue
from support.env import SAMPLE_ISSUE

from newsletter.settings import get_settings
from newsletter.web import paper_routes
from newsletter.web.app import create_app

NOW = dt.datetime(2022, 9, 10, 4, 0, tzinfo=dt.UTC)


@pytest.fixture
def issues(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "issues"
    monkeypatch.setenv("NEWSLETTER_ISSUES_DIR", str(folder))
    monkeypatch.setenv("NEWSLETTER_ARCHIVE_UNSENT", "true")
    write_issue(folder, "2022-09-07")
    return folder


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def client(issues: Path, clock: Clock) -> Iterator[TestClient]:
    with TestClient(create_app(get_settings(), clock=clock), follow_redirects=False) as client:
        yield client


def metas(page: str) -> list[tuple[str, str]]:
    return [(html.unescape(n), html.unescape(c))
            for n, c in re.findall(r'<meta name="([^"]+)" content="([^"]*)">', page)]


def test_issue_page_links_each_paper_to_its_page(client: TestClient) -> None:
    """Every paper on an issue page links to its paper page, which links back to its
    anchor in that issue."""
    issue = client.get("/issues/2022-09-07").text
    links = re.findall(r'href="(/papers/[^"]+)"', issue)
    assert len(links) == SAMPLE_ISSUE.read_text("utf-8").count("  url: https://arxiv.org/abs/")
    page = client.get("/papers/2209.01947")
    assert page.status_code == 200
    assert "/issues/2022-09-07#arxiv-2209.01947" in page.text
    assert 'id="arxiv-2209.01947"' in issue


def test_paper_page_has_everything(client: TestClient) -> None:
    """Both titles, authors, affiliations, abstract, summary, arXiv links, meta tags and
    JSON-LD."""
    page = client.get("/papers/2209.01947").text
    for text in ("MO2: Model-Based Offline Options", "MO2: 基于模型的离线选项", "Wulfmeier",
                 "DeepMind", "bottleneck options", "从过去的经验中发现有用的行为",
                 'href="https://arxiv.org/abs/2209.01947"', 'href="https://arxiv.org/pdf/2209.01947"',
                 'href="https://arxiv.org/html/2209.01947"', 'href="/papers/2209.01947.bib"',
                 'href="/papers/2209.01947.ris"'):
        assert text in page, text
    tags = metas(page)
    assert ("citation_title", "MO2: Model-Based Offline Options") in tags
    assert [c for n, c in tags if n == "citation_author"][:2] == ["S Salter", "M Wulfmeier"]
    assert ("citation_arxiv_id", "2209.01947") in tags
    assert ("citation_pdf_url", "https://arxiv.org/pdf/2209.01947") in tags
    assert ("citation_publication_date", "2022/09") in tags
    [ld] = re.findall(r'<script type="application/ld\+json">(.*?)</script>', page, re.S)
    data = json.loads(ld)
    assert data["@type"] == "ScholarlyArticle" and data["name"].startswith("MO2")
    assert data["author"][0] == {"@type": "Person", "name": "S Salter"}


def test_every_version_and_spelling_goes_to_one_page(client: TestClient) -> None:
    """A version, a trailing slash or a file suffix with a version redirect to the one
    canonical address; nonsense and unknown papers are not found."""
    for asked, target in [("/papers/2209.01947v3", "/papers/2209.01947"),
                          ("/papers/2209.01947/", "/papers/2209.01947"),
                          ("/papers/2209.01947v1.bib", "/papers/2209.01947.bib")]:
        answer = client.get(asked)
        assert (answer.status_code, answer.headers["location"]) == (301, target), asked
    assert client.get("/papers/2209.99999").status_code == 404
    assert client.get("/papers/not-an-id").status_code == 404
    assert client.get("/papers/").status_code == 404


def test_bib_and_ris_parse_to_the_right_fields(client: TestClient) -> None:
    """The .bib parses with bibtexparser and the .ris with rispy, to the paper's fields."""
    bib = client.get("/papers/2209.01667.bib")
    assert bib.headers["content-type"].startswith("application/x-bibtex")
    library = bibtexparser.parse_string(bib.text)
    assert not library.failed_blocks
    [entry] = library.entries
    assert entry.key == "fedus2022review" and entry.entry_type == "misc"
    assert entry["title"] == "{A Review of Sparse Expert Models in Deep Learning}"
    assert entry["author"].split(" and ")[:2] == ["W Fedus", "J Dean"]
    assert (entry["eprint"], entry["year"], entry["archivePrefix"]) == ("2209.01667", "2022",
                                                                       "arXiv")
    [record] = rispy.loads(client.get("/papers/2209.01667.ris").text)
    assert record["title"] == "A Review of Sparse Expert Models in Deep Learning"
    assert record["authors"][:2] == ["Fedus, W", "Dean, J"]
    assert record["urls"] == ["https://arxiv.org/abs/2209.01667"]


def test_search_finds_phrases_authors_and_chinese(client: TestClient) -> None:
    """An English phrase, an author and a two-character Chinese word find their paper,
    with the words marked; nonsense finds "nothing found"."""
    for query in ("sparse expert models", "Fedus", "稀疏"):
        page = client.get("/search", params={"q": query})
        assert page.status_code == 200
        assert 'href="/papers/2209.01667"' in page.text, query
        assert "<mark>" in page.text
    assert "<mark>Fedus</mark>" in client.get("/search", params={"q": "fedus"}).text
    assert "Nothing found" in client.get("/search", params={"q": "zzqqxx"}).text


def test_an_arxiv_id_or_link_goes_to_its_page(client: TestClient) -> None:
    """An identifier or arXiv link as the query redirects to the paper's page."""
    for query in ("https://arxiv.org/abs/2209.01667v2", "arXiv:2209.01667", "2209.01667",
                  "https://arxiv.org/pdf/2209.01667v1.pdf"):
        answer = client.get("/search", params={"q": query})
        assert (answer.status_code, answer.headers["location"]) == (303, "/papers/2209.01667")


def test_filters_narrow_the_results(client: TestClient) -> None:
    """Category and year filters narrow the results; the choices list what exists."""
    page = client.get("/search", params={"category": "CV"}).text
    found = set(re.findall(r'href="/papers/([^"]+)"', page))
    assert found and all("CV" in page for _ in found)
    assert client.get("/search", params={"category": "CV", "year": "2021"}).text.count(
        'href="/papers/') == 0
    assert "<option>2022</option>" in page


def test_edits_and_new_issues_reach_the_index(client: TestClient, issues: Path,
                                              clock: Clock) -> None:
    """An edited issue's new text shows once the archive rechecks; a paper in two issues
    says where it was featured before."""
    path = issues / "2022-09-07.yaml"
    assert "Featured before" not in client.get("/papers/2209.01667").text
    path.write_text(path.read_text("utf-8").replace(
        "A Review of Sparse Expert Models in Deep Learning", "A Survey of Sparse Experts"),
        "utf-8")
    clock.now = NOW + dt.timedelta(seconds=2)
    assert "A Survey of Sparse Experts" in client.get("/papers/2209.01667").text
    assert client.get("/search", params={"q": "survey"}).text.count('href="/papers/') == 1
    write_issue(issues, "2022-09-08")
    clock.now = NOW + dt.timedelta(seconds=4)
    page = client.get("/papers/2209.01667").text
    assert "A Survey of Sparse Experts" not in page  # the newer issue's title wins
    assert "Featured before on 2022-09-07" in page
    assert client.get("/search", params={"q": "survey"}).text.count('href="/papers/') == 0


def test_unpublished_papers_are_not_found(issues: Path, clock: Clock,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Without ARCHIVE_UNSENT an unsent issue's papers have no page and no search hit."""
    monkeypatch.setenv("NEWSLETTER_ARCHIVE_UNSENT", "false")
    with TestClient(create_app(get_settings(), clock=clock)) as client:
        assert client.get("/papers/2209.01947").status_code == 404
        assert "Nothing found" in client.get("/search", params={"q": "sparse"}).text


def test_a_database_outage_is_a_503_not_a_500(client: TestClient, tmp_path: Path) -> None:
    """When the database fails (here: its paper tables are gone), search and paper pages
    answer 503 with Retry-After, not a 500."""
    assert client.get("/papers/2209.01947").status_code == 200
    with sqlite3.connect(tmp_path / "test.db") as conn:
        conn.execute("DROP TABLE papers")
    for path in ("/search?q=sparse", "/papers/2209.01947"):
        answer = client.get(path)
        assert answer.status_code == 503 and answer.headers["retry-after"] == "30", path


def test_the_last_page_links_no_further(client: TestClient,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Past the last page results are not shown, so its "More results" link pointed at
    itself (found by trying it); it says to narrow the search instead."""
    monkeypatch.setattr(paper_routes, "PAGE_SIZE", 2)  # "learning": 6 of the 9 papers
    first = client.get("/search", params={"q": "learning"}).text
    assert 'rel="next"' in first and "Only the first" not in first
    monkeypatch.setattr(paper_routes, "MAX_PAGE", 2)
    page = client.get("/search", params={"q": "learning", "page": "5"}).text
    assert 'rel="next"' not in page
    assert "Only the first 4 results are shown: add a word or a filter." in page


def test_pages_link_back_and_a_page_past_the_end_says_so(
        client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """Page 2 links to page 1; a page past the results said "Nothing found. Try other
    words?", wrongly: the words found papers, on earlier pages."""
    monkeypatch.setattr(paper_routes, "PAGE_SIZE", 2)  # "learning": 6 of the 9 papers
    first = client.get("/search", params={"q": "learning"}).text
    assert 'rel="prev"' not in first
    second = client.get("/search", params={"q": "learning", "page": "2"}).text
    assert html.unescape(re.findall(r'<a href="([^"]+)" rel="prev">', second)[0]) == \
        "/search?q=learning&page=1"
    assert 'rel="next"' in second and '<ol class="results" id="results" start="3">' in second
    past = client.get("/search", params={"q": "learning", "page": "9"}).text
    assert "Nothing found" not in past and "href=\"/papers/" not in past
    assert "There are no results on page 9: they end before it." in past
    assert '<a href="/search?q=learning&amp;page=1">' in past
    nothing = client.get("/search", params={"q": "zzzunheardof"}).text
    assert "Nothing found. Try other words?" in nothing and 'rel="prev"' not in nothing


def test_the_longest_query_the_form_takes_fits_in_a_url_the_server_takes(
        client: TestClient) -> None:
    """A Chinese query of the form's old 1,000 characters was a 9 KB URL, answered with a
    bare 414 by the server's 8 KB limit on URLs."""
    from newsletter.web.http_limits import MAX_URL_BYTES

    page = client.get("/search").text
    limit = int(re.findall(r'<input id="q" name="q"[^>]* maxlength="(\d+)"', page)[0])
    # maxlength counts UTF-16 units: at most 9 bytes each once percent-encoded (a 3-byte
    # character such as 論; a 4-byte one is two units).
    query = "論" * limit
    url = "/search?" + urlencode({"q": query, "category": "LG", "year": "2022", "page": "50"})
    assert len(f"GET {url} HTTP/1.1") <= MAX_URL_BYTES
    answer = client.get(url)
    assert answer.status_code == 200 and "no results on page 50" in answer.text
    assert f'value="{query}"' in answer.text  # the whole query, back in the form


# The running app compares the paper index with the published issues again every
# ``RECHECK_SECONDS``: an index emptied by a rebuild killed midway in another process
# comes back without waiting for an issue file to change.

def hits(client: TestClient, query: str) -> int:
    return client.get("/search", params={"q": query}).text.count('href="/papers/')


def test_an_index_emptied_behind_the_apps_back_comes_back(
        issues: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another process empties the index (a restored backup, or an old ``reindex --full``
    killed after its clear):
    the app, whose issue files did not change, fills it again on its next recheck, and
    the search filters (categories, years) follow."""
    monkeypatch.setattr(paper_routes, "RECHECK_SECONDS", 0.1)
    with TestClient(create_app(get_settings(), clock=lambda: NOW)) as client:
        found = hits(client, "sparse")
        assert found > 0
        assert "<option>LG</option>" in client.get("/search").text
        # What a `reindex --full` of the old kind left when killed: every table emptied.
        with sqlite3.connect(tmp_path / "test.db") as conn:
            for table in ("paper_fts", "paper_title_fts", "papers", "paper_appearances",
                          "paper_issues"):
                conn.execute(f"DELETE FROM {table}")  # noqa: S608
        # (A request in between may still find nothing: the recheck has not run yet.)
        deadline = time.monotonic() + 20
        while hits(client, "sparse") != found:
            assert time.monotonic() < deadline, "the emptied index never came back"
            time.sleep(0.05)
        assert "<option>LG</option>" in client.get("/search", params={"q": "sparse"}).text


def test_a_missing_issues_folder_drops_nothing_and_is_said_once(
        issues: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The issues folder gone (a mistyped NEWSLETTER_ISSUES_DIR on a restart, a moved
    mount): the app keeps its index and logs the problem once, instead of dropping every
    paper at the next request (found by trying it)."""
    clock = [NOW]
    with TestClient(create_app(get_settings(), clock=lambda: clock[0])) as client:
        found = hits(client, "sparse")
        assert found > 0
        issues.rename(issues.parent / "moved")
        for seconds in (2, 4, 6):  # past the archive's once-a-second check
            clock[0] = NOW + dt.timedelta(seconds=seconds)
            assert hits(client, "sparse") == found
    said = [r for r in caplog.records if "does not exist" in r.getMessage()]
    assert len(said) == 1 and said[0].levelname == "ERROR"
