"""The paper pages of ``newsletter site``: a page, ``.bib`` and ``.ris`` per paper, and
search from a prebuilt index.

    papers/<ID>/index.html, papers/<ID>.bib, papers/<ID>.ris
    search/index.html, search/papers.json   (static/search.js searches it in the browser)

The papers are merged from the published issues in memory, as the database's index
merges them (``issues.papers``), so the static site needs no paper index of its own.
"""

from __future__ import annotations

from collections.abc import Callable

from newsletter.issues.papers import paper_records
from newsletter.rendering.citations import bibtex, ris
from newsletter.web.archive import Published
from newsletter.web.archive_pages import ArchivePages
from newsletter.web.paper_pages import PaperPages, SearchForm, search_index


def write_papers(write: Callable[[str, str | bytes], None], published: Published,
                 archive: ArchivePages) -> int:
    """Write every paper's files and the search page through ``write`` (relative path,
    content); returns how many papers there are."""
    records = paper_records(published.issues)
    pages = PaperPages(archive)
    for key, record in records.items():
        write(f"papers/{key}/index.html", pages.paper_page(published, record))
        write(f"papers/{key}.bib", bibtex(record))
        write(f"papers/{key}.ris", ris(record))
    codes = sorted({r.category for r in records.values()})
    years = sorted({r.first_date.year for r in records.values()}, reverse=True)
    write("search/index.html", pages.search_page(SearchForm(), None, (codes, years),
                                                 static=True))
    write("search/papers.json", search_index(records.values()))
    return len(records)
