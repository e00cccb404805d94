"""Who an issue leaves out: active subscribers none of whose categories has a paper in it.

Kept beside ``campaigns`` (whose matching rule it reuses) so that ``send`` can say why it
sends to fewer readers than are active, without loading any subscriber into Python.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Engine, exists, func, select

from newsletter.store.campaigns import variant_expression
from newsletter.store.tables import subscribers, suppressions


def count_left_out(engine: Engine, categories: Iterable[str]) -> int:
    """How many active, unsuppressed subscribers an issue with ``categories`` would skip.

    These chose only categories with no paper in the issue; one SQL count, the exact
    complement (among active, unsuppressed subscribers) of the campaign snapshot's rule.
    """
    _, gets_it = variant_expression(categories)
    suppressed = exists().where(suppressions.c.email == subscribers.c.email)
    query = (
        select(func.count())
        .select_from(subscribers)
        .where(subscribers.c.status == "active", ~gets_it, ~suppressed)
    )
    with engine.connect() as conn:
        return int(conn.execute(query).scalar_one())
