"""The desk's issues pages: the list and its states, new drafts from arXiv and digests, the
preview and checks the editor embeds, Send test, Schedule, Unschedule and Send now."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from support.arxiv_server import ArxivServer, arxiv_server
from support.clock import START
from support.desk import EDITOR, DeskSite, desk_site
from support.env import ROOT, SAMPLE_ISSUE

from newsletter.settings import get_settings
from newsletter.store.campaigns import CampaignStore
from newsletter.store.db import Database
from newsletter.store.desk import DeskStore
from newsletter.store.subscribers import SubscriberStore

DATE = "2022-09-07"
OTHER = "other@example.org"
DIGEST = ROOT / "tests" / "fixtures" / "digest-2022-09-07.txt"


@pytest.fixture
def issues(tmp_path: Path) -> Path:
    folder = tmp_path / "issues"
    folder.mkdir()
    (folder / f"{DATE}.yaml").write_bytes(SAMPLE_ISSUE.read_bytes())
    return folder


@contextmanager
def signed_in(db: Database, tmp_path: Path, issues: Path, arxiv_url: str = "http://127.0.0.1:9/",
              editors: tuple[str, ...] = (EDITOR,)) -> Iterator[tuple[DeskSite, str]]:
    settings = get_settings().model_copy(update={"issues_dir": issues,
                                                 "arxiv_api_url": arxiv_url})
    with desk_site(settings, db, tmp_path / "outbox", editors) as site:
        yield site, site.sign_in()


@pytest.fixture
def desk(db: Database, tmp_path: Path, issues: Path) -> Iterator[tuple[DeskSite, str]]:
    with signed_in(db, tmp_path, issues) as pair:
        yield pair


@pytest.fixture
def arxiv() -> Iterator[ArxivServer]:
    with arxiv_server() as server:
        yield server


def copy_issue(issues: Path, date: str, change: tuple[str, str] = ("", "")) -> Path:
    text = SAMPLE_ISSUE.read_text("utf-8").replace(f"date: {DATE}", f"date: {date}")
    path = issues / f"{date}.yaml"
    path.write_text(text.replace(*change) if change[0] else text, "utf-8")
    return path


def states(site: DeskSite) -> dict[str, str]:
    page = site.client.get("/admin/issues")
    assert page.status_code == 200, page.text
    rows = re.findall(r'href="/admin/issues/(\d{4}-\d\d-\d\d)">.*?class="state state-\w+">'
                      r"([^<]+)<", page.text, re.DOTALL)
    return dict(rows)


def audit_actions(db: Database) -> list[tuple[str, str, str]]:
    return [(e.action, e.target, e.detail) for e in DeskStore(db).audit_entries()]


def back(answer: Any, date: str = DATE) -> dict[str, str]:
    """The query of a redirect back to the issue's editor page."""
    assert answer.status_code == 303, answer.text
    where = urlsplit(answer.headers["location"])
    assert where.path == f"/admin/issues/{date}"
    return {k: v[0] for k, v in parse_qs(where.query).items()}


def outbox_messages(site: DeskSite) -> list[email.message.EmailMessage]:
    found = []
    for path in site.outbox.glob("*.eml"):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if message["X-Newsletter-Test"]:  # send-test's mark (the subject is the readers')
            assert isinstance(message, email.message.EmailMessage)
            found.append(message)
    return found


# -- the list -----------------------------------------------------------------------------


def test_the_list_shows_every_issue_newest_first_with_its_state(
    db: Database, tmp_path: Path, issues: Path,
) -> None:
    """Draft with N problems, valid, scheduled (in the desk's zone), not started by the
    worker, sending, sent on a day."""
    copy_issue(issues, "2022-09-08", ("title_zh: 'MO2: 基于模型的离线选项'", "title_zh: TODO"))
    copy_issue(issues, "2022-09-09")
    for date in ("2022-09-05", "2022-09-06"):
        copy_issue(issues, date)
    (issues / "notes.yaml").write_text("not an issue", "utf-8")
    campaigns = CampaignStore(db, clock=lambda: START)
    sent, _ = campaigns.start("2022-09-05", str(issues / "2022-09-05.yaml"), ["LG"])
    assert campaigns.finish_if_complete(sent.id)
    SubscriberStore(db).add("reader@example.org", status="active")
    campaigns.start("2022-09-06", str(issues / "2022-09-06.yaml"), ["LG"])
    DeskStore(db).schedule("2022-09-09", "x", dt.datetime(2022, 9, 9, 0, 0, tzinfo=dt.UTC), EDITOR)
    copy_issue(issues, "2022-09-10")
    earlier = DeskStore(db, clock=lambda: START - dt.timedelta(hours=1))
    earlier.schedule("2022-09-10", "x", START - dt.timedelta(hours=1), EDITOR)
    assert [s.issue_date for s in earlier.take_due()] == ["2022-09-10"]  # and not started
    with signed_in(db, tmp_path, issues) as (site, _):
        found = states(site)
    assert list(found) == ["2022-09-10", "2022-09-09", "2022-09-08", DATE, "2022-09-06",
                           "2022-09-05"]
    assert found == {
        "2022-09-10": "not sent: the worker could not start it (due 2022-09-07 13:00 "
                      "(Asia/Shanghai); see the audit log)",
        "2022-09-09": "scheduled for 2022-09-09 08:00 (Asia/Shanghai)",
        "2022-09-08": "draft: 1 problem",
        DATE: "valid",
        "2022-09-06": "sending",
        "2022-09-05": "sent on 2022-09-07",
    }


def test_a_file_is_checked_again_only_when_its_size_or_time_changes(
    desk: tuple[DeskSite, str], issues: Path,
) -> None:
    """The list keeps each file's check while size and modification time hold (the cache),
    and sees an edit that changes them."""
    site, _ = desk
    assert states(site)[DATE] == "valid"
    path = issues / f"{DATE}.yaml"
    before = path.stat()
    text = path.read_text("utf-8")
    same_size = text.replace("title_en: AI Paper Digest", "title_en: TODO Paper Dige")
    assert len(same_size.encode()) == before.st_size
    path.write_text(same_size, "utf-8")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert states(site)[DATE] == "valid"  # not read again
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000))
    assert states(site)[DATE] == "draft: 1 problem"


# -- new issues ---------------------------------------------------------------------------


def test_a_draft_from_arxiv_is_written_and_opened(
    db: Database, tmp_path: Path, issues: Path, arxiv: ArxivServer,
) -> None:
    """Featured and notable IDs become DATE.yaml, audited; the editor page is next."""
    with signed_in(db, tmp_path, issues, arxiv.url) as (site, csrf):
        page = site.client.get("/admin/issues/new")
        assert page.status_code == 200 and 'name="featured"' in page.text
        answer = site.client.post("/admin/issues/new", data={
            "csrf": csrf, "source": "arxiv", "date": "2022-09-10",
            "featured": "2209.01947, 2209.01667", "notable": "2209.01540 2209.01346",
            "categories": "2209.01346=ro"})
        query = back(answer, "2022-09-10")
    assert "2 featured and 2 notable papers" in query["done"]
    text = (issues / "2022-09-10.yaml").read_text("utf-8")
    assert "https://arxiv.org/abs/2209.01346" in text and "category: RO" in text
    assert ("new issue", "2022-09-10",
            "from arXiv: 2209.01947, 2209.01667, 2209.01540, 2209.01346") in audit_actions(db)
    assert len(arxiv.requests) == 1


def test_an_arxiv_paper_without_a_code_asks_for_an_override_on_the_form(
    db: Database, tmp_path: Path, issues: Path, arxiv: ArxivServer,
) -> None:
    """No terminal to ask on: the form names the paper and the ID=CODE field; no file."""
    with signed_in(db, tmp_path, issues, arxiv.url) as (site, csrf):
        answer = site.client.post("/admin/issues/new", data={
            "csrf": csrf, "source": "arxiv", "date": "2022-09-10",
            "featured": "2209.01947,2209.01667", "notable": "2209.01540,2209.01346"})
    assert answer.status_code == 400
    assert "No category for 2209.01346 (cs.DC)" in answer.text
    assert "write ID=CODE in Categories" in answer.text
    assert 'id="categories"' in answer.text and 'aria-invalid="true"' in answer.text
    assert 'value="2209.01540,2209.01346"' in answer.text  # what was typed is kept
    assert not (issues / "2022-09-10.yaml").exists()
    assert not [a for a in audit_actions(db) if a[0] == "new issue"]


def test_arxiv_form_errors_are_shown_before_any_request(
    desk: tuple[DeskSite, str], issues: Path,
) -> None:
    """A bad date, an issue that exists, a malformed ID or override: said, nothing written."""
    site, csrf = desk
    cases = [
        ({"date": "2022-09-31", "featured": "2209.01947"}, "Give the issue date as YYYY-MM-DD"),
        ({"date": DATE, "featured": "2209.01947"}, f"There is already an issue for {DATE}"),
        ({"date": "2022-09-10", "featured": "12345"}, "Not an arXiv ID: 12345"),
        ({"date": "2022-09-10", "featured": "2209.01947", "categories": "2209.01947"},
         "Categories take ID=CODE"),
        ({"date": "2022-09-10", "featured": ""}, "Give at least one featured paper"),
    ]
    for fields, said in cases:
        answer = site.client.post("/admin/issues/new", data={
            "csrf": csrf, "source": "arxiv", **fields})
        assert answer.status_code == 400 and said in answer.text, (fields, answer.text)
    assert sorted(p.name for p in issues.iterdir()) == [f"{DATE}.yaml"]
    assert f'href="/admin/issues/{DATE}">Open the issue for {DATE}' in site.client.post(
        "/admin/issues/new", data={"csrf": csrf, "source": "arxiv", "date": DATE,
                                   "featured": "2209.01947"}).text


def test_a_pasted_digest_becomes_an_issue(desk: tuple[DeskSite, str], issues: Path,
                                          db: Database) -> None:
    """Pasted text with a date given: DATE.yaml written, audited, the editor page next."""
    site, csrf = desk
    answer = site.client.post("/admin/issues/new", data={
        "csrf": csrf, "source": "digest", "text": DIGEST.read_text("utf-8"),
        "digest_date": "2022-09-10"})
    query = back(answer, "2022-09-10")
    assert "date 2022-09-10 as given" in query["done"]
    written = (issues / "2022-09-10.yaml").read_text("utf-8")
    assert "title: arXiv AI 前沿论文速递 · 2022-09-10" in written
    assert "title_en: AI papers on arXiv · 2022-09-10" in written
    assert ("new issue", "2022-09-10", "from a digest (The pasted text)") in audit_actions(db)


@pytest.mark.slow
def test_an_uploaded_digest_takes_its_date_from_the_file_name(
    desk: tuple[DeskSite, str], issues: Path,
) -> None:
    """An uploaded file named digest-2022-09-11.txt becomes 2022-09-11.yaml."""
    site, csrf = desk
    answer = site.client.post(
        "/admin/issues/new", data={"csrf": csrf, "source": "digest", "digest_date": ""},
        files={"file": ("../digest-2022-09-11.txt", DIGEST.read_bytes(), "text/plain")})
    query = back(answer, "2022-09-11")
    assert "from the file name digest-2022-09-11.txt" in query["done"]
    assert (issues / "2022-09-11.yaml").is_file()


def test_a_digest_that_cannot_be_read_is_named_by_line_and_nothing_is_written(
    desk: tuple[DeskSite, str], issues: Path,
) -> None:
    """A broken block: the form says which line and why, keeps the text; no file."""
    site, csrf = desk
    lines = DIGEST.read_text("utf-8").splitlines()
    lines[23] = "3、[ZZ] Analyzing Transformers in Embedding Space"
    broken = "\n".join(lines)
    answer = site.client.post("/admin/issues/new", data={
        "csrf": csrf, "source": "digest", "text": broken, "digest_date": "2022-09-10"})
    assert answer.status_code == 400
    assert "The pasted text, line 24: category [ZZ] is not in the legend" in answer.text
    assert "3、[ZZ] Analyzing" in answer.text  # the textarea keeps it
    answer = site.client.post("/admin/issues/new", data={"csrf": csrf, "source": "digest"},
                              files={"file": ("d.txt", b"\xff\xfe", "text/plain")})
    assert answer.status_code == 400 and "d.txt, line 1: is not UTF-8 text" in answer.text
    assert sorted(p.name for p in issues.iterdir()) == [f"{DATE}.yaml"]


# -- preview and checks -------------------------------------------------------------------


def test_the_preview_is_the_rendered_issue_under_a_policy_that_runs_nothing(
    desk: tuple[DeskSite, str],
) -> None:
    """HTML or plaintext, per language and category, framable by the desk alone."""
    site, _ = desk
    page = site.client.get(f"/admin/issues/{DATE}/preview?view=html&language=en")
    assert page.status_code == 200 and page.text.startswith("<!doctype html")
    policy = page.headers["content-security-policy"]
    assert policy == ("default-src 'none'; img-src https: data:; style-src 'unsafe-inline'; "
                      "frame-ancestors 'self'")
    assert page.headers["x-frame-options"] == "SAMEORIGIN"
    assert "MO2: Model-Based Offline Options" in page.text
    text = site.client.get(f"/admin/issues/{DATE}/preview?view=text&language=zh&categories=CV")
    assert text.headers["content-type"].startswith("text/plain")
    assert "https://arxiv.org/abs/2209.01540" in text.text  # the CV papers only
    assert "https://arxiv.org/abs/2209.01947" not in text.text
    both = site.client.get(f"/admin/issues/{DATE}/preview?view=text")
    assert "https://arxiv.org/abs/2209.01947" in both.text
    assert site.client.get(f"/admin/issues/{DATE}/preview?view=pdf").status_code == 400
    assert site.client.get(f"/admin/issues/{DATE}/preview?categories=x;y").status_code == 400
    assert site.client.get("/admin/issues/2022-01-01/preview").status_code == 404


def test_an_issue_that_cannot_be_rendered_is_422_with_the_reason(
    desk: tuple[DeskSite, str], issues: Path,
) -> None:
    """The reason is shown in the frame (the answer may still be framed)."""
    site, _ = desk
    copy_issue(issues, "2022-09-08", ("featured:", "featured: 3\nfoo:"))
    answer = site.client.get("/admin/issues/2022-09-08/preview")
    assert answer.status_code == 422
    assert answer.text.startswith("The issue cannot be rendered:")
    assert "2022-09-08.yaml:" in answer.text and str(issues) not in answer.text
    assert answer.headers["x-frame-options"] == "SAMEORIGIN"


def test_the_checks_fragment_lists_findings_with_their_place_and_the_sizes(
    desk: tuple[DeskSite, str], issues: Path,
) -> None:
    """Errors and warnings, each with file and line and a link to its input on the editor
    page; bytes per variant; a fragment, not a page."""
    site, _ = desk
    copy_issue(issues, "2022-09-08", ("title_zh: 'MO2: 基于模型的离线选项'", "title_zh: TODO"))
    answer = site.client.get("/admin/issues/2022-09-08/check")
    assert answer.status_code == 200
    assert "<html" not in answer.text
    assert 'data-errors="1"' in answer.text
    assert re.search(r'<a href="#featured-0-title_zh">2022-09-08\.yaml:\d+</a>: '
                     r"featured\[0\]\.title_zh: a TODO is left", answer.text)
    assert re.search(r'<a href="#category-3-code">2022-09-08\.yaml:\d+</a>: '
                     r"categories.AS: no paper in this issue is in AS", answer.text)
    assert re.search(r'<a href="#notable-0-url">2022-09-08\.yaml:\d+</a>: notable\[0\]\.url: '
                     r"2209.01540 was already in 2022-09-07.yaml \(notable\)", answer.text)
    assert re.search(r"Chinese and English, all categories <span class=\"key\">\(both:\*\)"
                     r"</span></th><td>[\d,]+", answer.text)
    assert site.client.get("/admin/issues/2022-09-30/check").status_code == 404


# -- actions ------------------------------------------------------------------------------


def test_send_test_goes_to_the_signed_in_editor_or_every_editor(
    db: Database, tmp_path: Path, issues: Path,
) -> None:
    """A test message in the outbox for the editor; with all_editors, for each; audited."""
    with signed_in(db, tmp_path, issues, editors=(EDITOR, OTHER)) as (site, csrf):
        query = back(site.client.post(f"/admin/issues/{DATE}/send-test", data={"csrf": csrf}))
        assert query == {"sent": "1"}
        assert [m["To"] for m in outbox_messages(site)] == [EDITOR]
        query = back(site.client.post(f"/admin/issues/{DATE}/send-test", data={
            "csrf": csrf, "all_editors": "1", "all_variants": "1"}))
        assert query == {"sent": "2"}
        assert sorted(m["To"] for m in outbox_messages(site)) == [EDITOR, EDITOR, OTHER]
    assert ("send test", DATE, f"1 sent to {EDITOR}") in audit_actions(db)
    assert ("send test", DATE, f"2 sent to {EDITOR}, {OTHER}, every variant"
            ) in audit_actions(db)


def test_send_test_refuses_an_issue_with_errors(desk: tuple[DeskSite, str],
                                                issues: Path) -> None:
    """Nothing is sent while the checks find errors; the page is told why."""
    site, csrf = desk
    copy_issue(issues, "2022-09-08", ("title_zh: 'MO2: 基于模型的离线选项'", "title_zh: TODO"))
    query = back(site.client.post("/admin/issues/2022-09-08/send-test", data={"csrf": csrf}),
                 "2022-09-08")
    assert query["error"].startswith("Nothing was sent: the checks found errors")
    assert outbox_messages(site) == []


def test_schedule_stores_the_time_in_the_zone_and_unschedule_removes_it(
    desk: tuple[DeskSite, str], db: Database,
) -> None:
    """08:00 Asia/Shanghai is stored as 00:00 UTC; the list says so; Unschedule cancels."""
    site, csrf = desk
    query = back(site.client.post(f"/admin/issues/{DATE}/schedule", data={
        "csrf": csrf, "date": "2022-09-08", "time": "08:00"}))
    assert query["done"].startswith("Scheduled for 2022-09-08 08:00 (Asia/Shanghai).")
    [schedule] = DeskStore(db).scheduled()
    assert schedule.send_at == dt.datetime(2022, 9, 8, 0, 0, tzinfo=dt.UTC)
    assert schedule.created_by == EDITOR and Path(schedule.issue_path).is_absolute()
    assert states(site)[DATE] == "scheduled for 2022-09-08 08:00 (Asia/Shanghai)"
    query = back(site.client.post(f"/admin/issues/{DATE}/unschedule", data={"csrf": csrf}))
    assert query == {"done": "Unscheduled."}
    assert DeskStore(db).scheduled() == []
    query = back(site.client.post(f"/admin/issues/{DATE}/unschedule", data={"csrf": csrf}))
    assert query["error"].startswith("Nothing to unschedule")
    actions = audit_actions(db)
    assert ("schedule", DATE, "for 2022-09-08 08:00 (Asia/Shanghai)") in actions
    assert ("unschedule", DATE, "") in actions


@pytest.mark.parametrize(("fields", "said"), [
    ({"date": "2022-09-07", "time": "13:00"}, "Choose a time in the future."),  # 05:00 UTC
    ({"date": "2022-09-08", "time": "8 am"}, "Give the date as YYYY-MM-DD"),
    ({"date": "tomorrow", "time": "08:00"}, "Give the date as YYYY-MM-DD"),
])
def test_a_schedule_in_the_past_or_unreadable_is_refused(
    desk: tuple[DeskSite, str], db: Database, fields: dict[str, str], said: str,
) -> None:
    """Nothing is stored; the editor page is told why."""
    site, csrf = desk
    query = back(site.client.post(f"/admin/issues/{DATE}/schedule", data={"csrf": csrf,
                                                                           **fields}))
    assert query["error"].startswith(said)
    assert DeskStore(db).scheduled() == []


def test_an_issue_with_errors_or_already_sent_cannot_be_scheduled(
    desk: tuple[DeskSite, str], db: Database, issues: Path,
) -> None:
    """The checks must pass, and an issue with a campaign is not scheduled again."""
    site, csrf = desk
    copy_issue(issues, "2022-09-08", ("title_zh: 'MO2: 基于模型的离线选项'", "title_zh: TODO"))
    query = back(site.client.post("/admin/issues/2022-09-08/schedule", data={
        "csrf": csrf, "date": "2022-09-09", "time": "08:00"}), "2022-09-08")
    assert query["error"] == "The checks found 1 error; fix them first."
    campaigns = CampaignStore(db)
    campaigns.finish_if_complete(campaigns.start(DATE, "x", ["LG"])[0].id)
    query = back(site.client.post(f"/admin/issues/{DATE}/schedule", data={
        "csrf": csrf, "date": "2022-09-09", "time": "08:00"}))
    assert query["error"].startswith("This issue was sent already")
    assert DeskStore(db).scheduled() == []


def test_send_now_confirms_subjects_and_readers_per_variant_then_schedules_for_now(
    desk: tuple[DeskSite, str], db: Database,
) -> None:
    """The confirmation lists each variant's subject and readers; the button stores a
    schedule due now for `newsletter worker`, audited."""
    site, csrf = desk
    readers = SubscriberStore(db)
    readers.add("a@example.org", status="active", language="zh")
    readers.add("b@example.org", status="active", language="zh")
    readers.add("c@example.org", status="active", language="en", categories=["CV"])
    page = site.client.get(f"/admin/issues/{DATE}/send-now")
    assert page.status_code == 200, page.text
    rows = re.findall(r'<span class="key">\(([^)]+)\)</span></th><td>([^<]+)</td><td>(\d+)</td>',
                      page.text)
    assert [(key, n) for key, _, n in rows] == [("en:CV", "1"), ("zh:*", "2")]
    assert all("2022-09-07" in subject or "2022" in subject for _, subject, _ in rows)
    assert "Send to 3 readers now" in page.text
    query = back(site.client.post(f"/admin/issues/{DATE}/send-now", data={"csrf": csrf}))
    assert "`newsletter worker` starts it" in query["done"]
    [schedule] = DeskStore(db).scheduled()
    assert schedule.send_at == START
    assert ("send now", DATE, "") in audit_actions(db)


def test_send_now_is_refused_for_an_issue_with_errors(
    desk: tuple[DeskSite, str], db: Database, issues: Path,
) -> None:
    """The confirmation page says why and has no button; the POST stores nothing."""
    site, csrf = desk
    SubscriberStore(db).add("a@example.org", status="active")
    copy_issue(issues, "2022-09-08", ("title_zh: 'MO2: 基于模型的离线选项'", "title_zh: TODO"))
    page = site.client.get("/admin/issues/2022-09-08/send-now")
    assert page.status_code == 409 and "The checks found 1 error" in page.text
    assert "/send-now\"" not in page.text.split("<main", 1)[1]
    query = back(site.client.post("/admin/issues/2022-09-08/send-now", data={"csrf": csrf}),
                 "2022-09-08")
    assert query["error"] == "The checks found 1 error; fix them first."
    assert DeskStore(db).scheduled() == []
    assert site.client.get("/admin/issues/2022-09-30/send-now").status_code == 404
