"""Drafts from arXiv: the Atom feed, the digest's author style, `newsletter new` against a
loopback server answering recorded feeds, and the spacing between requests."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from support.arxiv_server import FIXTURES, ArxivServer, arxiv_server
from support.clock import FakeClock
from typer.testing import CliRunner, Result

from newsletter.cli.main import app
from newsletter.editing.arxiv import (
    TODO_SUMMARY_ZH,
    TODO_TITLE_ZH,
    ArxivClient,
    ArxivPaper,
    digest_author,
    draft_issue,
    parse_feed,
)
from newsletter.errors import ArxivError
from newsletter.issues.loader import load_issue

DATE = "2022-09-07"


@pytest.fixture
def arxiv(monkeypatch: pytest.MonkeyPatch) -> Iterator[ArxivServer]:
    with arxiv_server() as server:
        monkeypatch.setenv("NEWSLETTER_ARXIV_API_URL", server.url)
        yield server


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def test_feed_entries_become_papers() -> None:
    """An export-API feed gives one-line titles and abstracts, authors, affiliations, category."""
    papers, errors = parse_feed((FIXTURES / "four-papers.xml").read_bytes())
    assert errors == []
    assert [p.arxiv_id for p in papers] == ["2209.01947", "2209.01667", "2209.01540", "2209.01346"]
    mo2, _, video, mesh = papers
    assert mo2.title == "MO2: Model-Based Offline Options"
    assert video.title == (
        "An Empirical Study of End-to-End Video-Language Transformers with Masked Visual Modeling"
    )
    assert mo2.abstract.startswith("The ability to discover useful behaviours from past")
    assert "\n" not in mo2.abstract and "  " not in mo2.abstract
    assert "continuous state-action spaces" in mo2.abstract
    assert mo2.authors[:2] == ("Sasha Salter", "Markus Wulfmeier") and len(mo2.authors) == 7
    assert mo2.affiliations == ("DeepMind",)
    assert (mo2.primary_category, mesh.primary_category) == ("cs.LG", "cs.DC")
    assert mo2.comment == "Accepted at CoLLAs 2022" and not mo2.withdrawn


def test_arxiv_error_entries_are_reported_not_taken_for_papers() -> None:
    """arXiv's "Error" entry for an ID it cannot use comes back as its message."""
    papers, errors = parse_feed((FIXTURES / "unknown-id.xml").read_bytes())
    assert [p.arxiv_id for p in papers] == ["2209.01947"]
    assert errors == ["incorrect id format for 2213.00001"]


@pytest.mark.parametrize(("name", "expected"), [
    ("Sasha Salter", "S Salter"),
    ("Ricky T. Q. Chen", "R T. Q. Chen"),
    ("William Yang Wang", "W Y Wang"),
    ("Daniele De Sensi", "D D Sensi"),
    ("Tsu-Jui Fu", "T Fu"),
    ("Noah A. Smith", "N A. Smith"),
    ("Plato", "Plato"),
])
def test_authors_are_written_in_the_digest_style(name: str, expected: str) -> None:
    """Given names become initials (initials already written stay), surnames stay whole."""
    assert digest_author(name) == expected


def test_new_writes_a_draft_from_one_request(arxiv: ArxivServer) -> None:
    """`new` fetches every paper in one request and writes titles, authors, abstracts, links."""
    result = run(
        "new", DATE, "--arxiv", "2209.01947,2209.01667", "--notable", "2209.01540",
        "--notable", "2209.01346", "--category", "2209.01346=LG",
    )
    assert result.exit_code == 0, result.output
    assert f"wrote issues/{DATE}.yaml: 2 featured and 2 notable papers; 6 TODOs" in result.output
    assert len(arxiv.requests) == 1
    [query] = arxiv.requests
    assert query["id_list"] == ["2209.01947,2209.01667,2209.01540,2209.01346"]
    assert query["max_results"] == ["4"]
    issue = load_issue(Path("issues") / f"{DATE}.yaml")
    mo2, review = issue.featured
    assert (mo2.category, mo2.title, mo2.url) == (
        "LG", "MO2: Model-Based Offline Options", "https://arxiv.org/abs/2209.01947"
    )
    assert mo2.authors == [
        "S Salter", "M Wulfmeier", "D Tirumala", "N Heess", "M Riedmiller", "R Hadsell", "D Rao"
    ]
    assert mo2.affiliations == ["DeepMind"] and not mo2.authors_truncated
    sample = load_issue(Path(__file__).parents[3] / "issues" / "2022-09-07.yaml")
    assert mo2.abstract == sample.featured[0].abstract
    assert (mo2.title_zh, mo2.summary_zh) == (TODO_TITLE_ZH, TODO_SUMMARY_ZH)
    assert review.authors == ["W Fedus", "J Dean", "B Zoph"]
    video, mesh = issue.notable
    assert (video.category, mesh.category) == ("CV", "LG")
    assert video.authors == ["T Fu", "L Li", "Z Gan", "K Lin", "W Y Wang", "L Wang", "Z Liu"]
    # Ten authors: the digest shows eight and an ellipsis.
    assert mesh.authors == [
        "T Hoefler", "T Bonato", "D D Sensi", "S D Girolamo", "S Li", "M Heddes", "J Belk",
        "D Goel",
    ]
    assert mesh.authors_truncated and mesh.author_line().endswith("D Goel, et al.")


def test_validate_reports_the_draft_todos_until_filled(arxiv: ArxivServer) -> None:
    """The draft's TODOs make `validate` fail, each named with its line; filled in, it passes."""
    assert run("new", DATE, "--arxiv", "2209.01947").exit_code == 0
    path = Path("issues") / f"{DATE}.yaml"
    result = run("validate", str(path))
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert any(
        line.startswith(f"{path}:") and "featured[0].title_zh: a TODO is left" in line
        for line in lines
    ), lines
    assert any("featured[0].summary_zh: a TODO is left" in line for line in lines), lines
    text = path.read_text("utf-8")
    text = text.replace(TODO_TITLE_ZH, "基于模型的离线选项").replace(
        TODO_SUMMARY_ZH, "从过去的经验中发现有用的行为。"
    )
    path.write_text(text, "utf-8")
    assert run("validate", str(path)).exit_code == 0


def test_an_unmapped_arxiv_category_needs_a_choice(arxiv: ArxivServer) -> None:
    """cs.DC has no code: without a terminal, `new` names the paper and --category; no file."""
    result = run(
        "new", DATE, "--arxiv", "2209.01947,2209.01667", "--notable", "2209.01540,2209.01346"
    )
    assert result.exit_code == 1
    assert "no category for 2209.01346 (cs.DC)" in result.stderr
    assert "--category ID=CODE" in result.stderr
    assert not Path("issues").exists()


def test_the_editor_is_asked_for_an_unmapped_category(arxiv: ArxivServer, tmp_path: Path) -> None:
    """With an ``ask`` (a terminal), the paper whose category has no code is asked about once."""
    asked: list[tuple[str, list[str]]] = []

    def ask(paper: ArxivPaper, codes: Sequence[str]) -> str:
        asked.append((paper.arxiv_id, list(codes)))
        return "RO"

    draft = draft_issue(
        dt.date(2022, 9, 7), ["2209.01947", "2209.01667"], ["2209.01540", "2209.01346"],
        ArxivClient(arxiv.url), out=tmp_path / "draft" / f"{DATE}.yaml", ask=ask,
    )
    assert asked == [("2209.01346", ["AS", "CL", "CV", "LG", "RO"])]
    assert [p.category for p in draft.issue.notable] == ["CV", "RO"]


@pytest.mark.parametrize(("ids", "said"), [
    ("2209.01947,2213.00001", "arXiv says: incorrect id format for 2213.00001"),
    ("2209.01947,2209.99999", "arXiv has no paper 2209.99999"),
    ("2209.01947,2209.00404", "withdrawn on arXiv, leave it out: 2209.00404: This paper has "
                              "been withdrawn by the authors"),
])
def test_unknown_and_withdrawn_papers_stop_the_draft(
    arxiv: ArxivServer, ids: str, said: str
) -> None:
    """An ID arXiv rejects, does not know, or lists as withdrawn: a clear error, no file."""
    result = run("new", DATE, "--arxiv", ids)
    assert result.exit_code == 1
    assert said in result.stderr
    assert len(arxiv.requests) == 1
    assert not Path("issues").exists()


def test_a_malformed_id_is_refused_before_any_request(arxiv: ArxivServer) -> None:
    """Something that is not an arXiv ID is named, and arXiv is not asked at all."""
    result = run("new", DATE, "--arxiv", "2209.01947,arxiv-2209")
    assert result.exit_code == 1
    assert "not an arXiv ID: arxiv-2209" in result.stderr
    assert arxiv.requests == []


def test_an_api_failure_is_reported(arxiv: ArxivServer) -> None:
    """arXiv answering 503 is one line saying so; nothing is written."""
    arxiv.fail_with = 503
    result = run("new", DATE, "--arxiv", "2209.01947")
    assert result.exit_code == 1
    assert "the arXiv API answered HTTP 503" in result.stderr
    assert not Path("issues").exists()


def test_an_existing_issue_file_is_not_replaced(arxiv: ArxivServer) -> None:
    """A draft never overwrites an editor's file unless --force is given."""
    path = Path("issues") / f"{DATE}.yaml"
    path.parent.mkdir()
    path.write_text("editor's work\n", "utf-8")
    result = run("new", DATE, "--arxiv", "2209.01947")
    assert result.exit_code == 1 and "already exists" in result.stderr
    assert path.read_text("utf-8") == "editor's work\n"
    assert run("new", DATE, "--arxiv", "2209.01947", "--force").exit_code == 0
    assert load_issue(path).featured[0].title == "MO2: Model-Based Offline Options"


def test_requests_are_spaced_three_seconds_apart(arxiv: ArxivServer) -> None:
    """A second request waits for the rest of 3 s after the first; a later one does not wait."""
    clock = FakeClock(100.0)
    client = ArxivClient(arxiv.url, clock=clock.seconds, sleep=clock.sleep)
    client.fetch(["2209.01947"])
    assert clock.slept == []
    clock.advance(seconds=1.25)
    client.fetch(["2209.01947", "2209.01667"])
    assert clock.slept == [1.75]
    client.fetch(["2209.01947"])
    assert clock.slept == [1.75, 3.0]
    clock.advance(seconds=3.5)
    client.fetch(["2209.01947"])
    assert clock.slept == [1.75, 3.0]
    assert len(arxiv.requests) == 4


def test_a_failed_request_still_counts_for_the_spacing(arxiv: ArxivServer) -> None:
    """After arXiv refused a request, the next one still waits its 3 s."""
    clock = FakeClock(100.0)
    client = ArxivClient(arxiv.url, clock=clock.seconds, sleep=clock.sleep)
    arxiv.fail_with = 503
    with pytest.raises(ArxivError):
        client.fetch(["2209.01947"])
    arxiv.fail_with = None
    client.fetch(["2209.01947"])
    assert clock.slept == [3.0]


def test_a_paper_given_twice_is_refused_before_any_request(arxiv: ArxivServer) -> None:
    """The same paper as featured and notable (any version) is named; arXiv is not asked."""
    result = run("new", DATE, "--arxiv", "2209.01947", "--notable", "2209.01947v2")
    assert result.exit_code == 1
    assert "given more than once: 2209.01947" in result.stderr
    assert arxiv.requests == [] and not Path("issues").exists()


def test_a_date_that_is_not_one_is_a_usage_error(arxiv: ArxivServer) -> None:
    """`new 2022-13-01` says what a date looks like and exits 2 without asking arXiv."""
    result = run("new", "2022-13-01", "--arxiv", "2209.01947")
    assert result.exit_code == 2
    assert "DATE must be a date (YYYY-MM-DD), not '2022-13-01'" in result.stderr
    assert arxiv.requests == []


def test_several_ids_after_one_option_are_all_taken(arxiv: ArxivServer) -> None:
    """`--arxiv A B --notable C D` (the README's form): A, B featured and C, D notable."""
    result = run(
        "new", DATE, "--arxiv", "2209.01947", "2209.01667", "--notable", "2209.01540",
        "2209.01346", "--category", "2209.01346=LG",
    )
    assert result.exit_code == 0, result.output
    [query] = arxiv.requests
    assert query["id_list"] == ["2209.01947,2209.01667,2209.01540,2209.01346"]
    issue = load_issue(Path("issues") / f"{DATE}.yaml")
    assert [p.arxiv_id for p in issue.featured] == ["2209.01947", "2209.01667"]
    assert [p.arxiv_id for p in issue.notable] == ["2209.01540", "2209.01346"]


def test_the_date_may_follow_the_ids(arxiv: ArxivServer) -> None:
    """`new --arxiv A B DATE`: the date is not taken for an arXiv ID."""
    result = run("new", "--arxiv", "2209.01947", "2209.01667", DATE)
    assert result.exit_code == 0, result.output
    assert len(load_issue(Path("issues") / f"{DATE}.yaml").featured) == 2


def test_the_api_url_setting_must_be_http(monkeypatch: pytest.MonkeyPatch) -> None:
    """NEWSLETTER_ARXIV_API_URL that is not an http(s) URL is refused as a setting."""
    monkeypatch.setenv("NEWSLETTER_ARXIV_API_URL", "file:///etc/passwd")
    result = run("new", DATE, "--arxiv", "2209.01947")
    assert result.exit_code == 1
    assert result.stderr.startswith(
        "NEWSLETTER_ARXIV_API_URL='file:///etc/passwd': must be an absolute http:// or https:// URL"
    )
