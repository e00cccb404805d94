"""A paper's BibTeX and RIS: LaTeX specials and non-ASCII names survive a round trip
through bibtexparser (with its LaTeX decoding) and rispy."""

from __future__ import annotations

import datetime as dt

import bibtexparser
import pytest
import rispy
from bibtexparser.middlewares import LatexDecodingMiddleware, SeparateCoAuthors
from pylatexenc.latex2text import LatexNodes2Text

from newsletter.model.papers import Appearance, PaperRecord
from newsletter.rendering.citations import bibtex, cite_key, json_ld, meta_tags, ris, submitted

TITLE = r"Ünïcode & 50% of $x_1$ {braces} #tags ~tilde ^caret back\slash"
AUTHORS = ("Jürgen Müller", "Søren Ørsted", "Łukasz Żółć", "José Ñúñez",
           "Research and Development Lab", "Zhang, San")


def record(arxiv_id: str = "2209.01947", truncated: bool = True) -> PaperRecord:
    return PaperRecord(
        arxiv_id=arxiv_id, category="LG", title=TITLE, title_zh="中文标题",
        authors=AUTHORS, authors_truncated=truncated, affiliations=("ETH Zürich",),
        abstract="An abstract\nover two lines.", summary_zh="摘要",
        appearances=(Appearance(dt.date(2022, 9, 7), "featured", 0, "arxiv-2209.01947"),),
    )


def test_bibtex_round_trips_specials_and_names() -> None:
    """Decoded by bibtexparser's LaTeX middleware, the title and every author come back as
    written; the entry has no failed block and the arXiv fields."""
    text = bibtex(record())
    assert text.isascii()  # non-ASCII letters are LaTeX commands, for classic BibTeX too
    library = bibtexparser.parse_string(
        text, append_middleware=[SeparateCoAuthors(), LatexDecodingMiddleware()])
    assert not library.failed_blocks
    [entry] = library.entries
    # The decoder reads \textasciicircum (LaTeX's "^") as U+02C6, the modifier letter.
    assert entry["title"] == TITLE.replace("^", "\u02c6")
    # Split as BibTeX does (not inside braces), then each name decoded from LaTeX.
    decode = LatexNodes2Text().latex_to_text
    assert [decode(name) for name in entry["author"]] == [*AUTHORS, "others"]
    assert (entry["eprint"], entry["archivePrefix"], entry["year"], entry["month"]) == (
        "2209.01947", "arXiv", "2022", "9")
    assert entry["doi"] == "10.48550/arXiv.2209.01947"
    assert entry.key == "muller2022unicode"


@pytest.mark.parametrize(("arxiv_id", "year", "month"), [
    ("2209.01947", 2022, 9), ("0704.0001", 2007, 4), ("hep-th/9901001", 1999, 1),
    ("math/0601001", 2006, 1),
])
def test_the_date_comes_from_the_identifier(arxiv_id: str, year: int, month: int) -> None:
    """New- and old-style identifiers give the year and month arXiv assigned."""
    assert submitted(arxiv_id) == (year, month)


def test_ris_round_trips() -> None:
    """rispy reads the RIS back: type, title, authors as "Last, First", links, DOI."""
    [entry] = rispy.loads(ris(record("hep-th/9901001")))
    assert entry["type_of_reference"] == "UNPB"
    assert entry["title"] == TITLE
    assert entry["authors"][:2] == ["Müller, Jürgen", "Ørsted, Søren"]
    assert entry["authors"][-1] == "et al."
    assert entry["urls"] == ["https://arxiv.org/abs/hep-th/9901001"]
    assert entry["file_attachments1"] == "https://arxiv.org/pdf/hep-th/9901001"
    assert entry["abstract"] == "An abstract over two lines."
    assert entry["year"] == "1999"


def test_meta_tags_and_json_ld() -> None:
    """The citation_* tags and the JSON-LD name the paper, its authors and links."""
    tags = meta_tags(record())
    assert [v for k, v in tags if k == "citation_author"] == list(AUTHORS)
    assert ("citation_pdf_url", "https://arxiv.org/pdf/2209.01947") in tags
    data = json_ld(record(), "https://news.example.org/papers/2209.01947")
    assert data["@type"] == "ScholarlyArticle" and data["alternateName"] == "中文标题"
    assert cite_key(record()) == "muller2022unicode"
