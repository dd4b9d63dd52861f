"""The hub and its devices: credentials, change versions, tombstones, pushed occurrences and summaries.

On PostgreSQL (the hub) triggers stamp every change of a reminder or group with a version from one
sequence, under a transaction-wide lock taken per statement, so versions commit in the order they are
taken (a device that has seen version V has seen every change below it), and record deletions as
tombstones. On SQLite (a device) a trigger counts every change of an occurrence, so sync pushes only what
changed. See docs/hub-sync.md.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from companion.store.counters import OCCURRENCE_COUNTER

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# pg_advisory_xact_lock's key for "a change version is being taken"; any number no one else uses.
VERSION_LOCK = 84_100_001

_POSTGRESQL = [
    "CREATE SEQUENCE sync_version",
    # The lock is taken once per statement, before the statement locks any row: taken per row, after
    # PostgreSQL had locked that row, two transactions could each hold what the other waits for.
    f"""CREATE FUNCTION sync_lock() RETURNS trigger AS $$
    BEGIN
        PERFORM pg_advisory_xact_lock({VERSION_LOCK});
        RETURN NULL;
    END $$ LANGUAGE plpgsql""",
    """CREATE FUNCTION sync_stamp() RETURNS trigger AS $$
    BEGIN
        NEW.version := nextval('sync_version');
        RETURN NEW;
    END $$ LANGUAGE plpgsql""",
    """CREATE FUNCTION sync_reminder_deleted() RETURNS trigger AS $$
    BEGIN
        INSERT INTO sync_deletions (version, household_id, kind, row_id)
        VALUES (nextval('sync_version'), OLD.household_id, 'reminder', OLD.id::text);
        RETURN OLD;
    END $$ LANGUAGE plpgsql""",
    """CREATE FUNCTION sync_group_deleted() RETURNS trigger AS $$
    BEGIN
        INSERT INTO sync_deletions (version, household_id, kind, row_id)
        VALUES (nextval('sync_version'), NULL, 'group', OLD.id);
        RETURN OLD;
    END $$ LANGUAGE plpgsql""",
    """CREATE FUNCTION sync_suggestion_deleted() RETURNS trigger AS $$
    BEGIN
        INSERT INTO sync_deletions (version, household_id, kind, row_id)
        VALUES (nextval('sync_version'), OLD.household_id, 'suggestion', OLD.id::text);
        RETURN OLD;
    END $$ LANGUAGE plpgsql""",
    "CREATE TRIGGER group_suggestions_lock BEFORE INSERT OR UPDATE OR DELETE ON group_suggestions "
    "FOR EACH STATEMENT EXECUTE FUNCTION sync_lock()",
    "CREATE TRIGGER group_suggestions_version BEFORE INSERT OR UPDATE ON group_suggestions "
    "FOR EACH ROW EXECUTE FUNCTION sync_stamp()",
    "CREATE TRIGGER group_suggestions_deleted AFTER DELETE ON group_suggestions "
    "FOR EACH ROW EXECUTE FUNCTION sync_suggestion_deleted()",
    "CREATE TRIGGER reminders_lock BEFORE INSERT OR UPDATE OR DELETE ON reminders "
    "FOR EACH STATEMENT EXECUTE FUNCTION sync_lock()",
    "CREATE TRIGGER groups_lock BEFORE INSERT OR UPDATE OR DELETE ON groups "
    "FOR EACH STATEMENT EXECUTE FUNCTION sync_lock()",
    "CREATE TRIGGER reminders_version BEFORE INSERT OR UPDATE ON reminders "
    "FOR EACH ROW EXECUTE FUNCTION sync_stamp()",
    "CREATE TRIGGER groups_version BEFORE INSERT OR UPDATE ON groups "
    "FOR EACH ROW EXECUTE FUNCTION sync_stamp()",
    "CREATE TRIGGER reminders_deleted AFTER DELETE ON reminders "
    "FOR EACH ROW EXECUTE FUNCTION sync_reminder_deleted()",
    "CREATE TRIGGER groups_deleted AFTER DELETE ON groups FOR EACH ROW EXECUTE FUNCTION sync_group_deleted()",
    # The device's household was inserted with its number by migration 0002: the hub's next one follows it.
    "SELECT setval(pg_get_serial_sequence('households', 'id'), "
    "(SELECT coalesce(max(id), 1) FROM households))",
    # Rows from before this migration get versions too, so a device's first pull sees them.
    "UPDATE groups SET version = NULL",
    "UPDATE reminders SET version = NULL",
    "UPDATE group_suggestions SET version = NULL",
]


def upgrade() -> None:
    op.create_table(
        "devices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_utc", sa.DateTime(), nullable=False),
        sa.Column("revoked_utc", sa.DateTime(), nullable=True),
        sa.Column("last_sync_utc", sa.DateTime(), nullable=True),
        sa.Column("pseudonym", sa.String(32), nullable=True),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["households.id"],
            name="fk_devices_household_id_households",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_devices"),
        sa.UniqueConstraint("token_hash", name="uq_devices_token_hash"),
    )
    op.create_table(
        "sync_deletions",
        sa.Column("version", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("row_id", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("version", name="pk_sync_deletions"),
    )
    op.create_table(
        "sync_state",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("value", sa.String(100), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_sync_state"),
    )
    op.create_table(
        "fleet_weeks",
        sa.Column("pseudonym", sa.String(32), nullable=False),
        sa.Column("week", sa.String(8), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("pseudonym", "week", "key", name="pk_fleet_weeks"),
    )
    op.create_table(
        "fleet_releases",
        sa.Column("period", sa.String(8), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("people", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("suppressed", sa.Boolean(), nullable=False),
        sa.Column("released_utc", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("period", "key", name="pk_fleet_releases"),
    )
    # Plain added columns (no table rebuild): rebuilding `reminders` on SQLite would cascade-delete its
    # occurrences.
    op.add_column("groups", sa.Column("version", sa.BigInteger(), nullable=True))
    op.add_column("reminders", sa.Column("version", sa.BigInteger(), nullable=True))
    op.add_column("reminders", sa.Column("hub_id", sa.Integer(), nullable=True))
    op.add_column("occurrences", sa.Column("change", sa.Integer(), nullable=True))
    op.add_column("group_suggestions", sa.Column("version", sa.BigInteger(), nullable=True))
    op.add_column("group_suggestions", sa.Column("hub_id", sa.Integer(), nullable=True))
    op.create_index("uq_group_suggestions_hub_id", "group_suggestions", ["hub_id"], unique=True)
    op.create_index("uq_reminders_hub_id", "reminders", ["hub_id"], unique=True)
    op.create_index("ix_reminders_version", "reminders", ["household_id", "version"])
    op.create_index("ix_occurrences_change", "occurrences", ["change"])
    for statement in _POSTGRESQL if op.get_bind().dialect.name == "postgresql" else OCCURRENCE_COUNTER:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for trigger, table in (
            ("group_suggestions_lock", "group_suggestions"),
            ("group_suggestions_version", "group_suggestions"),
            ("group_suggestions_deleted", "group_suggestions"),
            ("reminders_lock", "reminders"),
            ("groups_lock", "groups"),
            ("reminders_version", "reminders"),
            ("groups_version", "groups"),
            ("reminders_deleted", "reminders"),
            ("groups_deleted", "groups"),
        ):
            op.execute(f"DROP TRIGGER {trigger} ON {table}")
        for function in (
            "sync_lock",
            "sync_stamp",
            "sync_reminder_deleted",
            "sync_group_deleted",
            "sync_suggestion_deleted",
        ):
            op.execute(f"DROP FUNCTION {function}()")
        op.execute("DROP SEQUENCE sync_version")
    else:
        op.execute("DROP TRIGGER occurrences_counted_new")
        op.execute("DROP TRIGGER occurrences_counted_change")
    op.drop_index("uq_group_suggestions_hub_id", "group_suggestions")
    op.drop_column("group_suggestions", "hub_id")
    op.drop_column("group_suggestions", "version")
    op.drop_index("ix_occurrences_change", "occurrences")
    op.drop_index("ix_reminders_version", "reminders")
    op.drop_index("uq_reminders_hub_id", "reminders")
    op.drop_column("occurrences", "change")
    op.drop_column("reminders", "hub_id")
    op.drop_column("reminders", "version")
    op.drop_column("groups", "version")
    for table in ("fleet_releases", "fleet_weeks", "sync_state", "sync_deletions", "devices"):
        op.drop_table(table)
