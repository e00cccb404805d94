"""SendBulkEmail requests and answers (``transports/ses_bulk.py``) and the inline template
(``mail/bulk.py``): checked against botocore's service model, SES's entry statuses and the
simulator's Handlebars rendering."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.config import Config
from botocore.validate import ParamValidator
from support.env import SAMPLE_ISSUE
from support.ses_bulk_sim import render
from support.ses_sim import SesSimulator

from newsletter import wiring
from newsletter.errors import (
    AccountPausedError,
    InDoubtTransportError,
    PermanentTransportError,
    ThrottledError,
    TransientTransportError,
)
from newsletter.issues.loader import load_issue
from newsletter.mail.bulk import LITERALS, BulkTemplate, to_template
from newsletter.mail.message import Recipient
from newsletter.settings import Settings
from newsletter.transports.ses_bulk import (
    SesBulkTransport,
    build_bulk_request,
    entry_result,
    parse_bulk_response,
)
from newsletter.vocabulary import Variant

HOSTILE = [
    "{{", "{{{", "{{{{", "}}", "{{name}}", "{{{u}}}", "\\{{x}}", "\\\\{{x}}", "\\\\\\{{",
    "a\\", "\\", "{{#each r}}{{this}}{{/each}}", "{{> partial}}", "{{!-- c --}}", "{ {",
    "x{{{lb}}}y", "{{else}}", "价格{{价}}", "{{lb}}{{bs}}",
]
SERVICE = botocore.session.get_session().get_service_model("sesv2")
BULK_INPUT = SERVICE.operation_model("SendBulkEmail").input_shape


@pytest.mark.parametrize("content", HOSTILE)
def test_template_text_renders_back_to_the_content(content: str) -> None:
    template, literal = to_template(content)
    assert render(template, dict(LITERALS) if literal else {}) == content
    # No placeholder of ours follows a backslash (Handlebars.js would read it as escaped).
    assert not re.search(r"\\\{\{", template)


@pytest.fixture(scope="module")
def template() -> BulkTemplate:
    settings = Settings(
        secret_key="test-secret-key-070e317f7717c7082cd5db78", base_url="https://news.example.org",
        reply_to="Editors <e@news.example.org>", unsubscribe_mailto="leave@news.example.org",
        from_address="AI 论文速递 <digest@news.example.org>",
    )
    rendered = wiring.renderer(settings).render(load_issue(SAMPLE_ISSUE), Variant())
    return BulkTemplate(rendered, wiring.sender(settings), "2022-09-07")


def entries(template: BulkTemplate, count: int) -> list[Any]:
    return [
        template.entry(Recipient(f"r{n}@example.com", f"1.{n}", "U" * 40, "P" * 40),
                       (("nl_delivery", str(n)), ("nl_campaign", "2022-09-07")))
        for n in range(1, count + 1)
    ]


def test_the_request_matches_the_service_model(template: BulkTemplate) -> None:
    request = build_bulk_request(template.content, entries(template, 50), "newsletter")
    report = ParamValidator().validate(request, BULK_INPUT)
    assert not report.has_errors(), report.generate_report()
    header_shape = BULK_INPUT.members["BulkEmailEntries"].member.members["ReplacementHeaders"]
    name_pattern = re.compile(header_shape.member.members["Name"].metadata["pattern"])
    value_pattern = re.compile(header_shape.member.members["Value"].metadata["pattern"])
    headers = [*request["DefaultContent"]["Template"]["Headers"],
               *(h for e in request["BulkEmailEntries"] for h in e["ReplacementHeaders"])]
    assert len(request["DefaultContent"]["Template"]["Headers"]) <= 15
    for header in headers:
        assert name_pattern.fullmatch(header["Name"]), header
        assert value_pattern.fullmatch(header["Value"]) and len(header["Value"]) <= 995, header
    assert request["FromEmailAddress"].startswith("=?utf-8?")


@pytest.mark.parametrize(
    ("status", "error", "expected"),
    [
        ("ACCOUNT_THROTTLED", "slow down", ThrottledError),
        ("TRANSIENT_FAILURE", "try again", TransientTransportError),
        ("FAILED", "failed", TransientTransportError),
        ("MESSAGE_REJECTED", "Email address is not verified. The following identities failed "
         "the check in region US-EAST-1: r1@example.com", PermanentTransportError),
        ("MESSAGE_REJECTED", "Email address is not verified. The following identities failed "
         "the check in region US-EAST-1: digest@news.example.org", AccountPausedError),
        ("INVALID_PARAMETER", "bad", PermanentTransportError),
        ("ACCOUNT_DAILY_QUOTA_EXCEEDED", "quota", AccountPausedError),
        ("ACCOUNT_SENDING_PAUSED", "paused", AccountPausedError),
        ("MAIL_FROM_DOMAIN_NOT_VERIFIED", "mail from", AccountPausedError),
        ("CONFIGURATION_SET_NOT_FOUND", "no set", AccountPausedError),
    ],
)
def test_each_entry_status_becomes_the_error_of_a_single_send(
    status: str, error: str, expected: type[Exception]
) -> None:
    result = entry_result({"Status": status, "Error": error}, "r1@example.com")
    assert type(result) is expected


def test_success_is_a_message_id_and_a_missing_result_is_in_doubt(
    template: BulkTemplate,
) -> None:
    made = entries(template, 3)
    results = parse_bulk_response(
        {"BulkEmailEntryResults": [{"Status": "SUCCESS", "MessageId": "m1"},
                                   {"Status": "SUCCESS"}]}, made)
    assert results[0] == "m1"
    assert isinstance(results[1], InDoubtTransportError)
    assert isinstance(results[2], InDoubtTransportError)


@pytest.fixture
def sim() -> Iterator[SesSimulator]:
    with SesSimulator(60, latency=0.0) as server:
        yield server


def transport(url: str) -> SesBulkTransport:
    client = boto3.client("sesv2", region_name="us-east-1", endpoint_url=url,
                          aws_access_key_id="t", aws_secret_access_key="t",
                          config=Config(retries={"total_max_attempts": 1}))
    return SesBulkTransport(client)


def test_a_call_over_the_rate_is_throttled_whole_and_a_lost_answer_is_in_doubt(
    sim: SesSimulator, template: BulkTemplate
) -> None:
    bulk = transport(sim.url)
    assert len(bulk.send_bulk(template.content, entries(template, 50))) == 50
    with pytest.raises(ThrottledError):
        bulk.send_bulk(template.content, entries(template, 11))  # 61 in the second
    sim.reset(1000)
    sim.lose_answers(1)
    with pytest.raises(InDoubtTransportError):
        bulk.send_bulk(template.content, entries(template, 50))
    assert sim.stats()["accepted"] == 50  # SES took them: the answer was what got lost
