"""PostgreSQL's search indexes of the paper index, built on both cores (issue 20).

A GIN index grows row by row many times slower than it is built at once, and PostgreSQL
15 builds one on a single core. So the index of whole vectors is two, each over half the
papers (``id % 2``), and a large change (the first build, ``papers reindex --full``):

1. drops the search indexes in a short transaction of its own;
2. writes its papers in another, while searches go on over the old papers (without the
   indexes: slower answers, the same results);
3. builds the indexes again, each from a connection of its own, all at once.

A session advisory lock (:data:`LOCK`) holds other changes of the index off meanwhile;
small changes take it for their transaction. A process that died between 1 and 3 left
indexes missing: the next change of the index, in any process, builds them first
(:func:`repair`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import Connection, Engine, Index, text

from newsletter.store.tables_papers import papers

log = logging.getLogger(__name__)

LOCK = "SELECT pg_advisory{kind}_lock(hashtext('newsletter papers'))"
TRY_LOCK = "SELECT pg_try_advisory_lock(hashtext('newsletter papers'))"
# The search indexes, the two halves of the big one first.
SEARCH_INDEXES: Sequence[Index] = sorted(
    (index for index in papers.indexes if "search" in (index.name or "")),
    key=lambda index: "title" in str(index.name))
# Connections that build indexes at once: one for each index, all three together. On two
# cores, two connections left the title index waiting for a half to end, one core idle
# while it was built alone (11.1 s for 8.6 + 8.6 + 2.5 s of building); the system shares
# the cores among three (9.9 s).
BUILDERS = len(SEARCH_INDEXES)


def missing(conn: Connection) -> list[Index]:
    """The search indexes the database does not have."""
    present = set(conn.execute(text(
        "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() "
        "AND tablename = 'papers'")).scalars())
    return [index for index in SEARCH_INDEXES if index.name not in present]


def drop(conn: Connection) -> None:
    """Drop the search indexes (in ``conn``'s transaction: commit it soon, it locks out
    searches until then)."""
    for index in SEARCH_INDEXES:
        index.drop(conn, checkfirst=True)


def build(engine: Engine, indexes: Sequence[Index]) -> None:
    """Create ``indexes``, :data:`BUILDERS` at a time, each in a transaction of its own."""
    if not indexes:
        return
    with ThreadPoolExecutor(min(BUILDERS, len(indexes)),
                            thread_name_prefix="paper-index-build") as pool:
        for done in [pool.submit(_create, engine, index) for index in indexes]:
            done.result()


def _create(engine: Engine, index: Index) -> None:
    with engine.begin() as conn:
        # Memory for one build, freed when it ends; beyond this the build spills to disk.
        conn.execute(text("SET LOCAL maintenance_work_mem = '256MB'"))
        index.create(conn, checkfirst=True)


def repair(engine: Engine, lead: Connection) -> list[str]:
    """Build the search indexes that are missing (``lead`` holds the session lock), and
    say so in the log: search was slow without them. Returns their names."""
    with lead.begin():
        absent = missing(lead)
    if absent:
        names = [str(index.name) for index in absent]
        log.warning("paper index: building the missing search indexes %s (a change of the "
                    "index stopped before it built them; searches were slow meanwhile)",
                    ", ".join(names))
        build(engine, absent)
        return names
    return []
