"""The issue editor, /admin/issues/<DATE>: the form, saving into the YAML file (comments and
key order kept), conflicts, refused saves, and adding, removing and moving papers."""

from __future__ import annotations

import datetime as dt
import difflib
import html
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from httpx import Response
from support.axe import AxeUnavailable, axe_source
from support.desk import BASE, EDITOR, DeskSite, desk_site
from support.env import SAMPLE_ISSUE

from newsletter.issues.loader import load_issue
from newsletter.settings import get_settings
from newsletter.store.db import Database
from newsletter.store.desk import DeskStore

DATE = "2022-09-07"
PAGE = f"/admin/issues/{DATE}"


@pytest.fixture
def issue(tmp_path: Path) -> Path:
    """The sample issue in an issues folder of its own, with comments an editor might add:
    at the end of a line, on lines of their own between papers and keys, at the very end."""
    folder = tmp_path / "issues"
    folder.mkdir()
    path = folder / f"{DATE}.yaml"
    shutil.copyfile(SAMPLE_ISSUE, path)
    text = path.read_text("utf-8")
    text = text.replace("title_en: AI Paper Digest · 2022-09-07",
                        "title_en: AI Paper Digest · 2022-09-07  # the English subject line")
    text = text.replace("- category: CL\n  title: Analyzing",
                        "# --- the language papers ---\n- category: CL\n  title: Analyzing")
    text = text.replace("footer_en:", "# the English readers' notice\nfooter_en:")
    path.write_text(text + "# end of the issue\n", "utf-8")
    return path


@pytest.fixture
def desk(db: Database, tmp_path: Path, issue: Path) -> Iterator[DeskSite]:
    settings = get_settings().model_copy(update={"issues_dir": issue.parent})
    with desk_site(settings, db, tmp_path / "outbox") as site:
        site.sign_in()
        yield site


class _Form(HTMLParser):
    """The fields a browser would submit from the form with id ``issue-form``."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.fields: dict[str, str] = {}
        self._inside = False
        self._text: str | None = None  # the name of the textarea being read
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self._inside = a.get("id") == "issue-form"
        if tag == "option" and self._select and "selected" in a:
            self.fields[self._select] = a.get("value", "")
        if not self._inside or "name" not in a:
            return
        if tag == "input" and a.get("type") != "checkbox":
            self.fields[a["name"]] = a.get("value", "")
        elif tag == "input" and "checked" in a:
            self.fields[a["name"]] = a.get("value", "on")
        elif tag == "textarea":
            self._text = a["name"]
            self.fields[a["name"]] = ""
        elif tag == "select":
            self._select = a["name"]

    def handle_data(self, data: str) -> None:
        if self._text:
            self.fields[self._text] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._inside = False
        elif tag == "textarea":
            self._text = None
        elif tag == "select":
            self._select = None

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)


def fields_of(page: str) -> dict[str, str]:
    parser = _Form()
    parser.feed(page)
    return parser.fields


def submit(desk: DeskSite, page: str, action: str = "save", **changes: str) -> Response:
    """Post the form on ``page`` as a browser would, with ``changes`` typed into it."""
    data = fields_of(page)
    for name, value in changes.items():
        data[name.replace("__", "-")] = value
    data["action"] = action
    return desk.client.post(PAGE, data=data)


def labels(page: str) -> dict[str, str]:
    """Each labelled control's id and its label's text (hidden prefix included)."""
    found = re.findall(r'<label for="([^"]+)">(.*?)</label>', page, re.S)
    return {id_: html.unescape(re.sub(r"<[^>]+>", "", text)) for id_, text in found}


def changed_lines(before: str, after: str) -> list[str]:
    return [line for line in difflib.unified_diff(before.splitlines(), after.splitlines(),
                                                  lineterm="", n=0)
            if line[:1] in "+-" and not line.startswith(("+++", "---"))]


def test_the_form_has_every_field_labelled(desk: DeskSite) -> None:
    """Every field of the issue and of each paper is in the form, each with its own label."""
    page = desk.client.get(PAGE)
    assert page.status_code == 200
    text = page.text
    named = labels(text)
    controls = re.findall(r'<(?:input|textarea|select)\b[^>]*\bid="([^"]+)"', text)
    assert controls and all(c in named for c in controls), set(controls) - set(named)
    assert named["featured-1-summary_zh"] == "Featured paper 2: Chinese summary"
    assert named["featured-1-abstract"] == "Featured paper 2: English abstract"
    assert named["notable-3-affiliations"] == "Notable paper 4: Affiliations (one per line)"
    assert named["category-0-en"] == "Category 1: English name"
    for key in ("title", "title_en", "attribution", "summary", "summary_en", "footer",
                "footer_en"):
        assert key in named
    for field in ("category", "title", "title_zh", "authors", "authors_truncated",
                  "affiliations", "summary_zh", "abstract", "url"):
        assert f"featured-4-{field}" in named
    assert "notable-0-summary_zh" not in named  # notable papers have no summary
    fields = fields_of(text)
    assert fields["featured-4-authors_truncated"] == "1"  # the sample's et al.
    assert fields["featured-0-authors"].splitlines()[:2] == ["S Salter", "M Wulfmeier"]
    assert fields["notable-0-category"] == "CV"
    assert len(fields["version"]) == 64
    # Beside it: the preview, the checks and the sending controls.
    assert '<iframe sandbox name="preview" title="Preview" src="/admin/issues/2022-09-07/' \
           'preview?view=html&amp;language=both">' in text
    assert 'data-refresh="/admin/issues/2022-09-07/check" data-every="5"' in text
    for action in ("send-test", "schedule"):
        assert f'action="/admin/issues/2022-09-07/{action}"' in text
    assert 'href="/admin/issues/2022-09-07/send-now"' in text
    assert "Unschedule" not in text  # nothing is scheduled
    assert 'name="all_editors"' in text and 'name="all_variants"' in text


def test_saving_keeps_comments_and_key_order(desk: DeskSite, issue: Path) -> None:
    """A Chinese summary edited in the form changes that line of the file and no other:
    comments, key order, quoting and folded text are as they were."""
    before = issue.read_text("utf-8")
    page = desk.client.get(PAGE).text
    saved = submit(desk, page, featured__1__summary_zh="稀疏专家模型的新综述。")
    assert saved.status_code == 303
    assert saved.headers["location"] == f"{PAGE}?saved=1"
    after = issue.read_text("utf-8")
    assert load_issue(issue).featured[1].summary_zh == "稀疏专家模型的新综述。"
    removed, added = [line for line in changed_lines(before, after) if line[0] == "-"], [
        line for line in changed_lines(before, after) if line[0] == "+"]
    assert added == ["+  summary_zh: >-", "+    稀疏专家模型的新综述。"] or added == [
        "+    稀疏专家模型的新综述。"]
    assert len(removed) == 1 and removed[0].startswith("-    稀疏专家模型是个有30年历史的概念")
    for comment in ("# the English subject line", "# --- the language papers ---",
                    "# the English readers' notice", "# end of the issue",
                    "# Schema: see README.md"):
        assert comment in after
    assert desk.client.get(f"{PAGE}?saved=1").text.count("Saved.") == 1
    entry = DeskStore(desk.db).audit_entries()[0]
    assert (entry.actor, entry.action, entry.target) == (EDITOR, "issue saved", DATE)


@pytest.mark.slow
def test_saving_an_unchanged_form_leaves_the_file_alone(desk: DeskSite, issue: Path) -> None:
    """Saving what was loaded writes nothing: the file keeps its bytes, nothing is audited."""
    before = issue.read_bytes()
    saved = submit(desk, desk.client.get(PAGE).text)
    assert saved.headers["location"] == f"{PAGE}?saved=unchanged"
    assert issue.read_bytes() == before
    assert all(e.action != "issue saved" for e in DeskStore(desk.db).audit_entries())


def test_new_and_changed_values_are_written_in_the_files_style(desk: DeskSite,
                                                               issue: Path) -> None:
    """An added key goes in its place, long prose is folded at 100 columns, a removed
    optional key goes away and a list edit keeps the rest of the list."""
    abstract = " ".join(["A sentence about sparse experts and routing."] * 12)
    page = desk.client.get(PAGE).text
    saved = submit(desk, page, summary_en="Nine papers today.", attribution="",
                   featured__1__abstract=abstract,
                   featured__1__authors="W Fedus\nJ Dean\nB Zoph\nN Shazeer")
    assert saved.status_code == 303, saved.text
    text = issue.read_text("utf-8")
    keys = [line.split(":")[0] for line in text.splitlines() if re.match(r"^[a-z_]+:", line)]
    assert keys == ["date", "title", "title_en", "categories", "summary", "summary_en",
                    "featured", "notable", "footer", "footer_en"]
    assert all(len(line) <= 100 for line in text.split("abstract: >-")[2].split("  url:")[0]
               .splitlines())
    got = load_issue(issue)
    assert got.attribution is None and got.summary_en == "Nine papers today."
    assert got.featured[1].abstract == abstract
    assert got.featured[1].authors == ["W Fedus", "J Dean", "B Zoph", "N Shazeer"]


@pytest.mark.slow
def test_a_conflicting_save_loses_nothing(desk: DeskSite, issue: Path) -> None:
    """When the file changed on disk after the page loaded, Save writes nothing and shows
    both versions; the editor's form is kept, and Overwrite then saves it on purpose."""
    page = desk.client.get(PAGE).text
    theirs = issue.read_text("utf-8").replace("AI Paper Digest · 2022-09-07",
                                              "AI Paper Digest, 7 September")
    issue.write_text(theirs, "utf-8")
    refused = submit(desk, page, featured__0__title_zh="MO2:离线选项")
    assert refused.status_code == 409
    assert issue.read_text("utf-8") == theirs  # nothing written
    kept = fields_of(refused.text)
    assert kept["featured-0-title_zh"] == "MO2:离线选项"  # the editor's version, kept
    assert kept["title_en"] == "AI Paper Digest · 2022-09-07"
    assert "changed on disk" in refused.text
    rows = re.findall(r"<tr><th scope=\"row\"><a href=\"#([^\"]+)\">[^<]*</a></th>"
                      r"<td>([^<]*)</td><td>([^<]*)</td></tr>", refused.text)
    assert ("title_en", "AI Paper Digest · 2022-09-07", "AI Paper Digest, 7 September") in [
        (a, html.unescape(b), html.unescape(c)) for a, b, c in rows]
    assert ("featured-0-title_zh", "MO2:离线选项", "MO2: 基于模型的离线选项") in [
        (a, html.unescape(b), html.unescape(c)) for a, b, c in rows]
    # Saving again is refused again; overwriting replaces the file with the form.
    assert submit(desk, refused.text).status_code == 409
    done = submit(desk, refused.text, action="overwrite")
    assert done.status_code == 303, done.text
    got = load_issue(issue)
    assert (got.title_en, got.featured[0].title_zh) == ("AI Paper Digest · 2022-09-07",
                                                        "MO2:离线选项")
    assert "# --- the language papers ---" in issue.read_text("utf-8")


def test_an_overwrite_of_a_file_changed_again_is_refused(desk: DeskSite, issue: Path) -> None:
    """Overwrite replaces only the version that was shown; a newer one is a new conflict."""
    page = desk.client.get(PAGE).text
    issue.write_text(issue.read_text("utf-8").replace("转自爱可可爱生活", "转自A"), "utf-8")
    conflict = submit(desk, page, title="新标题")
    issue.write_text(issue.read_text("utf-8").replace("转自A", "转自B"), "utf-8")
    again = submit(desk, conflict.text, action="overwrite")
    assert again.status_code == 409
    assert load_issue(issue).attribution == "转自B"


@pytest.mark.slow
def test_an_invalid_save_writes_nothing(desk: DeskSite, issue: Path) -> None:
    """A save that would make the file invalid is refused, each problem at its field, the
    form kept as typed, the file untouched."""
    before = issue.read_bytes()
    page = desk.client.get(PAGE).text
    refused = submit(desk, page, featured__2__url="https://example.org/paper",
                     notable__1__title="", featured__0__summary_zh="改过的摘要")
    assert refused.status_code == 422
    assert issue.read_bytes() == before
    text = refused.text
    assert 'href="#featured-2-url">Featured paper 3: arXiv link</a>' in text
    assert 'href="#notable-1-title">Notable paper 2: English title</a>' in text
    assert re.search(r'id="featured-2-url" name="featured-2-url" value="https://example.org/'
                     r'paper" aria-invalid="true" aria-describedby="featured-2-url-error-1"',
                     text)
    assert fields_of(text)["featured-0-summary_zh"] == "改过的摘要"
    assert all(e.action != "issue saved" for e in DeskStore(desk.db).audit_entries())


def test_a_save_after_the_file_was_removed_keeps_the_form(desk: DeskSite,
                                                         issue: Path) -> None:
    """When the file is removed while the page is open, Save writes nothing and shows the
    form as typed, saying so."""
    page = desk.client.get(PAGE).text
    issue.unlink()
    refused = submit(desk, page, featured__0__summary_zh="还在这里")
    assert refused.status_code == 422
    assert "no longer in the issues folder" in refused.text
    assert fields_of(refused.text)["featured-0-summary_zh"] == "还在这里"
    assert not issue.exists()


def test_a_code_twice_in_the_legend_is_refused(desk: DeskSite, issue: Path) -> None:
    """Two legend rows with one code would lose one of them: refused at the second row."""
    before = issue.read_bytes()
    refused = submit(desk, desk.client.get(PAGE).text, category__1__code="LG")
    assert refused.status_code == 422
    assert 'href="#category-1-code">Category 2: Code</a>' in refused.text
    assert issue.read_bytes() == before


@pytest.mark.slow
def test_adding_a_paper_edits_the_form_and_saving_writes_it(desk: DeskSite,
                                                             issue: Path) -> None:
    """Add a paper shows the form again with a new paper and its title focused, writing
    nothing; filled in and saved, it lands at the end with its keys in the file's order."""
    before = issue.read_bytes()
    added = submit(desk, desk.client.get(PAGE).text, action="add_featured")
    assert added.status_code == 200
    assert issue.read_bytes() == before
    assert 'id="featured-5-title" name="featured-5-title" value="" lang="en" autofocus' \
        in added.text
    assert "Not saved yet" in added.text
    saved = submit(desk, added.text, featured__5__category="RO",
                   featured__5__title="Robots that Read", featured__5__authors="A Author",
                   featured__5__summary_zh="会读书的机器人。",
                   featured__5__abstract="Robots read papers.",
                   featured__5__url="https://arxiv.org/abs/2209.01111")
    assert saved.status_code == 303, saved.text
    got = load_issue(issue)
    assert [p.title for p in got.featured][-1] == "Robots that Read"
    assert got.featured[-1].summary_zh == "会读书的机器人。"
    tail = issue.read_text("utf-8").split("- category: RO\n")[1].split("\nnotable:")[0]
    assert [line.split(":")[0].strip() for line in tail.splitlines()
            if not line.startswith("  -") and ":" in line] == [
        "title", "authors", "summary_zh", "abstract", "url"]


@pytest.mark.slow
def test_moving_and_removing_papers_saves_the_new_order(desk: DeskSite, issue: Path) -> None:
    """Up, down and remove rearrange the form unsaved; Save writes that order, and the
    comments between papers and at the end stay."""
    sample = load_issue(issue)
    page = desk.client.get(PAGE).text
    moved = submit(desk, page, action="up:featured:2")
    assert moved.status_code == 200
    assert fields_of(moved.text)["featured-1-title"] == sample.featured[2].title
    assert 'id="up-featured-1"' in moved.text.split("autofocus")[0].rsplit("<button", 1)[1]
    moved = submit(desk, moved.text, action="down:featured:3")
    removed = submit(desk, moved.text, action="remove:notable:0")
    assert fields_of(removed.text)["notable-0-title"] == sample.notable[1].title
    assert "notable-3-title" not in fields_of(removed.text)
    assert load_issue(issue) == sample  # nothing saved yet
    assert submit(desk, removed.text).status_code == 303
    got = load_issue(issue)
    f = sample.featured
    assert [p.url for p in got.featured] == [f[0].url, f[2].url, f[1].url, f[4].url, f[3].url]
    assert [p.url for p in got.notable] == [p.url for p in sample.notable[1:]]
    assert got.featured[1] == f[2]  # every field of a moved paper went with it
    text = issue.read_text("utf-8")
    # The heading comment moved with its paper; the comments at the end stayed at the end.
    assert "# --- the language papers ---\n- category: CL\n  title: Analyzing" in text
    assert text.endswith("# end of the issue\n")
    assert "# the English readers' notice\nfooter_en:" in text


@pytest.mark.slow
def test_the_legend_can_be_edited_and_papers_choose_from_it(desk: DeskSite,
                                                           issue: Path) -> None:
    """A category added to the legend becomes a choice for papers; saved, it is in the file."""
    added = submit(desk, desk.client.get(PAGE).text, action="add_category")
    assert 'id="category-5-code" name="category-5-code" value="" autofocus' in added.text
    refreshed = submit(desk, added.text, action="add_notable", category__5__code="IR",
                       category__5__zh="信息检索", category__5__en="Information Retrieval")
    assert '<option value="IR">IR: 信息检索 / Information Retrieval</option>' in refreshed.text
    saved = submit(desk, refreshed.text, notable__4__category="IR",
                   notable__4__title="Finding Papers", notable__4__authors="B Author",
                   notable__4__url="https://arxiv.org/abs/2209.02222")
    assert saved.status_code == 303, saved.text
    got = load_issue(issue)
    assert got.categories["IR"].en == "Information Retrieval"
    assert got.notable[-1].category == "IR"


def test_scheduled_sends_and_messages_are_shown(desk: DeskSite, issue: Path) -> None:
    """A scheduled issue shows when it goes and an Unschedule button; the messages the
    sending routes redirect back with are shown."""
    send_at = dt.datetime(2022, 9, 7, 0, 0, tzinfo=dt.UTC)
    DeskStore(desk.db).schedule(DATE, str(issue), send_at, EDITOR)
    page = desk.client.get(f"{PAGE}?sent=2&done=Unscheduled.&error=No+transport").text
    assert "Scheduled for <strong>2022-09-07 08:00</strong> (Asia/Shanghai)" in page
    assert 'action="/admin/issues/2022-09-07/unschedule"' in page
    assert "Unschedule</button>" in page
    assert 'value="2022-09-07" required' in page and 'value="08:00" required' in page
    assert '<p class="notice" role="status">2 test messages sent.</p>' in page
    assert '<p class="notice" role="status">Unscheduled.</p>' in page
    assert '<p class="error-summary" role="alert">No transport</p>' in page


def test_an_unknown_issue_is_not_found(desk: DeskSite) -> None:
    """A date with no file, or no date at all, is a 404, for GET and POST alike."""
    for path in ("/admin/issues/2099-01-01", "/admin/issues/2022-13-01", "/admin/issues/x"):
        assert desk.client.get(path).status_code == 404
    csrf = fields_of(desk.client.get(PAGE).text)["csrf"]
    assert desk.client.post("/admin/issues/2099-01-01",
                            data={"csrf": csrf, "action": "save"}).status_code == 404


def test_a_file_that_is_not_yaml_is_shown_not_edited(desk: DeskSite, issue: Path) -> None:
    """A file the editor cannot read shows its problems and its text, and no form."""
    issue.write_text("date: 2022-09-07\ntitle: [unclosed\n", "utf-8")
    page = desk.client.get(PAGE)
    assert page.status_code == 200
    assert "cannot be edited here" in page.text
    assert 'id="issue-form"' not in page.text
    assert "title: [unclosed" in page.text


# -- in a real browser ----------------------------------------------------------------------

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@contextmanager
def chromium(chromium_path: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def tab_on(browser: Any, desk: DeskSite, documents: dict[str, str], width: int) -> Any:
    """A page whose requests the desk's TestClient answers (signed in), with ``documents``
    (path -> HTML) served for those pages. The Content-Security-Policy is left off so that
    axe-core can be injected; redirects are followed here (Chromium does not route the
    request a fulfilled redirect makes)."""
    def answer(route: Any) -> None:
        request = route.request
        path = request.url.removeprefix(BASE)
        if request.method == "GET" and path in documents:
            route.fulfill(status=200, content_type="text/html", body=documents[path])
            return
        got = desk.client.request(request.method, path, content=request.post_data_buffer,
                                  headers={"content-type": request.headers.get(
                                      "content-type", "")}, follow_redirects=True)
        headers = {k: v for k, v in got.headers.items() if k.lower() == "content-type"}
        route.fulfill(status=got.status_code, headers=headers, body=got.content)

    page = browser.new_page(viewport={"width": width, "height": 900})
    page.route("**/*", answer)
    return page


def serious_violations(page: Any, axe: str) -> list[Any]:
    page.add_script_tag(content=axe)
    result = page.evaluate("async () => await axe.run(document)")
    assert result["passes"], "axe ran no check"
    return [(v["id"], [n["html"][:120] for n in v["nodes"][:3]])
            for v in result["violations"] if v["impact"] in ("serious", "critical")]


@pytest.mark.e2e
@pytest.mark.browser
def test_axe_and_phone_width(desk: DeskSite, issue: Path, chromium_path: str) -> None:
    """axe-core finds nothing serious or critical on the editor, as loaded, after a refused
    save and after a conflict, in light and dark mode; at 375 px nothing scrolls sideways."""
    try:
        axe = axe_source()
    except AxeUnavailable as err:
        pytest.skip(str(err))
    page = desk.client.get(PAGE).text
    refused = submit(desk, page, featured__2__url="nope", notable__1__title="").text
    issue.write_text(issue.read_text("utf-8").replace("转自爱可可爱生活", "转自A"), "utf-8")
    conflict = submit(desk, page, title="新标题").text
    with chromium(chromium_path) as browser:
        for name, html_text in (("loaded", page), ("refused", refused),
                                ("conflict", conflict)):
            for width in (375, 1280):
                tab = tab_on(browser, desk, {PAGE: html_text}, width)
                tab.goto(BASE + PAGE)
                for dark in (False, True):
                    tab.emulate_media(color_scheme="dark" if dark else "light")
                    assert serious_violations(tab, axe) == [], (name, width, dark)
                sideways = tab.evaluate(
                    "document.documentElement.scrollWidth - window.innerWidth")
                assert sideways <= 0, (name, width)
                tab.close()


@pytest.mark.e2e
@pytest.mark.browser
def test_by_keyboard(desk: DeskSite, issue: Path, chromium_path: str) -> None:
    """By keyboard: Move down keeps the focus on the moved paper's button, Enter in a field
    saves, and the Chinese summary typed lands in the file."""
    with chromium(chromium_path) as browser:
        tab = tab_on(browser, desk, {}, 375)
        tab.goto(BASE + PAGE)
        tab.focus("#down-featured-0")
        with tab.expect_navigation():
            tab.keyboard.press("Enter")
        assert tab.evaluate("document.activeElement.id") == "down-featured-1"
        assert tab.input_value("#featured-0-title").startswith("A Review of Sparse")
        tab.focus("#featured-0-summary_zh")
        tab.keyboard.press("Control+A")
        tab.keyboard.type("键盘写的摘要。")
        tab.focus("#featured-0-title_zh")
        with tab.expect_navigation():
            tab.keyboard.press("Enter")  # submits with the form's first button: Save
        assert tab.text_content("p[role=status]") == "Saved."
    got = load_issue(issue)
    assert got.featured[0].summary_zh == "键盘写的摘要。"
    assert got.featured[1].title == "MO2: Model-Based Offline Options"
