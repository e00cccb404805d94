"""`newsletter site` writes a page, .bib and .ris per paper, and an offline search index."""

from __future__ import annotations

import json
import os
from pathlib import Path

import bibtexparser
import pytest
import rispy
from support.archive import campaign, write_issue
from support.env import SAMPLE_ISSUE
from typer.testing import CliRunner

from newsletter.cli.main import app
from newsletter.issues.loader import load_issue


def test_site_writes_every_paper_and_the_search_index(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Each paper of a published issue has a page, a parseable .bib and .ris, and a row
    in search/papers.json; papers of unpublished issues have none."""
    issues = tmp_path / "issues"
    monkeypatch.setenv("NEWSLETTER_ISSUES_DIR", str(issues))
    monkeypatch.setenv("NEWSLETTER_BASE_URL", "https://example.org/news")
    write_issue(issues, "2022-09-07")
    campaign(os.environ["NEWSLETTER_DATABASE_URL"], "2022-09-07", "done")
    (issues / "2022-09-08.yaml").write_text(SAMPLE_ISSUE.read_text("utf-8").replace(
        "2022-09-07", "2022-09-08").replace("2209.01947", "2209.05555"), "utf-8")
    out = tmp_path / "site"
    result = CliRunner().invoke(app, ["site", "--out", str(out)])
    assert result.exit_code == 0, result.output
    ids = sorted(p.arxiv_id for p in load_issue(SAMPLE_ISSUE).papers)
    for key in ids:
        page = (out / "papers" / key / "index.html").read_text("utf-8")
        assert '<meta name="citation_arxiv_id" content="' + key + '">' in page
        assert "/news/issues/2022-09-07/#arxiv-" + key in page
        [entry] = bibtexparser.parse_string((out / "papers" / f"{key}.bib").read_text()).entries
        assert entry["eprint"] == key
        [record] = rispy.loads((out / "papers" / f"{key}.ris").read_text("utf-8"))
        assert record["urls"] == [f"https://arxiv.org/abs/{key}"]
    assert not (out / "papers" / "2209.05555").exists()
    index = json.loads((out / "search" / "papers.json").read_text("utf-8"))
    assert sorted(row[0] for row in index["papers"]) == ids
    assert index["dates"] == ["2022-09-07"]
    search = (out / "search" / "index.html").read_text("utf-8")
    assert 'src="/news/static/search.js"' in search
    assert 'data-index="/news/search/papers.json"' in search
    assert (out / "static" / "search.js").is_file()
