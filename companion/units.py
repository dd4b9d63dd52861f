"""The device's systemd units, rendered from the templates in systemd/ for where install.sh puts things.

    python -m companion.units --out /etc/systemd/system [--prefix /opt/companion] [--data /var/lib/companion]
                              [--config /etc/companion/companion.toml] [--templates systemd]
                              [--read-config FILE] [--hub]

With --hub: the hub's unit (companion-hub.service) instead of the device's two.

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
HUB_UNITS = ("companion-hub.service",)
"""For the hub's server (`--hub`), never a device."""
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


def render_units(
    settings: Settings, places: Places, templates: Path = TEMPLATES, names: Sequence[str] = UNITS
) -> dict[str, str]:
    values = {
        "@PREFIX@": str(places.prefix),
        "@DATA@": str(places.data),
        "@CONFIG@": str(places.config),
        "@MEMORY_MAX@": f"{memory_max_mb(settings)}M",
    }
    units = {}
    for name in names:
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
    parser.add_argument("--hub", action="store_true", help="the hub's unit, for its server, not a device's")
    args = parser.parse_args(argv)
    read = args.read_config or args.config
    try:
        # The settings the service will read decide the model profile, hence the memory.
        settings = load_settings(read) if read.exists() else Settings()
        places = Places(args.prefix, args.data, args.config)
        units = render_units(settings, places, args.templates, HUB_UNITS if args.hub else UNITS)
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
