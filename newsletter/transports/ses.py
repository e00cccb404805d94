"""The Amazon SES (API v2) transport: botocore's answers and errors become ours here.

Sending is a fixed sequence: build the request (pure) -> post it (the one network call)
-> parse the answer (pure). Provider errors become our own exceptions here, at the seam,
so nothing past this module ever sees a botocore type:

- ``ThrottledError``: ``TooManyRequestsException``, ``Throttling``, HTTP 429;
- ``TransientTransportError``: HTTP 5xx, and every failure before the request left
  (connection refused, DNS, connect timeout, TLS handshake, HTTP proxy): never sent, so
  safe to try again (naming the region and endpoint: a mistyped region shows only as an
  endpoint that cannot be reached);
- ``InDoubtTransportError``: read timeout or connection dropped mid-request (SES may have
  sent the message);
- ``AccountPausedError``: ``AccountSuspendedException``, ``SendingPausedException``,
  ``MailFromDomainNotVerifiedException``, ``LimitExceededException``, "daily message quota
  exceeded", ``MessageRejected`` for an unverified From identity or domain (it would fail
  every reader alike), and missing or refused credentials;
- ``PermanentTransportError``: ``MessageRejected``, ``BadRequestException``,
  ``NotFoundException`` and any other 4xx.

Retries are ours (``newsletter.sending.engine``); the client comes from ``newsletter.aws``,
which switches botocore's off.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from botocore import exceptions as botocore_exceptions
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    NoCredentialsError,
    NoRegionError,
    ReadTimeoutError,
)

from newsletter.errors import (
    AccountPausedError,
    InDoubtTransportError,
    PermanentTransportError,
    ThrottledError,
    TransientTransportError,
    TransportError,
)
from newsletter.transports import SendQuota

if TYPE_CHECKING:
    from mypy_boto3_sesv2 import SESV2Client

THROTTLE_CODES = frozenset({"TooManyRequestsException", "Throttling", "ThrottlingException"})
ACCOUNT_CODES = frozenset(
    {
        "AccountSuspendedException",
        "SendingPausedException",
        "MailFromDomainNotVerifiedException",
        "LimitExceededException",
        # Credentials that are missing, wrong or expired stop every send alike.
        "AccessDeniedException",
        "AccessDenied",
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "SignatureDoesNotMatch",
        "ExpiredTokenException",
        "ExpiredToken",
    }
)


def build_request(
    raw: bytes, to: str, configuration_set: str | None, tags: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The SendEmail parameters for one raw message to one address (pure).

    ``tags`` become ``EmailTags``; SES returns them on every event it publishes for the
    message through a configuration set.
    """
    request: dict[str, Any] = {
        "Destination": {"ToAddresses": [to]},
        "Content": {"Raw": {"Data": raw}},
    }
    if configuration_set:
        request["ConfigurationSetName"] = configuration_set
    if tags:
        request["EmailTags"] = [{"Name": k, "Value": v} for k, v in sorted(tags.items())]
    return request


def parse_response(response: dict[str, Any]) -> str:
    """SES's message id from a SendEmail answer; ``TransientTransportError`` if there is none."""
    message_id = response.get("MessageId")
    if not isinstance(message_id, str) or not message_id:
        raise TransientTransportError(f"SES answered without a MessageId: {response!r}")
    return message_id


def parse_quota(response: dict[str, Any]) -> SendQuota | None:
    """The ``SendQuota`` of a GetAccount answer, or None when it is missing (pure)."""
    quota = response.get("SendQuota")
    if not isinstance(quota, dict):
        return None
    try:
        return SendQuota(
            max_send_rate=float(quota["MaxSendRate"]),
            max_24_hour_send=float(quota["Max24HourSend"]),
            sent_last_24_hours=float(quota.get("SentLast24Hours", 0.0)),
        )
    except (KeyError, TypeError, ValueError):
        return None


def sender_unverified(code: str, message: str, recipient: str | None) -> bool:
    """Whether a ``MessageRejected`` says our From identity (not the reader) is unverified.

    SES words it "Email address is not verified. The following identities failed the check
    in region ...: <identities>"; in the sandbox the recipient can be among them, and then
    only that one message is refused. A From that fails fails every reader alike.
    """
    if code != "MessageRejected" or recipient is None:
        return False
    lowered = message.lower()
    if "did not have authority to send from" in lowered:
        named = lowered.rpartition("send from")[2]
    elif "not verified" in lowered and "identities failed the check" in lowered:
        named = lowered.rpartition(":")[2]
    else:
        return False  # no identity named: we cannot tell whose it is
    return bool(named.strip()) and recipient.lower() not in named


def classify_client_error(
    code: str, status: int | None, message: str, recipient: str | None = None
) -> TransportError:
    """Our exception for an SES error answer (pure; see the table in the module docstring)."""
    text = f"SES refused the message: {code} ({status}): {message}"
    if sender_unverified(code, message, recipient):
        return AccountPausedError(
            f"SES refused the sender identity ({code}: {message}). Verify the From address or its "
            "domain in SES (or fix NEWSLETTER_FROM_ADDRESS), then run "
            "`newsletter send ISSUE --retry-failed`"
        )
    if "daily message quota" in message.lower():
        return AccountPausedError(
            f"SES: the account's 24-hour sending quota is used up ({message}); "
            "the campaign continues when it is run again after the quota window"
        )
    if code in THROTTLE_CODES or status == 429:
        return ThrottledError(f"SES is throttling: {code}: {message}")
    if code in ACCOUNT_CODES or status in (401, 403):
        return AccountPausedError(f"SES will not send for this account: {code}: {message}")
    if status is not None and status >= 500:
        return TransientTransportError(f"SES failed: {code} ({status}): {message}")
    return PermanentTransportError(text)


def unreachable(err: BotoCoreError, region: str | None, endpoint: str | None) -> str:
    """"cannot reach SES" with the region used and the settings that choose it.

    A mistyped region (or one without SES) gives an endpoint host that does not resolve,
    which botocore reports only as "could not connect" (its message names the URL).
    """
    if region is None:
        return f"cannot reach SES: {err}"
    settings = "NEWSLETTER_SES_REGION (the region of your SES account, e.g. us-east-1)"
    if endpoint and not is_aws_endpoint(endpoint):
        settings = f"NEWSLETTER_SES_ENDPOINT_URL and {settings}"
    return f"cannot reach SES in region {region}: {err}; check {settings} and the network"


def is_aws_endpoint(endpoint: str) -> bool:
    """Whether ``endpoint`` is AWS's own (botocore's default for the region)."""
    host = urlsplit(endpoint).hostname or ""
    return host.endswith((".amazonaws.com", ".amazonaws.com.cn"))


def classify_botocore_error(
    err: BotoCoreError, region: str | None = None, endpoint: str | None = None
) -> TransportError:
    """Our exception for a failure below the HTTP answer (no response, no credentials).

    ``region`` and ``endpoint`` (the client's) are named when SES cannot be reached.
    """
    if isinstance(err, botocore_exceptions.ConnectionError):
        # Connection refused, DNS, connect timeout, a failed TLS handshake, a dead proxy:
        # botocore raises these only before the request is written, so it never reached
        # SES and sending it again cannot make a second copy (not sent, not in doubt).
        return TransientTransportError(unreachable(err, region, endpoint))
    if isinstance(err, ReadTimeoutError | ConnectionClosedError):
        return InDoubtTransportError(f"no answer from SES; the message may have been sent: {err}")
    if isinstance(err, NoCredentialsError | NoRegionError):
        return AccountPausedError(
            f"SES cannot be used: {err}; configure AWS credentials and NEWSLETTER_SES_REGION"
        )
    return InDoubtTransportError(f"SES call failed: {err}")


def translate(
    err: Exception, recipient: str | None = None, *, region: str | None = None,
    endpoint: str | None = None,
) -> TransportError:
    """Any botocore exception as ours; anything else is returned as an in-doubt failure.

    ``region`` and ``endpoint`` are where the client sends (see ``classify_botocore_error``).
    """
    if isinstance(err, ClientError):
        error = err.response.get("Error", {})
        meta = err.response.get("ResponseMetadata", {})
        return classify_client_error(
            str(error.get("Code", "")), meta.get("HTTPStatusCode"), str(error.get("Message", "")),
            recipient,
        )
    if isinstance(err, BotoCoreError):
        return classify_botocore_error(err, region, endpoint)
    return InDoubtTransportError(f"SES call failed unexpectedly: {err!r}")


class SesTransport:
    """Sends through one shared, thread-safe boto3 ``sesv2`` client."""

    name = "ses"

    def __init__(self, client: SESV2Client, configuration_set: str | None = None) -> None:
        self.client = client
        self.configuration_set = configuration_set
        # Named in "cannot reach SES" errors: a wrong region shows only as that.
        meta = getattr(client, "meta", None)
        self.region: str | None = getattr(meta, "region_name", None)
        self.endpoint: str | None = getattr(meta, "endpoint_url", None)

    def send(self, raw: bytes, to: str) -> str:
        """Send ``raw`` to ``to``; return SES's MessageId. Raises ``TransportError`` subclasses."""
        return self.send_tagged(raw, to, {})

    def send_tagged(self, raw: bytes, to: str, tags: Mapping[str, str]) -> str:
        """``send`` with SES ``EmailTags`` (see ``build_request``)."""
        request = build_request(raw, to, self.configuration_set, tags)
        try:
            response = self.client.send_email(**request)
        except (ClientError, BotoCoreError) as err:
            raise translate(err, to, region=self.region, endpoint=self.endpoint) from err
        return parse_response(dict(response))

    def quota(self) -> SendQuota | None:
        """The account's quota from GetAccount; None if it cannot be read.

        Any failure gives None rather than an error: a sending role often lacks
        ``ses:GetAccount``, and a local test server may not implement it. Sending then
        runs at ``NEWSLETTER_MAX_SEND_RATE``, and SES's own refusals still pause it.
        """
        try:
            response = self.client.get_account()
        except (ClientError, BotoCoreError):
            return None
        return parse_quota(dict(response))
