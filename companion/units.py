"""The device's systemd units, rendered from the templates in systemd/ for where install.sh puts things.

    python -m companion.units --out /etc/systemd/system [--prefix /opt/companion] [--data /var/lib/companion]
                              [--config /etc/companion/companion.toml] [--templates systemd]
                              [--read-config FILE]

The speech loop's MemoryMax comes from the model profile in the settings file: the manifest's RAM figures
for its three models, the program, and a quarter more — enough to run, not enough to starve the Pi.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from companion.doctor import PROGRAM_MB, memory_needed_mb
from companion.errors import CompanionError
from companion.settings import Settings, load_settings

UNITS = ("companion.service", "companion-web.service")
TEMPLATES = Path(__file__).resolve().parent.parent / "systemd"


@dataclass(frozen=True)
class Places:
    prefix: Path = Path("/opt/companion")
    """The program: <prefix>/venv/bin/companion."""
    data: Path = Path("/var/lib/companion")
    config: Path = Path("/etc/companion/companion.toml")


def memory_max_mb(settings: Settings) -> int:
    """The profile's models and the program, a quarter more, rounded up to 50 MB."""
    return math.ceil((memory_needed_mb(settings) + PROGRAM_MB) * 1.25 / 50) * 50


def render_units(settings: Settings, places: Places, templates: Path = TEMPLATES) -> dict[str, str]:
    values = {
        "@PREFIX@": str(places.prefix),
        "@DATA@": str(places.data),
        "@CONFIG@": str(places.config),
        "@MEMORY_MAX@": f"{memory_max_mb(settings)}M",
    }
    units = {}
    for name in UNITS:
        try:
            text = (templates / name).read_text(encoding="utf-8")
        except OSError as error:
            raise CompanionError(
                f"The unit template {templates / name} cannot be read: {error.strerror}.",
                "Run this from the companion's checkout, or give --templates.",
            ) from error
        for placeholder, value in values.items():
            text = text.replace(placeholder, value)
        units[name] = text
    return units


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m companion.units", description=__doc__.split("\n")[0])
    defaults = Places()
    parser.add_argument("--out", type=Path, required=True, help="where to write the unit files")
    parser.add_argument("--prefix", type=Path, default=defaults.prefix)
    parser.add_argument("--data", type=Path, default=defaults.data)
    parser.add_argument("--config", type=Path, default=defaults.config)
    parser.add_argument("--templates", type=Path, default=TEMPLATES)
    parser.add_argument(
        "--read-config", type=Path, help="the settings file to read now, if not --config (install.sh --root)"
    )
    args = parser.parse_args(argv)
    read = args.read_config or args.config
    try:
        # The settings the service will read decide the model profile, hence the memory.
        settings = load_settings(read) if read.exists() else Settings()
        units = render_units(settings, Places(args.prefix, args.data, args.config), args.templates)
        args.out.mkdir(parents=True, exist_ok=True)
        for name, text in units.items():
            (args.out / name).write_text(text, encoding="utf-8")
    except (CompanionError, OSError) as error:
        print(f"companion.units: {error}", file=sys.stderr)
        return 1
    print(" ".join(str(args.out / name) for name in units))
    return 0


if __name__ == "__main__":
    sys.exit(main())
