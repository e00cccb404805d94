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
from newsletter.errors import PermanentTransportError
from newsletter.issues.loader import load_issue
from newsletter.mail.bulk import BulkTemplate
from newsletter.mail.message import Recipient
from newsletter.settings import Settings
from newsletter.transports.ses_bulk import SesBulkTransport, build_bulk_request, splice_entries
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
    made = entries(template, 50)
    bulk = SesBulkTransport(ses, "newsletter", unvalidated=not validate)
    results = bulk.send_bulk(template.content, made)
    assert all(isinstance(r, str) for r in results)  # the simulator took all 50
    operation = ses.meta.service_model.operation_model("SendBulkEmail")
    expected = ses._serializer.serialize_to_request(
        build_bulk_request(template.content, made, "newsletter"), operation)
    (request,) = sent
    # Unvalidated, the entries were written last (botocore keeps their place).
    body = request.body
    lifted = body.rindex(b'"BulkEmailEntries"') > body.rindex(b'"ConfigurationSetName"')
    assert lifted is not validate
    assert json.loads(request.body) == json.loads(expected["body"])
    assert request.headers["Content-Type"] == b"application/json"
    assert int(request.headers["Content-Length"]) == len(request.body)
    assert sim.stats()["unique_recipients"] == 50


def test_a_body_that_is_not_a_json_object_is_refused() -> None:
    params: dict[str, Any] = {"body": b"<xml/>", "headers": {}}
    with pytest.raises(PermanentTransportError):
        splice_entries(params, {"newsletter_bulk_entries": [{"a": "b"}]})
    empty: dict[str, Any] = {"body": b"", "headers": {}}
    splice_entries(empty, {"newsletter_bulk_entries": [{"a": "b"}]})
    assert json.loads(empty["body"]) == {"BulkEmailEntries": [{"a": "b"}]}
    assert empty["headers"]["Content-Type"] == "application/json"
