"""A test SNS signer: a self-signed certificate and correctly signed SNS envelopes."""

from __future__ import annotations

import base64
import datetime as dt
import functools
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


def signed(payload: dict[str, Any], key: rsa.RSAPrivateKey = KEY, version: str = "2",
           cert_url: str = CERT_URL) -> bytes:
    payload = {"SignatureVersion": version, "SigningCertURL": cert_url, **payload}
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


@functools.cache
def _server_keys() -> tuple[rsa.RSAPrivateKey, rsa.RSAPrivateKey]:
    """The test CA's key and the signing key, made once per process: a 2048-bit RSA key
    takes ~50 ms to generate, and each server still gets its own certificate and address."""
    return (rsa.generate_private_key(public_exponent=65537, key_size=2048),
            rsa.generate_private_key(public_exponent=65537, key_size=2048))


class CertificateServer:
    """A test CA's SNS signing certificate served over http on loopback.

    ``host`` is what ``NEWSLETTER_SNS_CERT_HOST_FOR_TESTS`` takes; ``url`` the certificate's
    address; ``requests`` counts fetches. The certificate is valid around the real time.
    """

    def __init__(self) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        now = dt.datetime.now(dt.UTC)
        ca_key, self.key = _server_keys()
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test SNS CA")])
        leaf = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.test")]))
            .issuer_name(ca_name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .sign(ca_key, hashes.SHA256())
        )
        pem = leaf.public_bytes(serialization.Encoding.PEM)
        server_self = self
        self.requests = 0

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server_self.requests += 1
                self.send_response(200)
                self.send_header("Content-Length", str(len(pem)))
                self.end_headers()
                self.wfile.write(pem)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.host = f"127.0.0.1:{self._server.server_address[1]}"
        self.url = f"http://{self.host}/SimpleNotificationService-test.pem"
        # A short poll interval: shutdown() waits up to one interval (0.5 s by default).
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        daemon=True)
        self._thread.start()

    def sign(self, payload: dict[str, Any], version: str = "2") -> bytes:
        return signed(payload, self.key, version, self.url)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def notification(message: dict[str, Any], message_id: str,
                 when: dt.datetime | None = None) -> dict[str, Any]:
    """An SNS Notification envelope for an SES event, stamped ``when`` (default now)."""
    moment = when or dt.datetime.now(dt.UTC)
    return {
        "Type": "Notification",
        "MessageId": message_id,
        "TopicArn": TOPIC,
        "Message": json.dumps(message),
        "Timestamp": moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z",
    }
