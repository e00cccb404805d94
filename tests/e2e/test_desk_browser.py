"""Headless Chromium at the desk of a real ``newsletter serve``: an editor's day from the
sign-in link in the outbox to a finished campaign, and axe-core on every desk page."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from support.arxiv_server import ArxivServer, arxiv_server
from support.axe import AxeUnavailable, axe_source
from support.env import SAMPLE_ISSUE, WebServer
from support.servers import serve

from newsletter.model.subscribers import Subscriber
from newsletter.store.db import Database, make_engine
from newsletter.store.subscribers import SubscriberStore

pytestmark = pytest.mark.browser

NEWSLETTER = str(Path(sys.executable).with_name("newsletter"))
EDITOR = "editor@example.org"
READERS = ["ada@example.org", "grace@example.org", "edsger@example.org"]
ZONE = ZoneInfo("Asia/Shanghai")  # NEWSLETTER_TIMEZONE's default
SIGN_IN_LINK = r"/admin/sign-in/[A-Za-z0-9_-]+"


@dataclass
class DeskServer:
    """A running ``newsletter serve`` with one editor, and the environment it runs with."""

    web: WebServer
    env: dict[str, str]
    cwd: Path
    issues: Path
    arxiv: ArxivServer

    @property
    def url(self) -> str:
        return self.web.url

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        """A ``newsletter`` command with the server's environment, to its end."""
        return subprocess.run([NEWSLETTER, *args], env=self.env, cwd=self.cwd,
                              capture_output=True, text=True, timeout=60, check=False)

    def database(self) -> Database:
        return Database(make_engine(self.web.database_url))


@pytest.fixture
def desk_server(tmp_path: Path) -> Iterator[DeskServer]:
    """``newsletter serve`` with NEWSLETTER_EDITORS, an empty issues folder and the loopback
    arXiv stub."""
    issues = tmp_path / "issues"
    issues.mkdir()
    with arxiv_server() as arxiv:
        overrides = {"NEWSLETTER_EDITORS": EDITOR, "NEWSLETTER_ISSUES_DIR": str(issues),
                     "NEWSLETTER_ARXIV_API_URL": arxiv.url}
        with serve(tmp_path, tmp_path / "serve.log", **overrides) as web:
            env = {**os.environ, "NEWSLETTER_BASE_URL": web.url, **overrides}
            yield DeskServer(web, env, tmp_path, issues, arxiv)


# -- helpers ---------------------------------------------------------------------------------

def poll(what: str, found: Callable[[], Any], seconds: float = 20) -> Any:
    """``found()`` once it is truthy; fails naming ``what`` after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not (value := found()):
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.05)
    return value


def messages(outbox: Path) -> list[EmailMessage]:
    """Every message in the outbox, oldest first."""
    found = []
    for path in sorted(outbox.glob("*.eml"), key=lambda p: p.stat().st_mtime_ns):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        found.append(message)
    return found


def plain_text(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    return str(body.get_content())


def sign_in(page: Any, desk: DeskServer, at: Callable[[str], object] = str) -> None:
    """Through the form, the link in the outbox and the ``Sign in`` button; ``at(name)``
    is called on each page on the way."""
    from playwright.sync_api import expect

    page.goto(f"{desk.url}/admin/")
    expect(page).to_have_url(f"{desk.url}/admin/sign-in")  # no session: sent to sign in
    at("sign-in")
    page.get_by_label("Email").fill(EDITOR)
    page.get_by_role("button", name="Send sign-in link").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your inbox")
    at("link sent")
    # The link is made after the answer has gone: wait for the message.
    mail = poll("the sign-in email", lambda: [m for m in messages(desk.web.outbox)
                                              if m["To"] == EDITOR])[-1]
    link = re.search(re.escape(desk.url) + SIGN_IN_LINK, plain_text(mail))
    assert link, plain_text(mail)
    page.goto(link.group(0))
    at("sign-in link")
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{desk.url}/admin/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Overview")


def add_readers(desk: DeskServer, addresses: list[str]) -> None:
    db = desk.database()
    try:
        store = SubscriberStore(db)
        for address in addresses:
            store.add(address, status="active")
    finally:
        db.close()


def reader(desk: DeskServer, address: str) -> Subscriber:
    db = desk.database()
    try:
        found = SubscriberStore(db).find(address)
    finally:
        db.close()
    assert found is not None
    return found


def tomorrow() -> str:
    """Tomorrow in NEWSLETTER_TIMEZONE: its 08:00 is always in the future."""
    return (dt.datetime.now(ZONE).date() + dt.timedelta(days=1)).isoformat()


# -- the editor's day ------------------------------------------------------------------------

def test_an_editors_day_at_the_desk(desk_server: DeskServer, browser: Any) -> None:
    """Sign in by the emailed link, draft from arXiv, fill the Chinese and see the preview
    change, send a test, schedule, send now, see the worker finish the campaign, then find
    a reader and unsubscribe them: every control found by its label or role."""
    from playwright.sync_api import Page, expect

    desk, date = desk_server, tomorrow()
    add_readers(desk, READERS)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    page: Page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    try:
        sign_in(page, desk)

        # A draft from arXiv IDs: two featured papers, two notable, one needing a category.
        nav = page.get_by_role("navigation", name="Desk")
        nav.get_by_role("link", name="Issues").click()
        page.get_by_role("link", name="New issue").click()
        page.get_by_label("Issue date", exact=True).fill(date)
        page.get_by_label("Featured papers").fill("2209.01947 2209.01667")
        page.get_by_label("Notable papers (optional)").fill("2209.01540, 2209.01346")
        page.get_by_label("Categories (only for papers asked about)").fill("2209.01346=RO")
        page.get_by_role("button", name="Draft from arXiv").click()
        expect(page).to_have_url(re.compile(re.escape(f"{desk.url}/admin/issues/{date}")))
        expect(page.get_by_role("heading", level=1)).to_have_text(f"Issue {date}")
        assert len(desk.arxiv.requests) == 1
        assert (desk.issues / f"{date}.yaml").is_file()
        first_summary = page.get_by_label("Featured paper 1: Chinese summary")
        expect(first_summary).to_have_value(re.compile("^TODO:"))
        expect(page.get_by_label("Featured paper 1: English abstract")).to_have_value(
            re.compile("^The ability to discover useful behaviours"))

        # The checks list the draft's TODOs; the preview shows the draft, TODOs and all.
        checks = page.locator("#checks")
        expect(checks).to_contain_text(re.compile(r"\d+ (problems|errors)"))
        preview = page.frame_locator("iframe[title=Preview]").locator("body")
        expect(preview).to_contain_text("MO2: Model-Based Offline Options")
        before = preview_text(page)
        summary = "本文提出基于模型的离线选项方法，在稀疏奖励的长时程控制任务中表现优异。"
        assert summary not in before

        # Every Chinese title and summary the draft left as TODO, then Save.
        for n in (1, 2):
            page.get_by_label(f"Featured paper {n}: Chinese title").fill(f"精选论文{n}的中文标题")
            page.get_by_label(f"Notable paper {n}: Chinese title").fill(f"值得一读{n}的中文标题")
        first_summary.fill(summary)
        page.get_by_label("Featured paper 2: Chinese summary").fill("第二篇论文的中文摘要。")
        page.get_by_role("button", name="Save").first.click()
        expect(page.get_by_role("status").filter(has_text="Saved.")).to_be_visible()
        assert summary in (desk.issues / f"{date}.yaml").read_text("utf-8")
        expect(preview).to_contain_text(summary)
        after = preview_text(page)
        assert after != before and "TODO" not in after
        # Server-rendered at first, then the preflight's own fragment.
        expect(checks).to_contain_text(re.compile("The saved file is valid|No errors"))

        # Send test: one message, to this editor, marked as a test.
        page.get_by_role("button", name="Send test").click()
        expect(page.get_by_role("status").filter(has_text="1 test message sent.")).to_be_visible()
        tests = poll("the test message", lambda: [
            m for m in messages(desk.web.outbox) if m["X-Newsletter-Test"]])
        assert [m["To"] for m in tests] == [EDITOR]
        assert summary in re.sub(r"\s", "", plain_text(tests[0]))  # lines are wrapped

        # Schedule for 08:00 tomorrow: stored, shown on the page and on the overview.
        page.get_by_label("Date", exact=True).fill(date)
        page.get_by_label(re.compile(r"^Time")).fill("08:00")
        page.get_by_role("button", name="Schedule", exact=True).click()
        expect(page.get_by_role("status").filter(has_text="Scheduled for")).to_contain_text(
            f"{date} 08:00")
        nav.get_by_role("link", name="Overview").click()
        expect(page.get_by_role("region", name="Next scheduled send")).to_contain_text(
            f"{date} at {date} 08:00")

        # Send now replaces the schedule (a time a minute ahead would take a minute):
        # the confirmation shows who gets what, then `newsletter worker` starts it.
        page.goto(f"{desk.url}/admin/issues/{date}")
        page.get_by_role("link", name="Send now").click()
        expect(page.get_by_role("heading", level=1)).to_have_text(f"Send {date} now?")
        expect(page.get_by_role("table")).to_contain_text("3 readers in all")
        page.get_by_role("button", name="Send to 3 readers now").click()
        expect(page.get_by_role("status").filter(has_text="Sending now")).to_be_visible()
        worker = desk.run("worker", "--once")
        assert worker.returncode == 0, worker.stdout + worker.stderr

        nav.get_by_role("link", name="Campaigns").click()
        page.get_by_role("link", name=date).click()
        expect(page.get_by_role("heading", level=1)).to_have_text(f"Campaign {date}")
        progress = page.get_by_role("region", name="Progress")
        expect(progress).to_contain_text("done, finished")
        expect(progress.get_by_role("row", name="Sent")).to_contain_text("3 of 3")
        issue_mail = [m for m in messages(desk.web.outbox) if m["To"] in READERS]
        assert sorted(m["To"] for m in issue_mail) == sorted(READERS)

        # A reader wrote in: find them by address and unsubscribe them.
        nav.get_by_role("link", name="Readers").click()
        page.get_by_label("Search", exact=True).fill(READERS[1])
        page.get_by_role("button", name="Search", exact=True).click()
        page.get_by_role("link", name=READERS[1]).click()
        expect(page.get_by_role("heading", level=1)).to_have_text(READERS[1])
        page.get_by_role("button", name="Unsubscribe").click()  # confirmed in the dialog
        about = page.get_by_role("table", name="The reader")
        expect(about.get_by_role("row", name=re.compile("^Status"))).to_have_text(
            re.compile(r"Status\s*unsubscribed"))
        assert reader(desk, READERS[1]).status == "unsubscribed"
        assert [reader(desk, a).status for a in (READERS[0], READERS[2])] == ["active"] * 2

        # Each action is in the audit log, with who did it.
        nav.get_by_role("link", name="Audit log").click()
        log = page.get_by_role("table")
        for action in ("new issue", "send test", "schedule", "send now", "unsubscribe"):
            expect(log.get_by_role("cell", name=action, exact=True)).to_be_visible()
        expect(log).to_contain_text(EDITOR)
    finally:
        context.close()


def preview_text(page: Any) -> str:
    """The text of the preview iframe, through Playwright's frame API."""
    frame = page.frame(name="preview")
    assert frame is not None
    frame.wait_for_load_state()
    return str(frame.inner_text("body"))


# -- axe-core on every page ------------------------------------------------------------------

def seed(desk: DeskServer) -> str:
    """A sent issue (a campaign), a valid unsent one, a draft from arXiv, readers and a
    suppression; the path of the page of a reader who got the sent issue."""
    add_readers(desk, READERS)
    shutil.copyfile(SAMPLE_ISSUE, desk.issues / "2022-09-07.yaml")
    unsent = SAMPLE_ISSUE.read_text("utf-8").replace("2022-09-07", "2022-09-08")
    (desk.issues / "2022-09-08.yaml").write_text(unsent, "utf-8")
    for args in (["send", "2022-09-07", "--yes"],
                 ["new", "2022-09-09", "--arxiv", "2209.01947,2209.01667"]):
        done = desk.run(*args)
        assert done.returncode == 0, done.stdout + done.stderr
    db = desk.database()
    try:
        store = SubscriberStore(db)
        store.suppress("bounced.once@example.org", "bounced", "550 5.1.1 user unknown")
        ada = store.find(READERS[0])
    finally:
        db.close()
    assert ada is not None
    return f"/admin/subscribers/{ada.id}"


def test_axe_finds_nothing_serious_on_any_desk_page(desk_server: DeskServer,
                                                    browser: Any) -> None:
    """axe-core finds no serious or critical violation on each desk page at 375 px and
    1280 px, in light and dark mode, and nothing scrolls sideways at 375 px."""
    from playwright.sync_api import expect

    try:
        axe = axe_source()
    except AxeUnavailable as err:
        pytest.skip(str(err))
    desk = desk_server
    reader_path = seed(desk)
    # The strict Content-Security-Policy would refuse the injected axe-core: bypass it.
    context = browser.new_context(bypass_csp=True)
    context.set_default_timeout(15_000)
    page = context.new_page()
    failures: list[object] = []
    try:
        sign_in(page, desk, at=lambda name: failures.extend(violations(page, name, axe)))
        page.goto(f"{desk.url}/admin/campaigns")
        page.get_by_role("link", name="2022-09-07").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Campaign 2022-09-07")
        pages = {
            "overview": "/admin/",
            "issues": "/admin/issues",
            "new issue": "/admin/issues/new",
            "editor": "/admin/issues/2022-09-08",
            "editor of a draft": "/admin/issues/2022-09-09",
            "send now": "/admin/issues/2022-09-08/send-now",
            "campaigns": "/admin/campaigns",
            "campaign": page.url.removeprefix(desk.url),
            "readers": "/admin/subscribers",
            "reader": reader_path,
            "suppressions": "/admin/suppressions",
            "integrations": "/admin/integrations",  # issue 22
            "weekly editions": "/admin/weekly",  # issue 21
            "audit log": "/admin/audit",
            "trends": "/admin/trends",
        }
        for name, path in pages.items():
            answer = page.goto(desk.url + path)
            assert answer is not None and answer.ok, (name, answer and answer.status)
            assert page.url == desk.url + path, (name, page.url)
            if name.startswith("editor"):
                # The checks arrive a few seconds after the page: check them too.
                expect(page.locator("#checks .issue-check")).to_be_attached(timeout=15_000)
            failures.extend(violations(page, name, axe))
    finally:
        context.close()
    assert not failures, "\n".join(map(str, failures))


def violations(page: Any, name: str, axe: str) -> list[object]:
    """What axe-core finds of serious or critical impact on the page as it is, at 375 px
    and 1280 px wide in light and dark mode; and sideways scrolling at 375 px."""
    page.add_script_tag(content=axe)
    found: list[object] = []
    for width in (375, 1280):
        page.set_viewport_size({"width": width, "height": 900})
        backgrounds = set()
        for scheme in ("light", "dark"):
            page.emulate_media(color_scheme=scheme)
            backgrounds.add(page.evaluate("getComputedStyle(document.body).backgroundColor"))
            result = page.evaluate(
                "async () => await axe.run(document, {resultTypes: [\"violations\"]})")
            assert result["passes"], "axe ran no check"
            found += [(name, width, scheme, v["id"], v["help"],
                       [n["html"][:160] for n in v["nodes"][:3]])
                      for v in result["violations"] if v["impact"] in ("serious", "critical")]
        assert len(backgrounds) == 2, f"{name}: dark mode changes nothing"
        if width == 375:
            sideways = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            if sideways > 0:
                found.append((name, width, f"scrolls sideways by {sideways} px"))
    return found
