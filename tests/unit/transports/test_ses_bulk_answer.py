"""A SendBulkEmail answer's entry results are read from its JSON before botocore's parser
(``transports/ses_bulk.py``, issue #23): each entry's outcome is the one botocore's own
parsing gave, and an error answer is still botocore's to parse."""

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
from newsletter.errors import ThrottledError
from newsletter.issues.loader import load_issue
from newsletter.mail.bulk import BulkTemplate
from newsletter.mail.message import Recipient
from newsletter.settings import Settings
from newsletter.transports.bulk import EntryResult
from newsletter.transports.ses_bulk import SesBulkTransport, parse_bulk_response, take_results
from newsletter.vocabulary import Variant


@pytest.fixture(scope="module")
def template() -> BulkTemplate:
    settings = Settings(secret_key="test-secret-key-070e317f7717c7082cd5db78",
                        base_url="https://news.example.org")
    rendered = wiring.renderer(settings).render(load_issue(SAMPLE_ISSUE), Variant())
    return BulkTemplate(rendered, wiring.sender(settings), "2022-09-07")


def entries(template: BulkTemplate, count: int) -> list[Any]:
    return [template.entry(Recipient(f"r{n}@example.com", f"1.{n}", "U" * 40, "P" * 40))
            for n in range(1, count + 1)]


@pytest.fixture
def sim() -> Iterator[SesSimulator]:
    with SesSimulator(60, latency=0.0) as server:
        yield server


def client(url: str) -> Any:
    return boto3.client("sesv2", region_name="us-east-1", endpoint_url=url,
                        aws_access_key_id="t", aws_secret_access_key="t",
                        config=Config(retries={"total_max_attempts": 1},
                                      parameter_validation=False))


def outcome(result: EntryResult) -> tuple[str, str]:
    return ("id", result) if isinstance(result, str) else (type(result).__name__, str(result))


ANSWER = {
    "BulkEmailEntryResults": [
        {"Status": "SUCCESS", "MessageId": "0100018c-aaaa-000000"},
        {"Status": "MESSAGE_REJECTED", "Error": "Email address is not verified: r2"},
        {"Status": "ACCOUNT_THROTTLED", "Error": "slow down"},
        {"Status": "TRANSIENT_FAILURE", "Error": None},
        {"Status": None, "MessageId": None},
        {"Status": "SUCCESS", "MessageId": "", "Unmodelled": {"a": [1]}},
        {"Status": "ACCOUNT_SUSPENDED"},
    ]
}


@pytest.mark.parametrize("answer", [ANSWER, {"BulkEmailEntryResults": []}])
def test_the_results_read_early_are_the_ones_botocores_parser_gives(
    template: BulkTemplate, answer: dict[str, Any]
) -> None:
    ses = client("http://127.0.0.1:9")  # nothing is sent: the parser alone
    operation = ses.meta.service_model.operation_model("SendBulkEmail")
    parser = ses._endpoint._response_parser_factory.create_parser("rest-json")
    made = entries(template, 8)  # one more than the answer has: in doubt either way

    def answered(body: bytes) -> dict[str, Any]:
        return {"status_code": 200, "headers": {}, "body": body}

    botocores = parser.parse(answered(json.dumps(answer).encode()), operation.output_shape)
    response, customized = answered(json.dumps(answer).encode()), {}
    take_results(response, customized)
    assert response["body"] == b"{}"  # botocore's parser is left nothing to walk
    ours = parser.parse(response, operation.output_shape)
    ours.update(customized)
    assert ([outcome(r) for r in parse_bulk_response(ours, made)]
            == [outcome(r) for r in parse_bulk_response(botocores, made)])


@pytest.mark.parametrize(
    "status, body",
    [(200, b'{"Other": 1}'), (200, b"not json"), (200, b'{"BulkEmailEntryResults": [1]}'),
     (429, b'{"BulkEmailEntryResults": []}')],
)
def test_anything_else_is_left_to_botocore(status: int, body: bytes) -> None:
    response, customized = {"status_code": status, "headers": {}, "body": body}, {}
    take_results(response, customized)
    assert response["body"] == body
    assert customized == {}


def test_a_call_reads_its_answer_early_and_keeps_each_entrys_status(
    sim: SesSimulator, template: BulkTemplate
) -> None:
    ses = client(sim.url)
    seen: list[bytes] = []
    bulk = SesBulkTransport(ses, unvalidated=True)
    # Registered after the transport's: sees the body botocore's parser is given.
    ses.meta.events.register("before-parse.sesv2.SendBulkEmail",
                             lambda response_dict, **_: seen.append(response_dict["body"]))
    sim.fail_entry("r2@example.com", "MESSAGE_REJECTED")
    sim.fail_entry("r3@example.com", "ACCOUNT_THROTTLED")
    results = bulk.send_bulk(template.content, entries(template, 4))
    assert seen == [b"{}"]
    assert [type(r).__name__ for r in results] == [
        "str", "PermanentTransportError", "ThrottledError", "str"]
    assert all(r.startswith("sim-") for r in results if isinstance(r, str))
    assert len(bulk.send_bulk(template.content, entries(template, 50))) == 50
    with pytest.raises(ThrottledError):  # an error answer: botocore's parsing, as before
        bulk.send_bulk(template.content, entries(template, 10))  # 64 in the second
    assert seen[-1] != b"{}"
