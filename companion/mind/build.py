"""Putting a Mind together from settings (the device) or from a scenario file (the runner)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from companion.content import Phrases, load_phrases, read_toml_file
from companion.errors import SettingsError
from companion.mind.access import Access
from companion.mind.agenda import Agenda, SayBack
from companion.mind.catalogue import COPENHAGEN, Catalogue, Relative, parse_catalogue
from companion.mind.consent import UsageConsent
from companion.mind.guard import load_guard
from companion.mind.lexicon import GroupIndex
from companion.mind.loneliness import LonelinessScale
from companion.mind.memory import FileStore, StateStore
from companion.mind.policy import Clock, Mind, MindOptions, SmallTalk, VoiceTuning
from companion.mind.rules import Rules
from companion.mind.steering import Caps
from companion.mind.understand import load_language
from companion.reminders.book import ReminderBook
from companion.settings import CrisisSettings, Settings, data_dir, dialogs_dir
from companion.store.catalogue import load_catalogue_from_db, seed_catalogue
from companion.store.database import Database

GUARD_LANGUAGES = ("da", "en")


def copenhagen_now() -> datetime:
    return datetime.now(COPENHAGEN)


def load_catalogue(dialogs: Path, language: str) -> Catalogue:
    """The example catalogue shipped in dialogs/<lang>/catalogue.toml (the database replaces it later)."""
    path = dialogs / language / "catalogue.toml"
    if not path.exists():
        return Catalogue(())
    return parse_catalogue(read_toml_file(path), str(path))


def relatives_from_settings(entries: Sequence[str]) -> tuple[Relative, ...]:
    relatives = []
    for entry in entries:
        name, _, relation = entry.partition(":")
        if not name.strip():
            raise SettingsError(
                f"[mind] relatives has an entry without a name: {entry!r}.", 'Write them as "Anne:datter".'
            )
        relatives.append(Relative(name.strip(), relation.strip()))
    return tuple(relatives)


def utc_clock(clock: Clock) -> Callable[[], datetime]:
    """The mind's clock (aware, Copenhagen) as the reminder book's (naive UTC)."""
    return lambda: clock().astimezone(UTC).replace(tzinfo=None)


def ram_reminders(catalogue: Catalogue, language: str, clock: Clock) -> ReminderBook:
    """A reminder book in a private RAM database with the catalogue in it: scenarios and tests."""
    database = Database(None).open()
    seed_catalogue(database.engine, catalogue, language)
    return ReminderBook(database.engine, utc_clock(clock))


def build_rules(
    dialogs: Path,
    language: str,
    phrases: Phrases,
    catalogue: Catalogue,
    crisis: CrisisSettings,
    caps: Caps,
    book: ReminderBook,
) -> Rules:
    understood = load_language(dialogs, language)
    agenda = Agenda(understood, phrases, catalogue, SayBack.from_toml(understood.say_back), caps, book)
    return Rules(
        access=Access(book.engine, phrases),
        consent=UsageConsent(book.engine, phrases),
        loneliness=LonelinessScale(book.engine, phrases),
        language=understood,
        phrases=phrases,
        catalogue=catalogue,
        index=GroupIndex(understood.lexicon, catalogue),
        agenda=agenda,
        crisis=crisis,
        caps=caps,
    )


def assemble_mind(
    dialogs: Path,
    language: str,
    catalogue: Catalogue,
    store: StateStore,
    clock: Clock,
    *,
    crisis: CrisisSettings | None = None,
    caps: Caps | None = None,
    chat: SmallTalk | None = None,
    voice: VoiceTuning | None = None,
    options: MindOptions | None = None,
    reminders: ReminderBook | None = None,
) -> Mind:
    phrases = load_phrases(dialogs, language)
    book = reminders or ram_reminders(catalogue, language, clock)
    rules = build_rules(
        dialogs, language, phrases, catalogue, crisis or CrisisSettings(), caps or Caps(3, 2), book
    )
    guard = load_guard(dialogs, GUARD_LANGUAGES, [r.name for r in catalogue.relatives])
    return Mind(rules, store, clock, guard, chat, voice, options or MindOptions())


def mind_from_settings(
    settings: Settings,
    language: str,
    chat: SmallTalk | None,
    voice: VoiceTuning | None,
    database: Database | None = None,
    clock: Clock = copenhagen_now,
) -> Mind:
    """The device's Mind: the catalogue (shipped, plus imported groups) and reminders from the database,
    relatives from settings, memory in the data directory. Without a database: RAM only (evaluations)."""
    dialogs = dialogs_dir(settings)
    shipped = load_catalogue(dialogs, language)
    relatives = relatives_from_settings(settings.mind.relatives)
    book: ReminderBook | None = None
    groups = shipped.groups
    if database is not None:
        seed_catalogue(database.engine, shipped, language)
        groups = load_catalogue_from_db(database.engine, language)
        book = ReminderBook(database.engine, utc_clock(clock))
    return assemble_mind(
        dialogs,
        language,
        Catalogue(groups, relatives),
        FileStore(data_dir(settings) / "mind.json"),
        clock,
        crisis=settings.crisis,
        caps=Caps(settings.mind.suggestions_per_day, settings.mind.declines_before_pause),
        chat=chat if settings.mind.use_llm else None,
        voice=voice,
        options=MindOptions(conversation_gap=timedelta(minutes=settings.mind.conversation_gap_minutes)),
        reminders=book,
    )
