"""The issue model: pydantic types for one day's newsletter and its papers.

``newsletter.issues.loader`` reads issue files into it.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from newsletter.cjk import CJK_TEXT_RE
from newsletter.issues.files import is_date
from newsletter.issues.limits import shown
from newsletter.vocabulary import CATEGORY_CODE_PATTERN

# C0 controls except tab and newline, DEL, and C1 controls. Carriage returns are
# normalised to newlines before this check.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# What XML (the feeds, the pages) cannot carry beyond those: lone surrogates and the
# noncharacters U+FFFE and U+FFFF. A YAML escape ("\uFFFE") can put them in a value.
_NOT_XML = re.compile(r"[\ud800-\udfff\ufffe\uffff]")
_NEW_ID = r"\d{4}\.\d{4,5}(?:v\d+)?"
_OLD_ID = r"[a-z][a-z\-]*(?:\.[A-Z]{2})?/\d{7}(?:v\d+)?"
_ARXIV = re.compile(
    rf"^(?:https?://)?(?:www\.|export\.)?arxiv\.org/(?:abs|pdf)/(?P<id>{_NEW_ID}|{_OLD_ID})"
    r"(?:\.pdf)?/?$"
)
_VERSION = re.compile(r"v\d+$")


def _clean_text(value: Any) -> Any:
    """Normalise newlines and refuse control characters; other types pass to pydantic."""
    if not isinstance(value, str):
        return value
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    bad = _CONTROL.search(value)
    if bad:
        raise ValueError(
            f"contains the control character U+{ord(bad.group()):04X}; remove it"
        )
    bad = _NOT_XML.search(value)
    if bad:
        raise ValueError(
            f"contains U+{ord(bad.group()):04X}, which is no character (feeds and pages "
            "cannot carry it); remove it"
        )
    return unicodedata.normalize("NFC", value).strip()


def _single_line(value: str) -> str:
    if "\n" in value:
        raise ValueError("must be a single line; join the lines")
    return value


def arxiv_id(url: str) -> str:
    """The identifier in a canonical arXiv link, without its version."""
    return _VERSION.sub("", url.rsplit("/abs/", 1)[-1])


def arxiv_abs_url(value: str) -> str:
    """Return the canonical ``https://arxiv.org/abs/ID`` form of an arXiv link, or raise."""
    match = _ARXIV.match(value.strip())
    if not match:
        raise ValueError(
            f"not an arXiv abstract link: {shown(value)}; write https://arxiv.org/abs/ID"
        )
    return f"https://arxiv.org/abs/{match.group('id')}"


Text = Annotated[str, BeforeValidator(_clean_text)]
Line = Annotated[str, BeforeValidator(_clean_text), AfterValidator(_single_line)]
ShortLine = Annotated[Line, Field(min_length=1, max_length=300)]
Paragraph = Annotated[Text, Field(min_length=1, max_length=6000)]
ArxivUrl = Annotated[str, BeforeValidator(_clean_text), AfterValidator(arxiv_abs_url)]
CategoryCode = Annotated[Line, Field(pattern=f"^{CATEGORY_CODE_PATTERN}$")]
Names = Annotated[list[Annotated[Line, Field(min_length=1, max_length=200)]], Field(max_length=100)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class CategoryName(_Model):
    """A category's display name, in either or both languages."""

    en: ShortLine | None = None
    zh: ShortLine | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, data: Any) -> Any:
        # A bare string is the common case: Chinese if it contains CJK, else English.
        if isinstance(data, str):
            return {"zh": data} if CJK_TEXT_RE.search(data) else {"en": data}
        return data

    @model_validator(mode="after")
    def _one_language(self) -> CategoryName:
        if not self.en and not self.zh:
            raise ValueError("give the name in en, zh or both")
        return self

    def label(self, language: str) -> str:
        """The name in ``language`` (zh, en or both), falling back to the other one."""
        if language == "en":
            return self.en or self.zh or ""
        if language == "zh":
            return self.zh or self.en or ""
        return " / ".join(n for n in (self.zh, self.en) if n)


class Paper(_Model):
    """What featured and notable papers share."""

    category: CategoryCode
    title: ShortLine
    title_zh: ShortLine | None = None
    authors: Annotated[Names, Field(min_length=1)]
    authors_truncated: bool = False
    affiliations: Names = []
    url: ArxivUrl

    @property
    def arxiv_id(self) -> str:
        """The arXiv identifier without its version: ``2209.01947``, ``solv-int/9901001``."""
        return arxiv_id(self.url)

    def author_line(self) -> str:
        """Authors joined by commas, ending in an ellipsis when the list was cut short."""
        line = ", ".join(self.authors)
        return line + ", et al." if self.authors_truncated else line


class FeaturedPaper(Paper):
    """A numbered paper with a Chinese summary and the English abstract."""

    summary_zh: Paragraph | None = None
    abstract: Paragraph


class NotablePaper(Paper):
    """One of the "other notable papers": titles, authors, affiliations and a link."""


class Issue(_Model):
    """One day's newsletter."""

    date: dt.date
    title: ShortLine
    title_en: ShortLine | None = None
    attribution: ShortLine | None = None
    categories: Annotated[dict[CategoryCode, CategoryName], Field(min_length=1, max_length=50)]
    summary: Annotated[Text, Field(max_length=2000)] | None = None
    summary_en: Annotated[Text, Field(max_length=2000)] | None = None
    featured: Annotated[list[FeaturedPaper], Field(min_length=1, max_length=200)]
    notable: Annotated[list[NotablePaper], Field(max_length=200)] = []
    footer: Annotated[Text, Field(max_length=2000)] | None = None
    footer_en: Annotated[Text, Field(max_length=2000)] | None = None

    @field_validator("date", mode="before")
    @classmethod
    def _date(cls, value: Any) -> Any:
        # Only a date, or its YYYY-MM-DD text: pydantic would also take a number of
        # seconds, and say "input should be a valid date" about the rest.
        if isinstance(value, dt.datetime):
            raise ValueError("must be a date (YYYY-MM-DD), not a date and time")
        if isinstance(value, dt.date):
            return value
        if value is None:
            raise ValueError("is empty; write the date as YYYY-MM-DD")
        if isinstance(value, str) and is_date(value.strip()):
            return value.strip()
        raise ValueError(f"{shown(value)} is not a date; write the date as YYYY-MM-DD")

    @property
    def papers(self) -> list[Paper]:
        return [*self.featured, *self.notable]

    @property
    def has_chinese(self) -> bool:
        return any(p.title_zh for p in self.papers) or any(
            isinstance(p, FeaturedPaper) and p.summary_zh for p in self.papers
        )

    def footers(self, language: str) -> list[str]:
        """The footer notices readers of ``language`` get (zh, en or both).

        English readers get ``footer_en`` when there is one, Chinese readers ``footer``,
        bilingual readers both; either falls back to the other.
        """
        if language == "both":
            chosen = [self.footer, self.footer_en]
        elif language == "en":
            chosen = [self.footer_en or self.footer]
        else:
            chosen = [self.footer or self.footer_en]
        return [text for text in chosen if text]
