"""SNS signature verification and SES event normalisation (newsletter.feedback.sns)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from support.sns import NOW, TOPIC, fetch
from support.sns import bounce as _bounce
from support.sns import keypair as _keypair
from support.sns import signed as _signed

from newsletter.feedback.apply import SnsVerifier
from newsletter.feedback.ses_events import parse_ses_event
from newsletter.feedback.sns import (
    CertificateCache,
    CertificateNotCached,
    WebhookError,
    verify_sns,
)
from newsletter.model.events import suppressions_for


def test_genuine_notification_is_verified_and_normalised() -> None:
    """A correctly signed bounce from our topic becomes a permanent bounce MailEvent."""
    message = verify_sns(_signed(_bounce()), fetch, frozenset({TOPIC}), NOW)
    event = parse_ses_event(message.message)
    assert (event.kind, event.recipients, event.permanent) == (
        "bounce", ("gone@example.com",), True)
    assert event.ses_message_id == "0100-ses-id"
    assert event.raw["notificationType"] == "Bounce"


def test_signature_version_1_sha1_is_accepted() -> None:
    """SignatureVersion 1 (SHA1) messages still verify."""
    message = verify_sns(_signed(_bounce(), version="1"), fetch, frozenset({TOPIC}), NOW)
    assert message.type == "Notification"


def test_forged_signature_is_refused() -> None:
    """A message signed by another key is refused."""
    other_key, _ = _keypair()
    with pytest.raises(WebhookError, match="signature does not match"):
        verify_sns(_signed(_bounce(), key=other_key), fetch, frozenset({TOPIC}), NOW)


def test_tampered_message_is_refused() -> None:
    """Changing the message after signing breaks the signature."""
    body = json.loads(_signed(_bounce("a@example.com")))
    body["Message"] = body["Message"].replace("a@example.com", "victim@example.com")
    with pytest.raises(WebhookError, match="signature does not match"):
        verify_sns(json.dumps(body).encode(), fetch, frozenset({TOPIC}), NOW)


@pytest.mark.parametrize(
    "url",
    [
        "http://sns.eu-west-1.amazonaws.com/SimpleNotificationService-abc.pem",
        "https://sns.eu-west-1.amazonaws.com.evil.example/SimpleNotificationService-abc.pem",
        "https://evil.example/SimpleNotificationService-abc.pem",
        "https://sns.eu-west-1.amazonaws.com/other.pem",
    ],
)
def test_untrusted_certificate_url_is_never_fetched(url: str) -> None:
    """Only SNS's own HTTPS certificate URLs are fetched."""
    body = json.loads(_signed(_bounce()))
    body["SigningCertURL"] = url

    def refuse(u: str) -> bytes:
        raise AssertionError(f"fetched {u}")

    with pytest.raises(WebhookError, match="untrusted signing certificate"):
        verify_sns(json.dumps(body).encode(), refuse, frozenset({TOPIC}), NOW)


def test_foreign_topic_is_refused() -> None:
    """A genuine SNS message from a topic we did not subscribe to is refused."""
    payload = _bounce()
    payload["TopicArn"] = "arn:aws:sns:eu-west-1:999999999999:someone-else"
    with pytest.raises(WebhookError, match="not one we subscribed to"):
        verify_sns(_signed(payload), fetch, frozenset({TOPIC}), NOW)


def test_expired_certificate_is_refused() -> None:
    """A certificate outside its validity period is refused."""
    # The message's own age is checked first (it costs no fetch): allow it, to reach the
    # certificate's validity.
    with pytest.raises(WebhookError, match="not valid now"):
        verify_sns(_signed(_bounce()), fetch, frozenset({TOPIC}), NOW + dt.timedelta(days=60),
                   max_age=dt.timedelta(days=365))


def test_garbage_bodies_are_refused() -> None:
    """Non-JSON and non-object bodies give a WebhookError, not a crash."""
    for body in (b"not json", b"[1, 2]", b"\xff\xfe"):
        with pytest.raises(WebhookError):
            verify_sns(body, fetch, frozenset({TOPIC}), NOW)


def test_subscription_confirmation_exposes_a_pinned_subscribe_url() -> None:
    """SubscriptionConfirmation carries SNS's own SubscribeURL; a foreign one is refused."""
    good = "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=x&Token=t"
    payload = {
        "Type": "SubscriptionConfirmation", "MessageId": "m-2", "Token": "t", "TopicArn": TOPIC,
        "Message": "confirm", "SubscribeURL": good, "Timestamp": "2026-11-24T11:59:00.000Z",
    }
    assert verify_sns(_signed(payload), fetch, frozenset({TOPIC}), NOW).subscribe_url == good
    payload["SubscribeURL"] = "https://evil.example/?Action=ConfirmSubscription&x"
    with pytest.raises(WebhookError, match="untrusted SubscribeURL"):
        verify_sns(_signed(payload), fetch, frozenset({TOPIC}), NOW)


def test_complaint_and_transient_bounce_are_normalised() -> None:
    """Complaints are permanent; transient bounces are not; event-publishing format works."""
    complaint = parse_ses_event(json.dumps({
        "eventType": "Complaint",
        "complaint": {"complainedRecipients": [{"emailAddress": "c@example.com"}],
                      "complaintFeedbackType": "abuse"},
        "mail": {"messageId": "x"},
    }))
    assert (complaint.kind, complaint.recipients, complaint.permanent, complaint.detail) == (
        "complaint", ("c@example.com",), True, "abuse")
    transient = parse_ses_event(_bounce(kind="Transient")["Message"])
    assert transient.kind == "bounce" and not transient.permanent
    assert parse_ses_event(json.dumps({"eventType": "Open"})).kind == "open"
    assert parse_ses_event(json.dumps({"eventType": "Mystery"})).kind == "other"


def test_only_permanent_bounces_and_complaints_suppress() -> None:
    """Permanent bounces and complaints suppress their recipients; transient bounces do not."""
    permanent = parse_ses_event(_bounce("p@example.com")["Message"])
    transient = parse_ses_event(_bounce("t@example.com", kind="Transient")["Message"])
    complaint = parse_ses_event(json.dumps({
        "notificationType": "Complaint",
        "complaint": {"complainedRecipients": [{"emailAddress": "c@example.com"}]},
    }))
    assert suppressions_for(permanent) == [("p@example.com", "bounced", "Permanent/General")]
    assert suppressions_for(transient) == []
    assert suppressions_for(complaint) == [("c@example.com", "complained", "complaint")]


def test_certificate_cache_fetches_each_url_once_and_keeps_the_most_recent() -> None:
    """Fetched on first use only; ``cached`` never fetches; the least recent is evicted."""
    fetched: list[str] = []

    def fetch(url: str) -> bytes:
        fetched.append(url)
        return url.encode()

    cache = CertificateCache(fetch, size=2)
    with pytest.raises(CertificateNotCached) as missing:
        cache.cached("a")
    assert missing.value.url == "a" and fetched == []
    assert cache("a") == b"a" and cache("a") == b"a" and cache.cached("a") == b"a"
    assert fetched == ["a"]
    cache("b")
    cache.cached("a")  # "a" is now the most recent; "b" goes first
    cache("c")
    assert cache.cached("a") == b"a"
    with pytest.raises(CertificateNotCached):
        cache.cached("b")
    assert fetched == ["a", "b", "c"]


def test_verifying_without_fetching_needs_a_cached_certificate() -> None:
    """``fetch=False`` raises CertificateNotCached for a certificate never fetched, and
    verifies once it was: what lets the webhook verify on its event loop."""
    verifier = SnsVerifier(fetch, frozenset({TOPIC}), clock=lambda: NOW)
    body = _signed(_bounce())
    with pytest.raises(CertificateNotCached):
        verifier.verify(body, fetch=False)
    assert verifier.verify(body).topic_arn == TOPIC
    assert verifier.verify(body, fetch=False).topic_arn == TOPIC
