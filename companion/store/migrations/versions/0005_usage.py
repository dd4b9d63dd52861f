"""Usage for evaluation: the person's consent, daily counts, and the weekly counts kept after 90 days.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _counts(name: str, period: str, length: int) -> None:
    op.create_table(
        name,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.Column(period, sa.String(length), nullable=False),
        sa.Column("measure", sa.String(40), nullable=False),
        sa.Column("detail", sa.String(24), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["household_id"], ["households.id"], name=f"fk_{name}_household_id_households", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=f"pk_{name}"),
        sa.UniqueConstraint("household_id", period, "measure", "detail", name=f"uq_{name}_cell"),
    )


def upgrade() -> None:
    op.create_table(
        "usage_consent",
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.Column("counted", sa.Boolean(), nullable=False),
        sa.Column("decided_on", sa.String(10), nullable=False),
        sa.Column("pseudonym", sa.String(32), nullable=False),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["households.id"],
            name="fk_usage_consent_household_id_households",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("household_id", name="pk_usage_consent"),
    )
    _counts("usage_days", "day", 10)
    _counts("usage_weeks", "week", 8)


def downgrade() -> None:
    op.drop_table("usage_weeks")
    op.drop_table("usage_days")
    op.drop_table("usage_consent")
