"""Issue 18: what the spam filters and readers judge, checked where it is made.

The filters themselves run in ``tests/e2e/test_spamassassin.py`` and ``test_rspamd.py``;
here are the causes they found, each fixed at its source: the size Gmail measures, the
links of the two parts, "read more", English for English readers, the preheader's cut,
the footer's sender line, and Chinese punctuation.
"""

from __future__ import annotations

import email
import email.policy
import html
import re
from collections import Counter
from email.message import EmailMessage
from pathlib import Path

import pytest
from support.emails import (
    big_issue,
    confirmation_message,
    every_variant,
    imported_digest,
    reader_message,
)
from support.env import SAMPLE_ISSUE

from newsletter.cjk import CJK_TEXT_RE
from newsletter.errors import ConfigurationError
from newsletter.issues.loader import load_issue
from newsletter.issues.model import Issue
from newsletter.rendering.links import paper_page_url
from newsletter.rendering.renderer import PREHEADER_PADDING, RenderedIssue, Renderer
from newsletter.rendering.templates import templates_dir
from newsletter.settings import get_settings
from newsletter.vocabulary import Variant

BASE_URL = "https://news.example.org"
_HREF = re.compile(r'href="(https?://[^"]+)"')
_URL = re.compile(r"https?://\S+")
# Half-width punctuation touching a Han character ("按钮,开始"), markup aside.
_HALF_WIDTH = re.compile(r"[\u4e00-\u9fff][,;:!?()]|[,;:!?(][\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def sample() -> Issue:
    return load_issue(SAMPLE_ISSUE)


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer(BASE_URL)


def parts(message: bytes) -> dict[str, EmailMessage]:
    parsed = email.message_from_bytes(message, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return {p.get_content_type(): p for p in parsed.iter_parts()}  # type: ignore[misc]


def html_links(made: RenderedIssue) -> Counter[str]:
    return Counter(html.unescape(href) for href in _HREF.findall(made.html))


def text_links(made: RenderedIssue) -> Counter[str]:
    return Counter(_URL.findall(made.text))


@pytest.mark.slow
def test_the_html_is_measured_as_it_is_sent(sample: Issue) -> None:
    """The size held against the limit is the HTML part as sent (CRLF line ends): a
    fifty-paper issue cut to fit is within the limit in the message itself."""
    settings = get_settings()
    made = Renderer(BASE_URL).render(big_issue(sample, 50), Variant("both"),
                                     settings.size_limit_bytes)
    assert made.shortened_to is not None
    sent = parts(reader_message(made))["text/html"].get_payload(decode=True)
    assert isinstance(sent, bytes)
    assert b"\r\n" in sent and b"\n" not in sent.replace(b"\r\n", b"")
    assert len(sent) == made.html_bytes
    assert made.html_bytes <= settings.size_limit_bytes <= 100_000  # a margin under 102,000


@pytest.mark.parametrize("language", ["zh", "en", "both"])
@pytest.mark.slow
def test_both_parts_hold_the_same_links(sample: Issue, renderer: Renderer, language: str) -> None:
    """For every variant, whole or cut to fit, each link is in the HTML part as often as in
    the text part (rspamd counts them: URI_COUNT_ODD), and every paper has its abstract,
    PDF and HTML links."""
    big = big_issue(sample, 50)
    made = [renderer.render(sample, v) for v in every_variant(sample) if v.language == language]
    made.append(renderer.render(big, Variant(language), 100_000))
    for rendered in made:
        assert html_links(rendered) == text_links(rendered), rendered.variant.key
    for paper in sample.papers:
        for url in (paper.url, f"https://arxiv.org/pdf/{paper.arxiv_id}",
                    f"https://arxiv.org/html/{paper.arxiv_id}"):
            assert html_links(made[0])[url] == 1, url


@pytest.mark.slow
def test_read_more_opens_our_page_for_the_paper(sample: Issue, renderer: Renderer) -> None:
    """A cut abstract ends with one "read more" to our page for the paper (which has the
    whole Chinese summary), in both parts; arXiv is linked by the title only."""
    issue = big_issue(sample, 50)
    made = renderer.render(issue, Variant("both"), 100_000)
    more = re.findall(r'<a href="([^"]+)"[^>]*>read more</a>', made.html)
    assert more == [paper_page_url(BASE_URL, p) for p in issue.featured]
    assert more[0] == f"{BASE_URL}/papers/2209.10000"
    for paper in issue.featured:
        assert made.text.count(paper_page_url(BASE_URL, paper)) == 1
        assert html_links(made)[paper.url] == 1
    zh = renderer.render(issue, Variant("zh"), 100_000)
    assert zh.html.count(">阅读全文</a>") == 50
    assert f"{BASE_URL}/papers/2209.10000" in zh.html


def test_english_readers_of_an_imported_digest_get_english(renderer: Renderer) -> None:
    """import-digest writes no English footer; English readers still get an English
    subject and heading (title_en, which it now writes) and no Chinese at all."""
    issue = imported_digest()
    assert issue.title_en == "AI papers on arXiv · 2022-09-07"
    for missing in (issue, issue.model_copy(update={"title_en": None})):
        made = renderer.render(missing, Variant("en"))
        assert made.subject == "AI papers on arXiv · 2022-09-07"
        visible = re.sub(r"<[^>]+>", " ", made.html.split("<body", 1)[1])
        assert not CJK_TEXT_RE.search(visible) and not CJK_TEXT_RE.search(made.text)
        assert "<h1" in made.html and "AI papers on arXiv · " in made.html
    other = Renderer(BASE_URL, title_en="Papers of {date}")
    plain = other.render(issue.model_copy(update={"title_en": None}), Variant("en"))
    assert plain.subject == "Papers of 2022-09-07"


def test_the_english_title_setting_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    """NEWSLETTER_TITLE_EN may hold {date} and nothing else in braces."""
    monkeypatch.setenv("NEWSLETTER_TITLE_EN", "Digest for {day}")
    with pytest.raises(ConfigurationError, match="NEWSLETTER_TITLE_EN"):
        get_settings()
    monkeypatch.setenv("NEWSLETTER_TITLE_EN", "Digest · {date}")
    assert get_settings().title_en == "Digest · {date}"


def test_a_cut_preheader_is_kept_apart_from_its_padding(sample: Issue, renderer: Renderer) -> None:
    """The "…" of a cut preheader is followed by a space, not by the padding characters
    (which language guessers would read as part of the last word)."""
    long = sample.model_copy(update={"summary_en": "word " * 60})
    made = renderer.render(long, Variant("en"))
    assert made.preheader.endswith("…")
    padding = html.unescape(str(PREHEADER_PADDING))  # the inliner writes characters
    assert f"{made.preheader} {padding}" in made.html


def test_notable_heading_only_under_featured_papers(sample: Issue, renderer: Renderer) -> None:
    """"Other notable papers" heads the notable list only when featured papers precede it;
    alone, the notable papers' titles are the second-level headings."""
    assert "Other notable papers" in renderer.render(sample, Variant("en")).html
    alone = renderer.render(sample, Variant("en", frozenset({"CV"})))
    assert alone.paper_count == 0 and "Other notable papers" not in alone.html
    assert re.search(r'<h2 lang="en"[^>]*><a href="https://arxiv.org/abs/2209.02136"', alone.html)


def test_the_contents_link_each_paper_below(sample: Issue, renderer: Renderer) -> None:
    """The contents at the top list each title, linking to the paper's anchor below."""
    made = renderer.render(sample, Variant("zh"))
    contents = re.search(r'<ol class="nl-contents".*?</ol>', made.html, re.S)
    assert contents
    targets = re.findall(r'href="#([^"]+)"', contents.group(0))
    assert targets == [f"arxiv-{p.arxiv_id}" for p in sample.papers]
    for target in targets:
        assert f'id="{target}"' in made.html
    assert sample.featured[0].title_zh and sample.featured[0].title_zh in contents.group(0)


def test_titles_look_like_links_and_view_aligns_with_the_heading(
    sample: Issue, renderer: Renderer
) -> None:
    """Paper titles are underlined in the link colour; "View in browser" has no left
    padding, so it starts where the heading does; Outlook gets an East Asian font."""
    html = renderer.render(sample, Variant("both")).html
    title = re.search(r'<h2[^>]*><a href="https://arxiv.org/abs/[^"]+" style="([^"]*)"', html)
    assert title and "color:#0a58ca" in title.group(1) and "underline" in title.group(1)
    view = re.search(r'<a class="nl-muted nl-tap nl-view"[^>]*style="([^"]*)"', html)
    assert view and "padding-left:0" in view.group(1).replace(" ", "")
    assert "mso-fareast-font-family: 'Microsoft YaHei'" in html


def test_every_email_names_its_sender_and_postal_address(
    sample: Issue, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With NEWSLETTER_POSTAL_ADDRESS set, every issue and transactional email's footer
    names the sender and the address, in both parts; without it, neither has one."""
    from newsletter import wiring

    address = "100 Example Road, Springfield"
    plain = wiring.renderer(get_settings()).render(sample)
    assert address not in plain.html and address not in plain.text
    monkeypatch.setenv("NEWSLETTER_POSTAL_ADDRESS", address)
    made = wiring.renderer(get_settings()).render(sample)
    assert f"AI Digest · {address}" in made.html and f"AI Digest · {address}" in made.text
    for part in parts(confirmation_message("zh")).values():
        assert f"AI Digest · {address}" in part.get_content()


def test_chinese_text_has_full_width_punctuation() -> None:
    """Our own Chinese wording, in every template (email and web) and in the confirmation's
    summary of choices, uses full-width punctuation."""
    found = []
    for path in sorted(Path(templates_dir()).rglob("*.j2")):
        for number, line in enumerate(path.read_text("utf-8").splitlines(), 1):
            if _HALF_WIDTH.search(re.sub(r"<[^>]+>|\{[{%#].*?[}%#]\}", "", line)):
                found.append(f"{path.name}:{number}: {line.strip()}")
    assert found == []
    text = parts(confirmation_message("zh"))["text/plain"].get_content()
    assert "分类：全部；语言：中文" in text
