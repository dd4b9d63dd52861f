"""The hub's commands for whoever runs it — `companion households …`, `companion devices …` — and the
device's own: `companion hub-join` (keep the credential) and `companion sync` (one exchange now)."""

from __future__ import annotations

import argparse
import getpass
import sys

from companion.errors import CompanionError, HubError
from companion.settings import Settings, data_dir
from companion.store.database import Database, utc_now


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    households = subparsers.add_parser("households", help="the hub's households: add, list, pair a relative")
    households.set_defaults(func=households_list)
    actions = households.add_subparsers(dest="households_action", metavar="ACTION")
    actions.add_parser("list", help="every household: number and name").set_defaults(func=households_list)
    adding = actions.add_parser("add", help="a new household (the person's name and where, for you)")
    adding.add_argument("name")
    adding.set_defaults(func=households_add)
    code = actions.add_parser("pair-code", help="a one-time code for a relative to pair with the household")
    code.add_argument("household", type=int)
    code.set_defaults(func=households_pair_code)

    devices = subparsers.add_parser(
        "devices", help="the hub's devices: add (makes a credential), list, revoke"
    )
    devices.set_defaults(func=devices_list)
    actions = devices.add_subparsers(dest="devices_action", metavar="ACTION")
    actions.add_parser("list", help="every device: household, last sync, health").set_defaults(
        func=devices_list
    )
    adding = actions.add_parser("add", help="a device of a household; prints its credential, once")
    adding.add_argument("--household", type=int, required=True)
    adding.add_argument("--name", required=True, help="how you tell it apart")
    adding.set_defaults(func=devices_add)
    revoking = actions.add_parser("revoke", help="refuse this device from now on (it keeps its own copy)")
    revoking.add_argument("device", type=int)
    revoking.set_defaults(func=devices_revoke)
    resync = actions.add_parser(
        "resync", help="after restoring the hub's database from a backup: every device replaces its copy"
    )
    resync.set_defaults(func=devices_resync)

    join = subparsers.add_parser(
        "hub-join",
        help="keep this device's credential for its hub ([hub] url)",
        description="The credential is asked for (or read from standard input when that is not a terminal).",
    )
    join.set_defaults(func=hub_join)
    sync = subparsers.add_parser("sync", help="sync with the hub once, now, and say what moved")
    sync.set_defaults(func=sync_now)


def open_hub(settings: Settings) -> Database:
    if not settings.hub.database_url:
        raise CompanionError(
            "[hub] database_url is empty: the hub keeps its households in PostgreSQL.",
            'Set it, e.g. database_url = "postgresql+psycopg:///companion" (the README\'s hub section).',
        )
    # Summaries imported for evaluators stay in the data directory beside it.
    return Database(data_dir(settings), url=settings.hub.database_url).open()


def households_list(_args: argparse.Namespace, settings: Settings) -> int:
    from companion.hub.devices import list_households

    with open_hub(settings) as database:
        for number, name in list_households(database.engine):
            print(f"{number:>6}  {name}")
    return 0


def households_add(args: argparse.Namespace, settings: Settings) -> int:
    from companion.hub.devices import add_household

    with open_hub(settings) as database:
        number = add_household(database.engine, args.name, utc_now())
    print(f"household {number}: {' '.join(args.name.split())}")
    print(f"Next: companion devices add --household {number} --name …")
    return 0


def households_pair_code(args: argparse.Namespace, settings: Settings) -> int:
    from companion.hub.devices import list_households
    from companion.web.pairing import new_code, spoken_form

    with open_hub(settings) as database:
        if args.household not in dict(list_households(database.engine)):
            raise CompanionError(
                f"There is no household {args.household}.", "See them: companion households list"
            )
        code = new_code(database.engine, args.household, utc_now())
    print(f"{spoken_form(code)}  (valid for 10 minutes, once; typed on the hub's page under /pair)")
    return 0


def devices_list(_args: argparse.Namespace, settings: Settings) -> int:
    from companion.hub.changes import health_key
    from companion.hub.devices import list_devices
    from companion.store.health import latest

    with open_hub(settings) as database:
        for device in list_devices(database.engine):
            health = latest(database.engine, health_key(device.id))
            synced = f"{device.last_sync_utc:%Y-%m-%d %H:%M} UTC" if device.last_sync_utc else "never"
            state = "revoked" if device.revoked_utc else f"last sync {synced}"
            well = ""
            if health is not None:
                well = "ok" if health.microphone_ok and health.models_ok else (health.problem or "not well")
            print(
                f"{device.id:>6}  household {device.household_id:<6} {device.name}  ({state}) {well}".rstrip()
            )
    return 0


def devices_add(args: argparse.Namespace, settings: Settings) -> int:
    from companion.hub.devices import add_device

    with open_hub(settings) as database:
        device, credential = add_device(database.engine, args.household, args.name, utc_now())
    print(f"device {device.id} of household {device.household_id}: {device.name}")
    print("Its credential, shown this once — on the device run `companion hub-join` and paste it:")
    print(credential)
    return 0


def devices_revoke(args: argparse.Namespace, settings: Settings) -> int:
    from companion.hub.devices import revoke_device

    with open_hub(settings) as database:
        if not revoke_device(database.engine, args.device, utc_now()):
            raise CompanionError(
                f"There is no device {args.device} that is not revoked already.",
                "See them: companion devices list",
            )
    print(f"device {args.device} is refused from now on")
    return 0


def devices_resync(_args: argparse.Namespace, settings: Settings) -> int:
    from companion.hub.changes import new_epoch

    with open_hub(settings) as database:
        new_epoch(database.engine)
    print("Every device replaces its copy of its household's reminders at its next sync (within a minute).")
    return 0


def hub_join(_args: argparse.Namespace, settings: Settings) -> int:
    from companion.hub.client import save_credential
    from companion.hub.devices import CREDENTIAL_PREFIX

    typed = getpass.getpass("The device's credential: ") if sys.stdin.isatty() else sys.stdin.readline()
    credential = typed.strip()
    if not credential.startswith(CREDENTIAL_PREFIX):
        raise CompanionError(
            f"That is not a device credential (they start with {CREDENTIAL_PREFIX}).",
            "Copy it whole from what `companion devices add` printed on the hub.",
        )
    print(f"kept in {save_credential(data_dir(settings), credential)}")
    if not settings.hub.url:
        print("Next: set [hub] url in the settings file, then restart the companion.")
        return 0
    return sync_now(_args, settings)


def sync_now(_args: argparse.Namespace, settings: Settings) -> int:
    from companion.hub.client import HubLink, read_credential, sync_once
    from companion.reminders.recurrence import local

    if not settings.hub.url:
        raise HubError("[hub] url is empty: this device has no hub.", "Set it in the settings file.")
    link = HubLink(settings.hub.url, read_credential(data_dir(settings)), settings.hub.ca_file)
    try:
        with Database(data_dir(settings), settings.reminders.snapshots_kept) as database:
            report = sync_once(database.engine, link, utc_now, local(utc_now()).date())
    finally:
        link.close()
    print(f"synced with {link.url}: {report.pulled} changes here, {report.pushed} states sent")
    return 0
