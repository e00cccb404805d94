"""SES's two formats, from the examples in the SES documentation, become our SesEvent."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from newsletter.errors import SesEventError
from newsletter.feedback.ses_events import parse_ses_event
from newsletter.model.events import suppressions_for

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "ses"


def load(name: str) -> str:
    return (FIXTURES / f"{name}.json").read_text("utf-8")


@pytest.mark.parametrize(
    ("name", "kind", "recipients", "detail"),
    [
        ("event_send", "send", ("recipient@example.com",), "send"),
        ("event_delivery", "delivery", ("recipient@example.com",), "250 2.6.0 Message received"),
        ("event_bounce", "bounce", ("recipient@example.com",),
         "Permanent/General: smtp; 550 5.1.1 user unknown"),
        ("event_complaint", "complaint", ("recipient@example.com",), "abuse"),
        ("event_reject", "reject", ("recipient@example.com",), "Bad content"),
        ("event_delivery_delay", "delivery_delay", ("recipient@example.com",),
         "InternalFailure"),
        ("event_rendering_failure", "rendering_failure", ("recipient@example.com",),
         "Attribute 'attributeName' is not present in the rendering data."),
        ("event_open", "open", ("recipient@example.com",),
         "Mozilla/5.0 (iPhone; CPU iPhone OS 10_3_3 like Mac OS X) AppleWebKit/603.3.8 "
         "(KHTML, like Gecko) Mobile/14G60"),
        ("event_click", "click", ("recipient@example.com",),
         "http://docs.aws.amazon.com/ses/latest/DeveloperGuide/send-email-smtp.html"),
        ("notification_bounce", "bounce", ("jane@example.com",),
         "Permanent/General: smtp; 550 5.1.1 <jane@example.com>... User"),
        ("notification_complaint", "complaint", ("richard@example.com",), "abuse"),
        ("notification_delivery", "delivery", ("jane@example.com",),
         "250 ok:  Message 64111812 accepted"),
    ],
)
def test_documented_examples_are_normalised(
    name: str, kind: str, recipients: tuple[str, ...], detail: str
) -> None:
    """Each documented SES example becomes an event of its kind, recipients and detail."""
    text = load(name)
    event = parse_ses_event(text)
    assert (event.kind, event.recipients, event.detail) == (kind, recipients, detail)
    assert event.raw == json.loads(text)
    assert event.ses_message_id is not None and event.ses_message_id.endswith("-000000")
    assert event.delivery_id is None  # SES's examples carry none of our tags or headers


def test_event_times_come_from_the_event_not_the_mail() -> None:
    """A bounce's time is when it bounced; a send's is when the mail was sent."""
    bounce = parse_ses_event(load("event_bounce"))
    send = parse_ses_event(load("event_send"))
    assert bounce.occurred_at == dt.datetime(2017, 8, 5, 0, 41, 2, 669000, tzinfo=dt.UTC)
    assert send.occurred_at == dt.datetime(2017, 8, 5, 0, 40, 2, 12000, tzinfo=dt.UTC)


def test_our_tag_names_the_delivery_before_our_header() -> None:
    """nl_delivery in mail.tags wins; X-Newsletter-Delivery is the fallback; both ignored if odd."""
    data = json.loads(load("event_send"))
    data["mail"]["headers"].append({"name": "X-Newsletter-Delivery", "value": "7.1234"})
    assert parse_ses_event(json.dumps(data)).delivery_id == 1234
    data["mail"]["tags"]["nl_delivery"] = ["99"]
    data["mail"]["tags"]["nl_campaign"] = ["2022-09-07"]
    event = parse_ses_event(json.dumps(data))
    assert (event.delivery_id, event.campaign) == (99, "2022-09-07")
    data["mail"]["tags"]["nl_delivery"] = ["not-a-number"]
    data["mail"]["headers"][-1]["value"] = "7.x"
    assert parse_ses_event(json.dumps(data)).delivery_id is None


def test_the_same_event_has_the_same_key_however_it_is_spelt() -> None:
    """The idempotency key is the event's content, not its whitespace or key order."""
    text = load("event_delivery")
    compact = json.dumps(json.loads(text), separators=(",", ":"), sort_keys=False)
    assert parse_ses_event(text).key == parse_ses_event(compact).key
    assert parse_ses_event(text).key != parse_ses_event(load("event_send")).key


def test_hard_bounces_and_complaints_suppress_soft_bounces_do_not() -> None:
    """Only a permanent bounce or a complaint says never to mail the address again."""
    hard = parse_ses_event(load("notification_bounce"))
    assert suppressions_for(hard) == [("jane@example.com", "bounced", hard.detail)]
    soft = json.loads(load("event_bounce"))
    soft["bounce"]["bounceType"] = "Transient"
    assert suppressions_for(parse_ses_event(json.dumps(soft))) == []
    assert suppressions_for(parse_ses_event(load("event_complaint"))) == [
        ("recipient@example.com", "complained", "abuse")]
    assert suppressions_for(parse_ses_event(load("event_delivery"))) == []


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[1]", b'"x"', b"\xff", b'{"a": NaN}', b"[" * 100_000 + b"]" * 100_000,
     json.dumps({"eventType": "Send", "mail": {"x": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]
     ]]]]]]]]]]]]]]]]]]]]]]]]}}).encode()],
    ids=["text", "list", "string", "bytes", "nan", "deep-array", "deep-event"],
)
def test_odd_json_is_refused_with_a_clear_error(body: bytes) -> None:
    """Non-objects, NaN, invalid UTF-8 and deep nesting give SesEventError, never a crash."""
    with pytest.raises(SesEventError):
        parse_ses_event(body)
