"""The account's send schedule, shared by every sending worker (issue 23).

On the ``metadata`` of ``tables.py``, which imports this module.
"""

from __future__ import annotations

from sqlalchemy import Column, Float, String, Table

from newsletter.store.tables import metadata

# One row per rate that workers share ("ses": the account's). ``next_at`` (POSIX seconds)
# is when the next call's recipients may start: a worker takes its call's share of a
# second from it in one UPDATE, so calls from every worker leave evenly spaced, as if one
# process sent them all (two workers pacing alone collide at SES's sliding second).
send_pace = Table(
    "send_pace",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("next_at", Float(), nullable=False),
)
