"""Checking, normalising and hashing email addresses."""

from __future__ import annotations

import hashlib

import pytest

from newsletter.errors import InvalidAddressError
from newsletter.model.addresses import email_hash, normalize_email


def test_domain_and_local_part_are_lower_cased() -> None:
    """Two spellings of one address normalise to the same string."""
    assert normalize_email("Ada.Lovelace@Example.COM") == "ada.lovelace@example.com"
    assert normalize_email("ada.lovelace@example.com") == "ada.lovelace@example.com"


def test_internationalised_domain_becomes_punycode() -> None:
    """An IDN domain is stored in its ASCII (punycode) form, whatever its case."""
    assert normalize_email("reader@Bücher.de") == "reader@xn--bcher-kva.de"
    assert normalize_email("reader@xn--bcher-kva.de") == "reader@xn--bcher-kva.de"


def test_surrounding_whitespace_is_ignored() -> None:
    """Blanks around an address (CSV cells, form fields) are not part of it."""
    assert normalize_email("  someone@example.org\t") == "someone@example.org"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("no-at-sign.example.org", "@"),
        ("two@@example.org", "after the @"),
        ("user@localhost", "period"),
        ("ünïcode@example.org", "Internationalized characters before the @"),
        ("Name <user@example.org>", "display name"),
        ("user@example.org\nBcc: victim@example.org", "invalid"),
    ],
)
def test_bad_addresses_are_refused_with_a_reason(raw: str, reason: str) -> None:
    """Malformed addresses, non-ASCII local parts and header tricks raise with a readable reason."""
    with pytest.raises(InvalidAddressError) as caught:
        normalize_email(raw)
    assert reason in str(caught.value)


def test_hash_is_sha256_of_the_normalised_address() -> None:
    """The suppression hash is the SHA-256 hex digest of the normalised address."""
    normal = normalize_email("Someone@Example.org")
    assert email_hash(normal) == hashlib.sha256(b"someone@example.org").hexdigest()
    assert len(email_hash(normal)) == 64
