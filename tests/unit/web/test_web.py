"""Every route of the web app through Starlette's TestClient, one small app per test."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path

import pytest
from pydantic import SecretStr
from starlette.testclient import TestClient
from support.clock import FakeClock
from support.delivery import outbox
from support.env import ROOT, TEST_SECRET
from typer.testing import CliRunner

from newsletter.cli.main import app as cli_app
from newsletter.errors import ConfigurationError
from newsletter.model.subscribers import Subscriber
from newsletter.settings import get_settings
from newsletter.store.db import Database, open_database
from newsletter.store.subscribers import SubscriberStore
from newsletter.tokens import Purpose, make_token
from newsletter.transports.outbox import OutboxTransport
from newsletter.web.app import create_app
from newsletter.web.ratelimit import RateLimiter

START = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)


@dataclass
class Site:
    client: TestClient
    store: SubscriberStore
    clock: FakeClock
    outbox: Path

    def messages(self) -> list[EmailMessage]:
        self.settle()
        return outbox(self.outbox)

    def settle(self) -> None:
        """Wait until the sign-up thread has handled every queued sign-up."""
        assert self.client.app.state.signups.wait_idle()  # type: ignore[attr-defined]

    def form_token(self, page: str = "/subscribe") -> str:
        response = self.client.get(page)
        match = re.search(r'name="form_token" value="([0-9a-f]{32})"', response.text)
        assert match, response.text
        return match.group(1)

    def subscribe(self, address: str, **extra: object) -> str:
        data: dict[str, object] = {
            "form_token": self.form_token(),
            "email": address,
            "categories": ["LG", "CV"],
            "language": "both",
        }
        data.update(extra)
        response = self.client.post("/subscribe", data=data)
        assert response.status_code == 200, response.text
        self.settle()
        return response.text

    def token(self, purpose: Purpose, subscriber: Subscriber) -> str:
        return make_token(TEST_SECRET, purpose, subscriber.id, now=self.clock.seconds())

    def active(self, address: str = "reader@example.org") -> Subscriber:
        return self.store.add(address, status="active", categories={"LG"}, language="zh")

    def status(self, subscriber: Subscriber) -> str:
        found = self.store.get(subscriber.id)
        assert found is not None
        return found.status


MakeSite = Callable[..., Site]


@pytest.fixture
def db() -> Iterator[Database]:
    db = open_database(get_settings().database_url)
    yield db
    db.close()


@pytest.fixture
def make_site(tmp_path: Path, db: Database) -> Iterator[MakeSite]:
    clients: list[TestClient] = []

    def make(limit: int = 10, **overrides: object) -> Site:
        settings = get_settings().model_copy(update=overrides)
        clock = FakeClock(START)
        outbox = tmp_path / "outbox"
        app = create_app(
            settings,
            db=db,
            transport=OutboxTransport(outbox),
            clock=clock,
            limiter=RateLimiter(limit, 600, clock=clock.seconds),
        )
        client = TestClient(app, follow_redirects=False)
        client.__enter__()
        clients.append(client)
        return Site(client, SubscriberStore(db, clock=clock), clock, outbox)

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def site(make_site: MakeSite) -> Site:
    return make_site()


def path_of(url: str) -> str:
    assert url.startswith("https://news.example.org/"), url
    return url.removeprefix("https://news.example.org")


class FormAudit(HTMLParser):
    """Collects inputs, labels, fieldsets and legends of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.inputs: list[dict[str, str | None]] = []
        self.label_for: set[str] = set()
        self.fieldsets = 0
        self.legends = 0
        self.html_lang: str | None = None
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = dict(attrs)
        if tag == "input":
            self.inputs.append(attr)
        elif tag == "label" and attr.get("for"):
            self.label_for.add(str(attr["for"]))
        elif tag == "fieldset":
            self.fieldsets += 1
        elif tag == "legend":
            self.legends += 1
        elif tag == "html":
            self.html_lang = attr.get("lang")
        elif tag == "script":
            self.scripts += 1


def audit(page: str) -> FormAudit:
    parser = FormAudit()
    parser.feed(page)
    return parser


# -- the subscribe form ---------------------------------------------------------------------


def test_subscribe_page_is_an_accessible_bilingual_form(site: Site) -> None:
    """Every visible input has a label, groups have legends, the page has a language, no JS."""
    response = site.client.get("/subscribe")
    assert response.status_code == 200
    page = audit(response.text)
    visible = [i for i in page.inputs if i.get("type") != "hidden"]
    assert {str(i["id"]) for i in visible} <= page.label_for
    assert {i["name"] for i in visible} == {"email", "categories", "language", "website"}
    assert page.fieldsets == page.legends == 2
    assert page.html_lang == "zh-CN" and 'lang="en"' in response.text
    assert page.scripts == 0
    assert "邮箱地址" in response.text and "Email address" in response.text
    for code in ("LG", "CV", "CL", "AS", "RO"):
        assert f'value="{code}"' in response.text


def test_pages_carry_security_headers(site: Site) -> None:
    """Pages forbid framing, referrers and foreign content."""
    for path in ("/subscribe", "/healthz", "/no-such-page"):
        headers = site.client.get(path).headers
        assert headers["content-security-policy"].startswith("default-src 'self'")
        assert headers["x-frame-options"] == "DENY"
        assert headers["referrer-policy"] == "no-referrer"
        assert headers["x-content-type-options"] == "nosniff"


def test_subscribing_sends_a_confirmation_link(site: Site) -> None:
    """A sign-up stores a pending subscriber and mails a confirm link built from BASE_URL."""
    page = site.subscribe("Reader@Example.org")
    assert "请查收邮件" in page and "Check your inbox" in page
    subscriber = site.store.find("reader@example.org")
    assert subscriber is not None and subscriber.status == "pending"
    [message] = site.messages()
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert re.search(r"https://news\.example\.org/confirm/[\w.-]{42}\b", text)


@pytest.mark.slow
def test_the_response_is_the_same_for_known_and_unknown_addresses(site: Site) -> None:
    """New, pending, active, unsubscribed and suppressed addresses all get the same page."""
    site.active("active@example.org")
    gone = site.active("gone@example.org")
    site.store.set_status(gone.id, "bounced", "hard bounce")
    site.subscribe("pending@example.org")
    bodies = {
        address: site.subscribe(address)
        for address in (
            "new@example.org", "pending@example.org", "active@example.org", "gone@example.org"
        )
    }
    assert len(set(bodies.values())) == 1
    assert sorted(m["To"] for m in site.messages()) == ["new@example.org", "pending@example.org"]


def test_script_in_form_fields_comes_back_escaped(site: Site) -> None:
    """Markup typed into the form is shown as text, never as markup."""
    response = site.client.post(
        "/subscribe",
        data={
            "form_token": site.form_token(),
            "email": '"><script>alert(1)</script>@example.org',
            "categories": ["LG", "<script>alert(2)</script>"],
            "language": "both",
        },
    )
    assert response.status_code == 400
    assert "<script>" not in response.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in response.text
    assert 'role="alert"' in response.text and 'aria-invalid="true"' in response.text
    assert site.messages() == []


def test_a_bad_address_is_reported_with_the_entries_kept(site: Site) -> None:
    """An invalid address re-shows the form with an announced error and the choices kept."""
    response = site.client.post(
        "/subscribe",
        data={
            "form_token": site.form_token(),
            "email": "reader@",
            "categories": ["RO"],
            "language": "en",
        },
    )
    assert response.status_code == 400
    assert 'value="reader@"' in response.text
    assert re.search(r'value="RO" id="cat-RO" checked', response.text)
    assert not re.search(r'value="LG" id="cat-LG" checked', response.text)
    assert re.search(r'value="en" id="lang-en" checked', response.text)
    assert site.store.find("reader@example.org") is None


def test_the_honeypot_pretends_success_and_does_nothing(site: Site) -> None:
    """A filled-in hidden 'website' field gets the usual page, but no subscriber and no mail."""
    real = site.subscribe("human@example.org")
    bot = site.subscribe("bot@example.org", website="https://spam.example")
    assert bot == real
    assert site.store.find("bot@example.org") is None
    assert [m["To"] for m in site.messages()] == ["human@example.org"]


def test_a_post_without_the_form_token_is_refused(site: Site) -> None:
    """The double-submit token must match the cookie; a forged post subscribes nobody."""
    site.client.get("/subscribe")
    data = {"email": "victim@example.org", "categories": ["LG"], "language": "both"}
    missing = site.client.post("/subscribe", data=data)
    wrong = site.client.post("/subscribe", data={**data, "form_token": "0" * 32})
    assert missing.status_code == wrong.status_code == 400
    assert "expired" in missing.text
    assert site.store.find("victim@example.org") is None and site.messages() == []


@pytest.mark.slow
def test_one_confirmation_per_ten_minutes_through_the_form(site: Site) -> None:
    """Posting the same address again within ten minutes sends no second email."""
    site.subscribe("reader@example.org")
    site.clock.advance(minutes=5)
    site.subscribe("reader@example.org")
    assert len(site.messages()) == 1
    site.clock.advance(minutes=5)
    site.subscribe("reader@example.org")
    assert len(site.messages()) == 2


@pytest.mark.slow
def test_the_per_address_rate_limit_answers_429(make_site: MakeSite) -> None:
    """After the limit, posts from one client get a 429 page until the window has passed."""
    site = make_site(limit=3)
    for n in range(3):
        site.subscribe(f"r{n}@example.org")
    token = site.form_token()
    data = {"form_token": token, "email": "r9@example.org", "categories": ["LG"],
            "language": "both"}
    limited = site.client.post("/subscribe", data=data)
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) == 600
    assert 'role="alert"' in limited.text
    assert site.store.find("r9@example.org") is None
    other = TestClient(site.client.app, client=("203.0.113.9", 4000))
    other.cookies.set("nl_form", token)
    assert other.post("/subscribe", data=data).status_code == 200
    site.clock.advance(minutes=10)
    assert site.client.post("/subscribe", data={**data, "email": "r8@example.org"}).status_code \
        == 200


# -- confirm ----------------------------------------------------------------------------------


def test_confirm_activates_on_post_and_is_idempotent(site: Site) -> None:
    """Following the link shows a button and changes nothing; pressing it activates the
    subscriber; pressing it again still succeeds."""
    site.subscribe("reader@example.org")
    text = site.messages()[0].get_body(("plain",)).get_content()  # type: ignore[union-attr]
    link = path_of(re.search(r"https://\S+/confirm/\S+", text).group(0))  # type: ignore[union-attr]
    shown = site.client.get(link)
    assert shown.status_code == 200 and f'action="{link}"' in shown.text
    assert shown.headers["cache-control"] == "no-store"
    pending = site.store.find("reader@example.org")
    assert pending is not None and pending.status == "pending"
    first = site.client.post(link)
    second = site.client.post(link)
    assert first.status_code == second.status_code == 200
    assert "订阅成功" in first.text and "/preferences/" in first.text
    assert first.headers["cache-control"] == "no-store"
    subscriber = site.store.find("reader@example.org")
    assert subscriber is not None and subscriber.status == "active"


def test_bad_confirm_links_get_a_400_page_with_a_way_back(site: Site) -> None:
    """Tampered, expired and wrong-purpose links are refused with a link to subscribe again."""
    site.subscribe("reader@example.org")
    subscriber = site.store.find("reader@example.org")
    assert subscriber is not None
    good = site.token(Purpose.CONFIRM, subscriber)
    tampered = good[:-2] + ("AA" if not good.endswith("AA") else "BB")
    wrong = site.token(Purpose.UNSUBSCRIBE, subscriber)
    for token in (tampered, wrong, "nonsense"):
        for response in (site.client.get(f"/confirm/{token}"),
                         site.client.post(f"/confirm/{token}")):
            assert response.status_code == 400
            assert 'href="/subscribe"' in response.text and 'role="alert"' in response.text
    site.clock.advance(days=7, seconds=1)
    expired = site.client.post(f"/confirm/{good}")
    assert expired.status_code == 400 and "expired" in expired.text
    assert site.status(subscriber) == "pending"


def confirm_path(site: Site, message: EmailMessage) -> str:
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    return path_of(re.search(r"https://\S+/confirm/\S+", text).group(0))  # type: ignore[union-attr]


def test_a_link_from_before_unsubscribing_stays_dead_after_a_new_sign_up(site: Site) -> None:
    """After unsubscribing and signing up again, only the new link confirms."""
    site.subscribe("reader@example.org")
    old = confirm_path(site, site.messages()[0])
    assert site.client.post(old).status_code == 200
    reader = site.store.find("reader@example.org")
    assert reader is not None
    site.store.set_status(reader.id, "unsubscribed", "one-click")
    site.clock.advance(minutes=11)
    site.subscribe("reader@example.org")
    # The first confirmation also brought a welcome email (issue 22): no link to confirm.
    confirmations = [m for m in site.messages() if "/confirm/" in str(
        m.get_body(("plain",)).get_content())]  # type: ignore[union-attr]
    [new] = {confirm_path(site, m) for m in confirmations} - {old}
    assert site.client.post(old).status_code == 400
    assert site.status(reader) == "unsubscribed"
    assert site.client.post(new).status_code == 200
    assert site.status(reader) == "active"


def test_a_stranger_cannot_rewrite_a_waiting_readers_choices(site: Site) -> None:
    """A sign-up of someone's address keeps their stored choices until its link is confirmed;
    the reader's own older link then no longer confirms."""
    pending = site.store.add("pending@example.org", status="pending", categories={"LG"},
                             language="zh")
    left = site.store.add("left@example.org", status="active", categories={"CV"},
                          language="en")
    site.store.set_status(left.id, "unsubscribed", "one-click")
    for reader in (pending, left):
        site.subscribe(reader.email, categories=["RO"], language="both")
        after = site.store.get(reader.id)
        assert after is not None
        assert (after.categories, after.language) == (reader.categories, reader.language)
    # Only the owner of the address, following the link mailed to it, applies the choices
    # that email described.
    [mail] = [m for m in site.messages() if m["To"] == "pending@example.org"]
    assert site.client.post(confirm_path(site, mail)).status_code == 200
    confirmed = site.store.get(pending.id)
    assert confirmed is not None
    assert (confirmed.status, confirmed.categories, confirmed.language) == (
        "active", {"RO"}, "both"
    )


def test_an_earlier_sign_ups_link_does_not_confirm(site: Site) -> None:
    """When a newer sign-up was mailed, the older link is refused."""
    site.subscribe("reader@example.org", categories=["LG"])
    first = confirm_path(site, site.messages()[0])
    site.clock.advance(minutes=11)
    site.subscribe("reader@example.org", categories=["CV"])
    [second] = {confirm_path(site, m) for m in site.messages()} - {first}
    assert site.client.post(first).status_code == 400
    reader = site.store.find("reader@example.org")
    assert reader is not None and reader.status == "pending"
    assert site.client.post(second).status_code == 200
    active = site.store.find("reader@example.org")
    assert active is not None and (active.status, active.categories) == ("active", {"CV"})


# -- unsubscribe ------------------------------------------------------------------------------


def test_get_never_unsubscribes(site: Site) -> None:
    """Following an unsubscribe link (GET or HEAD) shows a button and changes nothing."""
    subscriber = site.active()
    path = f"/unsubscribe/{site.token(Purpose.UNSUBSCRIBE, subscriber)}"
    page = site.client.get(path)
    site.client.head(path)
    assert page.status_code == 200
    assert re.search(rf'<form method="post" action="{re.escape(path)}">', page.text)
    assert "/preferences/" in page.text
    assert site.status(subscriber) == "active"


def test_one_click_unsubscribe_without_cookies(site: Site) -> None:
    """An RFC 8058 one-click POST answers 200, sets no cookie and unsubscribes."""
    subscriber = site.active()
    path = f"/unsubscribe/{site.token(Purpose.UNSUBSCRIBE, subscriber)}"
    bare = TestClient(site.client.app)
    response = bare.post(
        path,
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200
    assert "set-cookie" not in response.headers
    assert site.status(subscriber) == "unsubscribed"
    reasons = [e.reason for e in site.store.events(subscriber.id) if e.new_status == "unsubscribed"]
    assert reasons == ["one-click (RFC 8058)"]


@pytest.mark.slow
def test_one_click_as_multipart_form_data(site: Site) -> None:
    """Providers may send the one-click body as multipart/form-data; that works too."""
    subscriber = site.active()
    path = f"/unsubscribe/{site.token(Purpose.UNSUBSCRIBE, subscriber)}"
    response = TestClient(site.client.app).post(
        path, files={"List-Unsubscribe": (None, "One-Click")}
    )
    assert response.status_code == 200
    assert site.status(subscriber) == "unsubscribed"


def test_the_unsubscribe_button_unsubscribes(site: Site) -> None:
    """Submitting the page's button (an empty POST) unsubscribes too."""
    subscriber = site.active()
    path = f"/unsubscribe/{site.token(Purpose.UNSUBSCRIBE, subscriber)}"
    response = site.client.post(path)
    assert response.status_code == 200 and "已退订" in response.text
    assert site.status(subscriber) == "unsubscribed"


def test_bad_unsubscribe_tokens_unsubscribe_nobody(site: Site) -> None:
    """Tampered and wrong-purpose unsubscribe posts get 400 and change nothing."""
    subscriber = site.active()
    other = site.active("other@example.org")
    token = site.token(Purpose.UNSUBSCRIBE, subscriber)
    retargeted = f"{other.id:012x}" + token[12:]
    for bad in (retargeted, site.token(Purpose.PREFERENCES, subscriber), "x" * 42):
        response = site.client.post(f"/unsubscribe/{bad}", content=b"List-Unsubscribe=One-Click",
                                    headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert response.status_code == 400
        assert site.client.get(f"/unsubscribe/{bad}").status_code == 400
    assert site.status(subscriber) == site.status(other) == "active"


# -- preferences ------------------------------------------------------------------------------


def test_preferences_page_shows_and_saves_choices(site: Site) -> None:
    """The page shows the current choices; a post with the form token saves new ones."""
    subscriber = site.active()
    path = f"/preferences/{site.token(Purpose.PREFERENCES, subscriber)}"
    page = site.client.get(path)
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    assert "r***@example.org" in page.text and "reader@example.org" not in page.text
    assert re.search(r'value="LG" id="cat-LG" checked', page.text)
    assert not re.search(r'value="CV" id="cat-CV" checked', page.text)
    assert re.search(r'value="zh" id="lang-zh" checked', page.text)
    form = audit(page.text)
    assert {str(i["id"]) for i in form.inputs if i.get("type") != "hidden"} <= form.label_for
    saved = site.client.post(
        path, data={"form_token": site.form_token(path), "categories": ["CV", "RO"],
                    "language": "en"},
    )
    assert saved.status_code == 200 and 'role="status"' in saved.text
    after = site.store.get(subscriber.id)
    assert after is not None and (after.categories, after.language) == ({"CV", "RO"}, "en")


def test_preferences_refuse_bad_posts(site: Site) -> None:
    """No form token, unknown categories or a bad token: 400 and nothing saved."""
    subscriber = site.active()
    path = f"/preferences/{site.token(Purpose.PREFERENCES, subscriber)}"
    token = site.form_token(path)
    no_token = site.client.post(path, data={"categories": ["CV"], "language": "en"})
    script = site.client.post(
        path, data={"form_token": token, "categories": ["<script>x</script>"], "language": "en"}
    )
    wrong = site.client.post(
        f"/preferences/{site.token(Purpose.UNSUBSCRIBE, subscriber)}",
        data={"form_token": token, "categories": ["CV"], "language": "en"},
    )
    assert no_token.status_code == script.status_code == wrong.status_code == 400
    assert "<script>x" not in script.text and "&lt;script&gt;x" in script.text
    after = site.store.get(subscriber.id)
    assert after is not None and (after.categories, after.language) == ({"LG"}, "zh")


def test_the_preferences_page_unsubscribe_button_works(site: Site) -> None:
    """The page's unsubscribe button posts to this subscriber's unsubscribe link."""
    subscriber = site.active()
    page = site.client.get(f"/preferences/{site.token(Purpose.PREFERENCES, subscriber)}")
    action = re.search(r'<form method="post" action="([^"]+/unsubscribe/[^"]+)"', page.text)
    assert action
    assert site.client.post(path_of(action.group(1))).status_code == 200
    assert site.status(subscriber) == "unsubscribed"
    again = site.client.get(f"/preferences/{site.token(Purpose.PREFERENCES, subscriber)}")
    assert "/subscribe" in again.text and "/unsubscribe/" not in again.text


# -- archive, health, misc --------------------------------------------------------------------


def test_archive_page_renders_the_issue_without_personal_links(make_site: MakeSite) -> None:
    """/issues/DATE shows the issue with sign-up links where personal links were."""
    site = make_site(issues_dir=ROOT / "issues", archive_unsent=True)
    response = site.client.get("/issues/2022-09-07")
    assert response.status_code == 200
    assert "MO2: Model-Based Offline Options" in response.text
    assert "NLTOKEN" not in response.text
    assert "/unsubscribe/" not in response.text and "/preferences/" not in response.text
    assert 'href="https://news.example.org/subscribe"' in response.text
    csp = response.headers["content-security-policy"]
    assert "script-src" not in csp and csp.startswith("default-src 'none'")


@pytest.mark.parametrize(
    "date",
    ["2022-09-08", "2022-13-01", "2022-9-7", "2022-09-07.yaml", "..%2F..%2Fpyproject",
     "%2E%2E", "2022-09-07%00"],
)
def test_archive_refuses_unknown_and_malformed_dates(make_site: MakeSite, date: str) -> None:
    """Anything but an existing, valid YYYY-MM-DD is a 404 (no path traversal)."""
    site = make_site(issues_dir=ROOT / "issues", archive_unsent=True)
    response = site.client.get(f"/issues/{date}")
    assert response.status_code == 404
    assert "未找到" in response.text


def test_healthz_and_stylesheet(site: Site) -> None:
    """/healthz answers ok; the stylesheet is served and gives focus a visible outline."""
    assert site.client.get("/healthz").text == "ok"
    css = site.client.get("/static/site.css")
    assert css.headers["content-type"].startswith("text/css")
    assert ":focus-visible" in css.text
    assert site.client.get("/").headers["location"] == "/subscribe"


@pytest.mark.parametrize(
    "key", ["", "demo", "change-me", "short-key", "aaaaaaaaaaaaaaaa", "abcabcabcabcabcabc"]
)
def test_unsafe_secret_keys_are_refused(db: Database, key: str) -> None:
    """create_app refuses a missing, well-known, short or low-entropy secret key."""
    settings = get_settings().model_copy(update={"secret_key": SecretStr(key)})
    with pytest.raises(ConfigurationError, match="NEWSLETTER_SECRET_KEY"):
        create_app(settings, db=db)


def test_serve_refuses_to_start_with_a_default_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """`newsletter serve` exits 1 with a message, not a traceback, for a default key."""
    monkeypatch.setenv("NEWSLETTER_SECRET_KEY", "changeme")
    result = CliRunner().invoke(cli_app, ["serve", "--port", "1"])
    assert result.exit_code == 1
    assert "NEWSLETTER_SECRET_KEY" in result.stderr
    assert "Traceback" not in result.output + result.stderr
    assert isinstance(result.exception, SystemExit)


# -- the rate limiter -------------------------------------------------------------------------


def test_rate_limiter_slides_its_window() -> None:
    """Hits older than the window stop counting; keys are counted apart."""
    now = [0.0]
    limiter = RateLimiter(2, 10, clock=lambda: now[0])
    assert limiter.hit("a") and limiter.hit("a")
    assert not limiter.hit("a")
    assert limiter.hit("b")
    assert limiter.retry_after("a") == 10
    now[0] = 9.5
    assert not limiter.hit("a")
    now[0] = 10.0
    assert limiter.hit("a")
    assert limiter.retry_after("b") == 0


def test_rate_limiter_forgets_idle_clients() -> None:
    """Keys idle for a whole window are dropped, so memory follows recent clients only."""
    now = [0.0]
    limiter = RateLimiter(5, 10, clock=lambda: now[0])
    for n in range(100):
        limiter.hit(f"10.0.0.{n}")
    assert len(limiter) == 100
    now[0] = 25.0
    limiter.hit("10.0.1.1")
    assert len(limiter) == 1


def test_forwarded_client_believes_only_trusted_hops() -> None:
    """X-Forwarded-For is read right to left, up to the first untrusted address."""
    from newsletter.web.clients import forwarded_client, parse_networks, rate_key

    proxies = parse_networks(["10.0.0.0/8", "::1"])
    assert forwarded_client("10.0.0.5", "203.0.113.9, 10.0.0.4", proxies) == "203.0.113.9"
    assert forwarded_client("10.0.0.5", "1.2.3.4, 203.0.113.9", proxies) == "203.0.113.9"
    assert forwarded_client("192.0.2.8", "203.0.113.9", proxies) == "192.0.2.8"
    assert forwarded_client("10.0.0.5", "not-an-ip", proxies) == "10.0.0.5"
    assert forwarded_client("127.0.0.1", "203.0.113.9", ()) == "127.0.0.1"
    assert rate_key("2001:db8::1") == rate_key("2001:db8::ffff:1") == "2001:db8::/64"
    assert rate_key("::ffff:192.0.2.1") == "192.0.2.1"


def test_trusted_proxies_setting_refuses_garbage(monkeypatch: pytest.MonkeyPatch) -> None:
    """NEWSLETTER_TRUSTED_PROXIES takes addresses and CIDRs and names a bad entry."""
    monkeypatch.setenv("NEWSLETTER_TRUSTED_PROXIES", "10.0.0.0/8, ::1")
    assert get_settings().trusted_proxies == ["10.0.0.0/8", "::1"]
    monkeypatch.setenv("NEWSLETTER_TRUSTED_PROXIES", "10.0.0.0/8,proxy.local")
    with pytest.raises(ConfigurationError, match=r"'proxy\.local' is not an IP address"):
        get_settings()
