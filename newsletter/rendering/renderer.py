"""Issue (+ variant) -> RenderedIssue(subject, preheader, html, text).

Jinja2 templates produce MJML, mjml-python compiles it, ``inline.StyleInliner`` inlines
our own CSS.
The plaintext part has its own template. Rendering happens once per distinct variant,
never per recipient: per-recipient links are placeholders filled by ``message.py``.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import jinja2
import mjml
from markupsafe import Markup

from newsletter.cjk import CJK_TEXT_RE
from newsletter.errors import RenderError
from newsletter.issues.model import FeaturedPaper, Issue, NotablePaper
from newsletter.issues.papers import anchor as paper_anchor
from newsletter.rendering.cjk_wrap import wrap_items, wrap_list, wrap_text
from newsletter.rendering.compiled import SharedCompiledTemplates
from newsletter.rendering.filters import is_cut, keep_dates, shorten
from newsletter.rendering.for_you import FOR_YOU_SLOT, take_for_you_slot
from newsletter.rendering.inline import Inliner, inliner_for
from newsletter.rendering.links import (
    Links,
    arxiv_html_url,
    arxiv_pdf_url,
    paper_page_url,
)
from newsletter.rendering.templates import templates_dir
from newsletter.rendering.wording import DEFAULT_TITLE_EN, label_html, label_text
from newsletter.vocabulary import Language, Variant

DEFAULT_TEMPLATES = templates_dir()
# Every renderer's environment has the same options: they share compiled templates.
_COMPILED = SharedCompiledTemplates()
FONT_STACK = (
    "-apple-system, BlinkMacSystemFont, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, "
    "'PingFang SC', 'Hiragino Sans GB', 'Microsoft YaHei', 'Noto Sans CJK SC', "
    "'Noto Sans SC', sans-serif"
)
# Outlook for Windows uses the first font it has; these ship with Windows.
MSO_FONT_STACK = "'Segoe UI', 'Microsoft YaHei', Arial, sans-serif"
# After the preheader: joiners and no-break spaces fill the rest of the inbox preview, so
# that it does not run on into the first lines of the body.
PREHEADER_PADDING = Markup("&#847;&zwnj;&nbsp; ") * 80
PREHEADER_CHARS = 140
# Abstract lengths tried, longest first, when an issue is too big for Gmail.
_SHORTEN_STEPS = (1200, 900, 700, 500, 350, 250, 160, 100, 60)
_DOCTYPE = "<!doctype html>"


def sent_bytes(part: str) -> int:
    """How many bytes ``part`` is in the message as sent: UTF-8 with CRLF line ends, ending
    in one (as ``mail.message`` writes every text part), before transfer encoding."""
    part = part.replace("\r\n", "\n")
    if not part.endswith("\n"):
        part += "\n"
    return len(part.encode("utf-8")) + part.count("\n")


@dataclass(frozen=True)
class RenderedIssue:
    """One variant of one issue, ready to become messages."""

    variant: Variant
    subject: str
    preheader: str
    html: str
    text: str
    paper_count: int
    shortened_to: int | None = None
    # The HTML's size before abstracts were cut to fit (0: nothing was cut).
    uncut_bytes: int = 0
    # Issue 21: where each reader's "For you" block goes, as character offsets into
    # ``html`` and ``text`` (None: the templates have no place for it).
    for_you_at: tuple[int, int] | None = None

    @property
    def html_bytes(self) -> int:
        """The HTML part's size as sent (CRLF line ends): what Gmail's clipping counts."""
        return sent_bytes(self.html)

    @property
    def uncut_html_bytes(self) -> int:
        """How big the HTML is with whole abstracts (what preflight compares with Gmail's)."""
        return self.uncut_bytes or self.html_bytes


def select_papers(issue: Issue, variant: Variant) -> tuple[list[FeaturedPaper], list[NotablePaper]]:
    """The featured and notable papers a variant receives, in issue order; with a paper
    limit (issue 21) the first ``max_papers`` of them, featured first."""
    featured = [p for p in issue.featured if variant.wants(p.category)]
    notable = [p for p in issue.notable if variant.wants(p.category)]
    if variant.max_papers:
        featured = featured[: variant.max_papers]
        notable = notable[: variant.max_papers - len(featured)]
    return featured, notable


def _footers(issue: Issue, language: Language) -> list[tuple[str, str]]:
    """The footer notices a variant shows, each with its ``lang`` (a fallback keeps its own).

    English readers never get a Chinese notice: without ``footer_en`` they get none
    (``newsletter check`` warns about it).
    """
    footers = issue.footers(language)
    if language == "en":
        footers = [text for text in footers if not CJK_TEXT_RE.search(text)]
    return [(text, "zh-CN" if CJK_TEXT_RE.search(text) else "en") for text in footers]


def _summaries(issue: Issue, ui: Language, complete: bool) -> list[tuple[str, str]]:
    """The issue summaries a variant shows, each with its ``lang``, like :func:`_footers`.

    The summary describes the whole issue; a reader who chose some categories would be
    promised papers that are not in their email, so it is shown only to readers who
    receive every paper.
    """
    if not complete:
        return []
    if ui == "both":
        chosen = [issue.summary, issue.summary_en]
    elif ui == "en":
        chosen = [issue.summary_en]
    else:
        chosen = [issue.summary or issue.summary_en]
    return [(text, "zh-CN" if CJK_TEXT_RE.search(text) else "en") for text in chosen if text]


class Renderer:
    """Renders issues with the templates in ``templates_dir``; reuse one for many variants."""

    def __init__(
        self, base_url: str, templates_dir: Path | None = None, *,
        title_en: str = DEFAULT_TITLE_EN, sender_name: str = "", postal_address: str | None = None,
    ) -> None:
        self.base_url = base_url
        self.templates_dir = templates_dir or DEFAULT_TEMPLATES
        # The English title of an issue that has none ({date} is its date).
        self.title_en = title_en
        # Who sends, and from where: the footer of every email, when an address is set.
        self.sender_name = sender_name
        self.postal_address = postal_address
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(self.templates_dir),
            # HTML and MJML templates escape everything; only plaintext templates do not.
            autoescape=jinja2.select_autoescape(
                enabled_extensions=("mjml.j2", "html.j2"),
                disabled_extensions=("txt.j2",),
                default=True,
                default_for_string=True,
            ),
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
            bytecode_cache=_COMPILED,
        )
        self.env.filters["shorten"] = shorten
        self.env.filters["wrap"] = wrap_text
        self.env.filters["wrap_items"] = wrap_items
        self.env.filters["wrap_list"] = wrap_list
        self.env.filters["keep_dates"] = keep_dates
        self.env.tests["cut"] = is_cut
        # Where "view in browser" leads: /issues/DATE, or /weekly/DATE (issue 21).
        self.browser_section = "issues"

    def for_section(self, section: str) -> Renderer:
        """This renderer (templates, CSS, caches shared) for the pages under ``/{section}/``."""
        twin = copy.copy(self)
        twin.browser_section = section
        return twin

    @cached_property
    def _inline_css(self) -> str:
        return (self.templates_dir / "email" / "issue.css").read_text("utf-8")

    @cached_property
    def inliner(self) -> Inliner:
        """Our ``issue.css``, parsed once for every render (premailer if the fast path can't)."""
        return inliner_for(self._inline_css)

    @cached_property
    def _head_css(self) -> str:
        return (self.templates_dir / "email" / "head.css").read_text("utf-8")

    def render(
        self, issue: Issue, variant: Variant = Variant(), size_limit: int | None = None
    ) -> RenderedIssue:
        """Render one variant; if the HTML exceeds ``size_limit`` bytes, shorten abstracts.

        Raises :class:`RenderError` when the templates fail or the issue cannot be made
        to fit even with the shortest abstracts.
        """
        rendered = self._render(issue, variant, None)
        if size_limit is None or rendered.html_bytes <= size_limit:
            return rendered
        # Issue 21: an email too big whole loses its per-paper feedback links first (some
        # 500 bytes a paper); only then are abstracts cut, as they always were.
        rendered = self._render(issue, variant, None, feedback=False)
        if rendered.html_bytes <= size_limit:
            return rendered
        uncut = rendered.html_bytes
        too_long: int | None = None
        for limit in _SHORTEN_STEPS:
            rendered = self._render(issue, variant, limit, feedback=False)
            if rendered.html_bytes <= size_limit:
                fits = self._longest_fit(issue, variant, size_limit, rendered, too_long)
                return dataclasses.replace(fits, uncut_bytes=uncut)
            too_long = limit
        raise RenderError(
            f"issue {issue.date} ({variant.key}) is {rendered.html_bytes} bytes of HTML even "
            f"with abstracts cut to {_SHORTEN_STEPS[-1]} characters; the limit is {size_limit}. "
            "Move some featured papers to the notable list."
        )

    def _longest_fit(
        self, issue: Issue, variant: Variant, size_limit: int, fits: RenderedIssue,
        too_long: int | None,
    ) -> RenderedIssue:
        """Between a cut that fits and the longer step that did not, find the longest that fits.

        The coarse steps alone can cut every abstract much shorter than needed (160 -> 100
        characters for 50 papers); a few more renders give readers the most text that fits.
        """
        low = fits.shortened_to
        if too_long is None or low is None:
            return fits
        while too_long - low > 10:
            middle = (low + too_long) // 2
            candidate = self._render(issue, variant, middle, feedback=False)
            if candidate.html_bytes <= size_limit:
                fits, low = candidate, middle
            else:
                too_long = middle
        return fits

    def render_all(
        self, issue: Issue, variants: Iterable[Variant], size_limit: int | None = None
    ) -> dict[Variant, RenderedIssue]:
        """Render each distinct variant once."""
        return {v: self.render(issue, v, size_limit) for v in sorted(set(variants))}

    def _context(self, issue: Issue, variant: Variant, limit: int | None) -> dict[str, object]:
        papers, notable = select_papers(issue, variant)
        show_zh = variant.language in ("zh", "both")
        show_en = variant.language in ("en", "both")
        has_zh = show_zh and issue.has_chinese
        lang = "zh-CN" if has_zh else "en"
        ui: Language = "en" if lang == "en" else variant.language
        subject = self.english_title(issue) if lang == "en" else issue.title
        # English readers get English names; a category without one shows its code.
        legend = [
            (code, (name.en or code) if ui == "en" else name.label(ui))
            for code, name in issue.categories.items() if variant.wants(code)
        ]
        complete = len(papers) + len(notable) == len(issue.papers)
        summaries = _summaries(issue, ui, complete)
        # Never empty: without a summary the inbox preview lists the papers' titles, in the
        # reader's language, rather than the first words of the body.
        titles = [
            p.title_zh if (has_zh and p.title_zh) else p.title for p in [*papers, *notable]
        ]
        preheader = (
            summaries[0][0] if summaries else " · ".join(titles) or label_text("none", ui)
        )
        if len(preheader) > PREHEADER_CHARS:
            # The template puts a space after it, before the padding.
            preheader = preheader[: PREHEADER_CHARS - 1] + "…"
        return {
            "issue": issue,
            "variant": variant,
            "papers": papers,
            "notable": notable,
            "legend": legend,
            "legend_names": dict(legend),
            "legend_items": [f"{code} {name}" for code, name in legend],
            "summaries": summaries,
            "show_zh": show_zh,
            "show_en": show_en,
            # Chinese-only readers see each paper's Chinese title as its heading.
            "chinese_first": has_zh and not show_en,
            "lang": lang,
            "ui": ui,
            "label": lambda key: label_html(key, ui),
            "label_text": lambda key: label_text(key, ui),
            "colon": "\uff1a" if ui == "zh" else ":",
            "footers": _footers(issue, variant.language),
            "subject": subject,
            "preheader": preheader,
            "urls": Links.for_issue(self.base_url, issue, variant, self.browser_section),
            "anchor": paper_anchor,
            "pdf_url": arxiv_pdf_url,
            "html_url": arxiv_html_url,
            "paper_page": lambda paper: paper_page_url(self.base_url, paper),
            "limit": limit,
            "for_you_slot": FOR_YOU_SLOT,
            "feedback_links": True,
            **self._shared,
        }

    @cached_property
    def _shared(self) -> dict[str, object]:
        """What every email template gets: font stacks, head CSS, the preheader padding."""
        return {
            "font_stack": FONT_STACK,
            "mso_font_stack": Markup(MSO_FONT_STACK),  # noqa: S704 -- a constant of ours
            "head_css": Markup(self._head_css),  # noqa: S704 -- our own file, not content
            "preheader_padding": PREHEADER_PADDING,
            "sender_name": self.sender_name,
            "postal_address": self.postal_address,
        }

    def english_title(self, issue: Issue) -> str:
        """What English readers see as the subject and heading: ``title_en``, else a
        ``title`` without Chinese, else the default English title for the issue's date."""
        if issue.title_en:
            return issue.title_en
        if not CJK_TEXT_RE.search(issue.title):
            return issue.title
        return self.title_en.format(date=issue.date.isoformat())

    def render_email(self, name: str, context: Mapping[str, object]) -> tuple[str, str]:
        """Render a transactional email, ``email/<name>.mjml.j2`` and ``email/<name>.txt.j2``.

        Returns (html, text); the HTML goes through the same MJML and CSS-inlining pipeline
        as issues, and templates get ``font_stack`` and ``head_css`` besides ``context``.
        Raises :class:`RenderError` when a template fails.
        """
        full: dict[str, object] = {**self._shared, **context}
        try:
            source = self.env.get_template(f"email/{name}.mjml.j2").render(full)
            text = self.env.get_template(f"email/{name}.txt.j2").render(full)
        except jinja2.TemplateError as err:
            raise RenderError(f"template error in email/{name}: {err}") from err
        return compile_mjml(source, self.inliner), text

    def _render(
        self, issue: Issue, variant: Variant, limit: int | None, feedback: bool = True
    ) -> RenderedIssue:
        context = {**self._context(issue, variant, limit), "feedback_links": feedback}
        try:
            source = self.env.get_template("email/issue.mjml.j2").render(context)
            text = self.env.get_template("email/issue.txt.j2").render(context)
        except jinja2.TemplateError as err:
            raise RenderError(f"template error: {err}") from err
        html = compile_mjml(source, self.inliner)
        html, text, for_you_at = take_for_you_slot(html, text)
        return RenderedIssue(
            variant=variant,
            for_you_at=for_you_at,
            subject=str(context["subject"]),
            preheader=str(context["preheader"]),
            html=html,
            text=text,
            paper_count=len(context["papers"]),  # type: ignore[arg-type]
            shortened_to=limit,
        )


def compile_mjml(source: str, inliner: Inliner) -> str:
    """MJML -> HTML, then inline our own CSS with ``inliner``, keep the doctype.

    MJML's own reset and our responsive and dark-mode rules stay in their ``<style>``
    blocks; only the inliner's stylesheet is written into elements (inlining MJML's reset
    alone would add ~25 KB). Raises :class:`RenderError` when MJML cannot be compiled.
    """
    try:
        html = mjml.mjml2html(source, disable_comments=True, fonts={})
    except Exception as err:  # mjml-python raises a bare exception type from Rust
        raise RenderError(f"MJML could not be compiled: {err}") from err
    html = html.replace(
        "<head>",
        '<head><meta name="color-scheme" content="light dark">'
        '<meta name="supported-color-schemes" content="light dark">',
        1,
    )
    out = inliner.inline(html)
    if not out.lstrip()[:9].lower().startswith("<!doctype"):
        out = f"{_DOCTYPE}\n{out}"
    return out
