"""Settings: frozen dataclasses loaded from one TOML file.

Where the file comes from: `$COMPANION_CONFIG`, else /etc/companion/companion.toml, else ./companion.toml,
else the defaults below. Parsing happens only here, at the edge; the rest of the program receives a
`Settings` and never reads files, environment or flags itself. An unknown key or a bad value stops
start-up with a message naming the key, the value and what is allowed.
"""

from __future__ import annotations

import os
import tomllib
import typing
from dataclasses import MISSING, dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from companion.errors import SettingsError

SYSTEM_CONFIG = Path("/etc/companion/companion.toml")


def _range(low: float, high: float) -> dict[str, tuple[float, float]]:
    return {"range": (low, high)}


@dataclass(frozen=True)
class GeneralSettings:
    data_dir: str = ""
    """Where the database, assembled models and replies live. Empty: $XDG_DATA_HOME/companion
    (~/.local/share/companion), or /var/lib/companion when that exists and is writable."""
    model_profile: str = "dev"
    """Which profile of models/manifest.toml to use: `dev` (English, installs from PyPI) or `pi-da`."""
    language: Literal["auto", "da", "en"] = "auto"
    """Language spoken and heard. `auto` takes the model profile's language; any other value must match
    it, so an English voice is never asked to read Danish."""
    dialogs_dir: str = ""
    """Folder of the phrase catalogs and persona. Empty: the dialogs/ folder shipped with the program."""


@dataclass(frozen=True)
class HardwareSettings:
    mode: Literal["auto", "gpio", "simulated"] = "auto"
    """`auto` uses GPIO when the machine has it and the simulated button (Enter key) otherwise."""
    button_pin: int = field(default=17, metadata=_range(0, 27))
    """BCM number of the GPIO pin the button pulls to ground (17 = physical pin 11)."""
    button_bounce_ms: int = field(default=30, metadata=_range(0, 500))
    """Contact bounce shorter than this is ignored."""
    light_pin: int = field(default=18, metadata=_range(0, 27))
    """BCM number of the LED's pin (18 = physical pin 12, hardware PWM)."""
    light_dimmable: bool = True
    """True for a PWMLED (breathing patterns), false for a plain on/off LED."""
    audio_backend: Literal["sounddevice", "pyaudio"] = "sounddevice"
    """Library for the microphone and speaker. Some Pi sound cards behave better through PyAudio."""
    input_device: str = ""
    """Part of the microphone's name as the audio library lists it (`companion doctor` shows them).
    Empty: the system default."""
    output_device: str = ""
    """Part of the speaker's name. Empty: the system default."""
    replies_dir: str = ""
    """Where replies are written as WAV files when there is no speaker. Empty: <data_dir>/replies."""


@dataclass(frozen=True)
class ListeningSettings:
    tap_max_ms: int = field(default=350, metadata=_range(50, 2000))
    """A press shorter than this is a tap: it starts a hands-free turn that silence ends."""
    silence_end_ms: int = field(default=900, metadata=_range(200, 5000))
    """In a hands-free turn, this much silence after speech ends the utterance."""
    no_speech_timeout_ms: int = field(default=6000, metadata=_range(1000, 30000))
    """In a hands-free turn, give up if nobody speaks within this time."""
    max_utterance_ms: int = field(default=30000, metadata=_range(1000, 120000))
    """Longer speech is cut here and processed."""
    vad_threshold: float = field(default=0.5, metadata=_range(0.05, 0.95))
    """Speech probability (Silero VAD) above which a 32 ms frame counts as speech."""


@dataclass(frozen=True)
class SttSettings:
    beam_size: int = field(default=1, metadata=_range(1, 10))
    """1 is fastest; larger beams are a little more accurate and much slower on a Pi."""
    threads: int = field(default=0, metadata=_range(0, 16))
    """CPU threads for the recogniser; 0 means one per core, at most 4."""
    initial_prompt: str = ""
    """Text that primes the recogniser with likely words (names of groups, places, relatives)."""
    unsure_below: float = field(default=-0.85, metadata=_range(-5.0, 0.0))
    """Below this mean log-probability per token (Whisper's own score) the words count as heard unsurely: the
    companion says what it thinks it heard and asks. `companion eval-asr` marks such recordings with "?"."""
    name_hints: bool = True
    """Give the recogniser the relatives' names as hints. Turn off if `companion eval-asr --no-hints` hears
    your recordings better."""
    encoder_window_s: float = field(default=0.0, metadata=_range(0.0, 30.0))
    """A short turn (up to two thirds of this) is encoded in this many seconds, 5 to 30, instead of Whisper's
    30: 15 halves the wait after speaking. 0 = 15 in English (as good as 30 there) and 30 in Danish
    (until measured on Danish voices: `companion eval-asr --window 15`, then `--window 30`)."""


@dataclass(frozen=True)
class LlmSettings:
    context_tokens: int = field(default=2048, metadata=_range(256, 32768))
    """llama.cpp context size; the prompt and the reply must fit in it."""
    threads: int = field(default=0, metadata=_range(0, 16))
    """CPU threads for generation; 0 means all cores."""
    max_reply_tokens: int = field(default=96, metadata=_range(8, 1024))
    """A reply is cut after this many tokens: a companion speaks briefly."""
    history_turns: int = field(default=6, metadata=_range(0, 50))
    """Exchanges kept in short-term memory; the oldest whole exchange is dropped first."""
    prompt_tokens: int = field(default=600, metadata=_range(128, 32768))
    """Budget for the model's prompt (persona, the conversation so far, this turn's note). The oldest
    exchanges are left out first. Small prompts keep the first word fast on a Pi."""
    temperature: float = field(default=0.7, metadata=_range(0.0, 2.0))
    """Randomness of the wording: 0 always picks the likeliest word, higher is more varied."""
    seed: int = field(default=-1, metadata=_range(-1, 2**31 - 1))
    """-1 for a random seed; a fixed seed makes replies repeatable (tests, benchmarks)."""


@dataclass(frozen=True)
class SpeechSettings:
    length_scale: float = field(default=1.1, metadata=_range(0.5, 2.0))
    """Speech rate: above 1 is slower. A little slower than the voice's default suits most listeners."""
    volume: float = field(default=1.0, metadata=_range(0.1, 2.0))
    """Loudness multiplier."""
    earcon: bool = True
    """A short soft tone the moment the button is released, so the person knows they were heard."""


@dataclass(frozen=True)
class CrisisSettings:
    helpline_name: str = "Livslinien"
    """The crisis line the companion names when someone speaks of ending their life."""
    helpline_number: str = "70 201 201"
    """Its telephone number, as it should be read aloud."""
    helpline_hours: str = "hver dag fra klokken 11 til klokken 5 om natten"
    """When it answers, as it should be said (the companion's language). Livslinien is open 11–05."""
    emergency_number: str = "112"
    """The number for immediate danger."""


@dataclass(frozen=True)
class MindSettings:
    relatives: tuple[str, ...] = ()
    """People the companion may suggest calling, as "Name:relation" (e.g. "Anne:datter"). The person can
    also name them by voice ("min datter hedder Lone") and agree to have them kept."""
    conversation_gap_minutes: int = field(default=10, metadata=_range(1, 240))
    """Silence this long ends a conversation: its short-term memory is dropped and suggestions may come
    again (at most one per conversation)."""
    suggestions_per_day: int = field(default=3, metadata=_range(0, 10))
    """At most this many suggestions of a group, a relative or a volunteer per day; 0 turns them off."""
    declines_before_pause: int = field(default=2, metadata=_range(1, 10))
    """After this many declined suggestions within a week, none until the person asks."""
    use_llm: bool = True
    """False answers small talk with fixed lines only (no language model)."""


@dataclass(frozen=True)
class ReminderSettings:
    morning: str = "09:00"
    """For a group session the person chose: the time on its day when it is first mentioned."""
    lead_minutes: int = field(default=60, metadata=_range(0, 720))
    """A chosen group session is mentioned again this long before it starts."""
    quiet_start: str = "22:00"
    """From this time reminders wait until quiet_end, unless marked urgent. The same time twice: no quiet
    hours."""
    quiet_end: str = "07:00"
    """When quiet hours end and held reminders are spoken."""
    repeat_minutes: int = field(default=5, metadata=_range(1, 60))
    """A reminder nobody acknowledged with the button is said again after this long."""
    attempts: int = field(default=3, metadata=_range(1, 10))
    """Times a reminder is said in all; after the last one without a press it counts as missed."""
    pause_after_talk_seconds: int = field(default=20, metadata=_range(0, 600))
    """A due reminder waits this long after the person's last turn, so it does not cut into a conversation
    (nor take the next press, meant for talking, as its acknowledgement)."""
    catch_up_minutes: int = field(default=120, metadata=_range(0, 1440))
    """After the device was off, reminders that fell due this recently are still spoken; older ones are
    marked missed."""
    trust_clock: bool = False
    """True on a device with a battery-backed clock: reminders then fire without waiting for the time to be
    synchronised from the network. Simulated hardware (a laptop) always trusts its clock."""
    snapshot_time: str = "03:30"
    """When the nightly copy of the database is made (kept in <data_dir>/snapshots)."""
    snapshots_kept: int = field(default=3, metadata=_range(1, 30))
    """How many nightly copies are kept; a damaged database is restored from the newest good one."""


@dataclass(frozen=True)
class WebSettings:
    host: str = "0.0.0.0"
    """Address `companion web` listens on. 0.0.0.0: every network the device is on (the home network);
    127.0.0.1: only the device itself (behind a reverse proxy)."""
    port: int = field(default=8080, metadata=_range(1, 65535))
    """Port of the web page: http://<device>:8080."""
    session_days: int = field(default=30, metadata=_range(1, 365))
    """A relative stays signed in this long on a browser."""
    tls: bool = False
    """Serve HTTPS with the self-signed certificate in <data_dir>/tls (install.sh makes it; so does
    `companion web --make-certificate`). Cookies are then sent over HTTPS only."""


@dataclass(frozen=True)
class HubSettings:
    database_url: str = ""
    """The hub's PostgreSQL database for `companion hub`, as an SQLAlchemy URL, e.g.
    postgresql+psycopg:///companion (the local server, as the user running the hub). Keep passwords out
    of it: use the server's peer authentication or ~/.pgpass."""
    url: str = ""
    """On a device: the hub it syncs with, e.g. https://hub.example.dk (empty: no hub, the device is on its
    own). Its credential is kept in <data_dir>/hub-credential by `companion hub-join`."""
    ca_file: str = ""
    """On a device: a certificate file to trust for the hub (its own CA); empty: the system's."""
    sync_seconds: int = field(default=60, metadata=_range(10, 3600))
    """On a device: how often it syncs with the hub."""


@dataclass(frozen=True)
class UsageSettings:
    keep_days: int = field(default=90, metadata=_range(14, 3650))
    """Days the daily usage counts are kept; older days are folded into weekly counts."""
    min_people: int = field(default=5, metadata=_range(3, 1000))
    """A summary cell about fewer people than this is hidden (3 at the least: fewer single a person out)."""
    noise_epsilon: float = field(default=0.0, metadata=_range(0.0, 10.0))
    """Differential privacy on the reports: each number shown gets OpenDP's discrete Laplace noise costing
    this ε (smaller: more noise). 0: exact numbers. Needs the `evaluation` extra (OpenDP)."""


@dataclass(frozen=True)
class Settings:
    general: GeneralSettings = GeneralSettings()
    hardware: HardwareSettings = HardwareSettings()
    listening: ListeningSettings = ListeningSettings()
    stt: SttSettings = SttSettings()
    llm: LlmSettings = LlmSettings()
    speech: SpeechSettings = SpeechSettings()
    crisis: CrisisSettings = CrisisSettings()
    mind: MindSettings = MindSettings()
    reminders: ReminderSettings = ReminderSettings()
    web: WebSettings = WebSettings()
    hub: HubSettings = HubSettings()
    usage: UsageSettings = UsageSettings()
    source: str = ""
    """The file these settings came from ('' for the defaults): shown by `companion doctor`."""

    def with_data_dir(self, data_dir: Path) -> Settings:
        return replace(self, general=replace(self.general, data_dir=str(data_dir)))


def config_path(environ: typing.Mapping[str, str] | None = None, cwd: Path | None = None) -> Path | None:
    """The settings file in force, by the documented order; None means defaults."""
    environ = os.environ if environ is None else environ
    explicit = environ.get("COMPANION_CONFIG")
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise SettingsError(
                f"COMPANION_CONFIG names {path}, but there is no such file.",
                "Point COMPANION_CONFIG at an existing TOML file, or unset it.",
            )
        return path
    for candidate in (SYSTEM_CONFIG, (cwd or Path.cwd()) / "companion.toml"):
        if candidate.is_file():
            return candidate
    return None


def load_settings(path: Path | None = None) -> Settings:
    """Load settings from `path`, or from the file `config_path()` finds, or the defaults."""
    path = path if path is not None else config_path()
    if path is None:
        return Settings()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise SettingsError(f"{path} is not valid TOML: {error}", "Correct the line it names.") from error
    except OSError as error:
        raise SettingsError(f"Cannot read the settings file {path}: {error.strerror}.") from error
    settings = parse_settings(raw, where=str(path))
    return replace(settings, source=str(path))


def parse_settings(raw: typing.Mapping[str, Any], where: str = "settings") -> Settings:
    sections = {f.name: f for f in fields(Settings) if is_dataclass(f.default)}
    values: dict[str, Any] = {}
    for name, table in raw.items():
        if name not in sections:
            raise SettingsError(
                f"{where}: unknown section [{name}].",
                f"Allowed sections: {', '.join(sorted(sections))}.",
            )
        if not isinstance(table, dict):
            raise SettingsError(f"{where}: '{name}' must be a section ([{name}]), not a single value.")
        section_type = type(sections[name].default)
        values[name] = _parse_section(section_type, table, f"{where}: [{name}]")
    return Settings(**values)


def _parse_section(section_type: type, table: dict[str, Any], where: str) -> Any:
    hints = typing.get_type_hints(section_type)
    known = {f.name: f for f in fields(section_type)}
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key not in known:
            raise SettingsError(
                f"{where} has an unknown key '{key}' (value {value!r}).",
                f"Allowed keys: {', '.join(sorted(known))}.",
            )
        values[key] = _check_value(f"{where} {key}", value, hints[key], known[key].metadata.get("range"))
    return section_type(**values)


def _check_value(name: str, value: Any, hint: Any, bounds: tuple[float, float] | None) -> Any:
    if get_origin(hint) is Literal:
        allowed = get_args(hint)
        if value not in allowed:
            raise SettingsError(
                f"{name} = {value!r} is not allowed.",
                f"Use one of: {', '.join(repr(a) for a in allowed)}.",
            )
        return value
    if get_origin(hint) is tuple:
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise SettingsError(f"{name} = {value!r} has the wrong type.", "It must be a list of texts.")
        return tuple(value)
    expected: tuple[type, ...] = (hint,)
    if hint is float:
        expected = (int, float)
    # bool is an int in Python: refuse `true` where a number is meant and a number where a switch is.
    if isinstance(value, bool) != (hint is bool) or not isinstance(value, expected):
        raise SettingsError(
            f"{name} = {value!r} has the wrong type.",
            f"It must be {_describe(hint)}.",
        )
    number: float = value if isinstance(value, int | float) else 0.0
    if bounds is not None and not bounds[0] <= number <= bounds[1]:
        raise SettingsError(
            f"{name} = {value!r} is out of range.",
            f"It must be between {_fmt(bounds[0])} and {_fmt(bounds[1])}.",
        )
    return float(number) if hint is float else value


def _describe(hint: Any) -> str:
    return {bool: "true or false", int: "a whole number", float: "a number", str: "text in quotes"}.get(
        hint, str(hint)
    )


def _fmt(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else str(number)


def default_data_dir(environ: typing.Mapping[str, str] | None = None) -> Path:
    environ = os.environ if environ is None else environ
    system = Path("/var/lib/companion")
    if system.is_dir() and os.access(system, os.W_OK):
        return system
    base = environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "companion"


def data_dir(settings: Settings) -> Path:
    return Path(settings.general.data_dir).expanduser() if settings.general.data_dir else default_data_dir()


def dialogs_dir(settings: Settings) -> Path:
    if settings.general.dialogs_dir:
        return Path(settings.general.dialogs_dir).expanduser()
    return Path(__file__).resolve().parent.parent / "dialogs"


def documented_fields() -> list[tuple[str, str, Any, str]]:
    """(section, key, default, doc) for every setting, for the README reference and `doctor`."""
    import ast
    import inspect

    rows: list[tuple[str, str, Any, str]] = []
    for section in fields(Settings):
        if not is_dataclass(section.default):
            continue
        section_type: Any = type(section.default)
        docs: dict[str, str] = {}
        body = ast.parse(inspect.getsource(section_type)).body[0]
        assert isinstance(body, ast.ClassDef)
        previous: str | None = None
        for node in body.body:
            if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                previous = node.target.id
            elif previous and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
                docs[previous] = " ".join(str(node.value.value).split())
                previous = None
        for f in fields(section_type):
            default = f.default if f.default is not MISSING else None
            rows.append((section.name, f.name, default, docs.get(f.name, "")))
    return rows
