"""How guessable a secret key is, by zxcvbn's estimate (common passwords, words, patterns).

Every mailed link carries an HMAC of the key, so anyone holding one link can test
candidate keys offline as fast as they can hash. A key must therefore not be in a list
of common passwords, nor made of words, dates, keyboard rows, sequences or repeats:
zxcvbn (Dropbox's estimator) knows those lists and patterns and counts the guesses an
attacker who tries them first would need. It counts a truly random character as only 10
guesses, so its figure is a floor for a random key: 20 random characters reach it, the
command in :data:`MAKE_KEY` gives 43.
"""

from __future__ import annotations

from zxcvbn import zxcvbn

# 10**20 guesses is about 66 bits: centuries of offline HMAC-SHA256 guessing on a GPU.
MIN_KEY_GUESSES_LOG10 = 20
# zxcvbn refuses longer input (its matching is superlinear); a prefix of a key is never
# easier to guess than the key itself, so judging the first 72 characters is safe.
_MAX_JUDGED = 72
MAKE_KEY = 'python -c "import secrets; print(secrets.token_urlsafe(32))"'


def guessable_reason(key: str) -> str | None:
    """Why ``key`` is too easy to guess (never quoting it), or None when it is strong enough."""
    result = zxcvbn(key[:_MAX_JUDGED])
    if result["guesses_log10"] >= MIN_KEY_GUESSES_LOG10:
        return None
    feedback = result["feedback"]
    why = str(feedback.get("warning") or "it is made of words, dates or patterns").rstrip(".")
    return (
        f"is too easy to guess (about 10^{result['guesses_log10']:.0f} guesses by zxcvbn's "
        f"estimate, at least 10^{MIN_KEY_GUESSES_LOG10} needed; {why[:1].lower()}{why[1:]})"
    )
