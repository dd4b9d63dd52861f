"""`companion accounts add | list`: accounts a relative does not make by pairing — coordinators (the group
catalogue) and evaluators (usage summaries) — made by whoever sets the device up."""

from __future__ import annotations

import argparse
import getpass
import sys

from sqlalchemy import select

from companion.errors import CompanionError
from companion.settings import Settings, data_dir
from companion.store.database import Database, utc_now, writing
from companion.store.schema import DEVICE_HOUSEHOLD, accounts
from companion.web.accounts import AccountError, create_account


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("accounts", help="make or list the web page's accounts")
    parser.set_defaults(func=list_command)
    actions = parser.add_subparsers(dest="accounts_action", metavar="ACTION")
    listing = actions.add_parser("list", help="every account: role, name, e-mail")
    listing.set_defaults(func=list_command)
    adding = actions.add_parser(
        "add",
        help="make a coordinator's or an evaluator's account (relatives pair with a spoken code instead)",
        description="The password is asked for (or read from standard input when that is not a terminal).",
    )
    adding.add_argument("--role", choices=("coordinator", "evaluator", "relative"), required=True)
    adding.add_argument("--name", required=True, help="shown on the page (and said, for a relative)")
    adding.add_argument("--email", required=True)
    adding.add_argument("--language", choices=("da", "en"), default="da")
    adding.set_defaults(func=add_command)


def _password() -> str:
    if sys.stdin.isatty():
        first = getpass.getpass("Password (at least 10 characters): ")
        if getpass.getpass("The same password again: ") != first:
            raise CompanionError("The two passwords differ.", "Run the command again.")
        return first
    return sys.stdin.readline().rstrip("\n")


def add_command(args: argparse.Namespace, settings: Settings) -> int:
    password = _password()
    with Database(data_dir(settings), settings.reminders.snapshots_kept) as database:
        try:
            with writing(database.engine) as connection:
                account = create_account(
                    connection,
                    household_id=DEVICE_HOUSEHOLD if args.role == "relative" else None,
                    role=args.role,
                    name=args.name,
                    email=args.email,
                    password=password,
                    language=args.language,
                    now=utc_now(),
                )
        except AccountError as error:
            raise CompanionError(f"No account was made: {error.message}") from error
    print(f"{account.role} {account.name} <{account.email}> can now sign in on the web page.")
    return 0


def list_command(args: argparse.Namespace, settings: Settings) -> int:
    with (
        Database(data_dir(settings), settings.reminders.snapshots_kept) as database,
        database.engine.connect() as c,
    ):
        rows = c.execute(select(accounts).order_by(accounts.c.role, accounts.c.name)).all()
    for row in rows:
        print(f"{row.role:<12} {row.name:<30} {row.email}")
    if not rows:
        print("No accounts yet. A relative pairs with a code the companion says; see the README.")
    return 0
