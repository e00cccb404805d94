"""What each reader sees around the content: labels, punctuation, subject, preheader, footer."""

from __future__ import annotations

import re

import pytest
from support.emails import english_only, every_variant
from support.env import SAMPLE_ISSUE

from newsletter.issues.loader import load_issue
from newsletter.issues.model import Issue
from newsletter.rendering.renderer import Renderer
from newsletter.rendering.wording import LABELS, reads_as_shouting
from newsletter.vocabulary import Variant

BASE_URL = "https://news.example.org"
CJK = re.compile(r"[\u3000-\u9fff\uff00-\uffef]")
HIDDEN = re.compile(r'<div style="display:none;[^"]*">(.*?)</div>', re.S)


@pytest.fixture(scope="module")
def sample() -> Issue:
    return load_issue(SAMPLE_ISSUE)


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer(BASE_URL)


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def visible(html: str) -> str:
    """The body's text without tags, the hidden preheader or the head."""
    body = HIDDEN.sub("", html[html.index("<body"):])
    return re.sub(r"<[^>]+>", "", body)


def test_labels_follow_the_reader_language(sample: Issue, renderer: Renderer) -> None:
    """zh readers get only Chinese labels, en readers only English ones, bilingual both."""
    zh = renderer.render(sample, Variant("zh"))
    en = renderer.render(sample, Variant("en"))
    both = renderer.render(sample, Variant("both"))
    for key, (chinese, english) in LABELS.items():
        if key in ("more", "none"):
            continue  # shown only when abstracts are cut, or when no paper is left
        assert chinese in zh.html and english not in zh.html, english
        assert english in en.html and chinese not in en.html, chinese
        assert chinese in both.html and english in both.html
        if key != "contents":  # the contents list is the HTML's; the text is a list already
            assert squash(f"{chinese} / {english}") in squash(both.text), english
    assert "View in browser" not in zh.text and "Unsubscribe" not in zh.text
    assert "退订" not in en.text


def test_chinese_punctuation_is_full_width(sample: Issue, renderer: Renderer) -> None:
    """Chinese labels use full-width colons and commas (摘要：), never ASCII ones."""
    zh = renderer.render(sample, Variant("zh"))
    assert "摘要：" in zh.html and "摘要：" in zh.text
    assert "摘要:" not in zh.html and "摘要:" not in zh.text
    assert "退订：\n" in zh.text and "订阅设置：\n" in zh.text
    labels = "".join(chinese for chinese, _ in LABELS.values())
    assert not re.search(r"[\u4e00-\u9fff][,:;!?]", labels)


def test_chinese_readers_get_chinese_headings(sample: Issue, renderer: Renderer) -> None:
    """In the zh variant each paper's heading is its Chinese title, the English one below it."""
    html = renderer.render(sample, Variant("zh")).html
    for paper in sample.featured:
        assert paper.title_zh
        heading = re.search(rf'<h2\b[^>]*><a href="{re.escape(paper.url)}"[^>]*>(.*?)</a>', html)
        assert heading and heading.group(1) == paper.title_zh
        assert re.search(rf'<p class="nl-en-title" lang="en"[^>]*>{re.escape(paper.title)}</p>',
                         html.replace("&#39;", "'"))
    both = renderer.render(sample, Variant("both")).html
    assert 'class="nl-en-title"' not in both


def test_preheader_is_never_empty(sample: Issue, renderer: Renderer) -> None:
    """Every variant has a preheader: the summary, else its papers' titles in its language."""
    for variant in (Variant("zh", frozenset({"CV"})), Variant("en", frozenset({"RO"})),
                    Variant("both", frozenset({"CL"}))):
        rendered = renderer.render(sample, variant)
        assert rendered.preheader, variant
        hidden = HIDDEN.search(rendered.html)
        assert hidden and hidden.group(1).startswith(rendered.preheader.replace("&", "&amp;"))
        assert not rendered.html[rendered.html.index("<body"):].split(rendered.preheader)[0] \
            .count("在浏览器中查看")
    cv = renderer.render(sample, Variant("zh", frozenset({"CV"})))
    cv_titles = [p.title_zh for p in sample.notable if p.category == "CV"]
    assert cv_titles and cv.preheader.startswith(str(cv_titles[0]))
    ro = renderer.render(sample, Variant("en", frozenset({"RO"})))  # no RO paper today
    assert ro.preheader == LABELS["none"][1] and ro.preheader in visible(ro.html)


def test_preheader_is_padded_and_not_white(sample: Issue, renderer: Renderer) -> None:
    """After the preheader come invisible fillers; it is hidden without a colour or tiny font."""
    html = renderer.render(sample, Variant("both")).html
    hidden = HIDDEN.search(html)
    assert hidden
    style = re.search(r'<div (style="display:none;[^"]*")', html)
    assert style and "color" not in style.group(1) and "font-size" not in style.group(1)
    assert "max-height:0" in style.group(1) and "mso-hide:all" in style.group(1)
    assert hidden.group(1).count("\u200c") >= 60  # &zwnj;, written out by premailer


def test_english_summary_for_english_readers(sample: Issue, renderer: Renderer) -> None:
    """summary_en is shown to English readers and bilingual ones; it leads an en preheader."""
    english = "Ten papers today: offline options, sparse experts and GFlowNets."
    issue = sample.model_copy(update={"summary_en": english})
    en = renderer.render(issue, Variant("en"))
    assert english in en.html and english in en.text and en.preheader == english
    both = renderer.render(issue, Variant("both"))
    assert english in both.html and sample.summary and sample.summary[:30] in both.html
    assert re.search(rf'<p class="nl-summary" lang="en"[^>]*>{re.escape(english)}', both.html)
    zh = renderer.render(issue, Variant("zh"))
    assert english not in zh.html
    only = renderer.render(english_only(sample), Variant("both"))
    assert only.preheader.startswith("Offline options") and "摘要" not in only.html


def test_english_only_issue_speaks_english(sample: Issue, renderer: Renderer) -> None:
    """An issue with no Chinese gives every reader English labels and an English subject."""
    issue = english_only(sample)
    for language in ("zh", "en", "both"):
        rendered = renderer.render(issue, Variant(language))  # type: ignore[arg-type]
        assert not CJK.search(visible(rendered.html)), language
        assert not CJK.search(rendered.text), language


@pytest.mark.slow
def test_subject_lines_are_plain_text_that_does_not_shout(
    sample: Issue, renderer: Renderer
) -> None:
    """Every variant's subject is the title with ordinary spaces (no Unicode space dodging
    a filter's rule), and none is all capitals; the rule itself reads as filters do."""
    for variant in every_variant(sample):
        subject = renderer.render(sample, variant).subject
        assert not re.search(r"[^\S ]", subject), (variant.key, subject)
        assert not reads_as_shouting(subject), (variant.key, subject)
    english = renderer.render(english_only(sample), Variant("en")).subject
    assert english == sample.title_en
    assert reads_as_shouting("AI 前沿论文速递 · 2022-09-07")  # "AI" is its only cased word
    assert reads_as_shouting("ML DAILY DIGEST")
    assert not reads_as_shouting("arXiv AI 前沿论文速递 · 2022-09-07")
    assert not reads_as_shouting("机器学习论文速递 · 2022-09-07")  # no cased letter at all


def test_plaintext_says_why_and_how_to_leave(sample: Issue, renderer: Renderer) -> None:
    """The plaintext part has the why-you-receive-this line and both per-reader links."""
    for language, why in (("zh", LABELS["why"][0]), ("en", LABELS["why"][1]),
                          ("both", LABELS["why"][1])):
        text = renderer.render(sample, Variant(language)).text  # type: ignore[arg-type]
        assert squash(why) in squash(text), language
        assert f"{BASE_URL}/unsubscribe/" in text and f"{BASE_URL}/preferences/" in text
        assert text.index(why[:10]) < text.index(f"{BASE_URL}/unsubscribe/")


def test_no_css_positioning_and_outlook_fonts(sample: Issue, renderer: Renderer) -> None:
    """No `position` anywhere; Outlook gets its own font stack and exact line heights."""
    for language in ("zh", "en", "both"):
        html = renderer.render(sample, Variant(language)).html  # type: ignore[arg-type]
        assert not re.search(r"position\s*:", html)
        assert "nl-sr" not in html
        mso = re.search(r"<!--\[if mso\]><style[^>]*>(.*?)</style><!\[endif\]-->", html, re.S)
        assert mso and "'Segoe UI', 'Microsoft YaHei', Arial" in mso.group(1)
        assert "mso-line-height-rule: exactly" in mso.group(1)
        # Each paper is a table, whose cell padding Outlook keeps (it ignores a div's).
        assert html.count('<table class="nl-paper"') == len(sample.featured) + len(sample.notable)


def test_each_paper_links_its_abstract_pdf_and_html_in_its_own_cell(
    sample: Issue, renderer: Renderer
) -> None:
    """Each title links to its abstract; the PDF and HTML links follow in the same cell
    (which names the paper they are for), and the text part has the same three links."""
    made = renderer.render(sample, Variant("both"))
    for paper in sample.papers:
        cell = re.search(rf'<table class="nl-paper" id="arxiv-{re.escape(paper.arxiv_id)}"'
                         r".*?</table>", made.html, re.S)
        assert cell, paper.url
        title = re.search(r'<h[23][^>]*><a href="([^"]+)"[^>]*>', cell.group(0))
        assert title and title.group(1) == paper.url
        links = re.findall(r'<a href="(https://arxiv.org/[^"]+)"[^>]*>(PDF|HTML)</a>',
                           cell.group(0))
        assert links == [(f"https://arxiv.org/pdf/{paper.arxiv_id}", "PDF"),
                         (f"https://arxiv.org/html/{paper.arxiv_id}", "HTML")]
        for url in (paper.url, *(url for url, _ in links)):
            assert made.text.count(url) == 1, url


def test_dates_are_kept_whole(sample: Issue, renderer: Renderer) -> None:
    """The date in the heading is one unbreakable span, so phones never split 2022-09-07."""
    html = renderer.render(sample, Variant("zh")).html
    assert re.search(r'<h1[^>]*>arXiv AI 前沿论文速递 · <span class="nl-date" '
                     r'style="[^"]*white-space:nowrap[^"]*">2022-09-07</span></h1>', html)
