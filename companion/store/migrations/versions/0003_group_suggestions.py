"""Groups a relative suggests, for the companion to mention in the next conversation.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "group_suggestions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.String(64), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("suggested_by", sa.String(100), nullable=False),
        sa.Column("created_utc", sa.DateTime(), nullable=False),
        sa.Column("mentioned_utc", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_group_suggestions"),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["households.id"],
            name="fk_group_suggestions_household_id_households",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["group_id"], ["groups.id"], name="fk_group_suggestions_group_id_groups", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name="fk_group_suggestions_account_id_accounts",
            ondelete="SET NULL",
        ),
    )


def downgrade() -> None:
    op.drop_table("group_suggestions")
