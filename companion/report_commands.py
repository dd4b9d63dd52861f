"""`companion report`: usage summaries for evaluators — the report, importing other devices' summaries,
and exporting this device's for the municipality."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path

from companion.errors import CompanionError
from companion.mind.catalogue import COPENHAGEN
from companion.settings import Settings, data_dir

FORMATS = ("csv", "json", "html")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `report` command to a CLI's sub-commands."""
    parser = subparsers.add_parser(
        "report",
        help="usage summaries for evaluators (counts only; small numbers hidden)",
        description="The usage report of this device and the summaries imported from others.",
    )
    _weeks(parser)
    parser.add_argument("--format", choices=FORMATS, default="csv", help="csv (default), json or html")
    parser.add_argument("--out", type=Path, help="write to this file instead of the screen")
    parser.set_defaults(func=report_command)
    actions = parser.add_subparsers(dest="report_action", metavar="ACTION")
    importing = actions.add_parser("import", help="add other devices' exported summaries to the cohort")
    importing.add_argument("files", type=Path, nargs="+", metavar="FILE")
    importing.set_defaults(func=import_command)
    exporting = actions.add_parser("export", help="write this device's weekly summary for the municipality")
    _weeks(exporting)
    exporting.add_argument("--out", type=Path, required=True)
    exporting.set_defaults(func=export_command)


def _weeks(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--weeks", type=int, default=8, help="how many weeks back, this one included (8)")


def _weeks_of(args: argparse.Namespace) -> list[str]:
    from companion.usage.summary import last_weeks

    if not 1 <= args.weeks <= 520:
        raise CompanionError(f"--weeks {args.weeks} is not a number of weeks.", "Give 1 to 520.")
    return last_weeks(datetime.now(COPENHAGEN).date(), args.weeks)


def _write(text: str, out: Path | None) -> None:
    if out is None:
        sys.stdout.write(text)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as error:
        raise CompanionError(
            f"Cannot write {out}: {error.strerror}.", "Choose a folder you may write to."
        ) from error
    print(f"written: {out}")


def report_command(args: argparse.Namespace, settings: Settings) -> int:
    from companion.store.database import Database
    from companion.store.schema import DEVICE_HOUSEHOLD
    from companion.usage.report import as_csv, as_html, as_json, cohort_of

    with Database(data_dir(settings)) as database:
        usage, folder = settings.usage, data_dir(settings)
        weeks = _weeks_of(args)
        table = cohort_of(
            database.engine, DEVICE_HOUSEHOLD, folder, weeks, usage.min_people, usage.noise_epsilon
        )
    _write({"csv": as_csv, "json": as_json, "html": as_html}[args.format](table), args.out)
    return 0


def import_command(args: argparse.Namespace, settings: Settings) -> int:
    from companion.usage.report import import_summaries

    kept = import_summaries(data_dir(settings), args.files)
    print(
        f"imported {len(kept)} device summaries ({len(args.files) - len(kept)} without consent to counting)"
    )
    return 0


def export_command(args: argparse.Namespace, settings: Settings) -> int:
    import json

    from companion.store.database import Database
    from companion.store.schema import DEVICE_HOUSEHOLD
    from companion.usage.summary import device_summary

    with Database(data_dir(settings)) as database:
        summary = device_summary(database.engine, DEVICE_HOUSEHOLD, _weeks_of(args))
    _write(json.dumps(summary, indent=2, sort_keys=True) + "\n", args.out)
    return 0
