"""Synthetic subscribers for the delivery benchmarks, written fast with one executemany.

The mix is varied like a real list: languages zh/en/both, no categories (everything) or
a few chosen ones, some of which the sample issue does not have, and statuses other than
active; a small share of active addresses is also suppressed. ``expected_recipients``
says, independently of the delivery code, how many of them one issue should reach.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import Engine

from newsletter.model.addresses import email_hash

LANGUAGES = ("zh", "en", "both")
# Categories a reader may choose; the last three are not in the sample issue.
CATEGORIES = ("LG", "CV", "CL", "AS", "RO", "NE", "IR", "CR")
STATUSES = ("active",) * 90 + ("unsubscribed",) * 5 + ("pending",) * 3 + ("bounced",) * 2
CREATED = "2022-09-01 00:00:00.000000"  # SQLAlchemy's SQLite DATETIME text format
CHUNK = 100_000


@dataclass(frozen=True)
class Subscriber:
    email: str
    status: str
    categories: str
    language: str
    suppressed: bool


def generate(count: int, seed: int = 7, varied: bool = True) -> Iterator[Subscriber]:
    """``count`` subscribers; with ``varied=False`` all active, every category, no suppression."""
    rng = random.Random(seed)
    for i in range(1, count + 1):
        email = f"reader{i}@example.com"
        if not varied:
            yield Subscriber(email, "active", "", LANGUAGES[i % 3], False)
            continue
        chosen = "" if rng.random() < 0.5 else ",".join(
            sorted(rng.sample(CATEGORIES, rng.randint(1, 3)))
        )
        status = rng.choice(STATUSES)
        suppressed = status == "active" and rng.random() < 0.01
        yield Subscriber(email, status, chosen, rng.choice(LANGUAGES), suppressed)


def populate(engine: Engine, count: int, seed: int = 7, varied: bool = True) -> None:
    """Insert ``count`` subscribers (and their suppressions) into an empty, current schema."""
    subscriber_sql = (
        "INSERT INTO subscribers (email, status, categories, language, source, created_at, "
        "updated_at, confirmed_at) VALUES (?, ?, ?, ?, 'import', ?, ?, ?)"
    )
    suppression_sql = (
        "INSERT INTO suppressions (email_hash, email, reason, detail, created_at) "
        "VALUES (?, ?, 'bounce', '', ?)"
    )
    rows: list[tuple[str | None, ...]] = []
    suppressed: list[tuple[str, ...]] = []
    with engine.begin() as conn:
        # The DB-API cursor directly: executemany without per-row SQLAlchemy processing.
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        for sub in generate(count, seed, varied):
            confirmed = CREATED if sub.status != "pending" else None
            rows.append((sub.email, sub.status, sub.categories, sub.language, CREATED,
                         CREATED, confirmed))
            if sub.suppressed:
                suppressed.append((email_hash(sub.email), sub.email, CREATED))
            if len(rows) >= CHUNK:
                cursor.executemany(subscriber_sql, rows)
                rows.clear()
        cursor.executemany(subscriber_sql, rows)
        cursor.executemany(suppression_sql, suppressed)
        cursor.close()


def expected_recipients(
    count: int, issue_categories: set[str], seed: int = 7, varied: bool = True
) -> int:
    """How many of ``generate(count, seed, varied)`` an issue with these categories reaches."""
    return sum(
        1
        for sub in generate(count, seed, varied)
        if sub.status == "active"
        and not sub.suppressed
        and (not sub.categories or set(sub.categories.split(",")) & issue_categories)
    )
