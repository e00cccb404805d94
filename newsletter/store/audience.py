"""Who an issue goes to, in SQL: each subscriber's variant key, the snapshot's recipients,
and who it leaves out (active subscribers none of whose categories has a paper in it).

The campaign snapshot (``store.campaigns``) and the left-out count use the one matching
rule here, so that ``send`` can say why it sends to fewer readers than are active without
loading any subscriber into Python.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, Engine, and_, case, exists, false, func, literal, or_, select

from newsletter.store.editions import gets_issue, limit_suffix, with_preferences
from newsletter.store.tables import subscribers, suppressions


def variant_expression(categories: Iterable[str]) -> tuple[ColumnElement[Any], ColumnElement[bool]]:
    """SQL for a subscriber's variant key of an issue with ``categories``, and for "gets it".

    The key is ``vocabulary.Variant.key`` computed in the database: the language, then the
    subscriber's categories that occur in the issue, sorted, or ``*`` when the subscriber
    chose every category (an empty choice) or all of the issue's. A subscriber whose
    categories match none of the issue's gets nothing. Category codes are 2-5 capital
    letters (the issue schema checks this), so they are safe inside LIKE patterns.
    """
    codes = sorted(set(categories))
    chosen = subscribers.c.categories
    padded = literal(",") + func.replace(chosen, " ", "") + literal(",")
    flags = [padded.like(f"%,{code},%") for code in codes]
    everything = or_(chosen == "", and_(*flags) if flags else false())
    listed = func.rtrim(
        _concat(
            [
                case((flag, literal(f"{code},")), else_=literal(""))
                for code, flag in zip(codes, flags, strict=True)
            ]
        ),
        ",",
    )
    key = subscribers.c.language + literal(":") + case((everything, literal("*")), else_=listed)
    gets_it = or_(chosen == "", or_(*flags) if flags else false())
    return key, gets_it


def _concat(parts: list[ColumnElement[Any]]) -> ColumnElement[Any]:
    result: ColumnElement[Any] = literal("")
    for part in parts:
        result = result + part
    return result


def recipients_select(categories: Iterable[str], issue_date: str | None = None) -> Any:
    """SELECT subscriber id, email, variant of everyone an issue with ``categories`` goes to.

    Issue 21: the variant key ends in the reader's paper limit (``:N``); with ``issue_date``
    only readers who get that day's daily issue (not weekly, not paused then) are chosen,
    or for a weekly edition's key (``W20261206``) the weekly readers of its weekday.
    """
    key, gets_it = variant_expression(categories)
    suppressed = exists().where(suppressions.c.email == subscribers.c.email)
    query = select(
        subscribers.c.id, subscribers.c.email, (key + limit_suffix()).label("variant")
    ).select_from(with_preferences()).where(subscribers.c.status == "active", gets_it, ~suppressed)
    return query if issue_date is None else query.where(gets_issue(issue_date))


def count_left_out(engine: Engine, categories: Iterable[str], issue_date: str | None = None) -> int:
    """How many active, unsuppressed subscribers an issue with ``categories`` would skip.

    These chose only categories with no paper in the issue; one SQL count, the exact
    complement (among active, unsuppressed subscribers who get that day's daily issue,
    when ``issue_date`` is given) of the campaign snapshot's rule.
    """
    _, gets_it = variant_expression(categories)
    suppressed = exists().where(suppressions.c.email == subscribers.c.email)
    query = (
        select(func.count())
        .select_from(with_preferences())
        .where(subscribers.c.status == "active", ~gets_it, ~suppressed)
    )
    if issue_date is not None:
        query = query.where(gets_issue(issue_date))
    with engine.connect() as conn:
        return int(conn.execute(query).scalar_one())
