"""The archive's HTML: the list of issues (paginated) and the browser view of one issue.

Rendered from ``templates/web/archive.html.j2`` and ``templates/web/issue.html.j2`` with
autoescaping, without a request, so ``newsletter serve`` and ``newsletter site`` produce
the same pages. Every link is built by :class:`SiteUrls` from ``NEWSLETTER_BASE_URL``,
path included.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import jinja2

from newsletter.issues.model import FeaturedPaper, Issue, Paper
from newsletter.issues.papers import anchor as paper_anchor
from newsletter.model.papers import paper_key
from newsletter.rendering.compiled import SharedCompiledTemplates
from newsletter.rendering.renderer import select_papers
from newsletter.vocabulary import CATEGORY_CODE, LANGUAGES, Language, Variant
from newsletter.web.archive import Published

LANGUAGE_LABELS: tuple[tuple[Language, str], ...] = (
    ("both", "中英双语 · Chinese and English"),
    ("zh", "中文 · Chinese"),
    ("en", "English · 英文"),
)
_CACHE_SIZE = 256
# Every site's archive pages have the same options: they share compiled templates.
_COMPILED = SharedCompiledTemplates()


def variant_from_query(params: Mapping[str, str]) -> Variant:
    """The variant asked for by ``?lang=en|zh|both&categories=LG,CV``.

    Unknown languages and malformed codes are ignored rather than refused: the link came
    from an email, and the reader should see the issue rather than an error.
    """
    lang = params.get("lang", "both")
    language: Language = lang if lang in LANGUAGES else "both"
    codes = frozenset(
        code for code in params.get("categories", "").split(",")[:50]
        if CATEGORY_CODE.fullmatch(code)
    )
    return Variant(language, codes)


@dataclass(frozen=True)
class SiteUrls:
    """Where everything in the archive lives, under ``base_url`` (which may have a path).

    ``static`` is the layout ``newsletter site`` writes: a folder per page, and a folder
    per language for an issue, since a static host cannot read ``?lang=``.
    """

    base_url: str
    static: bool = False

    @property
    def root(self) -> str:
        """The path of the base URL: ``/news`` for ``https://example.org/news``, else ``""``."""
        return urlsplit(self.base_url).path.rstrip("/")

    def absolute(self, path: str) -> str:
        """``path`` (which starts with :attr:`root`) as an absolute URL."""
        parts = urlsplit(self.base_url)
        return f"{parts.scheme}://{parts.netloc}{path}"

    def archive(self, page: int = 1) -> str:
        return f"{self.root}/archive/" if page == 1 else f"{self.root}/archive/page/{page}/"

    def issue(self, date: str, variant: Variant = Variant()) -> str:
        if not self.static:
            return f"{self.root}/issues/{date}{variant.browser_query()}"
        lang = "" if variant.language == "both" else f"{variant.language}/"
        return f"{self.root}/issues/{date}/{lang}"

    def paper(self, issue: Issue, paper: Paper) -> str:
        return f"{self.issue(issue.date.isoformat())}#{paper_anchor(paper)}"

    def paper_page(self, arxiv_id: str) -> str:
        """A paper's page (``paper_key`` form); a folder in the static layout."""
        return f"{self.root}/papers/{arxiv_id}" + ("/" if self.static else "")

    def paper_file(self, arxiv_id: str, suffix: str) -> str:
        """A paper's citation file: ``suffix`` is ``bib`` or ``ris``."""
        return f"{self.root}/papers/{arxiv_id}.{suffix}"

    def search(self) -> str:
        return f"{self.root}/search/" if self.static else f"{self.root}/search"

    def feed(self) -> str:
        return f"{self.root}/feed.xml"

    def category_feed(self, code: str) -> str:
        return f"{self.root}/feeds/{code}.xml"

    def stylesheet(self) -> str:
        return f"{self.root}/static/site.css"

    def subscribe(self) -> str:
        # Absolute: a static copy of the archive may live elsewhere than the web app.
        return f"{self.base_url}/subscribe"


class ArchivePages:
    """Renders archive pages and issue pages; each is cached per state of the archive."""

    def __init__(self, templates_dir: Path, urls: SiteUrls, name: str) -> None:
        self.urls = urls
        self.name = name
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(templates_dir),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            # Rendered pages are cached anyway, so a template edit needs a restart; without
            # this every render would stat both template files (3,000 times for a site).
            auto_reload=False,
            bytecode_cache=_COMPILED,
        )
        self.env.globals.update(
            urls=urls, root=urls.root, site_name=name, anchor=paper_anchor, paper_key=paper_key,
            subscribe_url=urls.subscribe(),
            FeaturedPaper=FeaturedPaper,
        )
        self._cache: dict[tuple[object, ...], str] = {}
        self._lock = threading.Lock()  # pages are rendered in worker threads

    def _cached(self, key: tuple[object, ...], template: str, context: dict[str, object]) -> str:
        with self._lock:
            found = self._cache.get(key)
        if found is None:
            found = self.env.get_template(template).render(context)
            with self._lock:
                if len(self._cache) >= _CACHE_SIZE:
                    self._cache.pop(next(iter(self._cache)))  # the oldest entry
                self._cache[key] = found
        return found

    def archive_page(self, published: Published, number: int) -> str | None:
        """Archive page ``number`` (from 1), newest issues first; None if there is none."""
        issues = published.page(number)
        if issues is None:
            return None
        context: dict[str, object] = {
            "page_title": "往期 Archive" if number == 1 else f"往期 Archive ({number})",
            "issues": issues,
            "number": number,
            "newer": self.urls.archive(number - 1) if number > 1 else None,
            "older": self.urls.archive(number + 1) if number < published.pages else None,
            "categories": published.categories,
        }
        return self._cached(("archive", published.key, number), "web/archive.html.j2", context)

    def issue_page(self, published: Published, issue: Issue, variant: Variant) -> str:
        """The browser view of ``issue`` for ``variant``: no personal links, no self-links."""
        key = ("issue", published.key, issue.date, variant)
        date = issue.date.isoformat()
        featured, notable = select_papers(issue, variant)
        show_zh = variant.language in ("zh", "both")
        show_en = variant.language in ("en", "both")
        has_zh = show_zh and issue.has_chinese
        complete = len(featured) + len(notable) == len(issue.papers)
        switch = [
            (label, None if language == variant.language
             else self.urls.issue(date, Variant(language, variant.categories)))
            for language, label in LANGUAGE_LABELS
        ]
        context: dict[str, object] = {
            "page_title": issue.title_en if (not has_zh and issue.title_en) else issue.title,
            "page_lang": "zh-CN" if has_zh else "en",
            "issue": issue,
            "variant": variant,
            "featured": featured,
            "notable": notable,
            "show_zh": show_zh,
            "show_en": show_en,
            "summary": issue.summary if (issue.summary and has_zh and complete) else None,
            "legend": [(code, name.label("en" if not has_zh else variant.language))
                       for code, name in issue.categories.items() if variant.wants(code)],
            "footers": issue.footers(variant.language),
            "switch": switch,
            # Static pages cannot filter: the whole issue is shown there.
            "filtered": sorted(variant.categories) if variant.categories else None,
            "everything": self.urls.issue(date, Variant(variant.language)),
        }
        return self._cached(key, "web/issue.html.j2", context)
