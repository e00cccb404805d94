"""The entries of a SendBulkEmail call skip botocore's serializer (``transports/ses_bulk.py``,
issue #23): the body SES receives is the one botocore would have written, signed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from support.env import SAMPLE_ISSUE
from support.ses_sim import SesSimulator

from newsletter import wiring
from newsletter.issues.loader import load_issue
from newsletter.mail.bulk import BulkTemplate
from newsletter.mail.message import Recipient
from newsletter.settings import Settings
from newsletter.transports.ses_bulk import (
    SesBulkTransport,
    build_bulk_request,
    json_body,
    json_head,
)
from newsletter.vocabulary import Variant


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
    # A non-ASCII, quote and backslash in the data: JSON escapes must be botocore's.
    return [
        template.entry(Recipient(f"r{n}@example.com", f"1.{n}", "U" * 40, "P" * 40),
                       (("nl_delivery", str(n)), ("nl_campaign", 'c"\\é')))
        for n in range(1, count + 1)
    ]


@pytest.fixture
def sim() -> Iterator[SesSimulator]:
    with SesSimulator(1000, latency=0.0) as server:
        yield server


def client(url: str, validate: bool) -> Any:
    return boto3.client("sesv2", region_name="us-east-1", endpoint_url=url,
                        aws_access_key_id="t", aws_secret_access_key="t",
                        config=Config(retries={"total_max_attempts": 1},
                                      parameter_validation=validate))


@pytest.mark.parametrize("validate", [False, True])
def test_the_body_sent_is_the_one_botocore_serialises(
    sim: SesSimulator, template: BulkTemplate, validate: bool
) -> None:
    ses = client(sim.url, validate)
    sent: list[Any] = []
    ses.meta.events.register("before-send.sesv2.SendBulkEmail",
                             lambda request, **_: sent.append(request))
    bulk = SesBulkTransport(ses, "newsletter", unvalidated=not validate)
    made = entries(template, 70)
    calls = [made[:50], made[50:]]  # the second call: the variant's JSON written before
    for call in calls:
        results = bulk.send_bulk(template.content, call)
        assert len(results) == len(call) and all(isinstance(r, str) for r in results)
    operation = ses.meta.service_model.operation_model("SendBulkEmail")
    for call, request in zip(calls, sent, strict=True):
        expected = ses._serializer.serialize_to_request(
            build_bulk_request(template.content, call, "newsletter"), operation)
        body = request.body
        # Unvalidated, the body is ours: the entries last (botocore keeps their place).
        lifted = body.rindex(b'"BulkEmailEntries"') > body.rindex(b'"ConfigurationSetName"')
        assert lifted is not validate
        assert json.loads(body) == json.loads(expected["body"])
        assert request.headers["Content-Type"] == b"application/json"
        assert int(request.headers["Content-Length"]) == len(body)
    assert sim.stats()["unique_recipients"] == 70


def test_the_body_of_a_request_without_other_members_is_json() -> None:
    head = json_head({"BulkEmailEntries": []})
    assert json.loads(json_body(head, [{"a": "b"}])) == {"BulkEmailEntries": [{"a": "b"}]}
