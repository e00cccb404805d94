"""The one place that builds boto3 clients: SES for sending, SQS for SES's events.

Both clients get their settings here, in one way: the region (the configured one, else the
queue URL's, else us-east-1), an endpoint URL only where a loopback test server stands in
for AWS, and credentials from boto3's usual chain (environment, profile, instance role).
The modules that use a client (``transports.ses``, ``feedback.sqs``) turn botocore's errors
into ours; nothing here sends or receives.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from boto3.session import Session
    from mypy_boto3_sesv2 import SESV2Client

DEFAULT_REGION = "us-east-1"
# botocore's data loaders, one per data path: each reads and keeps the service models.
_LOADERS: dict[str | None, Any] = {}
_LOADERS_LOCK = threading.Lock()


@dataclass(frozen=True)
class AwsConfig:
    """Where the clients connect: ``region`` (None: see the module docstring) and the
    endpoints of loopback test servers (None: AWS itself)."""

    region: str | None = None
    ses_endpoint_url: str | None = None
    sqs_endpoint_url: str | None = None


def ses_client(
    config: AwsConfig, max_connections: int, *, validate: bool = True
) -> SESV2Client:
    """A thread-safe ``sesv2`` client with a pool of ``max_connections``.

    botocore's own retries are off: the delivery engine retries, with back-off shared by
    every sending thread, and botocore's would hide throttling from the rate control.
    ``validate=False`` skips botocore's client-side parameter checks (a third of the CPU
    of a 50-entry SendBulkEmail call; issue #23): the requests come from pure builders
    that tests check against the service model, and SES checks them again.
    """
    from botocore.config import Config

    client_config = Config(
        region_name=config.region or DEFAULT_REGION,
        retries={"mode": "standard", "total_max_attempts": 1},
        max_pool_connections=max_connections,
        connect_timeout=5,
        read_timeout=30,
        parameter_validation=validate,
    )
    return _session().client(
        "sesv2", endpoint_url=config.ses_endpoint_url or None, config=client_config
    )


# Connections an SQS client keeps: one for each thread that may call at once, `events
# poll`'s receivers (at most 64, ``--receivers``) and as many deleters. Past the pool, each
# call opened a connection (a TLS handshake) and threw it away; a pool only holds the
# connections that were needed, so a large one costs nothing when fewer threads call.
SQS_CONNECTIONS = 2 * 64


def sqs_client(config: AwsConfig, queue_url: str,
               max_connections: int = SQS_CONNECTIONS) -> Any:
    """An ``sqs`` client for ``queue_url`` (its region read from the URL when none is set).

    Reads wait up to 20 seconds (long polling), so the read timeout allows 30. botocore's
    client-side parameter checks are off (a fifth of the CPU of a receive or a 10-entry
    delete; issue 17): the requests are built by ``feedback.sqs.SqsQueue`` alone, and SQS
    checks them again.
    """
    from botocore.config import Config

    region = config.region or region_of(queue_url) or DEFAULT_REGION
    return _session().client(
        "sqs", endpoint_url=config.sqs_endpoint_url or None,
        config=Config(region_name=region, retries={"mode": "standard"}, read_timeout=30,
                      max_pool_connections=max_connections, parameter_validation=False),
    )


def _session() -> Session:
    """A boto3 session of its own (credentials, profile and proxies read afresh, as a new
    ``boto3.session.Session()`` does) over the process's one botocore data loader, so that
    the service models are read once rather than for every client (~0.12 s of CPU each)."""
    import boto3  # imported when a client is made: `newsletter --help` stays fast
    import botocore.session
    from botocore.loaders import create_loader

    core = botocore.session.get_session()
    path = core.get_config_variable("data_path")
    with _LOADERS_LOCK:
        loader = _LOADERS.get(path)
        if loader is None:
            loader = _LOADERS[path] = create_loader(path)
        core.register_component("data_loader", loader)
        session = boto3.session.Session(botocore_session=core)
        # boto3 adds its own data folder to the loader's search path once per session.
        loader.search_paths[:] = list(dict.fromkeys(loader.search_paths))
    return session


def region_of(queue_url: str) -> str | None:
    """The region of an SQS queue URL (``https://sqs.REGION.amazonaws.com/ACCOUNT/NAME``)."""
    parts = queue_url.split("/")[2].split(".") if queue_url.count("/") >= 2 else []
    return parts[1] if len(parts) > 2 and parts[0] == "sqs" else None
