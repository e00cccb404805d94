"""Rendering an issue to HTML and plaintext: content, variants, escaping, accessibility, size."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml
from support.emails import big_issue
from support.env import ROOT
from typer.testing import CliRunner

from newsletter import wiring
from newsletter.cli.main import app
from newsletter.editing.build import build
from newsletter.issues.loader import load_issue
from newsletter.issues.model import FeaturedPaper, Issue
from newsletter.rendering.cjk_wrap import display_width
from newsletter.rendering.renderer import RenderedIssue, Renderer
from newsletter.settings import get_settings
from newsletter.vocabulary import Variant

BASE_URL = "https://news.example.org"
CJK = re.compile(r"[\u3000-\u9fff\uff00-\uffef]")
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}


class Page(HTMLParser):
    """The text of a page, each piece with the language of its innermost ``lang`` element."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, str | None]] = []
        self.pieces: list[tuple[str, str]] = []
        self.attributes: list[tuple[str, str, str]] = []  # (tag, name, value)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.feed(html)
        self.close()

    def lang(self) -> str:
        return next((lang for _, lang in reversed(self.stack) if lang), "")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self.attributes += [(tag, name, value or "") for name, value in attrs]
        if tag not in VOID:
            self.stack.append((tag, dict(attrs).get("lang")))

    def handle_endtag(self, tag: str) -> None:
        while self.stack:
            if self.stack.pop()[0] == tag:
                break

    def handle_data(self, data: str) -> None:
        inside = {t for t, _ in self.stack}
        if data.strip() and not inside & {"style", "script", "title", "head"}:
            self.pieces.append((self.lang(), data))

    @property
    def text(self) -> str:
        return "".join(piece for _, piece in self.pieces)

    def lang_of(self, needle: str) -> set[str]:
        """The languages of the pieces of text that contain ``needle``."""
        return {lang for lang, piece in self.pieces if needle in piece}


def squash(text: str) -> str:
    """Text without any whitespace, so wrapped lines compare equal to the original."""
    return re.sub(r"\s+", "", text)


@pytest.fixture(scope="module")
def sample() -> Issue:
    return load_issue(ROOT / "issues" / "2022-09-07.yaml")


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer(BASE_URL)


@pytest.fixture(scope="module")
def both(sample: Issue, renderer: Renderer) -> RenderedIssue:
    return renderer.render(sample, Variant("both"))


def write_issue(issue: Issue, folder: Path) -> Path:
    """Write ``issue`` as an issue file, the way an editor would."""
    path = folder / f"{issue.date.isoformat()}.yaml"
    data = issue.model_dump(mode="json", exclude_defaults=True)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), "utf-8")
    return path


def test_both_variant_has_every_paper_in_html_and_text(
    sample: Issue, both: RenderedIssue
) -> None:
    """Every title, author list, Chinese summary, abstract and link is in the HTML and the text."""
    page = Page(both.html)
    html_text, hrefs = squash(page.text), {v for _, n, v in page.attributes if n == "href"}
    text = squash(both.text)
    assert len(sample.featured) == 5 and len(sample.notable) == 4
    for paper in sample.papers:
        assert paper.title_zh
        wanted = [paper.title, paper.title_zh, paper.author_line(), *paper.affiliations]
        if isinstance(paper, FeaturedPaper):
            assert paper.summary_zh
            wanted += [paper.summary_zh, paper.abstract]
        for piece in wanted:
            assert squash(piece) in html_text, piece
            assert squash(piece) in text, piece
        assert paper.url in hrefs
        assert f"\n   {paper.url}\n" in both.text or f"\n  {paper.url}\n" in both.text
    assert "et al." in sample.featured[4].author_line()


def test_zh_variant_has_chinese_and_leaves_out_english_abstracts(
    sample: Issue, renderer: Renderer
) -> None:
    """The zh variant has Chinese titles and summaries, and no English abstracts."""
    zh = renderer.render(sample, Variant("zh"))
    html, text = squash(Page(zh.html).text), squash(zh.text)
    for paper in sample.featured:
        assert paper.summary_zh and paper.title_zh
        for piece in (paper.summary_zh, paper.title_zh, paper.title):
            assert squash(piece) in html and squash(piece) in text
        assert squash(paper.abstract[:80]) not in html
        assert squash(paper.abstract[:80]) not in text
    # The title as written, ordinary spaces and all (no look-alike spaces for filters).
    assert zh.subject == sample.title


def test_en_variant_has_no_chinese_even_without_english_fields(
    sample: Issue, renderer: Renderer
) -> None:
    """The en variant drops Chinese titles, summaries and labels; without footer_en or
    title_en (as import-digest wrote them before) it has no Chinese footer and an English
    subject: English readers always get English."""
    en = renderer.render(sample, Variant("en"))
    assert not CJK.search(Page(en.html).text) and not CJK.search(en.text)
    assert en.subject == sample.title_en
    chinese_only = sample.model_copy(update={"footer_en": None, "title_en": None})
    en = renderer.render(chinese_only, Variant("en"))
    page = Page(en.html)
    for paper in sample.featured:
        assert squash(paper.abstract) in squash(page.text)
        assert paper.summary_zh and squash(paper.summary_zh[:30]) not in squash(page.text)
    assert not CJK.search(page.text) and not CJK.search(en.text)
    assert en.subject == "AI papers on arXiv · 2022-09-07"
    assert re.search(r"<h1[^>]*>AI papers on arXiv · <span", en.html)
    assert not CJK.search(en.preheader)


def test_category_variant_has_only_those_papers(sample: Issue, renderer: Renderer) -> None:
    """A variant for CL readers has the CL papers only, and no summary promising the others."""
    cl = renderer.render(sample, Variant("both", frozenset({"CL"})))
    html, text = squash(Page(cl.html).text), squash(cl.text)
    for paper in sample.papers:
        inside = paper.category == "CL"
        assert (squash(paper.title) in html) is inside, paper.title
        assert (paper.url in cl.text) is inside, paper.url
    assert cl.paper_count == 2
    assert sample.summary and squash(sample.summary[:20]) not in html + text
    assert "Computer Vision" not in cl.html and "Computation and Language" in cl.html


def test_variant_without_featured_papers_has_no_empty_card(
    sample: Issue, renderer: Renderer
) -> None:
    """Readers of CV only (no featured CV paper) get the notable list without an empty section."""
    cv = renderer.render(sample, Variant("both", frozenset({"CV"})))
    assert cv.paper_count == 0
    assert cv.html.count('class="nl-card"') == 2  # the header and the notable papers
    assert "https://arxiv.org/abs/2209.02136" in cv.text


def test_markup_in_content_is_escaped(sample: Issue, renderer: Renderer) -> None:
    """A title with <script> and & renders as text in HTML; MJML does not choke on it."""
    title = "<script>alert(1)</script> A & B < C </mj-text>"
    first = sample.featured[0].model_copy(
        update={"title": title, "abstract": "x < y && z > 3 </mj-column>"}
    )
    issue = sample.model_copy(update={"featured": [first, *sample.featured[1:]]})
    rendered = renderer.render(issue)
    assert "<script" not in rendered.html
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt; A &amp; B &lt; C &lt;/mj-text&gt;"
    assert escaped in rendered.html
    assert title in Page(rendered.html).text
    assert "x < y && z > 3 </mj-column>" in Page(rendered.html).text
    assert f"1. [LG] {title}" in rendered.text  # plaintext is not HTML: no entities


def test_content_is_never_evaluated_as_a_template(sample: Issue, renderer: Renderer) -> None:
    """Jinja syntax in issue content stays literal text in HTML and plaintext."""
    literal = "{{ 7*7 }} {% if true %}yes{% endif %} {# c #}"
    first = sample.featured[0].model_copy(update={"title": literal, "abstract": literal})
    issue = sample.model_copy(update={"featured": [first], "summary": literal})
    rendered = renderer.render(issue)
    page = Page(rendered.html)
    # Summary, preheader (the summary again), the contents, title, abstract.
    assert page.text.count(literal) == 5
    assert not [v for t, n, v in page.attributes if "49" in v and "7*7" in v]
    assert rendered.text.count(literal) == 3  # summary, title, abstract
    assert "49" not in page.text and "49" not in rendered.text


def test_document_language(sample: Issue, renderer: Renderer, both: RenderedIssue) -> None:
    """lang="zh-CN" on the document when Chinese is shown, lang="en" when it is English only."""
    assert re.search(r'<html lang="zh-CN"', both.html)
    assert re.search(r'<html lang="en"', renderer.render(sample, Variant("en")).html)
    english_only = sample.model_copy(update={
        "featured": [p.model_copy(update={"title_zh": None, "summary_zh": None})
                     for p in sample.featured],
        "notable": [p.model_copy(update={"title_zh": None}) for p in sample.notable],
    })
    for language in ("both", "zh"):
        html = renderer.render(english_only, Variant(language)).html  # type: ignore[arg-type]
        assert re.search(r'<html lang="en"', html), language


def test_english_text_is_marked_english(sample: Issue, both: RenderedIssue) -> None:
    """In the bilingual email every English title, author list and abstract is in lang="en"."""
    page = Page(both.html)
    for paper in sample.papers:
        assert page.lang_of(paper.title) == {"en"}, paper.title
        assert page.lang_of(paper.author_line()) == {"en"}
        if isinstance(paper, FeaturedPaper):
            assert page.lang_of(paper.abstract) == {"en"}
            assert paper.summary_zh and page.lang_of(paper.summary_zh) == {"zh-CN"}


def test_dark_mode_and_responsive_css_survive_inlining(both: RenderedIssue) -> None:
    """The prefers-color-scheme and @media rules stay in a <style> block after premailer."""
    styles = "".join(re.findall(r"<style[^>]*>(.*?)</style>", both.html, re.S))
    assert "@media (prefers-color-scheme: dark)" in styles
    assert "background: #0d1117 !important" in styles
    assert "@media only screen and (max-width: 480px)" in styles


def test_head_has_doctype_color_scheme_and_preheader(sample: Issue, both: RenderedIssue) -> None:
    """<!doctype html> is kept, color-scheme is declared, and the preheader opens the body."""
    assert both.html.startswith("<!doctype html>")
    page = Page(both.html)
    metas = {attrs.get("name"): attrs.get("content") for tag, attrs in page.tags if tag == "meta"}
    assert metas["color-scheme"] == "light dark"
    assert metas["viewport"] == "width=device-width, initial-scale=1"
    assert sample.summary and both.preheader.startswith(sample.summary[:60])
    body = both.html[both.html.index("<body"):]
    hidden = re.search(r'<div style="display:none[^>]*>(.*?)</div>', body, re.S)
    assert hidden and hidden.group(1).strip().startswith(sample.summary[:60])
    assert both.html.index(sample.summary[:60], both.html.index("<body")) == body.index(
        sample.summary[:60]) + both.html.index("<body")


def test_links_are_https_and_descriptive(both: RenderedIssue) -> None:
    """No http:// except in xmlns names; every link has text; a view-in-browser link exists."""
    page = Page(both.html)
    plain_http = [(tag, name, value) for tag, name, value in page.attributes
                  if "http://" in value and not name.startswith("xmlns")]
    assert plain_http == []
    assert "http://" not in page.text and "http://" not in both.text
    assert all(value.startswith(("https://", "#arxiv-")) for _, name, value in page.attributes
               if name in ("href", "src"))
    links = re.findall(r"<a\b[^>]*>(.*?)</a>", both.html, re.S)
    assert links and all(re.sub(r"<[^>]+>", "", link).strip() for link in links)
    assert f'href="{BASE_URL}/issues/2022-09-07"' in both.html
    assert "View in browser" in Page(both.html).text


def test_nothing_is_fetched_from_the_network(both: RenderedIssue) -> None:
    """No <link>, @import, url(), remote image or script: the email loads nothing by itself."""
    page = Page(both.html)
    assert [tag for tag, _ in page.tags if tag in ("link", "script", "iframe", "object")] == []
    assert "@import" not in both.html and "url(" not in both.html
    assert "fonts.googleapis" not in both.html
    for tag, attrs in page.tags:
        if tag == "img":
            assert attrs.get("alt") is not None, "every image needs alt text"
            assert (attrs.get("src") or "").startswith("data:"), "no remote images"


def test_per_recipient_links_are_placeholders(both: RenderedIssue) -> None:
    """Unsubscribe and preferences links hold the fixed placeholders filled in per recipient."""
    from newsletter.tokens import TOKEN_LENGTH, Purpose, placeholder

    for purpose in (Purpose.UNSUBSCRIBE, Purpose.PREFERENCES):
        marker = placeholder(purpose)
        assert len(marker) == TOKEN_LENGTH
        url = f"{BASE_URL}/{purpose.value}/{marker}"
        assert f'href="{url}"' in both.html
        assert url in both.text


def test_mjml_reset_css_is_not_inlined_and_sample_is_small(both: RenderedIssue) -> None:
    """Only our CSS is inlined (not MJML's reset), which keeps the sample under 45,000 bytes."""
    inline = re.findall(r'style="([^"]*)"', both.html)
    assert not [s for s in inline if "margin:13px 0" in s.replace(" ", "")]
    assert not [s for s in inline if "-ms-interpolation-mode" in s or "mso-table" in s]
    paragraphs = re.findall(r"<p\b[^>]*>", both.html)
    assert paragraphs and all("margin:0" in p for p in paragraphs)  # ours was inlined
    assert both.html_bytes <= 45_000


def test_plaintext_is_numbered_with_bare_links_and_wrapped(
    sample: Issue, both: RenderedIssue
) -> None:
    """Plaintext: numbered entries, a bare arXiv link per paper, no line over 72 columns."""
    lines = both.text.splitlines()
    flowing = re.sub(r"\n +", " ", both.text)  # wrapped titles back on one line
    for number, paper in enumerate(sample.featured, start=1):
        entry = rf"^{number}\. \[{paper.category}\] {re.escape(paper.title)} "
        assert re.search(entry, flowing, re.M), paper.title
        assert f"   {paper.url}" in lines
    for paper in sample.notable:
        assert f"  {paper.url}" in lines
    too_wide = [
        line for line in lines
        if display_width(line) > 72 and not re.fullmatch(r"\s*https://\S+", line)
    ]
    assert too_wide == []
    assert any(display_width(line) > 60 and CJK.search(line) for line in lines)  # CJK did wrap
    assert "   S Salter, M Wulfmeier, D Tirumala, N Heess, M Riedmiller, R Hadsell," in lines
    assert "   D Rao" in lines  # a name is never split between its initial and surname
    assert "<" not in both.text and "&amp;" not in both.text


@pytest.mark.slow
def test_fifty_featured_papers_are_shortened_under_gmail_limit(
    sample: Issue, tmp_path: Path
) -> None:
    """build cuts the abstracts of a 50-paper issue to fit 100,000 bytes as sent (CRLF line
    ends, 2,000 under Gmail's clip), with "read more" links."""
    issue = big_issue(sample, 50)
    assert min(len(p.abstract) for p in issue.featured) > 1800
    result = build(write_issue(issue, tmp_path), tmp_path / "out", wiring.workbench(get_settings()))
    html = (tmp_path / "out" / "2022-09-07.html").read_bytes()
    assert len(html) + html.count(b"\n") <= 100_000
    assert result.rendered.shortened_to is not None
    assert html.count(b"read more") >= 50
    for paper in issue.featured:
        assert paper.title.encode() in html and paper.url.encode() in html
    # The cut is the longest that fits (to within 10 characters), not just a coarse step.
    cut = result.rendered.shortened_to
    assert Renderer(BASE_URL)._render(issue, Variant(), cut + 11).html_bytes > 100_000
    assert len(result.warnings) == 1
    assert f"abstracts were cut to {cut} characters" in result.warnings[0]
    assert "read more" in result.warnings[0]


@pytest.mark.slow
def test_build_command_says_it_shortened(sample: Issue, tmp_path: Path) -> None:
    """`newsletter build` tells the editor on stderr that the abstracts were cut, and exits 0."""
    path = write_issue(big_issue(sample, 50), tmp_path)
    result = CliRunner().invoke(app, ["build", str(path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert result.stderr.startswith("warning: the HTML was ")
    assert "over Gmail's clipping point (100,000); abstracts were cut to" in result.stderr


def test_build_warns_above_90_kb(sample: Issue, renderer: Renderer, tmp_path: Path) -> None:
    """An issue between 90 and 100 KB of HTML is built whole, with a warning."""
    count = next(n for n in range(10, 40)
                 if renderer.render(big_issue(sample, n, 1200)).html_bytes > 90_000)
    issue = big_issue(sample, count, 1200)
    result = build(write_issue(issue, tmp_path), tmp_path / "out", wiring.workbench(get_settings()))
    assert 90_000 < result.rendered.html_bytes <= 100_000
    assert result.rendered.shortened_to is None
    assert "read more" not in result.rendered.html
    assert result.warnings == [
        f"the HTML is {result.rendered.html_bytes:,} bytes, close to Gmail's clipping point "
        "(100,000); consider fewer featured papers"
    ]


def test_sample_build_has_no_warning(sample_issue_path: Path, tmp_path: Path) -> None:
    """The sample issue is far below the warning size, so build says nothing about size."""
    assert build(sample_issue_path, tmp_path, wiring.workbench(get_settings())).warnings == []


def test_footer_follows_the_reader_language(sample_issue_path: Path) -> None:
    """English readers get footer_en, Chinese readers footer, bilingual readers both."""
    issue = load_issue(sample_issue_path)
    assert issue.footer and issue.footer_en
    renderer = Renderer("https://news.example.org")
    for language, shown, hidden in (
        ("en", [issue.footer_en], [issue.footer]),
        ("zh", [issue.footer], [issue.footer_en]),
        ("both", [issue.footer, issue.footer_en], []),
    ):
        rendered = renderer.render(issue, Variant(language))  # type: ignore[arg-type]
        for text in shown:
            assert text in rendered.html and text in rendered.text.replace("\n", " "), language
        for text in hidden:
            assert text not in rendered.html and text not in rendered.text, language
    english = renderer.render(issue, Variant("en")).html
    assert re.search(rf'<p lang="en"[^>]*>{re.escape(issue.footer_en)}</p>', english)
