"""Device health for coordinators: last seen, microphone and models.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "device_health",
        sa.Column("device", sa.String(64), nullable=False),
        sa.Column("last_seen_utc", sa.DateTime(), nullable=False),
        sa.Column("microphone_ok", sa.Boolean(), nullable=False),
        sa.Column("models_ok", sa.Boolean(), nullable=False),
        sa.Column("problem", sa.String(300), nullable=False),
        sa.PrimaryKeyConstraint("device", name="pk_device_health"),
    )


def downgrade() -> None:
    op.drop_table("device_health")
