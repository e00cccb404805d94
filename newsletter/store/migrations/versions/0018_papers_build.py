"""issue 20: placeholder for the papers index build speed work

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 14:30:00

"""

from __future__ import annotations

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
