"""Issue files: pydantic models and ``load_issue(path)``.

An issue file is YAML (``issues/YYYY-MM-DD.yaml``). Every validation problem is reported
with the file, the line, the field path and what is wrong, all at once.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Collection, Iterable
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from newsletter.errors import IssueProblem, IssueValidationError
from newsletter.issues.yaml_source import (
    RAW_CONTROL,
    LineIndex,
    Loc,
    compose,
    dotted,
    explained,
    raw_controls,
    yaml_problem,
)

# C0 controls except tab and newline, DEL, and C1 controls. Carriage returns are
# normalised to newlines before this check.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_NEW_ID = r"\d{4}\.\d{4,5}(?:v\d+)?"
_OLD_ID = r"[a-z][a-z\-]*(?:\.[A-Z]{2})?/\d{7}(?:v\d+)?"
_ARXIV = re.compile(
    rf"^(?:https?://)?(?:www\.|export\.)?arxiv\.org/(?:abs|pdf)/(?P<id>{_NEW_ID}|{_OLD_ID})"
    r"(?:\.pdf)?/?$"
)
_VERSION = re.compile(r"v\d+$")
_CJK = re.compile(r"[\u3000-\u9fff\uf900-\ufaff\uff00-\uffef]")


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
            f"not an arXiv abstract link: {value!r}; write https://arxiv.org/abs/ID"
        )
    return f"https://arxiv.org/abs/{match.group('id')}"


Text = Annotated[str, BeforeValidator(_clean_text)]
Line = Annotated[str, BeforeValidator(_clean_text), AfterValidator(_single_line)]
ShortLine = Annotated[Line, Field(min_length=1, max_length=300)]
Paragraph = Annotated[Text, Field(min_length=1, max_length=6000)]
ArxivUrl = Annotated[str, BeforeValidator(_clean_text), AfterValidator(arxiv_abs_url)]
CategoryCode = Annotated[Line, Field(pattern=r"^[A-Z]{2,5}$")]
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
            return {"zh": data} if _CJK.search(data) else {"en": data}
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
        if isinstance(value, dt.datetime):
            raise ValueError("must be a date (YYYY-MM-DD), not a date and time")
        return value

    @property
    def papers(self) -> list[Paper]:
        return [*self.featured, *self.notable]

    @property
    def has_chinese(self) -> bool:
        return any(p.title_zh for p in self.papers) or any(
            isinstance(p, FeaturedPaper) and p.summary_zh for p in self.papers
        )


# A paper as the cross-field checks see it: where it is, its category code and its
# canonical link, each None when unknown (the model refused it or it is missing).
_PaperRef = tuple[Loc, str | None, str | None]
_SECTIONS = ("featured", "notable")


def _cross_checks(
    legend: Collection[str] | None, papers: Iterable[_PaperRef]
) -> list[tuple[Loc, str]]:
    """Checks across fields: (location, message) for every problem.

    ``legend`` None means the category legend is itself broken, so a paper's code is
    not compared with it: that mismatch would only repeat the legend's own problem.
    """
    problems: list[tuple[Loc, str]] = []
    seen: dict[str, Loc] = {}
    for loc, category, url in papers:
        if legend is not None and category is not None and category not in legend:
            known = ", ".join(sorted(legend))
            problems.append(
                ((*loc, "category"),
                 f"{category!r} is not in the category legend ({known}); "
                 "add it under categories or fix the code")
            )
        if url is None:
            continue
        key = arxiv_id(url)
        if key in seen:
            problems.append(
                ((*loc, "url"),
                 f"{url} is already in this issue at {dotted(seen[key])}; remove one of them")
            )
        else:
            seen[key] = loc
    return problems


def _model_refs(issue: Issue) -> list[_PaperRef]:
    return [
        ((section, index), paper.category, paper.url)
        for section in _SECTIONS
        for index, paper in enumerate(getattr(issue, section))
    ]


_AS_DATE: TypeAdapter[dt.date] = TypeAdapter(dt.date)
_AS_CATEGORY: TypeAdapter[str] = TypeAdapter(CategoryCode)
_AS_URL: TypeAdapter[str] = TypeAdapter(ArxivUrl)


def _valid(adapter: TypeAdapter[Any], data: Any, loc: Loc, failed: set[Loc]) -> Any:
    """The value at ``loc`` as the model reads it, or None when it is missing or refused."""
    if loc in failed:
        return None
    for part in loc:
        if isinstance(part, int):
            if not isinstance(data, list) or part >= len(data):
                return None
        elif not isinstance(data, dict) or part not in data:
            return None
        data = data[part]
    try:
        return adapter.validate_python(data)
    except ValidationError:
        return None


def _raw_refs(data: dict[str, Any], failed: set[Loc]) -> list[_PaperRef]:
    """Best-effort papers from data the model refused; refused fields become None."""
    refs: list[_PaperRef] = []
    for section in _SECTIONS:
        papers = data.get(section)
        if not isinstance(papers, list):
            continue
        for index in range(len(papers)):
            loc = (section, index)
            refs.append((
                loc,
                _valid(_AS_CATEGORY, data, (*loc, "category"), failed),
                _valid(_AS_URL, data, (*loc, "url"), failed),
            ))
    return refs


def _raw_legend(data: dict[str, Any], failed: set[Loc]) -> set[str] | None:
    """The legend's codes, or None when any part of the legend was refused."""
    legend = data.get("categories")
    if not isinstance(legend, dict) or any(loc[:1] == ("categories",) for loc in failed):
        return None
    return {_AS_CATEGORY.validate_python(code) for code in legend}


def _friendly(error: Any, loc: Loc) -> str:
    kind, msg = error["type"], error["msg"]
    ctx = error.get("ctx") or {}
    if kind == "missing":
        return "is required; add it"
    if kind == "extra_forbidden":
        return "is not a known field; check the spelling or remove it"
    if msg.startswith("Value error, "):
        return str(msg[len("Value error, "):])
    if kind == "string_too_long" or (kind == "too_long" and isinstance(error["input"], str)):
        # A length limit after our own validators is reported as "too_long", not "string_...".
        return f"is too long (at most {ctx['max_length']} characters); shorten it"
    if kind in ("string_too_short", "too_short") and ctx.get("min_length") == 1:
        return "must not be empty"
    if kind == "too_long":
        return (
            f"has {ctx['actual_length']} entries, at most {ctx['max_length']} are allowed; "
            "remove some"
        )
    in_legend = len(loc) == 2 and loc[0] == "categories"
    if kind == "string_pattern_mismatch" and (in_legend or loc[-1:] == ("category",)):
        return f"{error['input']!r} is not a category code (2-5 capital letters, e.g. LG)"
    return f"{msg[0].lower()}{msg[1:]} (got {error['input']!r})"


def _clean_loc(loc: Loc) -> Loc:
    """Drop pydantic's validator and dict-key markers, leaving the path in the file."""
    return tuple(
        p for p in loc if not (isinstance(p, str) and (p.startswith("function") or p == "[key]"))
    )


def _date_problem(date: dt.date, path: str, index: LineIndex) -> list[IssueProblem]:
    expected = f"{date.isoformat()}.yaml"
    if not path.endswith(".yaml") or Path(path).name == expected:
        return []
    return [IssueProblem(path, index.line(("date",)), "date",
                         f"{date.isoformat()} does not match the file name; "
                         f"name the file {expected} or fix the date")]


def _refused(
    err: ValidationError, data: dict[str, Any], path: str, index: LineIndex
) -> list[IssueProblem]:
    """The model's own problems, then the cross-field checks run best-effort on the raw data.

    A field the model refused is left out of the cross checks, so no mistake is
    reported twice (an invalid code is not also called unknown).
    """
    problems, failed = [], set()
    for e in err.errors():
        loc = _clean_loc(tuple(e["loc"]))
        failed.add(loc)
        problems.append(IssueProblem(path, index.line(loc), dotted(loc), _friendly(e, loc)))
    problems += [
        IssueProblem(path, index.line(loc), dotted(loc), msg)
        for loc, msg in _cross_checks(_raw_legend(data, failed), _raw_refs(data, failed))
    ]
    date = _valid(_AS_DATE, data, ("date",), failed)
    return problems + (_date_problem(date, path, index) if date is not None else [])


def parse_issue(text: str, path: str = "<string>") -> Issue:
    """Parse and validate issue YAML; raise :class:`IssueValidationError` with every problem.

    Problems are sorted by line. A syntax error stops before validation, since nothing
    after it can be located reliably. Control characters typed into the file are
    reported with the field they fall in, and validation goes on with them read as
    spaces, unless that still does not parse: then they are all that is reported.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    controls = raw_controls(text)
    try:
        # Spaces keep every line and column where it was.
        root, data = compose(RAW_CONTROL.sub(" ", text) if controls else text)
    except yaml.YAMLError as err:
        if controls:
            raise IssueValidationError(
                [IssueProblem(path, line, "", msg) for line, _, msg in controls]
            ) from None
        raise IssueValidationError([yaml_problem(explained(text, err), path)]) from err
    index = LineIndex(root)
    problems = [
        IssueProblem(path, line, dotted(index.field_at(line, column)), msg)
        for line, column, msg in controls
    ]
    problems += [
        IssueProblem(path, line, dotted(loc),
                     f"is given twice (first on line {first}); keep one of them")
        for loc, line, first in index.duplicates
    ]
    if not isinstance(data, dict):
        problems.append(
            IssueProblem(path, 1, "", "an issue file must be a YAML mapping (date:, title:, ...)")
        )
        raise IssueValidationError(sorted(problems, key=lambda p: p.line))
    try:
        issue = Issue.model_validate(data)
    except ValidationError as err:
        problems += _refused(err, data, path, index)
        raise IssueValidationError(sorted(problems, key=lambda p: p.line)) from None
    problems += [
        IssueProblem(path, index.line(loc), dotted(loc), msg)
        for loc, msg in _cross_checks(issue.categories, _model_refs(issue))
    ]
    problems += _date_problem(issue.date, path, index)
    if problems:
        raise IssueValidationError(sorted(problems, key=lambda p: p.line))
    return issue


def load_issue(path: str | Path) -> Issue:
    """Read and validate one issue file; raise :class:`IssueValidationError` on any problem."""
    shown = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as err:
        raise IssueValidationError(
            [IssueProblem(shown, 0, "", f"cannot read the file: {err.strerror}")]
        ) from err
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise IssueValidationError(
            [IssueProblem(shown, line, "", "is not UTF-8 text; save the file as UTF-8")]
        ) from err
    return parse_issue(text, shown)
