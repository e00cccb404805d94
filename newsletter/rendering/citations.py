"""A paper's citation: BibTeX, RIS, the ``citation_*`` meta tags and schema.org JSON-LD.

Everything is made from a :class:`PaperRecord`; the month of submission comes from the
arXiv identifier itself (``2209.01947``: September 2022; ``hep-th/9901001``: January 1999),
the DOI is the one arXiv registers for every paper (``10.48550/arXiv.ID``). LaTeX
specials and non-ASCII letters in BibTeX are written as LaTeX (pylatexenc), so the entry
works with classic BibTeX as well as with biber; RIS is UTF-8 text written by rispy.
"""

from __future__ import annotations

import re
import unicodedata

import rispy
from pylatexenc.latexencode import (
    RULE_REGEX,
    UnicodeToLatexConversionRule,
    UnicodeToLatexEncoder,
)

from newsletter.model.papers import PaperRecord

_LATEX = UnicodeToLatexEncoder(
    # ``~`` and ``^`` as text commands, not as a space and a superscript.
    conversion_rules=[
        UnicodeToLatexConversionRule(RULE_REGEX, [
            (re.compile(r"~"), r"\\textasciitilde{}"), (re.compile(r"\^"), r"\\textasciicircum{}"),
        ]),
        "defaults",
    ],
    non_ascii_only=False,
    replacement_latex_protection="braces-all",
    unknown_char_policy="keep",
    unknown_char_warning=False,
)


class _RisWriter(rispy.RisWriter):  # type: ignore[misc]
    """rispy's writer without its "1." line before a record, which is not RIS."""

    def set_header(self, count: int) -> None:
        return None


_SPACES = re.compile(r"\s+")
_KEY_PART = re.compile(r"[^a-z0-9]+")


def latex(text: str) -> str:
    """``text`` as LaTeX: specials escaped, accented letters as accent commands."""
    return str(_LATEX.unicode_to_latex(_SPACES.sub(" ", text).strip()))


def submitted(arxiv_id: str) -> tuple[int, int]:
    """The year and month arXiv gave ``arxiv_id``, from the identifier's ``YYMM``."""
    digits = arxiv_id.rsplit("/", 1)[-1]
    year, month = int(digits[:2]), int(digits[2:4])
    old_style = "/" in arxiv_id
    return (1900 + year if old_style and year >= 91 else 2000 + year), month


def doi(record: PaperRecord) -> str:
    return f"10.48550/arXiv.{record.arxiv_id}"


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()


def cite_key(record: PaperRecord) -> str:
    """``fedus2022review``: the first author's last name, the year, the first long word."""
    year, _ = submitted(record.arxiv_id)
    last = _KEY_PART.sub("", _ascii(record.authors[0].split()[-1])) if record.authors else ""
    words = [w for w in _KEY_PART.split(_ascii(record.title)) if len(w) > 3]
    return f"{last or 'arxiv'}{year}{words[0] if words else ''}"


def _bib_author(name: str) -> str:
    # A name BibTeX would split ("and" inside, a comma) is kept whole in braces.
    text = latex(name)
    return "{" + text + "}" if re.search(r"\band\b|,", name) else text


def bibtex(record: PaperRecord) -> str:
    """The paper's BibTeX entry (``@misc``, as arXiv's own export gives a preprint)."""
    year, month = submitted(record.arxiv_id)
    authors = [_bib_author(name) for name in record.authors]
    if record.authors_truncated:
        authors.append("others")
    fields = [
        ("title", "{" + latex(record.title) + "}"),
        ("author", " and ".join(authors)),
        ("year", str(year)),
        ("month", str(month)),
        ("eprint", record.arxiv_id),
        ("archivePrefix", "arXiv"),
        ("doi", doi(record)),
        ("url", record.abs_url),
    ]
    body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields)
    return f"@misc{{{cite_key(record)},\n{body}\n}}\n"


def ris(record: PaperRecord) -> str:
    """The paper's RIS record (type UNPB, an unpublished work: a preprint)."""
    year, month = submitted(record.arxiv_id)
    # RIS wants "Last, First"; our names are "First Last" (or one word).
    authors = [", ".join(reversed(name.rsplit(" ", 1))) for name in record.authors]
    authors += ["et al."] if record.authors_truncated else []
    entry: dict[str, object] = {
        "type_of_reference": "UNPB",
        "title": _SPACES.sub(" ", record.title),
        "authors": authors,
        "year": str(year),
        "date": f"{year}/{month:02d}//",
        "doi": doi(record),
        "urls": [record.abs_url],
        "file_attachments1": record.pdf_url,
        "publisher": "arXiv",
        "notes": [f"arXiv:{record.arxiv_id}"],
    }
    if record.abstract:
        entry["abstract"] = _SPACES.sub(" ", record.abstract)
    return str(_RisWriter(enforce_list_tags=True).formats([entry]))


def meta_tags(record: PaperRecord) -> list[tuple[str, str]]:
    """The Highwire Press ``citation_*`` tags reference managers' connectors read."""
    year, month = submitted(record.arxiv_id)
    tags = [("citation_title", record.title)]
    tags += [("citation_author", name) for name in record.authors]
    tags += [
        ("citation_publication_date", f"{year}/{month:02d}"),
        ("citation_date", f"{year}/{month:02d}"),
        ("citation_arxiv_id", record.arxiv_id),
        ("citation_doi", doi(record)),
        ("citation_pdf_url", record.pdf_url),
        ("citation_abstract_html_url", record.abs_url),
    ]
    if record.abstract:
        tags.append(("citation_abstract", _SPACES.sub(" ", record.abstract)))
    return tags


def json_ld(record: PaperRecord, page_url: str) -> dict[str, object]:
    """schema.org ``ScholarlyArticle`` for the paper page at ``page_url``."""
    year, month = submitted(record.arxiv_id)
    data: dict[str, object] = {
        "@context": "https://schema.org",
        "@type": "ScholarlyArticle",
        "name": record.title,
        "headline": record.title[:110],
        "author": [{"@type": "Person", "name": name} for name in record.authors],
        "datePublished": f"{year}-{month:02d}",
        "identifier": [
            {"@type": "PropertyValue", "propertyID": "arXiv", "value": record.arxiv_id},
            {"@type": "PropertyValue", "propertyID": "DOI", "value": doi(record)},
        ],
        "url": page_url,
        "sameAs": [record.abs_url, f"https://doi.org/{doi(record)}"],
        "encoding": [
            {"@type": "MediaObject", "encodingFormat": "application/pdf",
             "contentUrl": record.pdf_url},
            {"@type": "MediaObject", "encodingFormat": "text/html",
             "contentUrl": record.html_url},
        ],
        "isAccessibleForFree": True,
        "inLanguage": "en",
    }
    if record.title_zh:
        data["alternateName"] = record.title_zh
    if record.abstract:
        data["abstract"] = record.abstract
    if record.affiliations:
        data["sourceOrganization"] = [{"@type": "Organization", "name": name}
                                      for name in record.affiliations]
    return data
