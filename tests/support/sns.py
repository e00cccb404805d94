"""A test SNS signer: a self-signed certificate and correctly signed SNS envelopes."""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from newsletter.feedback.sns import string_to_sign

TOPIC = "arn:aws:sns:eu-west-1:123456789012:ses-feedback"
CERT_URL = "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-abc123.pem"
NOW = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)


def keypair() -> tuple[rsa.RSAPrivateKey, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    return key, cert.public_bytes(serialization.Encoding.PEM)


KEY, CERT_PEM = keypair()


def signed(payload: dict[str, Any], key: rsa.RSAPrivateKey = KEY, version: str = "2") -> bytes:
    payload = {"SignatureVersion": version, "SigningCertURL": CERT_URL, **payload}
    algorithm = hashes.SHA256() if version == "2" else hashes.SHA1()  # noqa: S303
    signature = key.sign(string_to_sign(payload), padding.PKCS1v15(), algorithm)
    payload["Signature"] = base64.b64encode(signature).decode()
    return json.dumps(payload).encode()


def bounce(address: str = "gone@example.com", kind: str = "Permanent") -> dict[str, Any]:
    message = {
        "notificationType": "Bounce",
        "bounce": {"bounceType": kind, "bounceSubType": "General",
                   "bouncedRecipients": [{"emailAddress": address}]},
        "mail": {"messageId": "0100-ses-id"},
    }
    return {
        "Type": "Notification",
        "MessageId": "m-1",
        "TopicArn": TOPIC,
        "Message": json.dumps(message),
        "Timestamp": "2026-11-24T11:59:00.000Z",
    }


def fetch(url: str) -> bytes:
    assert url == CERT_URL
    return CERT_PEM
