"""A claim walks the partial claim index in id order: it never sorts (or checks the opt-out
of) every queued row of the campaign. On SQLite that needs the index's own predicate in
the query; without it each 50-row claim of a 20,000-reader send sorted all 20,000 rows,
and the whole send cost 2.6 times the CPU (bench/send.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from newsletter.store.claims import _claim_statements
from newsletter.store.db import make_engine


def test_the_claim_uses_the_claim_index_without_sorting(
    migrated_sqlite: Callable[[str], str],
) -> None:
    url = migrated_sqlite("plan.db")
    engine = make_engine(url)
    try:
        for statement in _claim_statements():
            compiled = statement.compile(dialect=engine.dialect)
            params = compiled.construct_params({
                "c_campaign": 1, "c_now": dt.datetime(2026, 12, 6, tzinfo=dt.UTC),
                "c_limit": 50, "c_worker": 7})
            with engine.connect() as conn:
                plan = [row[3] for row in conn.exec_driver_sql(
                    f"EXPLAIN QUERY PLAN {compiled}",
                    tuple(params[name] for name in compiled.positiontup or ())).all()]
            assert any("USING INDEX ix_deliveries_claimable" in step for step in plan), plan
            assert not any("TEMP B-TREE" in step for step in plan), plan
    finally:
        engine.dispose()
