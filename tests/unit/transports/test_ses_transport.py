"""The SES transport against moto's SES v2 server on loopback (boto3 over real HTTP)."""

from __future__ import annotations

import datetime as dt
import os
import re
import socket
from collections import Counter
from email.utils import parseaddr, parsedate_to_datetime
from typing import Any

import pytest
from support.delivery import delivery_rows, subscribe
from support.env import TEST_SECRET
from support.moto_ses import fault, hook, ok
from support.sending import send_issue

from newsletter import wiring
from newsletter.aws import ses_client
from newsletter.errors import (
    AccountPausedError,
    InDoubtTransportError,
    PermanentTransportError,
    ThrottledError,
    TransientTransportError,
)
from newsletter.issues.loader import load_issue
from newsletter.settings import Settings, get_settings
from newsletter.tokens import TOKEN_LENGTH, Purpose, read_token
from newsletter.transports import MAX_CONCURRENCY
from newsletter.transports.ses import SesTransport, classify_client_error, translate

RAW = (
    b"From: AI Digest <digest@news.example.org>\r\nTo: a@example.com\r\n"
    b"Subject: hello\r\n\r\nhello\r\n"
)


def ses_transport(settings: Settings) -> SesTransport:
    """The SES transport for these settings, as ``wiring.transport`` builds it."""
    connections = max(MAX_CONCURRENCY, settings.send_concurrency)
    return SesTransport(
        ses_client(wiring.aws_config(settings), connections), settings.ses_configuration_set
    )


@pytest.mark.e2e  # a whole campaign or process: `make test`, not test-fast
def test_sample_issue_reaches_200_subscribers_through_the_ses_server(
    ses: Any, sample_issue_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each of 200 subscribers gets exactly one complete message with their own tokens."""
    monkeypatch.setenv("NEWSLETTER_MAX_SEND_RATE", "2000")
    url = os.environ["NEWSLETTER_DATABASE_URL"]
    readers = subscribe(url, 200)
    settings = get_settings()
    issue = load_issue(sample_issue_path)
    started = dt.datetime.now(dt.UTC).replace(microsecond=0)

    summary = send_issue(settings, str(sample_issue_path))

    assert summary.outcome == "done", summary.lines()
    expected = {r.email: r for r in readers if r.expects_issue}
    assert 0 < len(expected) < len(readers)  # some preferences match nothing
    accepted = ses.messages()
    assert Counter(m.parsed()["To"] for m in accepted) == Counter(list(expected))
    rows = {row["email"]: row for row in delivery_rows(url)}
    message_ids: set[str] = set()
    for accepted_message in accepted:
        message = accepted_message.parsed()
        reader = expected[message["To"]]
        row = rows[reader.email]
        assert row["status"] == "sent"
        assert row["variant"] == reader.expected_variant
        assert row["provider_id"] == accepted_message.message_id
        assert accepted_message.destinations[0] == reader.email
        assert parseaddr(message["From"]) == ("AI Digest", "digest@news.example.org")
        english_only = reader.language == "en"
        assert message["Subject"] == (issue.title_en if english_only else issue.title)
        assert started <= parsedate_to_datetime(message["Date"]) <= dt.datetime.now(dt.UTC)
        delivery_id = f"{summary.campaign.id}.{row['id']}"
        assert message["X-Newsletter-Delivery"] == delivery_id
        assert re.fullmatch(rf"<[0-9a-f]{{16}}\.{re.escape(delivery_id)}@news\.example\.org>",
                            message["Message-ID"])
        message_ids.add(message["Message-ID"])
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert message["List-Id"] == settings.list_id
        assert "Feedback-ID" not in message  # SES writes its own
        unsubscribe = message["List-Unsubscribe"]
        prefix = "<https://news.example.org/unsubscribe/"
        assert unsubscribe.startswith(prefix) and unsubscribe.endswith(">")
        token = unsubscribe[len(prefix):-1]
        assert read_token(TEST_SECRET, Purpose.UNSUBSCRIBE, token) == reader.id
        assert message.get_content_type() == "multipart/alternative"
        text, html = message.get_payload()  # type: ignore[misc]
        assert (text.get_content_type(), html.get_content_type()) == ("text/plain", "text/html")
        for part in (text, html):
            assert part.get_content_charset() == "utf-8"
            assert part["Content-Transfer-Encoding"] in ("base64", "quoted-printable")
        body = html.get_content()
        assert f"https://news.example.org/unsubscribe/{token}" in body
        preferences = body.split("https://news.example.org/preferences/", 1)[1][:TOKEN_LENGTH]
        assert read_token(TEST_SECRET, Purpose.PREFERENCES, preferences) == reader.id
        assert all(len(line) <= 998 for line in accepted_message.raw.split(b"\r\n"))
    assert len(message_ids) == len(rows)  # every message has its own Message-ID


def test_client_does_no_retries_of_its_own_and_pools_enough_connections(ses: Any) -> None:
    """boto3 retries are off (we retry), in standard mode, with a pool for every thread."""
    transport = wiring.transport(get_settings())
    assert isinstance(transport, SesTransport)
    config = transport.client.meta.config
    assert config.retries == {"mode": "standard", "total_max_attempts": 1}
    assert config.max_pool_connections >= 64
    assert transport.client.meta.endpoint_url == os.environ["NEWSLETTER_SES_ENDPOINT_URL"]


def test_configuration_set_is_sent_with_each_message(ses: Any) -> None:
    """NEWSLETTER_SES_CONFIGURATION_SET reaches SES as ConfigurationSetName."""
    transport = ses_transport(
        Settings(ses_configuration_set="digest-events", ses_region="us-east-1",
                 ses_endpoint_url=os.environ["NEWSLETTER_SES_ENDPOINT_URL"])
    )
    seen: list[bytes] = []
    hook(transport.client, "SendEmail", lambda request: seen.append(request.body) and None)
    transport.client.create_configuration_set(ConfigurationSetName="digest-events")
    transport.send(RAW, "a@example.com")
    assert b'"ConfigurationSetName": "digest-events"' in seen[0]
    assert len(ses.messages()) == 1


def test_unverified_sender_pauses_the_account(ses: Any) -> None:
    """SES's MessageRejected for our unverified From (from the real server) stops every send."""
    transport = wiring.transport(get_settings())
    raw = RAW.replace(b"news.example.org", b"elsewhere.example.net")
    with pytest.raises(AccountPausedError, match=r"MessageRejected.*--retry-failed"):
        transport.send(raw, "a@example.com")
    assert ses.messages() == []


def test_unverified_recipient_in_the_sandbox_fails_only_that_message() -> None:
    """A MessageRejected naming the recipient (SES sandbox) is that reader's failure only."""
    text = ("Email address is not verified. The following identities failed the check in "
            "region US-EAST-1: reader@example.com")
    assert isinstance(classify_client_error("MessageRejected", 400, text, "reader@example.com"),
                      PermanentTransportError)
    assert isinstance(classify_client_error(
        "MessageRejected", 400, text.replace("reader@example.com", "digest@news.example.org"),
        "reader@example.com"), AccountPausedError)


def test_unreachable_endpoint_is_transient(monkeypatch: pytest.MonkeyPatch) -> None:
    """A refused connection never reached SES: retrying later is safe."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    transport = ses_transport(
        Settings(ses_region="us-east-1", ses_endpoint_url=f"http://127.0.0.1:{port}")
    )
    with pytest.raises(TransientTransportError) as caught:
        transport.send(RAW, "a@example.com")
    assert not isinstance(caught.value, InDoubtTransportError)
    assert caught.value.__cause__ is not None


@pytest.mark.parametrize(
    ("status", "code", "message", "expected"),
    [
        (429, "TooManyRequestsException", "slow down", ThrottledError),
        (400, "Throttling", "Maximum sending rate exceeded.", ThrottledError),
        (503, "ServiceUnavailable", "try later", TransientTransportError),
        (500, "InternalFailure", "oops", TransientTransportError),
        (400, "AccountSuspendedException", "suspended", AccountPausedError),
        (400, "SendingPausedException", "paused", AccountPausedError),
        (400, "MailFromDomainNotVerifiedException", "verify", AccountPausedError),
        (400, "LimitExceededException", "quota", AccountPausedError),
        (400, "Throttling", "Daily message quota exceeded.", AccountPausedError),
        (403, "UnrecognizedClientException", "bad key", AccountPausedError),
        (400, "MessageRejected", "Email address is not verified.", PermanentTransportError),
        (400, "BadRequestException", "bad", PermanentTransportError),
        (404, "NotFoundException", "no such configuration set", PermanentTransportError),
    ],
)
def test_ses_errors_become_our_errors_at_the_seam(
    ses: Any, status: int, code: str, message: str, expected: type[Exception]
) -> None:
    """Each SES error answer, parsed by botocore from the wire, maps to our exception."""
    transport = wiring.transport(get_settings())
    assert isinstance(transport, SesTransport)
    hook(transport.client, "SendEmail", lambda _request: fault(status, code, message))
    with pytest.raises(expected) as caught:
        transport.send(RAW, "a@example.com")
    assert type(caught.value) is expected
    assert caught.value.__cause__ is not None  # raised "from" the botocore error
    assert ses.messages() == []


def test_read_timeout_is_in_doubt() -> None:
    """No answer after the request went out means SES may have sent it."""
    from botocore.exceptions import ReadTimeoutError

    error = translate(ReadTimeoutError(endpoint_url="http://127.0.0.1:1"))
    assert isinstance(error, InDoubtTransportError)
    assert isinstance(classify_client_error("Weird", 418, "teapot"), PermanentTransportError)


def test_quota_is_read_from_get_account_when_offered(ses: Any) -> None:
    """GetAccount's SendQuota becomes ours; without GetAccount (moto) the quota is unknown."""
    transport = wiring.transport(get_settings())
    assert isinstance(transport, SesTransport)
    assert transport.quota() is None  # moto answers GetAccount with 404
    hook(transport.client, "GetAccount", lambda _request: ok(
        {"SendQuota": {"Max24HourSend": 50000.0, "MaxSendRate": 14.0, "SentLast24Hours": 49990.0}}
    ))
    quota = transport.quota()
    assert quota is not None
    assert (quota.max_send_rate, quota.remaining_24_hours) == (14.0, 10)
