"""`companion models list | install [PROFILE] | verify [PROFILE]`.

Each action is a function (args, settings) -> exit code, set as `func` on the parsed namespace. Failures
print a plain-English message and a fix, never a traceback: the person reading it may be a volunteer
setting up a device, not a programmer.
"""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Callable
from pathlib import Path

from companion.errors import CompanionError, ModelError
from companion.settings import Settings, data_dir
from models.files import human_size
from models.install import install_model, install_profile
from models.manifest import Manifest, ModelEntry, load_manifest
from models.verify import VerifyResult, verify_model, verify_profile

Handler = Callable[[argparse.Namespace, Settings], int]

_STATES = {
    "ok": "verified",
    "unverified": "installed, not yet verified",
    "missing": "not installed",
    "corrupt": "damaged: run companion models verify",
}


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `models` command to a CLI's sub-commands."""
    parser = subparsers.add_parser(
        "models",
        help="list, install and verify the speech and language models",
        description="List, install and verify the models named in the model manifest.",
    )
    manifest_help = "a model manifest to use instead of the built-in one (for example, one naming a mirror)"
    parser.add_argument("--manifest", type=Path, default=None, metavar="PATH", help=manifest_help)
    parser.set_defaults(func=list_command)
    actions = parser.add_subparsers(dest="models_action", metavar="ACTION")

    def add(name: str, handler: Handler, help_text: str) -> argparse.ArgumentParser:
        action = actions.add_parser(name, help=help_text, description=help_text)
        # SUPPRESS keeps a --manifest given before the action from being reset by this parser's default.
        action.add_argument(
            "--manifest", type=Path, default=argparse.SUPPRESS, metavar="PATH", help=manifest_help
        )
        action.set_defaults(func=handler)
        return action

    add("list", list_command, "show every profile and model, its size, licence and whether it is installed")
    install = add("install", install_command, "install (or repair) the models of a profile, or one model")
    install.add_argument(
        "profile", nargs="?", help="profile or model to install (default: general.model_profile)"
    )
    install.add_argument("--no-progress", action="store_true", help="do not show progress bars")
    verify = add(
        "verify", verify_command, "check the size and SHA-256 of the files of a profile, or one model"
    )
    verify.add_argument(
        "profile", nargs="?", help="profile or model to check (default: general.model_profile)"
    )


def _plain_errors(handler: Handler) -> Handler:
    @functools.wraps(handler)
    def run(args: argparse.Namespace, settings: Settings) -> int:
        try:
            return handler(args, settings)
        except CompanionError as error:
            print(f"Error: {error}", file=sys.stderr)
        except OSError as error:
            where = f" ({error.filename})" if error.filename else ""
            print(
                f"Error: {error.strerror or error}{where}.\n"
                "  Fix: check that the data directory is writable (setting general.data_dir).",
                file=sys.stderr,
            )
        except KeyboardInterrupt:
            print("\nStopped. Run the same command again to continue where it stopped.", file=sys.stderr)
            return 130
        return 1

    return run


def _manifest(args: argparse.Namespace) -> Manifest:
    path: Path | None = getattr(args, "manifest", None)
    return load_manifest(path)


def _profile_name(args: argparse.Namespace, settings: Settings) -> str:
    chosen: str | None = getattr(args, "profile", None)
    return chosen or settings.general.model_profile


@_plain_errors
def list_command(args: argparse.Namespace, settings: Settings) -> int:
    manifest = _manifest(args)
    folder = data_dir(settings)
    print(f"Models from {manifest.path}; downloads and assembled files go to {folder / 'models'}")
    for profile in manifest.profiles.values():
        chosen = (
            "   <- selected (general.model_profile)" if profile.name == settings.general.model_profile else ""
        )
        print(
            f"\n{profile.name} (language {profile.language}): {human_size(manifest.size_of(profile.name))}, "
            f"about {manifest.ram_mb_of(profile.name)} MB of RAM{chosen}"
        )
        if profile.description:
            print(f"  {profile.description}")
        for entry in manifest.models_of(profile.name):
            # Hashing gigabytes would make `list` slow; it trusts earlier checks and says when there was none.
            result = verify_model(
                entry, folder, profile_name=profile.name, trust_stamps=True, hash_files=False
            )
            _print_model(entry, result)
    in_profiles = {name for profile in manifest.profiles.values() for name in profile.model_names}
    others = [entry for name, entry in manifest.models.items() if name not in in_profiles]
    if others:
        print(
            "\nOther models, to compare (companion models install NAME, then companion eval-asr --model NAME)"
        )
        for entry in others:
            _print_model(
                entry,
                verify_model(entry, folder, profile_name=entry.name, trust_stamps=True, hash_files=False),
            )
    return 0


def _print_model(entry: ModelEntry, result: VerifyResult) -> None:
    source = f"PyPI {entry.pip_requirement}" if entry.source == "pypi" else "download"
    print(f"  {entry.kind}  {entry.name:<34} {human_size(entry.size):>9}  {_STATES[result.status]}")
    print(f"       {source}; about {entry.ram_mb} MB RAM; licence: {entry.licence}")


@_plain_errors
def install_command(args: argparse.Namespace, settings: Settings) -> int:
    manifest = _manifest(args)
    name = _profile_name(args, settings)
    folder = data_dir(settings)
    progress = sys.stderr.isatty() and not getattr(args, "no_progress", False)
    if _is_one_model(manifest, name):
        print(f"Installing the model '{name}' (data directory {folder})", flush=True)
        install_model(manifest.models[name], folder, progress, name, _say)
        print(f"The model '{name}' is installed and verified.")
        return 0
    print(f"Installing the models of profile '{name}' (data directory {folder})", flush=True)
    install_profile(manifest, name, folder, progress, report=_say)
    print(f"All models of profile '{name}' are installed and verified.")
    return 0


@_plain_errors
def verify_command(args: argparse.Namespace, settings: Settings) -> int:
    manifest = _manifest(args)
    name = _profile_name(args, settings)
    if _is_one_model(manifest, name):
        results: tuple[VerifyResult, ...] = (
            verify_model(manifest.models[name], data_dir(settings), profile_name=name),
        )
    else:
        results = verify_profile(manifest, name, data_dir(settings))
    for result in results:
        print(result.describe())
    label = f"the model '{name}'" if _is_one_model(manifest, name) else f"profile '{name}'"
    return _summary(name, label, results)


def _is_one_model(manifest: Manifest, name: str) -> bool:
    """A name given to install or verify is a profile's first, then a single model's."""
    if name not in manifest.profiles and name not in manifest.models:
        raise ModelError(
            f"There is no model profile or model called '{name}' in {manifest.path}.",
            f"Use a profile ({', '.join(sorted(manifest.profiles))}) or a model "
            f"({', '.join(sorted(manifest.models))}); the default is the setting general.model_profile.",
        )
    return name not in manifest.profiles


def _summary(name: str, label: str, results: tuple[VerifyResult, ...]) -> int:
    broken = [result.model for result in results if not result.ok]
    if not broken:
        print(f"Everything of {label} is present and verified.")
        return 0
    print(
        f"Error: {len(broken)} model(s) of {label} are missing or damaged: {', '.join(broken)}.\n"
        f"  Fix: run: companion models install {name}",
        file=sys.stderr,
    )
    return 1


def _say(message: str) -> None:
    # Flushed, so these lines stay in order with the progress bars on stderr.
    print(message, flush=True)
