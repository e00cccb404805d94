"""Tokens: 128-bit signatures, old full-length links, and key rotation with fallbacks."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from itsdangerous import TimestampSigner
from pydantic import SecretStr
from starlette.testclient import TestClient

from newsletter.errors import ConfigurationError, TokenError
from newsletter.settings import get_settings
from newsletter.store.db import open_database
from newsletter.store.subscribers import SubscriberStore
from newsletter.tokens import TOKEN_LENGTH, Purpose, make_token, read_token
from newsletter.transports.outbox import OutboxTransport
from newsletter.web.app import create_app

OLD_KEY = "old-key-8c1f0e57d2a94b3b9e6d"
NEW_KEY = "new-key-2f9a4c7e1b8d0635af71"


def full_length_token(secret: str, purpose: Purpose, subscriber_id: int) -> str:
    """A token as mailed before signatures were shortened: all 256 bits."""
    signer = TimestampSigner(secret, salt=f"newsletter.{purpose.value}",
                             digest_method=hashlib.sha256)
    return signer.sign(f"{subscriber_id:012x}").decode("ascii")


def test_signatures_are_128_bits() -> None:
    """A new token is 42 characters, 22 of them signature, and reads back."""
    token = make_token(NEW_KEY, Purpose.UNSUBSCRIBE, 7)
    assert len(token) == TOKEN_LENGTH == 42
    assert len(token.rsplit(".", 1)[1]) == 22
    assert read_token(NEW_KEY, Purpose.UNSUBSCRIBE, token) == 7


def test_full_length_tokens_already_mailed_still_verify() -> None:
    """A 63-character token from before the change is accepted; a tampered one is not."""
    old = full_length_token(NEW_KEY, Purpose.UNSUBSCRIBE, 7)
    assert len(old) == 63
    assert read_token(NEW_KEY, Purpose.UNSUBSCRIBE, old) == 7
    with pytest.raises(TokenError):
        read_token(NEW_KEY, Purpose.UNSUBSCRIBE, old[:-1] + ("A" if old[-1] != "A" else "B"))
    with pytest.raises(TokenError):
        read_token(NEW_KEY, Purpose.PREFERENCES, old)


def test_a_shortened_or_lengthened_signature_is_refused() -> None:
    """Only 22- and 43-character signatures are read; a prefix of either is refused."""
    token = make_token(NEW_KEY, Purpose.UNSUBSCRIBE, 7)
    for bad in (token[:-1], token[:-11], token + "A"):
        with pytest.raises(TokenError):
            read_token(NEW_KEY, Purpose.UNSUBSCRIBE, bad)


def test_fallback_keys_verify_but_never_sign() -> None:
    """A link signed with an old key works only when the old key is a fallback."""
    old = make_token(OLD_KEY, Purpose.UNSUBSCRIBE, 9)
    older = full_length_token(OLD_KEY, Purpose.UNSUBSCRIBE, 9)
    with pytest.raises(TokenError):
        read_token(NEW_KEY, Purpose.UNSUBSCRIBE, old)
    assert read_token(NEW_KEY, Purpose.UNSUBSCRIBE, old, fallbacks=[OLD_KEY]) == 9
    assert read_token(NEW_KEY, Purpose.UNSUBSCRIBE, older, fallbacks=[OLD_KEY]) == 9


def test_rotating_the_key_keeps_mailed_links_working(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """After NEWSLETTER_SECRET_KEY changes, a link signed with the old key still unsubscribes,
    and new links are signed with the new key only."""
    monkeypatch.setenv("NEWSLETTER_SECRET_KEY", NEW_KEY)
    monkeypatch.setenv("NEWSLETTER_SECRET_KEY_FALLBACKS", OLD_KEY)
    settings = get_settings()
    db = open_database(settings.database_url)
    try:
        store = SubscriberStore(db)
        reader = store.add("reader@example.org", status="active")
        mailed = make_token(OLD_KEY, Purpose.UNSUBSCRIBE, reader.id)
        app = create_app(settings, db=db, transport=OutboxTransport(tmp_path / "o"))
        with TestClient(app) as client:
            page = client.get(f"/preferences/{make_token(OLD_KEY, Purpose.PREFERENCES, reader.id)}")
            assert page.status_code == 200
            link = page.text.split("/unsubscribe/", 1)[1][:TOKEN_LENGTH]
            assert read_token(NEW_KEY, Purpose.UNSUBSCRIBE, link) == reader.id
            response = client.post(f"/unsubscribe/{mailed}", data={"List-Unsubscribe": "One-Click"})
            assert response.status_code == 200
        after = store.get(reader.id)
        assert after is not None and after.status == "unsubscribed"
    finally:
        db.close()


@pytest.mark.parametrize("key", ["aaaaaaaaaaaaaaaa", "abababababababababab", "short"])
def test_weak_fallback_keys_are_refused(key: str) -> None:
    """A fallback key must be as strong as the signing key."""
    settings = get_settings().model_copy(update={"secret_key_fallbacks": [SecretStr(key)]})
    with pytest.raises(ConfigurationError, match="NEWSLETTER_SECRET_KEY_FALLBACKS"):
        settings.signing_key()


def test_fallback_keys_are_never_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bad fallback list is reported without its value."""
    monkeypatch.setenv("NEWSLETTER_SECRET_KEY_FALLBACKS", "[1")
    with pytest.raises(ConfigurationError) as raised:
        get_settings()
    assert "[1" not in str(raised.value).split(":", 1)[0]


def test_a_signature_differing_only_in_unused_base64_bits_is_refused() -> None:
    """The last of 43 base64 characters carries 4 bits of the signature and 2 unused ones:
    every other spelling of it is refused, not only those that change the signature."""
    old = full_length_token(NEW_KEY, Purpose.UNSUBSCRIBE, 7)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    for other in alphabet.replace(old[-1], ""):
        with pytest.raises(TokenError):
            read_token(NEW_KEY, Purpose.UNSUBSCRIBE, old[:-1] + other)
