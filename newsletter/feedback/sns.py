"""SNS message verification: bytes in, a verified :class:`SnsMessage` out.

No web framework here (the webhook and the SQS poller both use it). The one piece of I/O, fetching
SNS's signing certificate, is a function passed in, so everything else is testable
without a network. Following listmonk, the certificate URL is pinned by a strict pattern
before anything is fetched, and following django-anymail the raw payload is kept on the
normalised event.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from newsletter.errors import CertificateUnavailableError, WebhookError


class CertificateNotCached(Exception):
    """Verifying needs a certificate not fetched before (raised when fetching is not allowed)."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.url = url


# Only SNS's own certificate host, over HTTPS, may sign our notifications: sns.REGION.
# amazonaws.com, where REGION is a region name (us-east-1, us-gov-west-1, cn-north-1), not
# any label (sns.s3.amazonaws.com would be an S3 bucket). Used with fullmatch, so no
# trailing newline slips through as ``$`` would allow.
_SNS_HOST = r"sns\.[a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-\d{1,2}\.amazonaws\.com(?:\.cn)?"
CERT_URL = re.compile(rf"https://{_SNS_HOST}/SimpleNotificationService-[A-Za-z0-9]+\.pem")
SUBSCRIBE_URL = re.compile(
    rf"https://{_SNS_HOST}/\?Action=ConfirmSubscription&[A-Za-z0-9&=%:._~-]+"
)
# Notifications older than this are refused: a captured message cannot be replayed later.
MAX_AGE = dt.timedelta(hours=1)
_SIGNED_KEYS = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": (
        "Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"
    ),
    "UnsubscribeConfirmation": (
        "Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"
    ),
}
Fetcher = Callable[[str], bytes]
# A certificate URL whose fetch failed is not fetched again for this many seconds.
FAILURE_PAUSE = 300.0
_MAX_FAILED = 4096
# RSA signatures are as long as the key: SNS's are 2048 bits (256 bytes).
_SIGNATURE_BYTES = (128, 1024)


@dataclass(frozen=True)
class SnsMessage:
    """A verified SNS message."""

    type: str
    message_id: str
    topic_arn: str
    message: str
    subscribe_url: str | None
    raw: Mapping[str, Any]


def cert_url_allowed(url: str, test_host: str | None = None) -> bool:
    """Whether ``url`` may be fetched as a signing certificate.

    ``test_host`` (``NEWSLETTER_SNS_CERT_HOST_FOR_TESTS``, a loopback ``127.0.0.1:PORT``)
    also allows ``http://`` from exactly that host, for tests that serve their own CA.
    """
    if CERT_URL.fullmatch(url):
        return True
    if test_host is None:
        return False
    pattern = rf"http://{re.escape(test_host)}/SimpleNotificationService-[A-Za-z0-9]+\.pem"
    return re.fullmatch(pattern, url) is not None


def string_to_sign(payload: Mapping[str, Any]) -> bytes:
    """The canonical text SNS signs: chosen keys in order, each as ``key\\nvalue\\n``."""
    keys = _SIGNED_KEYS.get(str(payload.get("Type")))
    if keys is None:
        raise WebhookError(f"unknown SNS message type: {payload.get('Type')!r}")
    parts = []
    for key in keys:
        if key in payload and payload[key] is not None:
            parts.append(f"{key}\n{payload[key]}\n")
    return "".join(parts).encode("utf-8")


# The shape of an SNS envelope, checked on the raw bytes: an object of at most 32 fields
# whose values are strings, but MessageAttributes: an object of at most 16 objects of at
# most 16 strings each. Possessive quantifiers: a failed match never backtracks, so the
# check is linear in the body.
_STRING = rb'"(?:[^"\\]++|\\.)*+"'
_FLAT = rb"\{\s*+(?:" + _STRING + rb"\s*+:\s*+" + _STRING + rb"\s*+(?:,\s*+" + _STRING + (
    rb"\s*+:\s*+" + _STRING + rb"\s*+){0,15}+)?\}")
_ATTRIBUTES = rb"\{\s*+(?:" + _STRING + rb"\s*+:\s*+" + _FLAT + rb"\s*+(?:,\s*+" + (
    _STRING + rb"\s*+:\s*+" + _FLAT + rb"\s*+){0,15}+)?\}")
_VALUE = rb"(?:" + _STRING + rb"|" + _ATTRIBUTES + rb")"
_ENVELOPE = re.compile(
    rb"\s*+\{\s*+" + _STRING + rb"\s*+:\s*+" + _VALUE + rb"\s*+(?:,\s*+" + _STRING
    + rb"\s*+:\s*+" + _VALUE + rb"\s*+){0,31}+\}\s*+"
)


def parse_envelope(body: str | bytes) -> dict[str, Any]:
    """The JSON object of an SNS message (not yet verified); :class:`WebhookError` if none.

    An envelope is flat: every field is a string but ``MessageAttributes`` (an object of
    objects of strings). That shape is checked on the raw bytes first (:data:`_ENVELOPE`),
    so a big body of numbers or nested lists, which anyone may post, is refused before
    anything is built, and then field by field on what was parsed.
    """
    raw = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    if not _ENVELOPE.fullmatch(raw):
        # Refused before any object is built: parsing a 256 KB list of numbers costs
        # tens of milliseconds, a failed match here microseconds.
        raise WebhookError("the body is not an SNS envelope (a flat JSON object of strings)")
    try:
        data = json.loads(raw, parse_constant=_no_constant)
    except (ValueError, UnicodeDecodeError, RecursionError) as err:
        raise WebhookError("the body is not JSON") from err
    if not isinstance(data, dict):
        raise WebhookError("the body is not a JSON object")
    for key, value in data.items():
        if key == "MessageAttributes":
            if not isinstance(value, dict) or not all(
                isinstance(a, dict) and all(isinstance(v, str) for v in a.values())
                for a in value.values()
            ):
                raise WebhookError("MessageAttributes is not an object of attributes")
        elif not isinstance(value, str):
            raise WebhookError(f"the field {str(key)[:40]!r} is not a string, as SNS sends")
    return data


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def verify_sns(
    body: bytes | str | Mapping[str, Any],
    fetch_certificate: Fetcher,
    allowed_topics: frozenset[str],
    now: dt.datetime | None = None,
    *,
    test_cert_host: str | None = None,
    max_age: dt.timedelta = MAX_AGE,
) -> SnsMessage:
    """Parse and verify an SNS message; raise :class:`WebhookError` for anything doubtful.

    The signing certificate URL must be SNS's own, the certificate must be current, the
    signature must match (SignatureVersion 1: SHA1, 2: SHA256), the ``Timestamp`` must be
    no older than ``max_age``, and the topic must be one of ``allowed_topics``: a valid
    signature only proves SNS sent it, not that it is ours. A certificate that cannot be
    fetched is a ``WebhookError`` too.
    """
    payload = dict(body) if isinstance(body, Mapping) else parse_envelope(body)
    moment = now or dt.datetime.now(dt.UTC)
    # Everything that costs nothing comes before the certificate, which may cost a request:
    # a forged message naming a new certificate URL must not buy an outbound fetch cheaply.
    cert_url, signature, algorithm = _cheap_checks(payload, allowed_topics, moment, max_age,
                                                   test_cert_host)
    try:
        pem = fetch_certificate(cert_url)
    except (WebhookError, CertificateNotCached):
        raise
    except Exception as err:  # any network failure: refuse this message, do not crash
        raise CertificateUnavailableError(
            f"the signing certificate could not be fetched: {err}") from err
    try:
        certificate = _load_certificate(pem)
    except ValueError as err:
        raise WebhookError("the signing certificate could not be read") from err
    if not certificate.not_valid_before_utc <= moment <= certificate.not_valid_after_utc:
        raise WebhookError("the signing certificate is not valid now")
    key = certificate.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise WebhookError("the signing certificate does not hold an RSA key")
    try:
        key.verify(signature, string_to_sign(payload), padding.PKCS1v15(), algorithm)
    except InvalidSignature as err:
        raise WebhookError("the signature does not match") from err
    subscribe_url = payload.get("SubscribeURL")
    return SnsMessage(
        type=str(payload["Type"]),
        message_id=str(payload.get("MessageId", ""))[:100],
        topic_arn=str(payload["TopicArn"]),
        message=str(payload.get("Message", "")),
        subscribe_url=str(subscribe_url) if subscribe_url else None,
        raw=payload,
    )


def _cheap_checks(
    payload: Mapping[str, Any], allowed_topics: frozenset[str], moment: dt.datetime,
    max_age: dt.timedelta, test_cert_host: str | None,
) -> tuple[str, bytes, hashes.HashAlgorithm]:
    """The checks that need no certificate; the certificate URL, signature and hash."""
    keys = _SIGNED_KEYS.get(str(payload.get("Type")))
    if keys is None:
        raise WebhookError(f"unknown SNS message type: {str(payload.get('Type'))[:40]!r}")
    topic = str(payload.get("TopicArn", ""))
    if topic not in allowed_topics:
        raise WebhookError(f"topic {topic[:200]!r} is not one we subscribed to")
    missing = [k for k in keys if k != "Subject" and not isinstance(payload.get(k), str)]
    if missing:
        raise WebhookError(f"the message has no {', '.join(missing)}")
    cert_url = str(payload.get("SigningCertURL", ""))
    if not cert_url_allowed(cert_url, test_cert_host):
        raise WebhookError(f"untrusted signing certificate URL: {cert_url[:200]!r}")
    region = _region(topic)
    if CERT_URL.fullmatch(cert_url) and not cert_url.startswith(f"https://sns.{region}."):
        raise WebhookError(f"the signing certificate is not from {region}, the topic's region")
    version = str(payload.get("SignatureVersion", ""))
    algorithm: hashes.HashAlgorithm
    if version == "1":
        algorithm = hashes.SHA1()  # noqa: S303 -- SNS SignatureVersion 1 is defined as SHA1
    elif version == "2":
        algorithm = hashes.SHA256()
    else:
        raise WebhookError(f"unsupported SignatureVersion: {version[:10]!r}")
    try:
        signature = base64.b64decode(str(payload.get("Signature", "")), validate=True)
    except (binascii.Error, ValueError) as err:
        raise WebhookError("the signature is not base64") from err
    if not _SIGNATURE_BYTES[0] <= len(signature) <= _SIGNATURE_BYTES[1]:
        raise WebhookError(f"the signature has {len(signature)} bytes; an RSA one has 128-1024")
    # The Timestamp is signed: refusing a stale one before the signature is checked
    # refuses exactly what checking it after would, without a fetch.
    sent_at = _timestamp(payload.get("Timestamp"))
    if moment - sent_at > max_age:
        raise WebhookError(f"the message is stale (sent {sent_at.isoformat()})")
    if sent_at - moment > dt.timedelta(minutes=5):
        raise WebhookError(f"the message is from the future (sent {sent_at.isoformat()})")
    subscribe_url = payload.get("SubscribeURL")
    if subscribe_url is not None and not SUBSCRIBE_URL.fullmatch(str(subscribe_url)):
        raise WebhookError(f"untrusted SubscribeURL: {str(subscribe_url)[:200]!r}")
    return cert_url, signature, algorithm


def _region(topic: str) -> str:
    """The region of a topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME), or "" when it has none."""
    parts = topic.split(":")
    return parts[3] if len(parts) > 3 else ""


class CertificateCache:
    """SNS signing certificates by URL, each fetched once; the ``size`` most recent are kept.

    SNS signs with one certificate for months, so after the first message no verification
    waits for the network. Only URLs the pinned pattern allowed reach the cache; a forged
    message naming other allowed URLs can only evict, and costs its own fetch.
    """

    def __init__(self, fetch: Fetcher, size: int = 16,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._fetch = fetch
        self._size = size
        self._pems: OrderedDict[str, bytes] = OrderedDict()
        # URLs whose fetch failed, with when: not fetched again for FAILURE_PAUSE seconds.
        self._failed: OrderedDict[str, float] = OrderedDict()
        self._clock = clock
        self._lock = threading.Lock()

    def __call__(self, url: str) -> bytes:
        """The certificate at ``url``: from the cache, else fetched (and kept).

        A URL whose fetch failed is not fetched again for :data:`FAILURE_PAUSE` seconds
        (:class:`WebhookError` meanwhile), so repeating a forged message costs no request.
        """
        try:
            return self.cached(url)
        except CertificateNotCached:
            pass
        with self._lock:
            failed_at = self._failed.get(url)
            if failed_at is not None and self._clock() - failed_at < FAILURE_PAUSE:
                raise WebhookError("the signing certificate could not be fetched a moment "
                                   "ago; not trying again yet")
        try:
            pem = self._fetch(url)
        except Exception:
            with self._lock:
                self._failed[url] = self._clock()
                self._failed.move_to_end(url)
                while len(self._failed) > _MAX_FAILED:
                    self._failed.popitem(last=False)
            raise
        with self._lock:
            self._failed.pop(url, None)
            self._pems[url] = pem
            while len(self._pems) > self._size:
                self._pems.popitem(last=False)
        return pem

    def cached(self, url: str) -> bytes:
        """The certificate at ``url`` if fetched before; ``CertificateNotCached`` if not."""
        with self._lock:
            pem = self._pems.get(url)
            if pem is None:
                raise CertificateNotCached(url)
            self._pems.move_to_end(url)
            return pem


@lru_cache(maxsize=16)
def _load_certificate(pem: bytes) -> x509.Certificate:
    # Parsed once per certificate, not once per message.
    return x509.load_pem_x509_certificate(pem)


def _timestamp(value: Any) -> dt.datetime:
    if not isinstance(value, str):
        raise WebhookError("the message has no Timestamp")
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as err:
        raise WebhookError(f"the Timestamp is not a date: {value[:40]!r}") from err
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
