"""Clients share the process's botocore data loader (the service models are read once),
while each still reads credentials and the environment afresh, as a new session does."""

from __future__ import annotations

from typing import Any

import pytest

from newsletter import aws
from newsletter.aws import AwsConfig, ses_client, sqs_client

QUEUE = "https://sqs.eu-west-1.amazonaws.com/123456789012/events"


def access_key(client: object) -> str:
    return str(client._request_signer._credentials.access_key)  # type: ignore[attr-defined]


def test_clients_share_the_service_model_and_the_search_path_stays_put() -> None:
    first = ses_client(AwsConfig(region="us-east-1"), 4)
    paths = list(_loader().search_paths)
    second = ses_client(AwsConfig(region="eu-west-1"), 4)
    sqs_client(AwsConfig(), QUEUE)
    assert (second.meta.service_model._service_description  # type: ignore[attr-defined]
            is first.meta.service_model._service_description)  # type: ignore[attr-defined]
    assert _loader().search_paths == paths
    assert len(set(paths)) == len(paths)
    assert second.meta.region_name == "eu-west-1"


def test_each_client_reads_the_credentials_of_its_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAFIRSTFIRSTFIRST1")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "first-secret")
    assert access_key(ses_client(AwsConfig(), 2)) == "AKIAFIRSTFIRSTFIRST1"
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIASECONDSECONDSEC2")
    assert access_key(ses_client(AwsConfig(), 2)) == "AKIASECONDSECONDSEC2"
    assert access_key(sqs_client(AwsConfig(), QUEUE)) == "AKIASECONDSECONDSEC2"


def _loader() -> Any:
    (loader,) = aws._LOADERS.values()
    return loader
