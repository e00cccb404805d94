"""Guessable secret keys are refused with a way to make a good one (issue #24, item 2).

One mailed link lets anyone test candidate keys offline, so a key from a list of common
passwords, or one with a simple pattern, is as good as published.
"""

from __future__ import annotations

import secrets
import time

import pytest
from pydantic import SecretStr
from support.env import TEST_SECRET

from newsletter.errors import ConfigurationError
from newsletter.settings import Settings

GUESSABLE = [
    "changemechangeme", "passwordpassword", "0123456789abcdef", "qwertyuiopasdfgh",
    "iloveyouiloveyou", "abcdefghijklmnop", "P@ssw0rd12345678", "2024-01-01-2024-01-01",
]


def settings(key: str, *fallbacks: str) -> Settings:
    return Settings(
        secret_key=SecretStr(key), secret_key_fallbacks=[SecretStr(f) for f in fallbacks]
    )


@pytest.mark.parametrize("key", GUESSABLE)
def test_a_guessable_key_is_refused_with_how_to_make_one(key: str) -> None:
    """A common password or a patterned key is refused; the message shows the command."""
    with pytest.raises(ConfigurationError) as raised:
        settings(key).signing_key()
    message = str(raised.value)
    assert "NEWSLETTER_SECRET_KEY" in message
    assert "secrets.token_urlsafe(32)" in message
    assert key not in message  # the key itself is never echoed


def test_a_guessable_fallback_key_is_refused() -> None:
    """An old key still accepted for reading links must be as strong as the key."""
    with pytest.raises(ConfigurationError, match="NEWSLETTER_SECRET_KEY_FALLBACKS"):
        settings(secrets.token_urlsafe(32), "passwordpassword").signing_key()


@pytest.mark.slow
def test_random_keys_and_the_test_key_are_accepted() -> None:
    """The documented command's output (and the suite's own key) passes every time."""
    for _ in range(50):
        key = secrets.token_urlsafe(32)
        assert settings(key).signing_key() == key
    assert settings(secrets.token_hex(16)).signing_key()
    assert settings(TEST_SECRET).signing_key() == TEST_SECRET


def test_a_very_long_key_is_checked_quickly() -> None:
    """The estimate's cost does not grow with an absurdly long key."""
    key = secrets.token_urlsafe(30_000)
    started = time.monotonic()
    settings(key).signing_key()
    assert time.monotonic() - started < 2
