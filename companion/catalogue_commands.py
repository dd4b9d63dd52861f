"""`companion catalogue list | import FILE.ics`: the groups the companion can point people toward.

The database holds the catalogue; the shipped dialogs/<lang>/catalogue.toml is seeded into it first, so a
fresh device lists the example groups and an edited file reaches the database without a separate step.
"""

from __future__ import annotations

import argparse
from datetime import datetime
from pathlib import Path

from companion.content import load_phrases
from companion.errors import CompanionError, SettingsError
from companion.mind.catalogue import COPENHAGEN, Group
from companion.settings import Settings, data_dir, dialogs_dir
from companion.store.catalogue import FORMATS, groups_on_offer, seed_catalogue
from companion.store.database import Database


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `catalogue` command to a CLI's sub-commands."""
    parser = subparsers.add_parser(
        "catalogue",
        help="list the groups on offer, or import a group's calendar (.ics)",
        description="List the group catalogue, or import groups from an iCalendar (.ics) file.",
    )
    parser.set_defaults(func=list_command)
    actions = parser.add_subparsers(dest="catalogue_action", metavar="ACTION")
    listing = actions.add_parser("list", help="show every group on offer, its next session and source")
    listing.set_defaults(func=list_command)
    importing = actions.add_parser(
        "import",
        help="add or update groups from an iCalendar file, one group per event",
        description="Add or update groups from an iCalendar file. Nothing is imported if one event is wrong.",
    )
    importing.add_argument("file", type=Path, metavar="FILE.ics")
    importing.add_argument(
        "--interests", nargs="+", default=[], metavar="WORD", help="words for what the groups are about"
    )
    importing.add_argument(
        "--format",
        dest="group_format",
        choices=FORMATS,
        default=None,
        help="how the groups meet (default: online when the location is a link, else physical)",
    )
    importing.set_defaults(func=import_command)


def catalogue_language(settings: Settings) -> str:
    """The catalogue's language without loading the model manifest: `auto` follows the model profile."""
    language = settings.general.language
    if language != "auto":
        return language
    return "da" if settings.general.model_profile == "pi-da" else "en"


def _opened(settings: Settings, language: str) -> Database:
    # Heavy imports here, not at the top: `companion web` and `companion run` load this module too.
    from companion.mind.build import load_catalogue

    database = Database(data_dir(settings)).open()
    seed_catalogue(database.engine, load_catalogue(dialogs_dir(settings), language), language)
    return database


def remote_places(settings: Settings, language: str) -> dict[str, str]:
    """Where an online or a telephone group meets, in the words the device speaks."""
    phrases = load_phrases(dialogs_dir(settings), language)
    return {kind: phrases.say(f"remote_place_{kind}") for kind in ("online", "phone")}


def _next_session(group: Group, now: datetime) -> str:
    try:
        return group.next_session(now).strftime("%Y-%m-%d %H:%M")
    except SettingsError:
        return "no more sessions"


def import_command(args: argparse.Namespace, settings: Settings) -> int:
    path: Path = args.file
    try:
        data = path.read_bytes()
    except OSError as error:
        raise CompanionError(f"Cannot read {path}: {error.strerror}.", "Check the file's name.") from error
    from companion.store.ics import import_ics  # the icalendar library only where a calendar comes in

    language = catalogue_language(settings)
    database = _opened(settings, language)
    try:
        imported = import_ics(
            database.engine,
            data,
            language,
            remote_places=remote_places(settings, language),
            interests=args.interests,
            format_=args.group_format,
        )
    except SettingsError as error:
        # A wrong calendar file is not wrong settings: the CLI's exit 2 and its wording are for those.
        raise CompanionError(f"Nothing was imported from {path}. {error.message}", error.fix) from error
    finally:
        database.close()
    now = datetime.now(COPENHAGEN)
    for group in imported:
        print(f"{group.id}: {group.name}, next session {_next_session(group, now)} (Copenhagen time)")
    return 0


def list_command(args: argparse.Namespace, settings: Settings) -> int:
    language = catalogue_language(settings)
    with _opened(settings, language) as database:
        offered = groups_on_offer(database.engine, language)
    now = datetime.now(COPENHAGEN)
    print(f"{'ID':<28} {'NAME':<40} {'NEXT SESSION':<16} SOURCE")
    for group, source in offered:
        print(f"{group.id:<28} {group.name:<40} {_next_session(group, now):<16} {source}")
    return 0
