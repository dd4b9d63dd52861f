"""Reminders survive a process killed at any moment: nothing acknowledged is lost, nothing delivered twice.

What is proven, against the real SQLite file (WAL, `synchronous=FULL`), ledger and scheduler:

- `test_sigkill_while_writing_reminders`: a child process loops as the device daemon does (open the
  database, Alembic included; `recover`; make a reminder; move its clock; `tick`; claim and speak what is
  `ready()`; sometimes a press, `acknowledge`) while the parent kills it with SIGKILL at a random moment, at
  least 200 times, restarting it on the same directory each time. The child keeps a journal (one
  `os.write` + `fsync` per line) of what the database had committed: `spoke <id> <attempt>` after the claim
  committed and before `spoken`, `acked <id>` after `acknowledge` returned. Afterwards: the file passes
  `PRAGMA integrity_check` and was never restored from a snapshot; every acknowledged occurrence is still
  acknowledged; no (occurrence, attempt) was spoken twice, no first attempt twice, nothing after its press;
  the journal never holds more spoken attempts than the `attempts` column counts, nor more than 3; after
  one last restart every reminder made and due has exactly one occurrence (none skipped, none doubled).
  The run must also have done real work (reminders, presses, repeats) and have killed children between a
  claim and its `spoken` (rows that the next child's `recover` found in `delivering`): it cannot pass
  vacuously.
- `test_restart_during_delivery`: deterministically, a claim without `spoken` (a crash mid-speech) becomes
  `delivered` on restart with that attempt counted, is repeated only at its 5-minute repeat time, as
  attempt 2, and after the third attempt and 5 minutes without a press it is `missed`.

Why fork: a new interpreter per kill (spawn) would spend most of its time importing SQLAlchemy and Alembic,
and most kills would land in the imports. A forked child starts with all that done (Alembic is warmed up on
a throwaway file first), so it is at work within milliseconds and 200 kills take seconds. The parent never
has the shared database open while children run (it opens it only after the kill loop), so no SQLite
connection or lock crosses a fork. Kill delays are measured in the child's own round times, so a slower
machine is hit mid-work as often as a fast one.

The kill timing is random, from a seed that every assertion message names; run again with
COMPANION_CRASH_SEED=<seed> to repeat the same sequence of delays and choices (the exact instants still
depend on the machine). `-o log_cli=true --log-cli-level=INFO` shows the run's numbers.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import random
import select
import signal
import time as clock_time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from pathlib import Path

from sqlalchemy import Engine, func
from sqlalchemy import select as sql_select

from companion.reminders.book import ReminderBook
from companion.reminders.ledger import Ledger
from companion.reminders.recurrence import Timing, instant, local, parse_wall
from companion.reminders.scheduler import Scheduler, SchedulerOptions
from companion.store.database import DATABASE_NAME, Database, check_integrity
from companion.store.schema import device_events, marks, occurrences, reminders

from clocks import ManualClock, utc

log = logging.getLogger(__name__)

OPTIONS = SchedulerOptions(timing=Timing(quiet_start=time(0, 0), quiet_end=time(0, 0)))
"""No quiet hours: the test does not depend on the time of day."""
START = utc("2030-06-03T10:00")
"""The first child's clock (a June week, no daylight-saving change); later children go on from where the
previous one's stopped (`_resume_at`)."""

MIN_KILLS = 200
MAX_KILLS = 1000
"""The loop goes past MIN_KILLS only until the run has done the minimum work below (a slow machine)."""
MIN_CREATED = 100
MIN_ACKED = 50
BLIND_SHARE = 0.1
"""This share of kills does not wait for the child to have opened the database: they land in start-up,
migration and recovery too."""
BLIND_DELAY = (0.0, 0.030)
"""Seconds from the fork to a blind kill."""
SECOND_ROUND_SHARE = 0.3
"""This share of the other kills lets the child finish its first round (recovery, a reminder, a press
perhaps) and lands in its second: the rest land in its first round."""
FIRST_ROUND_GUESS = 0.03
"""Seconds, until the child's own round time has been measured."""
ACK_CHANCE = 1 / 4
"""The chance of a press after each spoken reminder; the others wait, and are repeated after 5 minutes."""
TIMEOUT = 30.0
"""Seconds a child may take to open the database or to do one round before the test gives up on it."""


def _append(fd: int, line: str) -> None:
    """One journal line: a single write (so a kill cannot leave half of it), on disk before going on."""
    os.write(fd, f"{line}\n".encode())
    os.fsync(fd)


def _resume_at(engine: Engine) -> datetime:
    """Where the previous child's clock was, as far as the database shows: the latest instant written
    (the scheduler's mark alone may lag behind what was claimed)."""
    with engine.connect() as connection:
        written: list[datetime | None] = [
            connection.scalar(sql_select(func.max(marks.c.value_utc))),
            connection.scalar(sql_select(func.max(occurrences.c.updated_utc))),
            connection.scalar(sql_select(func.max(reminders.c.updated_utc))),
        ]
    return max([START, *(moment for moment in written if moment is not None)])


def _writer(directory: Path, journal: Path, progress_fd: int, seed: str) -> None:
    """The child: works like the daemon's reminder side, for ever, until it is killed. It tells the parent
    (one byte on `progress_fd`) when the database is open and when each round is done."""
    rng = random.Random(seed)
    fd = os.open(journal, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    database = Database(directory).open()
    os.write(progress_fd, b"o")
    ledger = Ledger(database.engine)
    clock = ManualClock(_resume_at(database.engine))
    book = ReminderBook(database.engine, clock.now)
    scheduler = Scheduler(book, ledger, clock, OPTIONS)
    recovered = ledger.recover(clock.now())  # what Scheduler.start() does before its thread
    if recovered:
        _append(fd, f"recovered {recovered}")
    while True:
        reminder = book.create("Take the blue pills", local(clock.now() + timedelta(minutes=1)))
        _append(fd, f"created {reminder.id}")
        clock.advance(minutes=1)
        scheduler.tick()
        for occurrence in scheduler.ready():
            claimed = ledger.claim(occurrence, clock.now())
            if claimed is None:
                continue
            _append(fd, f"spoke {claimed.id} {claimed.attempts}")
            ledger.spoken(claimed.id, clock.now())
            if rng.random() < ACK_CHANCE:  # the button, pressed once the reminder was said
                for occurrence_id in ledger.acknowledge(clock.now()):
                    _append(fd, f"acked {occurrence_id}")
        os.write(progress_fd, b"r")


def _await(fd: int, count: int, timeout: float) -> int:
    """Read up to `count` progress bytes from a child; how many came before the timeout or its end."""
    got = 0
    deadline = clock_time.monotonic() + timeout
    while got < count:
        readable, _, _ = select.select([fd], [], [], max(0.0, deadline - clock_time.monotonic()))
        chunk = os.read(fd, count - got) if readable else b""
        if not chunk:
            break
        got += len(chunk)
    return got


@dataclass
class Journal:
    created: set[int] = field(default_factory=set)
    spoke: list[tuple[int, int]] = field(default_factory=list)
    acked: set[int] = field(default_factory=set)
    recovered: int = 0
    repeats: int = 0
    spoke_after_ack: list[tuple[int, int]] = field(default_factory=list)
    bad_lines: list[str] = field(default_factory=list)


def read_journal(path: Path) -> Journal:
    journal = Journal()
    if not path.exists():
        return journal
    text = path.read_text()
    lines = text.split("\n")
    if lines[-1]:
        journal.bad_lines.append(f"unterminated last line {lines[-1]!r}")
    for line in lines[:-1]:
        match line.split():
            case ["created", rid]:
                journal.created.add(int(rid))
            case ["spoke", oid, attempt]:
                pair = (int(oid), int(attempt))
                journal.spoke.append(pair)
                if pair[1] > 1:
                    journal.repeats += 1
                if pair[0] in journal.acked:
                    journal.spoke_after_ack.append(pair)
            case ["acked", oid]:
                journal.acked.add(int(oid))
            case ["recovered", count]:
                journal.recovered += int(count)
            case _:
                journal.bad_lines.append(line)
    return journal


def enough_work(journal: Journal) -> bool:
    return (
        len(journal.created) >= MIN_CREATED
        and len(journal.acked) >= MIN_ACKED
        and journal.recovered > 0
        and journal.repeats > 0
    )


def test_sigkill_while_writing_reminders(tmp_path: Path) -> None:
    seed = int(os.environ.get("COMPANION_CRASH_SEED") or random.SystemRandom().randrange(2**32))
    about = f"(COMPANION_CRASH_SEED={seed})"
    rng = random.Random(seed)
    directory = tmp_path / "data"
    journal_path = tmp_path / "journal.txt"
    fork = multiprocessing.get_context("fork")
    # Alembic sets itself up (imports, plugins: ~0.2 s) on its first migration: do that once, here, on a
    # throwaway file, so that every forked child inherits it. Its engine is disposed before any fork.
    Database(tmp_path / "warm-up").open().close()
    started = clock_time.monotonic()

    kills = 0
    journal = Journal()
    round_time = FIRST_ROUND_GUESS
    while kills < MIN_KILLS or (kills < MAX_KILLS and not enough_work(journal)):
        read_fd, write_fd = os.pipe()
        child = fork.Process(
            target=_writer, args=(directory, journal_path, write_fd, f"{seed}-{kills}"), daemon=True
        )
        try:
            child.start()
            os.close(write_fd)
            if rng.random() < BLIND_SHARE:
                clock_time.sleep(rng.uniform(*BLIND_DELAY))
            else:
                # The kill lands anywhere in the child's first or second round: the delay is measured in
                # the child's own round times, so a slow machine is hit mid-work just as often.
                opened = _await(read_fd, 1, TIMEOUT)
                assert opened, f"child {kills} did not open the database in {TIMEOUT:.0f} s {about}"
                if rng.random() < SECOND_ROUND_SHARE:
                    begun = clock_time.monotonic()
                    done = _await(read_fd, 1, TIMEOUT)
                    assert done, f"child {kills} did not finish a round in {TIMEOUT:.0f} s {about}"
                    round_time = 0.8 * round_time + 0.2 * (clock_time.monotonic() - begun)
                clock_time.sleep(rng.uniform(0.0, 1.2 * round_time))
            assert child.is_alive(), (
                f"child {kills} ended by itself (exit code {child.exitcode}) before the kill {about}"
            )
            child.kill()
            child.join()
        finally:
            os.close(read_fd)
            if child.is_alive():
                child.kill()
                child.join()
        assert child.exitcode == -signal.SIGKILL, f"child {kills} exit code {child.exitcode} {about}"
        kills += 1
        if kills >= MIN_KILLS:
            journal = read_journal(journal_path)
    seconds = clock_time.monotonic() - started

    journal = read_journal(journal_path)
    assert not journal.bad_lines, f"torn or unknown journal lines {journal.bad_lines[:5]} {about}"

    # 1. The file is sound, and was never replaced from a snapshot behind our back.
    path = directory / DATABASE_NAME
    report = check_integrity(path)
    assert report.ok, f"integrity_check after {kills} kills: {report.detail} {about}"
    assert not list(directory.glob("companion-damaged-*")), f"the database was found damaged {about}"

    database = Database(directory).open()
    try:
        with database.engine.connect() as connection:
            rows = {row.id: row for row in connection.execute(sql_select(occurrences))}
            reminder_rows = {row.id: row for row in connection.execute(sql_select(reminders))}
            events = list(connection.execute(sql_select(device_events)))
        # One more restart, left to finish: it must find every reminder due by now, each exactly once.
        clock = ManualClock(_resume_at(database.engine))
        ledger = Ledger(database.engine)
        final = Scheduler(ReminderBook(database.engine, clock.now), ledger, clock, OPTIONS)
        ledger.recover(clock.now())
        final.tick()
        with database.engine.connect() as connection:
            per_reminder = Counter(connection.scalars(sql_select(occurrences.c.reminder_id)))
    finally:
        database.close()
    assert not events, f"the database recorded {[(e.kind, e.detail) for e in events]} {about}"

    # 2. Nothing acknowledged is lost.
    lost = sorted(oid for oid in journal.acked if oid not in rows or rows[oid].state != "acknowledged")
    assert not lost, (
        f"acknowledged occurrences not acknowledged any more: "
        f"{[(oid, rows[oid].state if oid in rows else None) for oid in lost[:10]]} {about}"
    )

    # 3. Nothing delivered twice: each attempt spoken once, the first at most once, none after the press.
    twice = [pair for pair, count in Counter(journal.spoke).items() if count > 1]
    assert not twice, f"(occurrence, attempt) spoken more than once: {twice[:10]} {about}"
    first_twice = [oid for oid, count in Counter(o for o, a in journal.spoke if a == 1).items() if count > 1]
    assert not first_twice, f"first attempts spoken twice: {first_twice[:10]} {about}"
    assert not journal.spoke_after_ack, f"spoken after the press: {journal.spoke_after_ack[:10]} {about}"

    # 4. The journal's line comes after the claim's commit: never more spoken attempts than counted ones.
    spoken_per = Counter(oid for oid, _attempt in journal.spoke)
    over = [
        (oid, count, rows[oid].attempts if oid in rows else None)
        for oid, count in spoken_per.items()
        if oid not in rows or count > rows[oid].attempts
    ]
    assert not over, (
        f"(occurrence, spoken, attempts column) with more spoken than counted: {over[:10]} {about}"
    )
    beyond = [(oid, attempt) for oid, attempt in journal.spoke if attempt > rows[oid].attempts]
    assert not beyond, f"spoken attempts beyond the attempts column: {beyond[:10]} {about}"
    too_many = [(row.id, row.attempts) for row in rows.values() if row.attempts > OPTIONS.attempts]
    assert not too_many, f"occurrences tried more than {OPTIONS.attempts} times: {too_many[:10]} {about}"

    # Reminders: every one the journal saw made is there, and after the final restart each one due by then
    # has exactly one occurrence (the unique key refuses a second): none was skipped across the kills.
    missing = sorted(journal.created - set(reminder_rows))
    assert not missing, f"reminders made and then lost: {missing[:10]} {about}"
    skipped = [
        (rid, per_reminder[rid])
        for rid, row in reminder_rows.items()
        if instant(parse_wall(row.starts_at)) <= clock.now() and per_reminder[rid] != 1
    ]
    assert not skipped, f"(reminder, occurrences) due by {clock.now()}, not one each: {skipped[:10]} {about}"

    # 5. Not vacuous: real work was done, and kills landed between a claim and its `spoken`.
    states = Counter(row.state for row in rows.values())
    log.info(
        "%d kills in %.1f s: %d reminders, %d occurrences, %d spoken attempts (%d repeats), %d acknowledged, "
        "%d recovered from delivering; states after the last kill %s",
        kills,
        seconds,
        len(reminder_rows),
        len(rows),
        len(journal.spoke),
        journal.repeats,
        len(journal.acked),
        journal.recovered,
        dict(states),
    )
    assert kills >= MIN_KILLS
    assert len(journal.created) >= MIN_CREATED, f"only {len(journal.created)} reminders made {about}"
    assert len(journal.acked) >= MIN_ACKED, f"only {len(journal.acked)} acknowledged {about}"
    assert journal.recovered > 0, f"no kill landed while an occurrence was delivering {about}"
    assert journal.repeats > 0, f"no reminder was repeated: the repeat path was not exercised {about}"


def test_restart_during_delivery(tmp_path: Path) -> None:
    clock = ManualClock(utc("2030-06-03T12:00"))
    database = Database(tmp_path).open()
    try:
        book = ReminderBook(database.engine, clock.now)
        ledger = Ledger(database.engine)
        book.create("Take the blue pills", "2030-06-03T12:01")
        scheduler = Scheduler(book, ledger, clock, OPTIONS)
        clock.advance(minutes=1)
        scheduler.tick()
        [due] = scheduler.ready()
        claimed = ledger.claim(due, clock.now())
        assert claimed is not None
        assert (claimed.state, claimed.attempts) == ("delivering", 1)
        claimed_at = clock.now()
    finally:
        database.close()  # the process dies while speaking: `spoken` is never called

    clock.advance(minutes=1)
    database = Database(tmp_path).open()
    try:
        book = ReminderBook(database.engine, clock.now)
        ledger = Ledger(database.engine)
        scheduler = Scheduler(book, ledger, clock, OPTIONS)
        scheduler.start()
        scheduler.close()

        recovered = ledger.get(claimed.id)
        assert recovered is not None
        assert (recovered.state, recovered.attempts) == ("delivered", 1)  # that attempt counted
        assert recovered.last_attempt_utc == claimed_at

        # Not repeated at once after the restart, nor before its repeat time.
        scheduler.tick()
        assert scheduler.ready() == []
        clock.set(claimed_at + OPTIONS.repeat_after - timedelta(seconds=1))
        scheduler.tick()
        assert scheduler.ready() == []

        # At its repeat time it is due again, as the second attempt.
        clock.set(claimed_at + OPTIONS.repeat_after)
        scheduler.tick()
        [again] = scheduler.ready()
        assert (again.id, again.state, again.attempts) == (claimed.id, "delivered", 1)
        second = ledger.claim(again, clock.now())
        assert second is not None
        assert (second.state, second.attempts) == ("delivering", 2)
        assert ledger.claim(again, clock.now()) is None  # a stale copy cannot claim it a second time
        ledger.spoken(second.id, clock.now())

        clock.advance(minutes=5)
        scheduler.tick()
        [third_due] = scheduler.ready()
        third = ledger.claim(third_due, clock.now())
        assert third is not None
        assert (third.state, third.attempts) == ("delivering", 3)
        ledger.spoken(third.id, clock.now())

        # No press: still waiting just before the next repeat time, missed at it, and never spoken again.
        clock.advance(minutes=5, seconds=-1)
        scheduler.tick()
        current = ledger.get(claimed.id)
        assert current is not None
        assert current.state == "delivered"
        clock.advance(seconds=1)
        scheduler.tick()
        missed = ledger.get(claimed.id)
        assert missed is not None
        assert (missed.state, missed.attempts) == ("missed", 3)
        assert scheduler.ready() == []
        assert ledger.claim(missed, clock.now()) is None
        assert ledger.acknowledge(clock.now()) == []  # a late press does not turn a missed one around
    finally:
        database.close()
