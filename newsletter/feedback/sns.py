"""SES feedback through SNS: signature verification and event normalisation.

Bytes in, our own ``MailEvent`` out; no web framework here. The one piece of I/O, fetching
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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from newsletter.errors import NewsletterError


class WebhookError(NewsletterError):
    """A webhook payload was malformed, forged, or from a topic we do not trust."""


# Only SNS's own certificate host, over HTTPS, may sign our notifications.
CERT_URL = re.compile(
    r"^https://sns\.[a-z0-9-]+\.amazonaws\.com(?:\.cn)?/SimpleNotificationService-[A-Za-z0-9]+\.pem$"
)
SUBSCRIBE_URL = re.compile(r"^https://sns\.[a-z0-9-]+\.amazonaws\.com(?:\.cn)?/\?Action=ConfirmSubscription&")
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


@dataclass(frozen=True)
class SnsMessage:
    """A verified SNS message."""

    type: str
    topic_arn: str
    message: str
    subscribe_url: str | None
    raw: Mapping[str, Any]


@dataclass(frozen=True)
class MailEvent:
    """What SES told us about one message, in our own terms."""

    kind: Literal["bounce", "complaint", "delivery", "other"]
    recipients: tuple[str, ...]
    permanent: bool
    detail: str
    ses_message_id: str | None
    raw: Mapping[str, Any] = field(repr=False)


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


def verify_sns(
    body: bytes,
    fetch_certificate: Fetcher,
    allowed_topics: frozenset[str],
    now: dt.datetime | None = None,
) -> SnsMessage:
    """Parse and verify an SNS POST body; raise :class:`WebhookError` for anything doubtful.

    The signing certificate URL must be SNS's own, the certificate must be current, the
    signature must match (SignatureVersion 1: SHA1, 2: SHA256), and the topic must be one
    of ``allowed_topics``: a valid signature only proves SNS sent it, not that it is ours.
    """
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError) as err:
        raise WebhookError("the body is not JSON") from err
    if not isinstance(payload, dict):
        raise WebhookError("the body is not an SNS message")
    topic = str(payload.get("TopicArn", ""))
    if topic not in allowed_topics:
        raise WebhookError(f"topic {topic!r} is not one we subscribed to")
    cert_url = str(payload.get("SigningCertURL", ""))
    if not CERT_URL.match(cert_url):
        raise WebhookError(f"untrusted signing certificate URL: {cert_url!r}")
    version = str(payload.get("SignatureVersion", ""))
    algorithm: hashes.HashAlgorithm
    if version == "1":
        algorithm = hashes.SHA1()  # noqa: S303 -- SNS SignatureVersion 1 is defined as SHA1
    elif version == "2":
        algorithm = hashes.SHA256()
    else:
        raise WebhookError(f"unsupported SignatureVersion: {version!r}")
    try:
        signature = base64.b64decode(str(payload.get("Signature", "")), validate=True)
    except (binascii.Error, ValueError) as err:
        raise WebhookError("the signature is not base64") from err
    try:
        certificate = x509.load_pem_x509_certificate(fetch_certificate(cert_url))
    except ValueError as err:
        raise WebhookError("the signing certificate could not be read") from err
    moment = now or dt.datetime.now(dt.UTC)
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
    if subscribe_url is not None and not SUBSCRIBE_URL.match(str(subscribe_url)):
        raise WebhookError(f"untrusted SubscribeURL: {subscribe_url!r}")
    return SnsMessage(
        type=str(payload["Type"]),
        topic_arn=topic,
        message=str(payload.get("Message", "")),
        subscribe_url=str(subscribe_url) if subscribe_url else None,
        raw=payload,
    )


def parse_ses_event(message: str) -> MailEvent:
    """Normalise an SES notification (``notificationType``) or event (``eventType``)."""
    try:
        data = json.loads(message)
    except ValueError as err:
        raise WebhookError("the SES notification is not JSON") from err
    if not isinstance(data, dict):
        raise WebhookError("the SES notification is not an object")
    kind = str(data.get("notificationType") or data.get("eventType") or "").lower()
    mail = data.get("mail") if isinstance(data.get("mail"), dict) else {}
    ses_id = mail.get("messageId") if isinstance(mail, dict) else None
    if kind == "bounce":
        bounce = data.get("bounce") or {}
        recipients = _addresses(bounce.get("bouncedRecipients"))
        bounce_type = str(bounce.get("bounceType", ""))
        detail = f"{bounce_type}/{bounce.get('bounceSubType', '')}"
        return MailEvent("bounce", recipients, bounce_type == "Permanent", detail, ses_id, data)
    if kind == "complaint":
        complaint = data.get("complaint") or {}
        recipients = _addresses(complaint.get("complainedRecipients"))
        detail = str(complaint.get("complaintFeedbackType", "complaint"))
        return MailEvent("complaint", recipients, True, detail, ses_id, data)
    if kind == "delivery":
        delivery = data.get("delivery") or {}
        recipients = tuple(str(r) for r in delivery.get("recipients", []) if isinstance(r, str))
        return MailEvent("delivery", recipients, False, "delivered", ses_id, data)
    return MailEvent("other", (), False, kind or "unknown", ses_id, data)


def _addresses(items: Any) -> tuple[str, ...]:
    if not isinstance(items, list):
        return ()
    return tuple(
        str(item["emailAddress"])
        for item in items
        if isinstance(item, dict) and isinstance(item.get("emailAddress"), str)
    )


def suppressions_for(event: MailEvent) -> list[tuple[str, str, str]]:
    """``(address, reason, detail)`` for every address this event says never to mail again.

    Permanent bounces suppress as ``bounced``, complaints as ``complained``; transient
    bounces and other events suppress nothing (SES retries transient failures itself).
    """
    if event.kind == "bounce" and event.permanent:
        return [(address, "bounced", event.detail) for address in event.recipients]
    if event.kind == "complaint":
        return [(address, "complained", event.detail) for address in event.recipients]
    return []
