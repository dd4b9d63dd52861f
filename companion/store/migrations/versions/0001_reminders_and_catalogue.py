"""Reminders, their occurrences, the group catalogue, scheduler marks and device events.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "groups",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("interests", sa.Text(), nullable=False),
        sa.Column("format", sa.String(16), nullable=False),
        sa.Column("place", sa.String(300), nullable=False),
        sa.Column("rrule", sa.Text(), nullable=False),
        sa.Column("first_day", sa.String(10), nullable=True),
        sa.Column("start", sa.String(5), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("contact", sa.String(300), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("skills", sa.Text(), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("retired", sa.Boolean(), nullable=False),
        sa.Column("updated_utc", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_groups"),
        sa.CheckConstraint("format IN ('physical', 'online', 'phone')", name="ck_groups_format"),
        sa.CheckConstraint("kind IN ('group', 'volunteer')", name="ck_groups_kind"),
    )
    op.create_table(
        "reminders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("text", sa.String(500), nullable=False),
        sa.Column("asked_by", sa.String(16), nullable=False),
        sa.Column("asked_by_name", sa.String(100), nullable=False),
        sa.Column("starts_at", sa.String(16), nullable=False),
        sa.Column("rrule", sa.Text(), nullable=True),
        sa.Column("group_id", sa.String(64), nullable=True),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.Column("created_utc", sa.DateTime(), nullable=False),
        sa.Column("updated_utc", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_reminders"),
        sa.CheckConstraint("asked_by IN ('person', 'relative', 'coordinator')", name="ck_reminders_asked_by"),
        sa.ForeignKeyConstraint(
            ["group_id"], ["groups.id"], name="fk_reminders_group_id_groups", ondelete="SET NULL"
        ),
    )
    op.create_table(
        "occurrences",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reminder_id", sa.Integer(), nullable=False),
        sa.Column("due_at", sa.String(16), nullable=False),
        sa.Column("lead", sa.String(16), nullable=False),
        sa.Column("speak_utc", sa.DateTime(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_attempt_utc", sa.DateTime(), nullable=True),
        sa.Column("updated_utc", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_occurrences"),
        sa.UniqueConstraint("reminder_id", "due_at", "lead", name="uq_occurrences_once"),
        sa.CheckConstraint(
            "state IN ('pending', 'delivering', 'delivered', 'acknowledged', 'missed')",
            name="ck_occurrences_state",
        ),
        sa.CheckConstraint("lead IN ('at', 'morning', 'before')", name="ck_occurrences_lead"),
        sa.ForeignKeyConstraint(
            ["reminder_id"],
            ["reminders.id"],
            name="fk_occurrences_reminder_id_reminders",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_occurrences_state", "occurrences", ["state"])
    op.create_table(
        "marks",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("value_utc", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_marks"),
    )
    op.create_table(
        "device_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at_utc", sa.DateTime(), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_device_events"),
    )


def downgrade() -> None:
    op.drop_table("device_events")
    op.drop_table("marks")
    op.drop_index("ix_occurrences_state", table_name="occurrences")
    op.drop_table("occurrences")
    op.drop_table("reminders")
    op.drop_table("groups")
