"""The words every part of the package shares: languages, variants, statuses, policies.

Defined once here so the issue model, the renderer, the store, the web app and the CLI
cannot drift apart. Imports nothing of ours.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal, get_args

Language = Literal["zh", "en", "both"]
LANGUAGES: tuple[Language, ...] = get_args(Language)

# What happens to a delivery whose sender died while the message was in flight:
# "skip" never sends it again (no duplicates, maybe a loss), "resend" queues it again
# (no loss, maybe a duplicate), "reconcile" waits for SES's own events: sent when SES
# reports it accepted the message, queued again when no event came (exactly once; needs
# an event source, SNS or SQS).
InDoubtPolicy = Literal["skip", "resend", "reconcile"]
IN_DOUBT_POLICIES: tuple[InDoubtPolicy, ...] = get_args(InDoubtPolicy)

SubscriberStatus = Literal["pending", "active", "unsubscribed", "bounced", "complained"]
SUBSCRIBER_STATUSES: tuple[SubscriberStatus, ...] = get_args(SubscriberStatus)
# Statuses whose address must not be mailed.
SUPPRESSED_STATUSES: frozenset[str] = frozenset({"unsubscribed", "bounced", "complained"})

# Category codes in issue legends and subscriber choices: 2-5 capital letters.
CATEGORY_CODE_PATTERN = r"[A-Z]{2,5}"
CATEGORY_CODE = re.compile(CATEGORY_CODE_PATTERN)


def category_code_problem(value: object, *, quoted: bool = False) -> str:
    """The one wording for a category code that is not 2-5 capital letters.

    ``quoted``: ``value`` is already the text to show (a shortened repr).
    """
    shown = value if quoted else repr(value)
    return f"{shown} is not a category code (2-5 capital letters, e.g. LG)"


def language_problem(value: object) -> str:
    """The one wording for a language that is not zh, en or both."""
    return f"language must be one of {', '.join(LANGUAGES)}, not {value!r}"


@dataclass(frozen=True, order=True)
class Variant:
    """What a group of subscribers receives: a language and a set of categories (empty = all).

    ``max_papers`` (issue 21): at most this many papers, featured first (0: every paper);
    one of a small fixed set, so that the number of variants stays bounded.
    """

    language: Language = "both"
    categories: frozenset[str] = field(default_factory=frozenset)
    max_papers: int = 0

    @property
    def key(self) -> str:
        cats = ",".join(sorted(self.categories)) or "*"
        limit = f":{self.max_papers}" if self.max_papers else ""
        return f"{self.language}:{cats}{limit}"

    @classmethod
    def from_key(cls, key: str) -> Variant:
        language, _, rest = key.partition(":")
        if language not in LANGUAGES:
            raise ValueError(f"unknown language in variant key {key!r}")
        cats, _, limit = rest.partition(":")
        if limit and not limit.isdigit():
            raise ValueError(f"unknown paper limit in variant key {key!r}")
        chosen = frozenset() if cats in ("", "*") else frozenset(cats.split(","))
        return cls(language, chosen, int(limit or 0))

    def wants(self, category: str) -> bool:
        return not self.categories or category in self.categories

    def browser_query(self) -> str:
        """``?lang=en&categories=CV,LG`` for the browser copy of this variant; "" for the default.

        The archive's ``/issues/<date>`` reads it back (``newsletter.web.issue_page``).
        """
        if self == Variant():
            return ""
        query = f"?lang={self.language}"
        if self.categories:
            query += "&categories=" + ",".join(sorted(self.categories))
        return query
