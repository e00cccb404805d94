"""Alembic environment: runs migrations against the URL the caller configured."""

from __future__ import annotations

from alembic import context

from newsletter.store.db import make_engine
from newsletter.store.tables import metadata

config = context.config
url = config.get_main_option("sqlalchemy.url") or "sqlite:///newsletter.db"
engine = make_engine(url)
with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
