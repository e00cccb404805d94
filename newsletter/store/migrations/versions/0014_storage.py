"""issue 17 storage: deliveries slimmed, each delivery's engagement on its own row

``deliveries`` is rebuilt (its rows copied, ids and all): the columns in the order that
packs on PostgreSQL, ``delivery_activity`` folded into it (one row and key per delivery
instead of two), SES's message id kept as bytes (28 for SES's 60-character ids), the
claiming worker as an 8-byte key of its id (``worker_key``), no copy of the reader's
address (``subscribers.email``, which never changes, is the address; an erased reader's
deliveries had lost theirs), the claim
index partial (only rows still to settle), the unique index led by the reader (it also
finds a reader's deliveries: SES events matched by message id go through it) and no index
of the message id. ``ses_events.payload`` becomes bytes: new payloads are stored compressed
(``store/packing.py``), older ones stay as they were written and read back the same.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 11:45:00

"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import newsletter.store.tables
from newsletter.store.packing import (
    pack_message_id,
    unpack_message_id,
    unpack_payload,
    worker_key,
)

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
CLAIMABLE = "status IN ('queued', 'sending', 'in_doubt')"
# The columns both shapes have, and the engagement columns delivery_activity had.
SHARED = ("id", "campaign_id", "subscriber_id", "claimed_at", "sent_at", "not_before",
          "attempts", "resends", "status", "variant", "error")
ENGAGEMENT = ("delivered_at", "opened_at", "machine_opened_at", "clicked_at", "opens",
              "clicks", "bounced", "complained")
OLD_INDEXES = ("ix_deliveries_campaign_status_id", "ix_deliveries_campaign_status_variant",
               "uq_deliveries_campaign_subscriber", "ix_deliveries_provider_id")
NEW_INDEXES = ("ix_deliveries_claimable", "ix_deliveries_campaign_status_variant",
               "uq_deliveries_subscriber_campaign")
# How each backend turns the old columns into the new (and back): PostgreSQL in SQL, as
# pack_message_id and worker_key do in Python; SQLite through those very functions.
_PACK_PG = (
    "CASE WHEN provider_id IS NULL THEN NULL"
    " WHEN provider_id ~ '^[0-9a-f]{16}-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}"
    "-[0-9a-f]{12}-[0-9]{6}$' THEN '\\x01'::bytea"
    " || decode(replace(substr(provider_id, 1, 53), '-', ''), 'hex')"
    " || substring(int4send(right(provider_id, 6)::int) from 2 for 3)"
    " ELSE '\\x00'::bytea || convert_to(provider_id, 'UTF8') END"
)
_UNPACK_PG = (
    "CASE WHEN provider_id IS NULL THEN NULL WHEN get_byte(provider_id, 0) = 1 THEN"
    " encode(substring(provider_id from 2 for 8), 'hex') || '-' || regexp_replace("
    "encode(substring(provider_id from 10 for 16), 'hex'),"
    " '^(.{8})(.{4})(.{4})(.{4})(.{12})$', '\\1-\\2-\\3-\\4-\\5') || '-' ||"
    " lpad(((get_byte(provider_id, 25) << 16) + (get_byte(provider_id, 26) << 8)"
    " + get_byte(provider_id, 27))::text, 6, '0')"
    " ELSE convert_from(substring(provider_id from 2), 'UTF8') END"
)
_KEY_PG = "(('x' || substr(md5(claimed_by), 1, 16))::bit(64) >> 1)::bigint"


def _sqlite_functions() -> bool:
    """Give SQLite the Python conversions; whether this is PostgreSQL (which needs none)."""
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        return True
    raw = bind.connection.driver_connection
    assert raw is not None
    raw.create_function("nl_pack", 1, lambda v: None if v is None else pack_message_id(v),
                        deterministic=True)
    raw.create_function("nl_unpack", 1, lambda v: None if v is None else unpack_message_id(v),
                        deterministic=True)
    raw.create_function("nl_key", 1, lambda v: None if v is None else worker_key(v),
                        deterministic=True)
    return False


def _when(name: str) -> sa.Column[object]:
    return sa.Column(name, newsletter.store.tables.UTCDateTime(timezone=True), nullable=True)


def _set_aside(table: str, indexes: tuple[str, ...]) -> None:
    """Rename ``table`` to ``<table>_old`` with its names out of the way of the new one."""
    for name in indexes:
        op.drop_index(name, table_name=table)
    old = f"{table}_old"
    op.rename_table(table, old)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER INDEX pk_{table} RENAME TO pk_{old}")
        op.execute(f"ALTER TABLE {old} RENAME CONSTRAINT fk_{table}_campaign_id_campaigns"
                   f" TO fk_{old}_campaign_id_campaigns")
        sequence = op.get_bind().execute(
            sa.text(f"SELECT pg_get_serial_sequence('{old}', 'id')")).scalar()
        if sequence:
            op.execute(f"ALTER SEQUENCE {sequence} RENAME TO {old}_id_seq")


def _ids_follow(table: str) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"  # noqa: S608  (our own constants)
                   f" coalesce((SELECT max(id) FROM {table}), 0) + 1, false)")


def upgrade() -> None:
    _set_aside("deliveries", OLD_INDEXES)
    op.create_table(
        "deliveries",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("campaign_id", Id, nullable=False),
        sa.Column("subscriber_id", Id, nullable=False),
        sa.Column("claimed_by", sa.BigInteger(), nullable=True),
        _when("claimed_at"), _when("sent_at"), _when("not_before"),
        _when("delivered_at"), _when("opened_at"), _when("machine_opened_at"), _when("clicked_at"),
        sa.Column("opens", sa.Integer(), server_default="0", nullable=False),
        sa.Column("clicks", sa.Integer(), server_default="0", nullable=False),
        sa.Column("attempts", sa.SmallInteger(), nullable=False),
        sa.Column("resends", sa.SmallInteger(), server_default="0", nullable=False),
        sa.Column("bounced", sa.SmallInteger(), server_default="0", nullable=False),
        sa.Column("complained", sa.SmallInteger(), server_default="0", nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("variant", sa.String(length=220), nullable=False),
        sa.Column("provider_id", sa.LargeBinary(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaigns.id"],
                                name=op.f("fk_deliveries_campaign_id_campaigns")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deliveries")),
    )
    postgres = _sqlite_functions()
    engagement = ", ".join(f"coalesce(a.{c}, 0)" if c in ("opens", "clicks", "bounced",
                                                           "complained") else f"a.{c}"
                           for c in ENGAGEMENT)
    op.execute(
        f"INSERT INTO deliveries ({', '.join(SHARED)}, {', '.join(ENGAGEMENT)}, provider_id,"  # noqa: S608  (our own constants)
        f" claimed_by) SELECT {', '.join('d.' + c for c in SHARED)}, {engagement},"
        f" {_PACK_PG if postgres else 'nl_pack(provider_id)'},"
        f" {_KEY_PG if postgres else 'nl_key(claimed_by)'}"
        " FROM deliveries_old d LEFT JOIN delivery_activity a ON a.delivery_id = d.id"
    )
    _ids_follow("deliveries")
    op.drop_table("deliveries_old")
    op.drop_table("delivery_activity")
    op.create_index("ix_deliveries_claimable", "deliveries", ["campaign_id", "id"],
                    postgresql_where=sa.text(CLAIMABLE), sqlite_where=sa.text(CLAIMABLE))
    op.create_index("ix_deliveries_campaign_status_variant", "deliveries",
                    ["campaign_id", "status", "variant"])
    op.create_index("uq_deliveries_subscriber_campaign", "deliveries",
                    ["subscriber_id", "campaign_id"], unique=True)
    if postgres:
        op.execute("ALTER TABLE ses_events ALTER COLUMN payload TYPE bytea"
                   " USING convert_to(payload, 'UTF8')")
    else:
        with op.batch_alter_table("ses_events") as batch:
            batch.alter_column("payload", type_=sa.LargeBinary(), existing_type=sa.Text(),
                               existing_nullable=False)


def _payloads_as_text() -> None:
    """ses_events.payload back to text: compressed ones unpacked in Python, in batches."""
    op.add_column("ses_events", sa.Column("payload_text", sa.Text(), nullable=True))
    bind = op.get_bind()
    done = -1
    while rows := bind.execute(sa.text(
            "SELECT id, payload FROM ses_events WHERE id > :done ORDER BY id LIMIT 2000"),
            {"done": done}).all():
        bind.execute(sa.text("UPDATE ses_events SET payload_text = :p WHERE id = :i"), [
            {"i": i, "p": p if isinstance(p, str) else unpack_payload(bytes(p))}
            for i, p in rows])
        done = rows[-1][0]
    with op.batch_alter_table("ses_events") as batch:
        batch.drop_column("payload")
        batch.alter_column("payload_text", new_column_name="payload", nullable=False,
                           existing_type=sa.Text())


def downgrade() -> None:
    _payloads_as_text()
    _set_aside("deliveries", NEW_INDEXES)
    postgres = _sqlite_functions()
    op.create_table(
        "deliveries",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("campaign_id", Id, nullable=False),
        sa.Column("subscriber_id", Id, nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("variant", sa.String(length=220), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        _when("claimed_at"), _when("sent_at"),
        sa.Column("provider_id", sa.String(length=200), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        _when("not_before"),
        sa.Column("resends", sa.Integer(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaigns.id"],
                                name=op.f("fk_deliveries_campaign_id_campaigns")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deliveries")),
    )
    # A worker is named by its key from here on: no live worker has it, so a row still
    # claimed is settled as orphaned, as it must be after a downgrade (workers stopped).
    op.execute(f"INSERT INTO deliveries ({', '.join(SHARED)}, provider_id, claimed_by, email)"  # noqa: S608  (our own constants)
               f" SELECT {', '.join('d.' + c for c in SHARED)},"
               f" {_UNPACK_PG if postgres else 'nl_unpack(provider_id)'},"
               " CAST(claimed_by AS TEXT), coalesce(s.email, '') FROM deliveries_old d"
               " LEFT JOIN subscribers s ON s.id = d.subscriber_id")
    _ids_follow("deliveries")
    op.create_table(
        "delivery_activity",
        sa.Column("delivery_id", Id, autoincrement=False, nullable=False),
        sa.Column("campaign_id", Id, nullable=False),
        _when("delivered_at"),
        sa.Column("bounced", sa.Integer(), nullable=False),
        sa.Column("complained", sa.Integer(), nullable=False),
        _when("opened_at"), _when("machine_opened_at"),
        sa.Column("opens", sa.Integer(), nullable=False),
        _when("clicked_at"),
        sa.Column("clicks", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("delivery_id", name=op.f("pk_delivery_activity")),
    )
    op.execute(
        "INSERT INTO delivery_activity (delivery_id, campaign_id, delivered_at, bounced,"
        " complained, opened_at, machine_opened_at, opens, clicked_at, clicks)"
        " SELECT id, campaign_id, delivered_at, bounced, complained, opened_at,"
        " machine_opened_at, opens, clicked_at, clicks FROM deliveries_old"
        " WHERE delivered_at IS NOT NULL OR opened_at IS NOT NULL OR machine_opened_at IS NOT"
        " NULL OR clicked_at IS NOT NULL OR opens > 0 OR clicks > 0 OR bounced > 0"
        " OR complained > 0"
    )
    op.drop_table("deliveries_old")
    op.create_index("ix_deliveries_campaign_status_id", "deliveries",
                    ["campaign_id", "status", "id"])
    op.create_index("ix_deliveries_campaign_status_variant", "deliveries",
                    ["campaign_id", "status", "variant"])
    op.create_index("uq_deliveries_campaign_subscriber", "deliveries",
                    ["campaign_id", "subscriber_id"], unique=True)
    op.create_index("ix_deliveries_provider_id", "deliveries", ["provider_id"])
