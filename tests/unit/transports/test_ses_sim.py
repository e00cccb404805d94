"""The simulated SES endpoint (bench/ses_sim.py) answers boto3 and throttles like SES."""

from __future__ import annotations

import importlib.util
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from support.clock import FakeClock
from support.env import SES_SIM

from newsletter import wiring
from newsletter.issues.loader import load_issue
from newsletter.mail.message import MessageTemplate, Recipient
from newsletter.rendering.renderer import Renderer
from newsletter.settings import Settings
from newsletter.tokens import Purpose, make_token

SIM_PATH = SES_SIM


def _load_sim() -> ModuleType:
    # bench/ is scripts, not a package on the path: load the module from its file.
    spec = importlib.util.spec_from_file_location("ses_sim", SIM_PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["ses_sim"] = module
    spec.loader.exec_module(module)
    return module


ses_sim = _load_sim()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(1000.0)


@pytest.fixture
def sim(clock: FakeClock) -> Iterator[Any]:
    with ses_sim.SesSimulator(5, latency=0.0, clock=clock.seconds) as server:
        yield server


def client(url: str) -> Any:
    """A sesv2 client that does not retry, so every refusal reaches the test."""
    return boto3.client(
        "sesv2",
        region_name="us-east-1",
        endpoint_url=url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"mode": "standard", "total_max_attempts": 1}),
    )


def raw_message(index: int, sample_issue_path: Path) -> bytes:
    settings = Settings()
    rendered = Renderer(settings.base_url).render(load_issue(sample_issue_path))
    secret = settings.secret_key.get_secret_value()
    recipient = Recipient(
        address=f"reader{index}@example.com",
        delivery_id=f"d{index}",
        unsubscribe_token=make_token(secret, Purpose.UNSUBSCRIBE, index),
        preferences_token=make_token(secret, Purpose.PREFERENCES, index),
    )
    template = MessageTemplate(rendered, wiring.sender(settings), "2022-09-07")
    return template.build(recipient, "Wed, 07 Sep 2022 08:00:00 +0000")


@pytest.mark.slow
def test_send_email_and_get_account_answer_boto3(sim: Any, sample_issue_path: Path) -> None:
    """SendEmail with a raw message returns a MessageId and is recorded; GetAccount reports R."""
    ses = client(sim.url)
    first = ses.send_email(Content={"Raw": {"Data": raw_message(1, sample_issue_path)}})
    second = ses.send_email(
        Destination={"ToAddresses": ["other@example.com"]},
        Content={"Raw": {"Data": raw_message(2, sample_issue_path)}},
    )
    assert first["MessageId"] != second["MessageId"]
    account = ses.get_account()
    assert account["SendQuota"]["MaxSendRate"] == 5.0
    assert account["SendQuota"]["SentLast24Hours"] == 2.0
    assert account["SendingEnabled"] is True
    stats = sim.stats()
    assert stats["accepted"] == 2
    assert stats["unique_recipients"] == 2
    assert stats["duplicates"] == 0
    assert sim.recipients == {"reader1@example.com": 1, "other@example.com": 1}


def test_throttles_above_rate_in_a_sliding_second(
    sim: Any, clock: FakeClock, sample_issue_path: Path
) -> None:
    """The (R+1)th send within one second gets 429 TooManyRequestsException; later ones pass."""
    ses = client(sim.url)
    data = raw_message(1, sample_issue_path)
    for _ in range(5):
        ses.send_email(Content={"Raw": {"Data": data}})
        clock.advance(seconds=0.1)
    with pytest.raises(ClientError) as refused:
        ses.send_email(Content={"Raw": {"Data": data}})
    assert refused.value.response["Error"]["Code"] == "TooManyRequestsException"
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    # 0.5 s after the first send it leaves the window, making room for exactly one more.
    clock.advance(seconds=0.5)
    ses.send_email(Content={"Raw": {"Data": data}})
    with pytest.raises(ClientError):
        ses.send_email(Content={"Raw": {"Data": data}})
    stats = sim.stats()
    assert (stats["accepted"], stats["throttled"]) == (6, 2)
    assert stats["duplicates"] == 5


@pytest.mark.slow
def test_latency_does_not_block_other_calls() -> None:
    """Concurrent calls each take the simulated latency, in parallel rather than in turn."""
    with ses_sim.SesSimulator(100, latency=0.3) as server:
        ses = client(server.url)
        ses.get_account()  # open one connection before timing
        started = time.monotonic()
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda _: ses.get_account(), range(8)))
        elapsed = time.monotonic() - started
    assert 0.3 <= elapsed < 1.2
