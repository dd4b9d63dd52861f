"""Reminders: how close to its moment the daemon says a reminder is due, and what an idle daemon with a
thousand reminders costs.

    .venv/bin/python -m benchmarks.reminders     # writes benchmarks/REMINDERS.md and reminders.json (~4 min)

- The reminders: `--reminders` of them (1,000), made through `ReminderBook` in a database file in a temp
  directory: one-offs over the next six weeks, daily, weekly, monthly and yearly rules (most started
  months ago, as on a device in use for a while), a few from relatives and coordinators, a few urgent.
  None falls due while the benchmark runs: their times of day keep clear of it. Quiet hours are off.
- Idle CPU: the real scheduler thread on the real `SystemClock(trust=True)`; the process's CPU time
  (user + system) over `--idle-seconds` of wall time, after its first round (the cache fill, timed apart).
- Fire latency, a reminder the daemon knows of: made in the daemon's process, then `Scheduler.poke()` (as
  `ReminderDesk` does after its own changes); from the reminder's whole minute to `on_due` being called.
  Reminders keep minute resolution, so the clock is `ShiftedClock`: the real clock moved forward (only
  ever forward) so that the next whole minute is 3 s away. Every sleep is real.
- The busy case (`--busy-fires`): the same, but the web app adds an unrelated reminder 0.5 s before the
  moment, so the round that fires first reloads every reminder.
- Fire latency, a reminder made by the web app: a second `Database` on the same file, no poke; the daemon
  notices it by its revision check on its next round, so at up to `longest_sleep` (30 s). Each is made
  at a moment spread evenly over the scheduler's round (`--web-fires`, each costs a round of waiting).
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from statistics import median
from typing import Any

from benchmarks.instruments import machine, percentile
from benchmarks.reminders_report import MEDDLE_BEFORE_S, report
from companion.errors import ReminderError
from companion.reminders.book import Asker, ReminderBook
from companion.reminders.clock import Clock, SystemClock
from companion.reminders.ledger import Ledger
from companion.reminders.recurrence import Timing, local
from companion.reminders.scheduler import Scheduler, SchedulerOptions
from companion.store.database import Database, utc_now

HERE = Path(__file__).parent
LEAD_S = 3.0
"""How far ahead of its whole minute each timed reminder is made."""
OPTIONS = SchedulerOptions(timing=Timing(quiet_start=clock_time(0, 0), quiet_end=clock_time(0, 0)))
SEED = 20261127

KINDS: dict[str, tuple[int, list[str | None]]] = {
    # kind: (weight, rules)
    "one-off": (40, [None]),
    "daily": (25, ["FREQ=DAILY", "FREQ=DAILY;INTERVAL=2", "FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR"]),
    "weekly": (
        20,
        [
            "FREQ=WEEKLY",
            "FREQ=WEEKLY;BYDAY=MO,TH",
            "FREQ=WEEKLY;INTERVAL=2;BYDAY=WE",
            "FREQ=WEEKLY;BYDAY=TU,SA",
        ],
    ),
    "monthly": (
        10,
        [
            "FREQ=MONTHLY",
            "FREQ=MONTHLY;BYMONTHDAY=1",
            "FREQ=MONTHLY;BYDAY=1TU",
            "FREQ=MONTHLY;BYMONTHDAY=15;COUNT=36",
        ],
    ),
    "yearly": (5, ["FREQ=YEARLY"]),
}
TEXTS = [
    "Take the blood pressure pills",
    "Call Birgit",
    "Water the plants on the windowsill",
    "The doctor at the health centre",
    "Put the bins out",
    "The hairdresser",
    "Drink a glass of water",
    "Eye drops",
    "The physiotherapist comes",
    "Anne's birthday: ring her",
    "Pay the electricity bill",
    "Shopping with the home help",
]
PERSON: tuple[Asker, str] = ("person", "")
ASKERS: list[tuple[Asker, str]] = [PERSON] * 8 + [("relative", "Anne"), ("coordinator", "Lise")]


# -- measuring devices ---------------------------------------------------------------------------------


class ShiftedClock(SystemClock):
    """The machine's clock moved forward by `offset`, so that a whole minute can be a few seconds away.

    Only ever moved forward: a clock moved back holds the scheduler's mark (nothing fires until the clock
    passes it again). The scheduler's sleeps stay real waits on an event."""

    def __init__(self) -> None:
        super().__init__(trust=True)
        self.offset = timedelta(0)

    def now(self) -> datetime:
        return super().now() + self.offset

    def minute_ahead(self, lead_s: float) -> datetime:
        """Move forward so that the next whole minute is `lead_s` seconds away; returns it (naive UTC)."""
        now = self.now()
        target = (now + timedelta(seconds=lead_s)).replace(second=0, microsecond=0) + timedelta(minutes=1)
        self.offset += target - timedelta(seconds=lead_s) - now
        return target


class Bell:
    """The scheduler's `on_due`: notes, on the scheduler's own clock, when it first said something is due."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.rang = threading.Event()
        self.at: datetime | None = None
        self.calls = 0

    def __call__(self) -> None:
        now = self.clock.now()  # first: this instant is what is measured
        self.calls += 1
        if not self.rang.is_set():
            self.at = now
            self.rang.set()

    def reset(self) -> None:
        self.at = None
        self.rang.clear()


@dataclass
class TickLog:
    """Every round of the scheduler: (started on the perf counter, seconds, whether it reloaded the cache)."""

    rounds: list[tuple[float, float, bool]] = field(default_factory=list)
    first_done: threading.Event = field(default_factory=threading.Event)

    def between(self, start: float, end: float) -> list[tuple[float, float, bool]]:
        return [r for r in self.rounds if start <= r[0] < end]


def watch_rounds(scheduler: Scheduler) -> TickLog:
    """Time each `tick()` of the scheduler thread (an instance attribute shadows the method)."""
    found = TickLog()
    tick = scheduler.tick

    def timed_tick() -> datetime:
        before = scheduler._revision
        began = time.perf_counter()
        try:
            return tick()
        finally:
            found.rounds.append((began, time.perf_counter() - began, scheduler._revision != before))
            found.first_done.set()

    setattr(scheduler, "tick", timed_tick)  # noqa: B010
    return found


def cpu_seconds() -> tuple[float, float]:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime, usage.ru_stime


# -- the reminders -------------------------------------------------------------------------------------


def free_minutes(now_utc: datetime, clear_s: float) -> list[int]:
    """Minutes of the day (every 5 between 06:00 and 22:55) that keep clear of the benchmark: from 15
    minutes before now to `clear_s` after it, in Copenhagen wall time."""
    wall = local(now_utc)
    start = (wall.hour * 60 + wall.minute - 15) % 1440
    length = 15 + int(clear_s // 60) + 1
    return [m for m in range(6 * 60, 23 * 60, 5) if (m - start) % 1440 >= length]


def fill(book: ReminderBook, count: int, clear_s: float) -> dict[str, Any]:
    """`count` reminders of every kind, through the book; returns how many of each and how long it took."""
    rng = random.Random(SEED)
    today = local(utc_now()).date()
    minutes = free_minutes(utc_now(), clear_s)
    kinds = list(KINDS)
    weights = [KINDS[k][0] for k in kinds]
    made: dict[str, int] = dict.fromkeys(kinds, 0)
    refused = 0
    began = time.perf_counter()
    while sum(made.values()) < count:
        kind = rng.choices(kinds, weights)[0]
        rule = rng.choice(KINDS[kind][1])
        day = today + timedelta(days=rng.randint(1, 42) if rule is None else rng.randint(-365, 21))
        minute = rng.choice(minutes)
        wall = datetime.combine(day, clock_time(minute // 60, minute % 60))
        asked_by, name = rng.choice(ASKERS)
        try:
            book.create(
                rng.choice(TEXTS),
                wall,
                rrule=rule,
                asked_by=asked_by,
                asked_by_name=name,
                urgent=rng.random() < 0.05,
            )
        except ReminderError:
            refused += 1  # a rule that ended before now, say: another is drawn
            continue
        made[kind] += 1
    return {
        "count": count,
        "kinds": made,
        "refused_and_redrawn": refused,
        "create_s": time.perf_counter() - began,
        "free_minutes_of_day": len(minutes),
    }


# -- the measurements ----------------------------------------------------------------------------------


def idle(directory: Path, seconds: float) -> dict[str, Any]:
    """The process's CPU over `seconds` with the scheduler thread running and nothing due."""
    database = Database(directory).open()
    clock = SystemClock(trust=True)
    bell = Bell(clock)
    scheduler = Scheduler(
        ReminderBook(database.engine, clock.now), Ledger(database.engine), clock, OPTIONS, on_due=bell
    )
    rounds = watch_rounds(scheduler)
    try:
        scheduler.start()
        if not rounds.first_done.wait(120):
            raise RuntimeError("the scheduler's first round did not end within two minutes")
        time.sleep(1.0)  # the first round's ready() and the start of its sleep
        user0, system0 = cpu_seconds()
        cpu0, wall0 = time.process_time(), time.perf_counter()
        time.sleep(seconds)
        cpu1, wall1 = time.process_time(), time.perf_counter()
        user1, system1 = cpu_seconds()
    finally:
        scheduler.close()
        database.close()
    during = rounds.between(wall0, wall1)
    wall, cpu = wall1 - wall0, cpu1 - cpu0
    return {
        "first_round_s": rounds.rounds[0][1],
        "wall_s": wall,
        "cpu_s": cpu,
        "user_s": user1 - user0,
        "system_s": system1 - system0,
        "cpu_percent": cpu / wall * 100,
        "rounds": len(during),
        "round_ms": [r[1] * 1000 for r in during],
        "on_due_calls": bell.calls,
    }


def settle(ledger: Ledger, clock: Clock, reminder_id: int) -> tuple[bool, int]:
    """Speak and acknowledge what is pending, as the device would; (ours was there, how many others)."""
    now = clock.now()
    pending = ledger.in_state("pending")
    for occurrence in pending:
        claimed = ledger.claim(occurrence, now)
        if claimed is not None:
            ledger.spoken(claimed.id, now)
    ledger.acknowledge(now)
    ours = [o for o in pending if o.reminder_id == reminder_id]
    return bool(ours), len(pending) - len(ours)


def fire(
    book: ReminderBook,
    ledger: Ledger,
    clock: ShiftedClock,
    bell: Bell,
    label: str,
    poke: Scheduler | None,
    meddle: ReminderBook | None = None,
) -> dict[str, Any]:
    """One reminder for the next whole minute (3 s away); seconds from that minute to `on_due`.

    `meddle`: a book on another engine that adds an unrelated reminder (a week on) just before the
    moment, so that the round which fires also notices a change made elsewhere."""
    target = clock.minute_ahead(LEAD_S)
    bell.reset()
    reminder = book.create(f"Benchmark {label}", local(target))
    if poke is not None:
        poke.poke()
    if meddle is not None:
        time.sleep(max(0.0, (target - clock.now()).total_seconds() - MEDDLE_BEFORE_S))
        meddle.create(f"Benchmark unrelated change {label}", local(target) + timedelta(days=7))
    timeout = LEAD_S + OPTIONS.longest_sleep.total_seconds() + 15
    if not bell.rang.wait(timeout) or bell.at is None:
        return {"label": label, "latency_s": None, "ours": False, "others": 0}
    latency = (bell.at - target).total_seconds()
    ours, others = settle(ledger, clock, reminder.id)
    return {"label": label, "latency_s": latency, "ours": ours, "others": others}


def firing(directory: Path, fires: int, busy_fires: int, web_fires: int) -> dict[str, Any]:
    database = Database(directory).open()
    web = Database(directory).open()  # the web app: another engine, its own connections, on the same file
    clock = ShiftedClock()
    bell = Bell(clock)
    book, ledger = ReminderBook(database.engine, clock.now), Ledger(database.engine)
    web_book = ReminderBook(web.engine, clock.now)
    scheduler = Scheduler(book, ledger, clock, OPTIONS, on_due=bell)
    rounds = watch_rounds(scheduler)
    known: list[dict[str, Any]] = []
    busy: list[dict[str, Any]] = []
    from_web: list[dict[str, Any]] = []
    longest = OPTIONS.longest_sleep.total_seconds()
    try:
        scheduler.start()
        if not rounds.first_done.wait(120):
            raise RuntimeError("the scheduler's first round did not end within two minutes")
        first_round_s = rounds.rounds[0][1]
        began = time.perf_counter()
        for i in range(fires):
            known.append(fire(book, ledger, clock, bell, f"known {i}", scheduler))
        known_end = time.perf_counter()
        for i in range(busy_fires):
            busy.append(fire(book, ledger, clock, bell, f"busy {i}", scheduler, meddle=web_book))
        for i in range(web_fires):
            # Made at an even spread of moments in the scheduler's round (time since its last round began).
            phase = (i + 0.5) / web_fires * longest
            last = rounds.rounds[-1][0]
            time.sleep(max(0.0, last + phase - time.perf_counter()))
            made_at = time.perf_counter() - rounds.rounds[-1][0]
            result = fire(web_book, ledger, clock, bell, f"web {i}", None)
            result["made_s_into_round"] = made_at
            from_web.append(result)
    finally:
        scheduler.close()
        web.close()
        database.close()
    reloads = [r[1] * 1000 for r in rounds.rounds[1:] if r[2]]
    plain = [r[1] * 1000 for r in rounds.between(began, known_end) if not r[2]]
    return {
        "first_round_s": first_round_s,
        "known": known,
        "busy": busy,
        "web": from_web,
        "reload_round_ms": reloads,
        "plain_round_ms": plain,
        "clock_moved_forward_s": clock.offset.total_seconds(),
    }


def filesystem(path: Path) -> str:
    """The type of the filesystem holding `path` (fsync costs differ: ext4 on disk against tmpfs)."""
    best, kind = "", "unknown"
    try:
        for line in Path("/proc/mounts").read_text().splitlines():
            parts = line.split()
            if len(parts) >= 3 and str(path).startswith(parts[1]) and len(parts[1]) > len(best):
                best, kind = parts[1], parts[2]
    except OSError:
        pass
    return kind


def summary(values: list[float]) -> dict[str, float]:
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "p50": median(values),
        "p95": percentile(values, 95),
        "max": max(values),
        "min": min(values),
    }


def run(count: int, idle_seconds: float, fires: int, busy_fires: int, web_fires: int) -> dict[str, Any]:
    began = time.perf_counter()
    # The benchmark's clock runs ahead by up to a minute per timed fire: keep the reminders clear of that.
    timed = fires + busy_fires + web_fires
    clear_s = idle_seconds + 300 + timed * (60 + OPTIONS.longest_sleep.total_seconds())
    with tempfile.TemporaryDirectory(prefix="reminders-bench-") as folder:
        directory = Path(folder)
        with Database(directory) as database:
            made = fill(ReminderBook(database.engine), count, clear_s)
        idled = idle(directory, idle_seconds)
        fired = firing(directory, fires, busy_fires, web_fires)
        fs = filesystem(directory)
    every = fired["known"] + fired["busy"] + fired["web"]

    def latencies(kind: str) -> dict[str, float]:
        return summary([f["latency_s"] for f in fired[kind] if f["latency_s"] is not None])

    return {
        "date": date.today().isoformat(),
        "machine": machine(),
        "filesystem": fs,
        "options": {
            "longest_sleep_s": OPTIONS.longest_sleep.total_seconds(),
            "lead_s": LEAD_S,
            "meddle_before_s": MEDDLE_BEFORE_S,
            "quiet_hours": "off",
        },
        "reminders": made,
        "idle": idled,
        "firing": fired,
        "known_latency_s": latencies("known"),
        "busy_latency_s": latencies("busy"),
        "web_latency_s": latencies("web"),
        "missed_fires": sum(f["latency_s"] is None or not f["ours"] for f in every),
        "stray_fires": sum(f["others"] for f in every),
        "run_s": time.perf_counter() - began,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--reminders", type=int, default=1000, help="reminders in the database (1000)")
    parser.add_argument("--idle-seconds", type=float, default=60.0, help="idle window for the CPU (60)")
    parser.add_argument("--fires", type=int, default=20, help="timed fires of known reminders (20)")
    parser.add_argument(
        "--busy-fires", type=int, default=5, help="known reminders due as a change from elsewhere lands (5)"
    )
    parser.add_argument(
        "--web-fires", type=int, default=4, help="timed fires of web-app reminders, ~30 s each (4)"
    )
    parser.add_argument("--out", type=Path, default=HERE / "REMINDERS.md")
    args = parser.parse_args(argv)
    results = run(args.reminders, args.idle_seconds, args.fires, args.busy_fires, args.web_fires)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    (args.out.parent / "reminders.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    args.out.write_text(report(results), encoding="utf-8")
    print(report(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
