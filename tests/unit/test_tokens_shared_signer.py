"""Tokens signed by the shared per-key signer (issue #23) are the ones a fresh signer makes."""

from __future__ import annotations

import time

import pytest

from newsletter.errors import TokenError
from newsletter.tokens import Purpose, make_token, read_token

KEY_A = "a-secret-key-for-tests-0123456789abcdef"
KEY_B = "b-secret-key-for-tests-0123456789abcdef"


def test_shared_signer_matches_a_signer_made_for_the_moment() -> None:
    """make_token without ``now`` gives the token of an explicit ``now`` in that second."""
    for _ in range(5):  # a second may turn between the two calls: try again then
        now = int(time.time())
        shared = make_token(KEY_A, Purpose.UNSUBSCRIBE, 42)
        if int(time.time()) == now:
            break
    assert shared == make_token(KEY_A, Purpose.UNSUBSCRIBE, 42, now=now)


def test_shared_signers_keep_keys_and_purposes_apart() -> None:
    """A token from one key or purpose is refused under another, after both were cached."""
    a = make_token(KEY_A, Purpose.UNSUBSCRIBE, 7)
    b = make_token(KEY_B, Purpose.UNSUBSCRIBE, 7)
    p = make_token(KEY_A, Purpose.PREFERENCES, 7)
    assert a != b
    assert read_token(KEY_A, Purpose.UNSUBSCRIBE, a) == 7
    assert read_token(KEY_B, Purpose.UNSUBSCRIBE, b) == 7
    with pytest.raises(TokenError):
        read_token(KEY_B, Purpose.UNSUBSCRIBE, a)
    with pytest.raises(TokenError):
        read_token(KEY_A, Purpose.UNSUBSCRIBE, p)
    # Older keys (fallbacks) still verify with their own derived key, not the cached one.
    assert read_token(KEY_B, Purpose.UNSUBSCRIBE, a, fallbacks=[KEY_A]) == 7
