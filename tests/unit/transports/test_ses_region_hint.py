"""An SES endpoint that cannot be reached: the error names the region and the setting.

A wrong NEWSLETTER_SES_REGION (a typo, or a region without SES) gives an endpoint host that
does not resolve, so botocore can only say "could not connect"; the operator needs to be
told which region was used and where it is set.
"""

from __future__ import annotations

import socket

import pytest

from newsletter.aws import AwsConfig, ses_client
from newsletter.errors import InDoubtTransportError, TransientTransportError
from newsletter.transports.ses import SesTransport

RAW = b"From: digest@news.example.org\r\nTo: a@example.com\r\nSubject: hi\r\n\r\nhi\r\n"


@pytest.fixture
def unreachable(monkeypatch: pytest.MonkeyPatch) -> str:
    """A loopback URL nobody listens on, with fake credentials (nothing leaves the machine)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_an_unreachable_endpoint_names_the_region_and_its_setting(unreachable: str) -> None:
    """"cannot reach SES" says which region was used and to check NEWSLETTER_SES_REGION."""
    client = ses_client(AwsConfig(region="eu-wset-1", ses_endpoint_url=unreachable), 1)
    with pytest.raises(TransientTransportError) as caught:
        SesTransport(client).send(RAW, "a@example.com")
    message = str(caught.value)
    assert not isinstance(caught.value, InDoubtTransportError)  # safe to send again
    assert "eu-wset-1" in message
    assert "NEWSLETTER_SES_REGION" in message
    assert unreachable in message  # where it tried, for a test endpoint
    assert "NEWSLETTER_SES_ENDPOINT_URL" in message  # an endpoint was configured: say so too


def test_the_default_region_is_named_when_none_is_set(unreachable: str) -> None:
    """Without NEWSLETTER_SES_REGION the hint names the region used (us-east-1)."""
    client = ses_client(AwsConfig(region=None, ses_endpoint_url=unreachable), 1)
    with pytest.raises(TransientTransportError) as caught:
        SesTransport(client).send_tagged(RAW, "a@example.com", {"nl_delivery": "1"})
    assert "us-east-1" in str(caught.value)
    assert "NEWSLETTER_SES_REGION" in str(caught.value)
