"""SES events rolled into each delivery's state and the campaign's counters as applied.

``EventStore.apply`` calls :func:`roll_up` in its transaction with the events it has just
stored (a duplicate or replayed event never gets here, so nothing counts twice). For every
delivery the batch is about, the current state (its row in ``deliveries``, locked on
PostgreSQL) and the batch's events make a new state; ``campaign_counts`` moves by the
difference of the delivery's 0/1 flags before and after (``Engagement.flags``), so a
counter is exact however the events of one delivery are spread over batches.
Clicks go to ``campaign_links`` (per paper or link) and ``delivery_links`` (who clicked
which link), where a delivery's first click on a link adds one reader.

Two appliers with events of one delivery take its row's lock in turn (in id order, so
they cannot deadlock on each other); the second reads the state the first wrote.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, select, text, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite

from newsletter.model.engagement import (
    FLAGS,
    Engagement,
    Link,
    classify_link,
    earliest,
    is_machine_open,
)
from newsletter.model.events import SesEvent
from newsletter.store.pg_rows import one_of_ids, recordset, rows_json
from newsletter.store.tables import deliveries
from newsletter.store.tables_activity import campaign_counts, campaign_links, delivery_links

# The kinds that change a delivery's state; Send only proves SES took it (``sent``).
ROLLED_KINDS = frozenset({"delivery", "bounce", "complaint", "open", "click"})
COUNTERS = (*FLAGS, "opens_total", "clicks_total")
# (campaign id, link key) -> the link's row id: links of a campaign are few and never change.
LinkCache = dict[tuple[int, str], int]


@dataclass(frozen=True)
class Target:
    """The delivery an event is about, as the roll-up needs it."""

    delivery_id: int
    campaign_id: int
    variant: str
    sent_at: dt.datetime | None


def roll_up(conn: Connection, events: Sequence[tuple[SesEvent, Target]],
            base_url: str = "", links: LinkCache | None = None) -> LinkCache:
    """Apply ``events`` (new ones only) to the deliveries' state and the counters.

    ``links`` are link ids known from committed transactions; returns the ids this one
    looked up, for the caller to remember once it has committed.
    """
    events = [(e, t) for e, t in events if e.kind in ROLLED_KINDS]
    if not events:
        return {}
    targets = {t.delivery_id: t for _, t in events}
    before = _states(conn, sorted(targets))
    after = dict(before)
    deltas: dict[tuple[int, str], Counter[str]] = defaultdict(Counter)
    clicks: Counter[tuple[int, int, Link]] = Counter()  # (campaign, delivery, link) -> n
    stamp = dt.datetime.min.replace(tzinfo=dt.UTC)
    for event, target in sorted(events, key=lambda p: p[0].occurred_at or stamp):
        state = after.get(target.delivery_id, Engagement())
        after[target.delivery_id] = _step(state, event, target)
        count = deltas[(target.campaign_id, target.variant)]
        if event.kind == "open":
            count["opens_total"] += 1
        elif event.kind == "click":
            count["clicks_total"] += 1
            clicks[(target.campaign_id, target.delivery_id,
                    classify_link(event.detail, base_url))] += 1
    _write_states(conn, before, after)
    for delivery_id, target in targets.items():
        old = before.get(delivery_id, Engagement()).flags()
        new = after[delivery_id].flags()
        count = deltas[(target.campaign_id, target.variant)]
        for name in FLAGS:
            count[name] += new[name] - old[name]
    _add_counts(conn, deltas)
    return _add_clicks(conn, clicks, links or {}) if clicks else {}


def _step(state: Engagement, event: SesEvent, target: Target) -> Engagement:
    when = event.occurred_at
    if event.kind == "delivery":
        return state.merged(delivered_at=earliest(state.delivered_at, when or target.sent_at))
    if event.kind == "bounce":
        return state.merged(bounced=True)
    if event.kind == "complaint":
        return state.merged(complained=True)
    if event.kind == "open":
        delivered = state.delivered_at or target.sent_at
        if is_machine_open(event.detail, when, delivered, event.machine):
            return state.merged(opens=state.opens + 1,
                                machine_opened_at=earliest(state.machine_opened_at, when))
        return state.merged(opens=state.opens + 1, opened_at=earliest(state.opened_at, when))
    return state.merged(clicks=state.clicks + 1, clicked_at=earliest(state.clicked_at, when))


_a = deliveries.c
_STATE_COLUMNS = (_a.delivered_at, _a.bounced, _a.complained, _a.opened_at,
                  _a.machine_opened_at, _a.opens, _a.clicked_at, _a.clicks)


def _states(conn: Connection, ids: list[int]) -> dict[int, Engagement]:
    query = _STATES_LOCKED if conn.dialect.name == "postgresql" else _STATES
    return {
        int(row[0]): Engagement(row[1], bool(row[2]), bool(row[3]), row[4], row[5],
                                int(row[6]), row[7], int(row[8]))
        for row in conn.execute(query, {"ids": ids})
    }


def _values(state: Engagement) -> dict[str, Any]:
    return {
        "delivered_at": state.delivered_at, "bounced": int(state.bounced),
        "complained": int(state.complained), "opened_at": state.opened_at,
        "machine_opened_at": state.machine_opened_at, "opens": state.opens,
        "clicked_at": state.clicked_at, "clicks": state.clicks,
    }


def _write_states(conn: Connection, before: dict[int, Engagement],
                  after: dict[int, Engagement]) -> None:
    """The changed states, over the rows ``_states`` locked (a delivery an event was
    matched to has its row; one deleted since changes nothing)."""
    rows = [i for i in sorted(after) if after[i] != before.get(i)]
    if not rows:
        return
    if conn.dialect.name == "postgresql":  # one statement, not one per row
        values = [{"id": i, **_values(after[i])} for i in rows]
        conn.execute(_STATES_PG, {"rows": rows_json(values, list(_STATE_TYPES))})
    else:
        conn.execute(_WRITE_STATE, [{"b_id": i, **{f"b_{k}": v for k, v in
                                                    _values(after[i]).items()}} for i in rows])


def _upsert(conn: Connection) -> Any:
    return postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert


def _add_counts(conn: Connection, deltas: dict[tuple[int, str], Counter[str]]) -> None:
    rows = [
        {"campaign_id": campaign_id, "variant": variant,
         **{name: int(count[name]) for name in COUNTERS}}
        for (campaign_id, variant), count in sorted(deltas.items())
        if any(count[name] for name in COUNTERS)
    ]
    if not rows:
        return
    conn.execute(_statements(conn).counts, rows)


def _add_clicks(conn: Connection, clicks: Counter[tuple[int, int, Link]],
                known_links: LinkCache) -> LinkCache:
    cl = campaign_links.c
    wanted = {(campaign_id, link.key): link for campaign_id, _, link in clicks}
    ids = {key: known_links[key] for key in wanted if key in known_links}
    missing = sorted(key for key in wanted if key not in ids)
    found: LinkCache = {}
    if missing:
        stmt = _upsert(conn)(campaign_links).on_conflict_do_nothing(
            index_elements=[cl.campaign_id, cl.key])
        conn.execute(stmt, [{"campaign_id": c, "kind": wanted[(c, k)].kind, "key": k,
                             "clicks": 0, "readers": 0} for c, k in missing])
        found = {(int(c), str(k)): int(i) for i, c, k in conn.execute(
            select(cl.id, cl.campaign_id, cl.key).where(tuple_(cl.campaign_id, cl.key).in_(
                missing)))}
        ids.update(found)
    pairs = {(delivery_id, ids[(campaign_id, link.key)]): n
             for (campaign_id, delivery_id, link), n in clicks.items()}
    known = {
        (int(a), int(b)) for a, b in conn.execute(
            _CLICKED_ANY if conn.dialect.name == "postgresql" else _CLICKED,
            {"ids": sorted({p[0] for p in pairs})})
    }
    ordered = sorted(pairs.items())
    if conn.dialect.name == "postgresql":
        conn.execute(_CLICKED_PG, {"rows": rows_json(
            [{"delivery_id": a, "link_id": b, "clicks": n} for (a, b), n in ordered],
            ["delivery_id", "link_id", "clicks"])})
    else:
        conn.execute(_statements(conn).clicked,
                     [{"delivery_id": a, "link_id": b, "clicks": n} for (a, b), n in ordered])
    per_link: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for (a, b), n in pairs.items():
        per_link[b][0] += n
        per_link[b][1] += int((a, b) not in known)
    conn.execute(
        _ADD_TO_LINK,
        [{"b_id": i, "b_clicks": c, "b_readers": r} for i, (c, r) in sorted(per_link.items())],
    )
    return found


# The statements of the hot path, built once (building one costs more than SQLite takes
# to run it): per dialect for the upserts, whose syntax is the dialect's own.
_STATES = select(_a.id, *_STATE_COLUMNS).where(
    _a.id.in_(bindparam("ids", expanding=True)))
# PostgreSQL: the ids as one array (``pg_rows.one_of_ids``), a statement prepared once.
_STATES_LOCKED = select(_a.id, *_STATE_COLUMNS).where(one_of_ids(_a.id, "ids")).with_for_update()
_CLICKED = select(delivery_links.c.delivery_id, delivery_links.c.link_id).where(
    delivery_links.c.delivery_id.in_(bindparam("ids", expanding=True)))
_CLICKED_ANY = select(delivery_links.c.delivery_id, delivery_links.c.link_id).where(
    one_of_ids(delivery_links.c.delivery_id, "ids"))
_ADD_TO_LINK = (
    update(campaign_links).where(campaign_links.c.id == bindparam("b_id"))
    .values(clicks=campaign_links.c.clicks + bindparam("b_clicks"),
            readers=campaign_links.c.readers + bindparam("b_readers"))
)


_WRITE_STATE = (
    update(deliveries).where(_a.id == bindparam("b_id"))
    .values({c.name: bindparam(f"b_{c.name}") for c in _STATE_COLUMNS})
)
_STATE_TYPES = {"id": "bigint", "delivered_at": "timestamptz", "bounced": "smallint",
                "complained": "smallint", "opened_at": "timestamptz",
                "machine_opened_at": "timestamptz", "opens": "integer",
                "clicked_at": "timestamptz", "clicks": "integer"}
_STATES_PG = text(  # built from our own column names: no input reaches it
    "UPDATE deliveries SET "  # noqa: S608
    + ", ".join(f"{c.name} = v.{c.name}" for c in _STATE_COLUMNS)
    + f" FROM {recordset(_STATE_TYPES)} WHERE deliveries.id = v.id"
)
_CLICKED_PG = text(  # built from our own column names: no input reaches it
    "INSERT INTO delivery_links (delivery_id, link_id, clicks)"  # noqa: S608
    " SELECT delivery_id, link_id, clicks FROM "
    + recordset({"delivery_id": "bigint", "link_id": "bigint", "clicks": "integer"})
    + " ON CONFLICT (delivery_id, link_id) DO UPDATE"
    " SET clicks = delivery_links.clicks + excluded.clicks"
)


@dataclass(frozen=True)
class _Upserts:
    counts: Any
    clicked: Any


def _build(insert_: Any) -> _Upserts:
    counts = insert_(campaign_counts)
    clicked = insert_(delivery_links)
    c, d = campaign_counts.c, delivery_links.c
    return _Upserts(
        counts.on_conflict_do_update(
            index_elements=[c.campaign_id, c.variant],
            set_={name: c[name] + counts.excluded[name] for name in COUNTERS}),
        clicked.on_conflict_do_update(
            index_elements=[d.delivery_id, d.link_id],
            set_={"clicks": d.clicks + clicked.excluded.clicks}),
    )


_UPSERTS = {"postgresql": _build(postgresql.insert), "sqlite": _build(sqlite.insert)}


def _statements(conn: Connection) -> _Upserts:
    return _UPSERTS["postgresql" if conn.dialect.name == "postgresql" else "sqlite"]
