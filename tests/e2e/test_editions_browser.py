"""Issue 21's reader pages in a real Chromium: the delivery page is used by its labels,
and axe-core finds nothing serious on it or on the feedback pages, at 375 px and 1280 px,
light and dark; nothing scrolls sideways at 375 px."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import re
import shutil
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from support.axe import AxeUnavailable, axe_source
from support.env import TEST_SECRET, WebServer
from support.sending import send_issue

from newsletter.settings import get_settings
from newsletter.store.db import open_database
from newsletter.store.editions import PreferenceStore
from newsletter.store.subscribers import SubscriberStore
from newsletter.tokens import Purpose, make_token
from newsletter.transports.outbox import OutboxTransport

pytestmark = pytest.mark.e2e


def violations(page: Any, name: str, axe: str) -> list[object]:
    page.add_script_tag(content=axe)
    found: list[object] = []
    for width in (375, 1280):
        page.set_viewport_size({"width": width, "height": 900})
        for scheme in ("light", "dark"):
            page.emulate_media(color_scheme=scheme)
            result = page.evaluate(
                "async () => await axe.run(document, {resultTypes: [\"violations\"]})")
            assert result["passes"], "axe ran no check"
            found += [(name, width, scheme, v["id"], [n["html"][:160] for n in v["nodes"][:3]])
                      for v in result["violations"] if v["impact"] in ("serious", "critical")]
        if width == 375:
            sideways = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            if sideways > 0:
                found.append((name, width, f"scrolls sideways by {sideways} px"))
    return found


def test_delivery_and_feedback_pages_in_a_browser(
    web_server: WebServer, browser: Any, tmp_path: Path, sample_issue_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A reader pauses, limits and follows by the labels; the feedback pages pass axe."""
    from playwright.sync_api import expect

    try:
        axe = axe_source()
    except AxeUnavailable as err:
        pytest.skip(str(err))
    monkeypatch.setenv("NEWSLETTER_BASE_URL", web_server.url)
    db = open_database(web_server.database_url)
    try:
        reader = SubscriberStore(db).add("reader@example.org", status="active")
    finally:
        db.close()
    issue = tmp_path / "issues" / "2022-09-07.yaml"
    issue.parent.mkdir()
    shutil.copy(sample_issue_path, issue)
    send_issue(get_settings(), str(issue), transport=OutboxTransport(tmp_path / "sent"))
    [sent] = (tmp_path / "sent").glob("*.eml")
    message = email.message_from_bytes(sent.read_bytes(), policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    links = re.findall(re.escape(web_server.url) + r'(/feedback/[^"]+)', html)
    token = make_token(TEST_SECRET, Purpose.PREFERENCES, reader.id)
    context = browser.new_context(bypass_csp=True)  # the CSP would refuse injected axe-core
    page = context.new_page()
    failures: list[object] = []
    try:
        page.goto(f"{web_server.url}/preferences/{token}")
        page.get_by_role("link", name=re.compile("How often")).click()
        expect(page.get_by_role("heading", level=1)).to_contain_text("How often")
        failures += violations(page, "delivery", axe)
        page.get_by_label(re.compile("Pause, then every issue")).check()
        page.get_by_label(re.compile("Resume on")).fill("2099-01-01")
        page.get_by_label(re.compile("At most 3")).check()
        page.get_by_label(re.compile("Authors")).fill("Y Bengio")
        page.get_by_role("button", name=re.compile("Save")).click()
        expect(page.locator("#until-error")).to_contain_text("at most a year")
        failures += violations(page, "delivery with a problem", axe)
        page.get_by_label(re.compile("Resume on")).fill(f"{dt.date.today().year + 1}-01-01")
        page.get_by_role("button", name=re.compile("Save")).click()
        expect(page.get_by_role("status")).to_contain_text("saved")
        more = next(link for link in links if "/more/" in link)
        page.goto(web_server.url + more.replace("&amp;", "&"))
        failures += violations(page, "more like this", axe)
        page.get_by_role("button", name=re.compile("Record")).click()
        expect(page.get_by_role("status")).to_contain_text("Recorded")
        failures += violations(page, "follow choices", axe)
        listing = more.rsplit("/more/", 1)[0]
        page.goto(web_server.url + listing)
        failures += violations(page, "every paper", axe)
    finally:
        context.close()
    assert not failures, "\n".join(map(str, failures))
    db = open_database(web_server.database_url)
    try:
        prefs = PreferenceStore(db).get(reader.id)
    finally:
        db.close()
    assert (prefs.frequency.kind, prefs.max_papers, [str(f) for f in prefs.follows]) == (
        "paused", 3, ["author:Y Bengio"])
