"""`companion`: the command line. Parsing of flags happens here and nowhere else."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from companion.errors import CompanionError, SettingsError
from companion.settings import Settings, data_dir, load_settings

if TYPE_CHECKING:
    from companion.hub.client import HubSync
    from companion.service import Notifier
    from companion.store.database import Database
    from hardware.factory import Hardware

log = logging.getLogger("companion")

Command = Callable[[argparse.Namespace, Settings], int]


class Shutdown(BaseException):
    """SIGTERM: unwinds like Ctrl-C so every model and device is closed on the way out."""


def _on_sigterm(_signum: int, _frame: FrameType | None) -> None:
    raise Shutdown()


def replies_dir(settings: Settings) -> Path:
    return (
        Path(settings.hardware.replies_dir)
        if settings.hardware.replies_dir
        else data_dir(settings) / "replies"
    )


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    from companion.device import DeviceLoop
    from companion.doctor import refuse_models_too_large
    from companion.engines import build_engines
    from companion.events import StageError
    from companion.mind.catalogue import Catalogue
    from companion.mind.understand import load_language
    from companion.observers import ConsolePrinter, LightObserver, ObserverHub
    from companion.process import limit_malloc_arenas
    from companion.reminders.clock import SystemClock
    from companion.reminders.service import reminder_desk
    from companion.service import Notifier, StatusLine, hold_fault
    from companion.settings import dialogs_dir
    from companion.stages.hints import HintsKeeper, household_hints
    from companion.store.catalogue import CatalogueWatch
    from companion.store.database import Database
    from companion.store.health import Heartbeat
    from companion.store.schema import DEVICE_HOUSEHOLD
    from companion.usage.keeper import UsageKeeper
    from companion.usage.observer import UsageObserver
    from hardware.base import LightPattern
    from hardware.factory import open_hardware

    hardware = open_hardware(
        settings.hardware, replies_dir(settings), simulate=args.simulate, input_wav=args.input_wav
    )
    log.info("hardware: %s", hardware.description)
    limit_malloc_arenas()
    notifier = Notifier()
    database = Database(data_dir(settings), settings.reminders.snapshots_kept).open()
    try:
        refuse_models_too_large(settings)
        engines = build_engines(settings, hearing=hardware.source is not None, database=database)
    except CompanionError as error:
        return _start_up_fault(error, notifier, hardware, database)
    heartbeat = Heartbeat(database.engine, lambda: loop.microphone_ok, lambda: loop.problem)
    keeper = UsageKeeper(
        database.engine, DEVICE_HOUSEHOLD, lambda: loop.microphone_ok, settings.usage.keep_days
    )
    rules = engines.mind.rules

    def names_to_hear() -> str:
        if not settings.stt.name_hints:
            return ""
        return household_hints(database.engine, rules.catalogue.relatives)

    hints = HintsKeeper(
        names_to_hear,
        lambda words: setattr(engines.transcriber, "hotwords", words) if engines.transcriber else None,
    )
    groups_changed = CatalogueWatch(
        database.engine,
        engines.language,
        lambda groups: rules.use_catalogue(Catalogue(groups, rules.catalogue.relatives)),
    )
    desk = reminder_desk(
        database,
        settings.reminders,
        # A laptop's clock is kept by its own system; a Pi without a clock battery must wait for NTP.
        SystemClock(trust=settings.reminders.trust_clock or hardware.simulated),
        engines.phrases,
        load_language(dialogs_dir(settings), engines.language).time_words,
        lambda group_id: rules.catalogue.group(group_id),  # the catalogue of the moment (CatalogueWatch)
        chores=[heartbeat, keeper, groups_changed, hints],
    )
    usage = UsageObserver(
        database.engine,
        DEVICE_HOUSEHOLD,
        desk.scheduler.clock.now,
        lambda group_id: found.kind if (found := rules.catalogue.group(group_id)) else None,
    )
    status = StatusLine(notifier)
    observers = ObserverHub([LightObserver(hardware.light), usage, status])
    if hardware.simulated:
        observers.add(ConsolePrinter())
    engines.mind.rules.agenda.book.on_change = desk.scheduler.poke  # a reminder made by voice: look now
    loop = DeviceLoop(settings, hardware, engines, observers, desk, on_alive=notifier.beat)
    sync = _hub_sync(settings, database, desk.scheduler.clock.now)
    try:
        # A USB speakerphone missing at boot is a fault the running device recovers from, not a reason
        # to exit (and be restarted again and again).
        missing = hardware.start(tolerate_audio=True)
        try:
            engines.start()
        except CompanionError as error:
            hardware.light.show(LightPattern.ERROR)
            if not notifier.active:
                raise
            hold_fault(error, notifier, hardware.light)
            return 1  # after a while: started afresh by systemd, to see whether the fault is gone
        if "microphone" in missing:
            loop.microphone_missing(missing["microphone"])
        if "speaker" in missing:
            speaker = missing["speaker"]
            log.error("the speaker is missing: %s", speaker.message)  # each reply tries it again
            observers.publish(StageError("audio", speaker.code, speaker.message))
        observers.start()
        desk.scheduler.start()
        if sync is not None:
            sync.start()
        log.info("ready: %s", engines.phrases.say("ready"))
        notifier.ready(status.text())  # "listening", or what is missing since start-up
        loop.run()
    except (KeyboardInterrupt, Shutdown):
        log.info("stopping")
        notifier.stopping()
    finally:
        # A second Ctrl-C or SIGTERM must not cut the clean-up short and leave a model half-closed.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if sync is not None:
            sync.close()
        desk.scheduler.close()
        loop.close()  # the turn under way ends first: the models must not vanish beneath it
        observers.flush()
        observers.close()
        usage.close()  # the conversation under way is counted
        hardware.close()
        engines.close()
        database.close()
    return 0


def _hub_sync(settings: Settings, database: Database, now: Callable[[], datetime]) -> HubSync | None:
    """The sync with the hub, when there is one ([hub] url); None: the device is on its own, as before."""
    if not settings.hub.url:
        return None
    from companion.hub.client import HubLink, HubSync, read_credential
    from companion.reminders.recurrence import local

    try:
        link = HubLink(settings.hub.url, read_credential(data_dir(settings)), settings.hub.ca_file)
    except CompanionError as error:
        # The reminders it has are still said: a hub set up wrong is no reason for the device to stop.
        log.error("no sync with the hub: %s", error)
        return None
    return HubSync(
        database.engine, link, now, lambda: local(now()).date(), timedelta(seconds=settings.hub.sync_seconds)
    )


def _start_up_fault(error: CompanionError, notifier: Notifier, hardware: Hardware, database: Database) -> int:
    """Outside systemd the error ends the command as any other; under systemd it is held (hold_fault)."""
    from companion.service import hold_fault

    if not notifier.active:
        database.close()
        raise error
    try:
        hardware.light.start()
        hold_fault(error, notifier, hardware.light)
    except (KeyboardInterrupt, Shutdown):
        notifier.stopping()
        return 0
    finally:
        hardware.light.close()
        database.close()
    return 1  # after a while: started afresh by systemd, to see whether the fault is gone


def cmd_chat(args: argparse.Namespace, settings: Settings) -> int:
    from companion.chat import chat_loop

    return chat_loop(settings, speak_dir=args.speak)


def cmd_say(args: argparse.Namespace, settings: Settings) -> int:
    from companion.chat import say

    path = say(settings, args.text, args.out)
    print(path)
    return 0


def cmd_transcribe(args: argparse.Namespace, settings: Settings) -> int:
    from companion.chat import transcribe_file

    print(transcribe_file(settings, args.wav))
    return 0


def cmd_doctor(args: argparse.Namespace, settings: Settings) -> int:
    from companion.doctor import run_doctor

    return run_doctor(settings)


def cmd_web(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from companion.process import limit_malloc_arenas, return_large_allocations
    from companion.settings import dialogs_dir
    from companion.store.database import Database
    from companion.web.app import create_app
    from companion.web.tls import certificate_paths, make_certificate

    if args.make_certificate:
        certificate, _key = make_certificate(data_dir(settings))
        print(f"certificate: {certificate}")
        return 0
    certfile: str | None = None
    keyfile: str | None = None
    if settings.web.tls:
        certificate, key = certificate_paths(data_dir(settings))
        if not (certificate.exists() and key.exists()):
            raise CompanionError(
                f"[web] tls = true, but there is no certificate in {certificate.parent}.",
                "Run: companion web --make-certificate",
            )
        certfile, keyfile = str(certificate), str(key)
    limit_malloc_arenas()  # the web process shares the Pi's memory with the models
    return_large_allocations()
    if args.hub:
        from companion.hub_commands import open_hub

        database = open_hub(settings)
    else:
        database = Database(data_dir(settings), settings.reminders.snapshots_kept, migrate_apart=True).open()
    try:
        scheme = "https" if certfile else "http"
        log.info("the web page: %s://%s:%d", scheme, settings.web.host, settings.web.port)
        app = create_app(
            database, settings.web, dialogs=dialogs_dir(settings), usage=settings.usage, hub=args.hub
        )
        uvicorn.run(
            app, host=settings.web.host, port=settings.web.port, ssl_certfile=certfile, ssl_keyfile=keyfile
        )
    finally:
        database.close()
    return 0


def cmd_pair_code(args: argparse.Namespace, settings: Settings) -> int:
    from companion.store.database import Database, utc_now
    from companion.store.schema import DEVICE_HOUSEHOLD
    from companion.web.pairing import new_code, spoken_form

    with Database(data_dir(settings), settings.reminders.snapshots_kept) as database:
        code = new_code(database.engine, DEVICE_HOUSEHOLD, utc_now())
    print(f"{spoken_form(code)}  (valid for 10 minutes, once; type it on the web page under /pair)")
    return 0


def cmd_eval_dialog(args: argparse.Namespace, settings: Settings) -> int:
    from companion.mind.evaluate import evaluate_dialog

    return evaluate_dialog(settings, args.files, llm=args.llm, show_passes=args.show_passes)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="companion", description="A tabletop companion that talks.")
    parser.add_argument("--config", type=Path, help="settings file (default: $COMPANION_CONFIG, …)")
    parser.add_argument("-v", "--verbose", action="store_true", help="show debug messages")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="run the companion (the device loop)")
    run.add_argument("--simulate", action="store_true", help="keyboard as button even where GPIO exists")
    run.add_argument("--input-wav", type=Path, help="speak this WAV file as one held-button turn, then stop")
    run.set_defaults(func=cmd_run)

    chat = commands.add_parser("chat", help="type to the companion; it answers in text")
    chat.add_argument("--speak", type=Path, metavar="DIR", help="also write each spoken reply as a WAV here")
    chat.set_defaults(func=cmd_chat)

    say = commands.add_parser("say", help="speak a text into a WAV file with the companion's voice")
    say.add_argument("text")
    say.add_argument("--out", type=Path, required=True, help="the WAV file to write")
    say.set_defaults(func=cmd_say)

    transcribe = commands.add_parser("transcribe", help="print what the recogniser hears in a WAV file")
    transcribe.add_argument("wav", type=Path)
    transcribe.set_defaults(func=cmd_transcribe)

    evaluate = commands.add_parser("eval-dialog", help="play dialog scenario files against the policy")
    evaluate.add_argument("files", type=Path, nargs="+", metavar="FILE")
    evaluate.add_argument(
        "--llm", choices=("none", "dev"), default="none", help="small talk by no model, or the dev model"
    )
    evaluate.add_argument("--show-passes", action="store_true", help="list passing scenarios too")
    evaluate.set_defaults(func=cmd_eval_dialog)

    web = commands.add_parser("web", help="serve the web page for relatives ([web] host and port)")
    web.add_argument(
        "--make-certificate", action="store_true", help="make the self-signed HTTPS certificate, then stop"
    )
    web.set_defaults(func=cmd_web, hub=False)

    hub = commands.add_parser(
        "hub", help="serve the same web page for many households, on PostgreSQL ([hub] database_url)"
    )
    hub.set_defaults(func=cmd_web, hub=True, make_certificate=False)

    pair_code = commands.add_parser("pair-code", help="make a one-time code for pairing a relative's account")
    pair_code.set_defaults(func=cmd_pair_code)

    doctor = commands.add_parser("doctor", help="check audio, GPIO, models and memory, and say how to fix")
    doctor.set_defaults(func=cmd_doctor)

    from companion.accounts_commands import register as register_accounts
    from companion.asr_eval import register as register_eval_asr
    from companion.catalogue_commands import register as register_catalogue
    from companion.hub_commands import register as register_hub
    from companion.report_commands import register as register_report
    from models.commands import register

    register(commands)
    register_catalogue(commands)
    register_accounts(commands)
    register_report(commands)
    register_hub(commands)
    register_eval_asr(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        settings = load_settings(args.config)
        command: Command = args.func
        return command(args, settings)
    except SettingsError as error:
        print(f"companion: the settings are not right.\n  {error}", file=sys.stderr)
        return 2
    except CompanionError as error:
        print(f"companion: {error}", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, Shutdown):
        return 0


if __name__ == "__main__":
    sys.exit(main())
