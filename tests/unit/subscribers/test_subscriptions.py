"""The subscription workflow over a real SQLite store and the outbox transport."""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

import pytest
from support.clock import FakeClock
from support.delivery import outbox
from support.env import SAMPLE_ISSUE, TEST_SECRET

from newsletter import wiring
from newsletter.errors import (
    FormError,
    SuppressedAddressError,
    TokenError,
    TransientTransportError,
    UnknownSubscriberError,
)
from newsletter.issues.categories import DEFAULT_CATEGORIES, available_categories
from newsletter.settings import get_settings
from newsletter.store.db import open_database
from newsletter.store.subscribers import SubscriberStore
from newsletter.subscribers.choices import Choices, parse_address, parse_choices
from newsletter.subscribers.workflow import (
    RESEND_AFTER,
    ConfirmationMailer,
    SignupOutcome,
    Subscriptions,
)
from newsletter.tokens import Purpose, make_token
from newsletter.transports.outbox import OutboxTransport

START = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)
CV_LG = Choices(frozenset({"CV", "LG"}), "both")


@dataclass
class FailingTransport:
    """The outbox, except that the next ``failures`` sends fail as a provider outage would."""

    inner: OutboxTransport
    failures: int = 0
    name: str = "failing"
    attempts: list[str] = field(default_factory=list)

    def send(self, raw: bytes, to: str) -> str:
        self.attempts.append(to)
        if self.failures:
            self.failures -= 1
            raise TransientTransportError("the provider is unavailable")
        return self.inner.send(raw, to)


@dataclass
class World:
    subs: Subscriptions
    store: SubscriberStore
    clock: FakeClock
    outbox: Path

    def messages(self) -> list[EmailMessage]:
        return outbox(self.outbox)

    def confirm_token(self, message: EmailMessage) -> str:
        body = message.get_body(("plain",))
        assert body is not None
        match = re.search(r"https://news\.example\.org/confirm/(\S+)", body.get_content())
        assert match, body.get_content()
        return match.group(1)


@pytest.fixture
def world(tmp_path: Path) -> World:
    settings = get_settings()
    clock = FakeClock(START)
    store = SubscriberStore(open_database(settings.database_url), clock=clock)
    outbox = tmp_path / "outbox"
    subs = Subscriptions(
        store=store,
        transport=OutboxTransport(outbox),
        mailer=ConfirmationMailer(wiring.renderer(settings), wiring.sender(settings)),
        secret=TEST_SECRET,
        base_url=settings.base_url,
        clock=clock,
    )
    return World(subs, store, clock, outbox)


def test_new_address_becomes_pending_and_gets_one_confirmation(world: World) -> None:
    """A new address is stored as pending (source web) and sent one confirmation link."""
    assert world.subs.subscribe("reader@example.org", CV_LG) is SignupOutcome.SENT
    subscriber = world.store.find("reader@example.org")
    assert subscriber is not None
    assert (subscriber.status, subscriber.source) == ("pending", "web")
    assert subscriber.categories == {"CV", "LG"}
    assert subscriber.confirmation_sent_at == START
    [message] = world.messages()
    assert message["To"] == "reader@example.org"
    token = world.confirm_token(message)
    html = message.get_body(("html",))
    assert html is not None and f"https://news.example.org/confirm/{token}" in html.get_content()


def test_confirmation_email_follows_the_chosen_language(world: World) -> None:
    """A Chinese-only reader gets a Chinese confirmation; an English-only reader an English one."""
    world.subs.subscribe("zh@example.org", Choices(frozenset({"LG"}), "zh"))
    world.subs.subscribe("en@example.org", Choices(frozenset({"LG"}), "en"))
    by_to = {m["To"]: m for m in world.messages()}
    zh_text = by_to["zh@example.org"].get_body(("plain",)).get_content()  # type: ignore[union-attr]
    en_text = by_to["en@example.org"].get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "确认订阅" in zh_text and "Please confirm" not in zh_text
    assert "Please confirm" in en_text and "确认" not in en_text
    assert "请确认订阅" in str(by_to["zh@example.org"]["Subject"])
    assert by_to["en@example.org"]["Auto-Submitted"] == "auto-generated"


def test_at_most_one_confirmation_per_ten_minutes(world: World) -> None:
    """Repeated sign-ups send nothing until ten minutes after the last confirmation."""
    assert world.subs.subscribe("reader@example.org", CV_LG) is SignupOutcome.SENT
    world.clock.advance(minutes=9, seconds=59)
    assert world.subs.subscribe("reader@example.org", CV_LG) is SignupOutcome.THROTTLED
    assert len(world.messages()) == 1
    world.clock.now = START + RESEND_AFTER
    assert world.subs.subscribe("reader@example.org", CV_LG) is SignupOutcome.SENT
    assert len(world.messages()) == 2


def test_a_failed_send_is_not_counted_and_can_be_retried_at_once(world: World) -> None:
    """When the transport fails, no confirmation is recorded, so the next try sends."""
    transport = FailingTransport(OutboxTransport(world.outbox), failures=1)
    world.subs.transport = transport
    with pytest.raises(TransientTransportError):
        world.subs.subscribe("reader@example.org", CV_LG)
    pending = world.store.find("reader@example.org")
    assert pending is not None and pending.confirmation_sent_at is None
    assert world.subs.subscribe("reader@example.org", CV_LG) is SignupOutcome.SENT
    assert len(transport.attempts) == 2 and len(world.messages()) == 1


def test_active_subscriber_signing_up_again_gets_nothing(world: World) -> None:
    """An active subscriber is not mailed again and keeps their preferences."""
    world.store.add("reader@example.org", categories={"RO"}, status="active", source="cli")
    assert world.subs.subscribe("reader@example.org", CV_LG) is SignupOutcome.ALREADY_ACTIVE
    assert world.messages() == []
    subscriber = world.store.find("reader@example.org")
    assert subscriber is not None and subscriber.categories == {"RO"}


@pytest.mark.parametrize("how", ["bounced", "complained", "operator", "erased"])
def test_suppressed_addresses_get_nothing(world: World, how: str) -> None:
    """Bounced, complained, operator-suppressed and erased addresses are never mailed."""
    address = "gone@example.org"
    if how == "operator":
        world.store.suppress(address, "manual", "asked by phone")
    elif how == "erased":
        world.store.add(address, status="active")
        world.store.remove(address)
    else:
        subscriber = world.store.add(address, status="active")
        world.store.set_status(subscriber.id, how, "feedback")  # type: ignore[arg-type]
    assert world.subs.subscribe(address, CV_LG) is SignupOutcome.SUPPRESSED
    assert world.messages() == []
    if how == "erased":
        assert world.store.find(address) is None


def test_unsubscribed_reader_can_come_back_with_double_opt_in(world: World) -> None:
    """An unsubscribed reader signing up again is mailed a new link and active once confirmed."""
    subscriber = world.store.add("back@example.org", status="active")
    world.store.set_status(subscriber.id, "unsubscribed", "left")
    world.clock.advance(days=1)
    assert world.subs.subscribe("back@example.org", CV_LG) is SignupOutcome.SENT
    still = world.store.get(subscriber.id)
    assert still is not None and still.status == "unsubscribed"
    [message] = world.messages()
    confirmed = world.subs.confirm(world.confirm_token(message))
    assert confirmed.status == "active" and confirmed.categories == {"CV", "LG"}
    assert not world.store.is_suppressed("back@example.org")


def test_a_confirmation_link_from_before_unsubscribing_does_not_reactivate(world: World) -> None:
    """Following an old confirmation link after unsubscribing leaves the reader unsubscribed."""
    world.subs.subscribe("reader@example.org", CV_LG)
    [message] = world.messages()
    token = world.confirm_token(message)
    subscriber = world.subs.confirm(token)
    world.clock.advance(hours=1)
    world.store.set_status(subscriber.id, "unsubscribed", "one-click")
    world.clock.advance(hours=1)
    with pytest.raises(SuppressedAddressError):
        world.subs.confirm(token)
    after = world.store.get(subscriber.id)
    assert after is not None and after.status == "unsubscribed"


def test_confirm_is_idempotent(world: World) -> None:
    """Confirming twice leaves one activation in the event log."""
    world.subs.subscribe("reader@example.org", CV_LG)
    token = world.confirm_token(world.messages()[0])
    first = world.subs.confirm(token)
    second = world.subs.confirm(token)
    assert first.status == second.status == "active"
    activations = [e for e in world.store.events(first.id) if e.new_status == "active"]
    assert len(activations) == 1


def test_confirmation_links_expire_after_seven_days(world: World) -> None:
    """A confirmation link works for 7 days after it was sent, not a second longer."""
    world.subs.subscribe("late@example.org", CV_LG)
    world.subs.subscribe("ontime@example.org", CV_LG)
    tokens = {m["To"]: world.confirm_token(m) for m in world.messages()}
    world.clock.advance(days=7)
    assert world.subs.confirm(tokens["ontime@example.org"]).status == "active"
    world.clock.advance(seconds=1)
    with pytest.raises(TokenError, match="expired"):
        world.subs.confirm(tokens["late@example.org"])
    late = world.store.find("late@example.org")
    assert late is not None and late.status == "pending"


def test_tampered_foreign_and_wrong_purpose_tokens_are_refused(world: World) -> None:
    """Confirm refuses a changed token, one signed with another key and one for unsubscribing."""
    world.subs.subscribe("reader@example.org", CV_LG)
    subscriber = world.store.find("reader@example.org")
    assert subscriber is not None
    good = world.confirm_token(world.messages()[0])
    other_id = make_token(TEST_SECRET, Purpose.CONFIRM, subscriber.id + 1, now=START.timestamp())
    tampered = f"{subscriber.id + 1:012x}" + good[12:]  # another subscriber, same signature
    forged = make_token("another-secret-key-0123456789", Purpose.CONFIRM, subscriber.id)
    wrong_purpose = make_token(TEST_SECRET, Purpose.UNSUBSCRIBE, subscriber.id)
    for bad in (tampered, forged, wrong_purpose, good[:-1] + ("A" if good[-1] != "A" else "B")):
        with pytest.raises(TokenError):
            world.subs.confirm(bad)
    with pytest.raises(UnknownSubscriberError):
        world.subs.confirm(other_id)
    pending = world.store.get(subscriber.id)
    assert pending is not None and pending.status == "pending"


def test_unsubscribe_is_idempotent_and_survives_erasure(world: World) -> None:
    """Unsubscribing twice records one change; an erased subscriber's link does nothing."""
    subscriber = world.store.add("reader@example.org", status="active")
    token = make_token(TEST_SECRET, Purpose.UNSUBSCRIBE, subscriber.id)
    first = world.subs.unsubscribe(token, "one-click")
    second = world.subs.unsubscribe(token, "one-click")
    assert first is not None and second is not None
    assert first.status == second.status == "unsubscribed"
    changes = [e for e in world.store.events(subscriber.id) if e.new_status == "unsubscribed"]
    assert [e.reason for e in changes] == ["one-click"]
    assert world.store.is_suppressed("reader@example.org")
    world.store.remove("reader@example.org")
    assert world.subs.unsubscribe(token, "one-click") is None
    with pytest.raises(TokenError):
        world.subs.unsubscribe(make_token(TEST_SECRET, Purpose.PREFERENCES, subscriber.id), "x")


def test_preferences_are_read_and_saved_through_their_token(world: World) -> None:
    """The preferences token reads and changes only that subscriber's choices."""
    subscriber = world.store.add("reader@example.org", status="active")
    other = world.store.add("other@example.org", status="active", categories={"AS"})
    token = make_token(TEST_SECRET, Purpose.PREFERENCES, subscriber.id)
    assert world.subs.preferences(token).email == "reader@example.org"
    saved = world.subs.update_preferences(token, Choices(frozenset({"RO"}), "en"))
    assert (saved.categories, saved.language) == ({"RO"}, "en")
    unchanged = world.store.get(other.id)
    assert unchanged is not None and unchanged.categories == {"AS"}
    with pytest.raises(TokenError):
        world.subs.preferences(make_token(TEST_SECRET, Purpose.CONFIRM, subscriber.id))


def test_parse_choices_checks_categories_and_language() -> None:
    """Unknown or missing categories and unknown languages are refused; all ticked means all."""
    available = list(DEFAULT_CATEGORIES)
    assert parse_choices(["LG", "CV"], "zh", available) == Choices(frozenset({"LG", "CV"}), "zh")
    assert parse_choices(available, "both", available) == Choices(frozenset(), "both")
    with pytest.raises(FormError) as unknown:
        parse_choices(["LG", "<script>"], "both", available)
    assert unknown.value.field == "categories"
    with pytest.raises(FormError, match="at least one"):
        parse_choices([], "both", available)
    with pytest.raises(FormError) as language:
        parse_choices(["LG"], "fr", available)
    assert language.value.field == "language"


def test_parse_address_normalises_or_names_the_field() -> None:
    """Form addresses are normalised; a bad one is a FormError on the email field."""
    assert parse_address("  Reader@Example.ORG ") == "reader@example.org"
    with pytest.raises(FormError) as bad:
        parse_address("not an address")
    assert bad.value.field == "email"


def _issue_with_legend(date: str, legend: str) -> str:
    """The sample issue dated ``date`` with ``legend`` as its categories block."""
    text = SAMPLE_ISSUE.read_text("utf-8").replace("2022-09-07", date)
    start, end = text.index("categories:\n"), text.index("summary:")
    return text[:start] + "categories:\n" + legend + text[end:]


LEGEND_WITHOUT_AS_RO = (
    "  LG:\n    zh: 机器学习\n    en: Machine Learning (cs.LG)\n"
    "  CV:\n    zh: 计算机视觉\n    en: Computer Vision\n"
    "  CL:\n    zh: 计算与语言\n    en: Computation and Language\n"
    "  NE:\n    zh: 神经与进化计算\n    en: Neural and Evolutionary Computing\n"
)
SOME_TIME_NS = 1_000_000_000_000_000_000


def test_categories_are_the_union_of_every_issue_legend(tmp_path: Path) -> None:
    """The form offers every code any issue describes, the newest file's names winning."""
    issues = tmp_path / "issues"
    assert list(available_categories(issues)) == list(DEFAULT_CATEGORIES)  # no directory
    issues.mkdir()
    assert list(available_categories(issues)) == ["LG", "CV", "CL", "AS", "RO"]
    (issues / "2022-09-07.yaml").write_text(SAMPLE_ISSUE.read_text("utf-8"), "utf-8")
    newer = _issue_with_legend("2022-09-08", LEGEND_WITHOUT_AS_RO)
    (issues / "2022-09-08.yaml").write_text(newer, "utf-8")
    legend = available_categories(issues)
    assert list(legend) == ["LG", "CV", "CL", "AS", "RO", "NE"]
    assert legend["LG"].en == "Machine Learning (cs.LG)"
    assert legend["AS"].en == "Audio and Speech"
    assert legend["NE"].en == "Neural and Evolutionary Computing"


def test_unreadable_issue_files_are_skipped(tmp_path: Path) -> None:
    """A broken issue file adds nothing; with no readable file the defaults are offered."""
    issues = tmp_path / "issues"
    issues.mkdir()
    (issues / "2022-09-09.yaml").write_text("date: 2022-09-09\ntitle: broken\n", "utf-8")
    assert list(available_categories(issues)) == list(DEFAULT_CATEGORIES)
    (issues / "2022-09-08.yaml").write_text(
        _issue_with_legend("2022-09-08", LEGEND_WITHOUT_AS_RO), "utf-8"
    )
    (issues / "notes.yaml").write_text("not an issue", "utf-8")
    assert list(available_categories(issues)) == ["LG", "CV", "CL", "NE"]


def test_issue_legends_are_reread_only_when_a_file_changes(tmp_path: Path) -> None:
    """Legends are cached by modification time: an edit is seen at once, a repeat is free."""
    issues = tmp_path / "issues"
    issues.mkdir()
    path = issues / "2022-09-08.yaml"
    path.write_text(_issue_with_legend("2022-09-08", LEGEND_WITHOUT_AS_RO), "utf-8")
    os.utime(path, ns=(SOME_TIME_NS, SOME_TIME_NS))
    assert "NE" in available_categories(issues)
    # Other content under the same modification time: the cached legend is still used.
    path.write_text(SAMPLE_ISSUE.read_text("utf-8").replace("2022-09-07", "2022-09-08"), "utf-8")
    os.utime(path, ns=(SOME_TIME_NS, SOME_TIME_NS))
    assert "NE" in available_categories(issues)
    os.utime(path, ns=(SOME_TIME_NS + 1, SOME_TIME_NS + 1))
    assert list(available_categories(issues)) == ["LG", "CV", "CL", "AS", "RO"]
