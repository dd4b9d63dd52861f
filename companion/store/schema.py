"""The tables the device daemon, the web app and (later) the hub share, in SQLAlchemy Core.

Portable on purpose (SQLite on the device, PostgreSQL on the hub): no engine-specific types. Two kinds of
time, never mixed up:
- *wall times* (`..._at`, text "YYYY-MM-DDTHH:MM"): what a person said or typed, local to
  Europe/Copenhagen. A weekly reminder at 14:00 stays at 14:00 across daylight-saving changes, so the rule
  is kept in wall time and only each occurrence is turned into an instant.
- *instants* (`..._utc`, naive UTC datetimes): when something happened or must happen.
Changes to these tables go through an Alembic migration in companion/store/migrations/versions.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)

# Stable constraint names, so Alembic migrations can refer to them on every engine.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

WALL_TIME = 16
"""Length of a wall time: "2026-12-03T14:00"."""

OCCURRENCE_STATES = ("pending", "delivering", "delivered", "acknowledged", "missed")
ASKERS = ("person", "relative", "coordinator")
LEADS = ("at", "morning", "before")

groups = Table(
    "groups",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("description", Text, nullable=False),
    # Words for what the group is about, one per line.
    Column("interests", Text, nullable=False),
    Column("format", String(16), nullable=False),
    Column("place", String(300), nullable=False),
    # RFC 5545 recurrence lines (RRULE, RDATE, EXDATE), expanded in wall time.
    Column("rrule", Text, nullable=False),
    # The date the rule counts from (every other week needs its first week); null: any day.
    Column("first_day", String(10), nullable=True),
    Column("start", String(5), nullable=False),
    Column("minutes", Integer, nullable=False),
    Column("contact", String(300), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("skills", Text, nullable=False),
    Column("language", String(8), nullable=False),
    # `shipped` (seeded from dialogs/, refreshed when that file changes), `ics` or `coordinator`.
    Column("source", String(16), nullable=False),
    Column("retired", Boolean, nullable=False),
    Column("updated_utc", DateTime, nullable=False),
    # The hub's change version (docs/hub-sync.md): stamped by the hub's trigger; a device keeps the version of
    # its copy; null for a device's own rows.
    Column("version", BigInteger, nullable=True),
    CheckConstraint("format IN ('physical', 'online', 'phone')", name="format"),
    CheckConstraint("kind IN ('group', 'volunteer')", name="kind"),
)

ROLES = ("relative", "coordinator", "evaluator")

households = Table(
    "households",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(100), nullable=False),
    Column("created_utc", DateTime, nullable=False),
)
DEVICE_HOUSEHOLD = 1
"""A device serves one household, made by the migration; the hub holds many."""

reminders = Table(
    "reminders",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "household_id",
        Integer,
        ForeignKey("households.id", ondelete="CASCADE"),
        nullable=False,
        server_default=str(DEVICE_HOUSEHOLD),
    ),
    Column("text", String(500), nullable=False),
    Column("asked_by", String(16), nullable=False),
    # The relative's or coordinator's name as the person knows it (Anne); empty for the person.
    Column("asked_by_name", String(100), nullable=False),
    Column("starts_at", String(WALL_TIME), nullable=False),
    # Null for a one-off reminder.
    Column("rrule", Text, nullable=True),
    Column("group_id", String(64), ForeignKey("groups.id", ondelete="SET NULL"), nullable=True),
    # Urgent reminders are spoken in quiet hours too.
    Column("urgent", Boolean, nullable=False),
    # When this version of the reminder was saved (made, or last changed): the scheduler counts from it.
    Column("created_utc", DateTime, nullable=False),
    Column("updated_utc", DateTime, nullable=False),
    # The web account that made it (for its list and the audit log); null when made by voice.
    Column("created_by", Integer, nullable=True),
    # As for groups: the hub's change version of this row (of the copy, on a device).
    Column("version", BigInteger, nullable=True),
    # On a device: the hub's id of a reminder copied from the hub; null for the device's own.
    Column("hub_id", Integer, nullable=True),
    CheckConstraint(f"asked_by IN {ASKERS}", name="asked_by"),
)
Index("uq_reminders_hub_id", reminders.c.hub_id, unique=True)
Index("ix_reminders_version", reminders.c.household_id, reminders.c.version)

occurrences = Table(
    "occurrences",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("reminder_id", Integer, ForeignKey("reminders.id", ondelete="CASCADE"), nullable=False),
    # The wall time this occurrence is for (for a group reminder: the session's start).
    Column("due_at", String(WALL_TIME), nullable=False),
    # `at` the due time, or for a group session `morning` of the day or `before` it starts.
    Column("lead", String(16), nullable=False),
    Column("speak_utc", DateTime, nullable=False),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("last_attempt_utc", DateTime, nullable=True),
    Column("updated_utc", DateTime, nullable=False),
    # On a device: a counter bumped (by a trigger) at every change, so sync pushes only what changed since;
    # on the hub: the device's counter of the change it holds, so an older push never overwrites a newer.
    Column("change", Integer, nullable=True),
    # One row per occurrence is what makes "never delivered twice" hold across restarts: the row is
    # claimed before the reminder is spoken, and the autumn's repeated hour has one wall time.
    UniqueConstraint("reminder_id", "due_at", "lead", name="uq_occurrences_once"),
    CheckConstraint(f"state IN {OCCURRENCE_STATES}", name="state"),
    CheckConstraint(f"lead IN {LEADS}", name="lead"),
)
Index("ix_occurrences_state", occurrences.c.state)
Index("ix_occurrences_change", occurrences.c.change)

marks = Table(
    "marks",
    metadata,
    Column("name", String(64), primary_key=True),
    # E.g. `scheduler`: everything due up to this instant has been dealt with.
    Column("value_utc", DateTime, nullable=False),
)

device_events = Table(
    "device_events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at_utc", DateTime, nullable=False),
    Column("kind", String(40), nullable=False),
    # For `companion doctor` (a database restored from a snapshot …); never the person's words.
    Column("detail", Text, nullable=False),
)

accounts = Table(
    "accounts",
    metadata,
    Column("id", Integer, primary_key=True),
    # Null for coordinators and evaluators, who belong to no household.
    Column("household_id", Integer, ForeignKey("households.id", ondelete="CASCADE"), nullable=True),
    Column("role", String(16), nullable=False),
    # How the person knows them ("Anne"): said aloud with each of their reminders.
    Column("name", String(100), nullable=False),
    Column("email", String(254), nullable=False, unique=True),
    # argon2id, with its parameters in the string.
    Column("password_hash", String(200), nullable=False),
    Column("language", String(8), nullable=False),
    Column("created_utc", DateTime, nullable=False),
    CheckConstraint(f"role IN {ROLES}", name="role"),
)

web_sessions = Table(
    "web_sessions",
    metadata,
    # SHA-256 of the cookie's token: a copy of the database lets no one in.
    Column("token_hash", String(64), primary_key=True),
    Column("account_id", Integer, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("csrf", String(64), nullable=False),
    Column("created_utc", DateTime, nullable=False),
    Column("expires_utc", DateTime, nullable=False),
)

pairing_codes = Table(
    "pairing_codes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("household_id", Integer, ForeignKey("households.id", ondelete="CASCADE"), nullable=False),
    Column("code_hash", String(64), nullable=False),
    Column("created_utc", DateTime, nullable=False),
    Column("expires_utc", DateTime, nullable=False),
    Column("used_utc", DateTime, nullable=True),
    # Wrong codes tried while this one was valid: at 5 it is void.
    Column("failures", Integer, nullable=False),
)

throttles = Table(
    "throttles",
    metadata,
    # What is being guessed at and from where, e.g. "login:anne@example.dk" or "pair:192.0.2.7".
    Column("key", String(300), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("locked_until_utc", DateTime, nullable=True),
    Column("updated_utc", DateTime, nullable=False),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at_utc", DateTime, nullable=False),
    # No foreign keys: the record outlives the account and the reminder it speaks of.
    Column("account_id", Integer, nullable=True),
    Column("household_id", Integer, nullable=True),
    Column("action", String(40), nullable=False),
    Column("reminder_id", Integer, nullable=True),
)

group_suggestions = Table(
    "group_suggestions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("household_id", Integer, ForeignKey("households.id", ondelete="CASCADE"), nullable=False),
    Column("group_id", String(64), ForeignKey("groups.id", ondelete="CASCADE"), nullable=False),
    # The relative who suggested it (named when the companion mentions it); null once they are removed.
    Column("account_id", Integer, ForeignKey("accounts.id", ondelete="SET NULL"), nullable=True),
    Column("suggested_by", String(100), nullable=False),
    Column("created_utc", DateTime, nullable=False),
    # When the companion mentioned it in a conversation; null until then.
    Column("mentioned_utc", DateTime, nullable=True),
    # As for reminders: the hub's change version, and on a device the hub's id of a copied suggestion.
    Column("version", BigInteger, nullable=True),
    Column("hub_id", Integer, nullable=True),
)
Index("uq_group_suggestions_hub_id", group_suggestions.c.hub_id, unique=True)

device_health = Table(
    "device_health",
    metadata,
    # One row per device; the device's own database holds one ("device"), the hub one per device.
    Column("device", String(64), primary_key=True),
    Column("last_seen_utc", DateTime, nullable=False),
    Column("microphone_ok", Boolean, nullable=False),
    Column("models_ok", Boolean, nullable=False),
    # What is wrong, in a coordinator's words (an error's message); never anything the person said.
    Column("problem", String(300), nullable=False),
)

# -- usage for evaluation: counts and days, never words or times of day ------------------------------------

usage_consent = Table(
    "usage_consent",
    metadata,
    # No row: not asked yet, and nothing but device health is counted (as with a "no").
    Column("household_id", Integer, ForeignKey("households.id", ondelete="CASCADE"), primary_key=True),
    Column("counted", Boolean, nullable=False),
    # The day of the answer ("2026-03-02"): usage is counted from it, never before.
    Column("decided_on", String(10), nullable=False),
    # A random name for the household's summaries, made at the "ja": never its id, its name or the device's.
    Column("pseudonym", String(32), nullable=False),
)


def _counts(name: str, period: str, length: int) -> Table:
    """Counts by `period`: a Copenhagen date ("2026-03-02", never a time of day) in `usage_days`, an ISO week
    ("2026-W10") in `usage_weeks` — what is left of the days once they are older than the retention."""
    return Table(
        name,
        metadata,
        Column("id", Integer, primary_key=True),
        Column("household_id", Integer, ForeignKey("households.id", ondelete="CASCADE"), nullable=False),
        Column(period, String(length), nullable=False),
        # From the fixed vocabulary of companion/usage/measures.py; `detail` too ("" or e.g. "group").
        Column("measure", String(40), nullable=False),
        Column("detail", String(24), nullable=False),
        Column("count", Integer, nullable=False),
        UniqueConstraint("household_id", period, "measure", "detail", name=f"uq_{name}_cell"),
    )


usage_days = _counts("usage_days", "day", 10)
usage_weeks = _counts("usage_weeks", "week", 8)


# -- the hub and its devices (docs/hub-sync.md) ------------------------------------------------------------

devices = Table(
    "devices",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("household_id", Integer, ForeignKey("households.id", ondelete="CASCADE"), nullable=False),
    # How a coordinator tells it apart ("Inger, Vesterbro").
    Column("name", String(100), nullable=False),
    # SHA-256 of the device's credential: a copy of the database lets no device in.
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_utc", DateTime, nullable=False),
    Column("revoked_utc", DateTime, nullable=True),
    Column("last_sync_utc", DateTime, nullable=True),
    # The pseudonym its household's weekly counts go under: counts are taken only under this device's own,
    # so no device can add counts under made-up names or remove another's. Never shown, never exported.
    Column("pseudonym", String(32), nullable=True),
)

sync_deletions = Table(
    "sync_deletions",
    metadata,
    # On the hub: a deleted reminder or group, as its trigger records it, sent to devices as a tombstone.
    # On a device: a copy of a hub reminder the person deleted here, to be deleted on the hub too.
    Column("version", BigInteger, primary_key=True, autoincrement=False),
    # The reminder's household; null for a group (every device has the catalogue).
    Column("household_id", Integer, nullable=True),
    Column("kind", String(16), nullable=False),
    Column("row_id", String(64), nullable=False),
)

sync_state = Table(
    "sync_state",
    metadata,
    # A device's own place in the exchange: the hub version pulled up to, the occurrence change pushed up to.
    Column("name", String(64), primary_key=True),
    Column("value", String(100), nullable=False),
)

fleet_weeks = Table(
    "fleet_weeks",
    metadata,
    # Devices' weekly summaries on the hub, under the household's pseudonym only — never the device's id.
    Column("pseudonym", String(32), nullable=False),
    Column("week", String(8), nullable=False),
    Column("key", String(64), nullable=False),
    Column("count", Integer, nullable=False),
    PrimaryKeyConstraint("pseudonym", "week", "key", name="pk_fleet_weeks"),
)

fleet_releases = Table(
    "fleet_releases",
    metadata,
    # A period's cells as first shown once it had ended: later summaries never change what was published.
    Column("period", String(8), nullable=False),
    Column("key", String(64), nullable=False),
    Column("people", Integer, nullable=False),
    Column("total", Integer, nullable=False),
    Column("suppressed", Boolean, nullable=False),
    Column("released_utc", DateTime, nullable=False),
    PrimaryKeyConstraint("period", "key", name="pk_fleet_releases"),
)
