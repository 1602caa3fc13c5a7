"""``syncd run``: pull each account on its own rhythm, recompute and reconcile after each pull, forever.

Built on ``schedule`` (docs/schedule.md), with what it lacks added here:

* every job is wrapped: ``schedule`` re-runs a job that raised on *every* tick, so a failure is logged
  and the account backs off exponentially (up to ``BACKOFF_CAP``) while the others keep their rhythm;
* jitter: each account's interval is drawn from ±20 % (``every(low).to(high)``), as Google's quota
  guide asks of clients polling on a schedule;
* ``schedule`` uses the naive local wall clock and never catches up: a jump of the wall clock ahead of
  the monotonic clock (a suspend, a clock change) triggers a prompt pull, a start-up after a stop
  longer than an account's interval pulls it at once, and a job pushed too far ahead (the clock set
  back, the DST fall-back hour) is rescheduled;
* systemd (docs/systemd.md): READY=1, STATUS=, WATCHDOG=1 at half of $WATCHDOG_USEC (also between the
  batches of a long pull), STOPPING=1; SIGTERM and SIGINT stop after the current batch (each batch is
  committed with its cursor), SIGHUP reloads the config (a broken one is reported and the old one
  kept), SIGUSR1 asks for a pull now.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import signal
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from datetime import time as time_of_day
from pathlib import Path
from types import FrameType
from typing import Protocol

import schedule

from syncd import pipeline
from syncd.config import Config, load_config
from syncd.errors import ConfigError, ExitCode, StateError, SyncdError
from syncd.paths import state_dir
from syncd.service.lock import writer_lock
from syncd.service.notify import notify, watchdog_seconds
from syncd.service.wakeup import Wakeup
from syncd.store import Store, open_store

log = logging.getLogger("syncd")

JITTER = 0.2
DEFAULT_INTERVAL = timedelta(minutes=15)  # also the config's default for accounts.<name>.interval
BACKOFF_CAP = timedelta(hours=6)
JUMP_SECONDS = 60.0  # the wall clock running this far ahead of the monotonic one means we were asleep
MAX_SLEEP = 60.0
LOCK_WAIT = 60.0  # below systemd's default TimeoutStartSec=90s: READY=1 comes after the lock


class Clock(Protocol):
    def monotonic(self) -> float: ...  # stops during a suspend (CLOCK_MONOTONIC): the jump detector
    def boottime(self) -> float: ...  # runs on during a suspend (CLOCK_BOOTTIME): back-off deadlines
    def wall(self) -> float: ...


class SystemClock:
    def monotonic(self) -> float:
        return time.monotonic()

    def boottime(self) -> float:
        # A back-off of 6 h should be 6 h of real time, asleep or not; clock_gettime(2).
        return time.clock_gettime(getattr(time, "CLOCK_BOOTTIME", time.CLOCK_MONOTONIC))

    def wall(self) -> float:
        return time.time()


@dataclasses.dataclass
class AccountState:
    failures: int = 0
    blocked_until: float = 0.0  # Clock.boottime()
    last_error: str | None = None
    needs_login: bool = False  # the last pull failed for want of a usable login
    pulls: int = 0


Runner = Callable[[str], pipeline.JobResult]


class Daemon:
    def __init__(self, config_path: Path, clock: Clock | None = None) -> None:
        self.config_path = config_path
        self.config: Config = load_config(config_path)
        self.clock: Clock = clock or SystemClock()
        self.scheduler = schedule.Scheduler()
        self.jobs: dict[str, schedule.Job] = {}
        self.states: dict[str, AccountState] = {}
        self.stopping = False
        self.stopped_by: int | None = None  # the signal that asked for the stop
        self.reload_requested = False
        self.pull_requested = False
        self.busy = False
        self.reload_error: str | None = None
        self.target_error: str | None = None
        self.activity: str | None = None  # what a running pull is doing, for STATUS=
        self.store: Store | None = None
        self.runner: Runner = self._run_job
        self._last = (self.clock.wall(), self.clock.monotonic())
        self._last_ping = self.clock.monotonic()
        self._build_jobs()

    # ---- jobs -------------------------------------------------------------------------------------

    def _interval(self, name: str) -> float:
        interval = self.config.accounts[name].options.get("interval") or DEFAULT_INTERVAL
        return max(interval.total_seconds(), 1.0)

    def _bounds(self, name: str) -> tuple[int, int]:
        seconds = self._interval(name)
        low = max(1, round(seconds * (1 - JITTER)))
        return low, max(low, round(seconds * (1 + JITTER)))

    def _schedule(self, name: str) -> None:
        """(Re)start an account's rhythm from now: one job per account, tagged with its name."""
        if name in self.jobs:
            self.scheduler.cancel_job(self.jobs.pop(name))
        low, high = self._bounds(name)
        self.jobs[name] = self.scheduler.every(low).to(high).seconds.do(self.pull, name).tag(name)

    def _build_jobs(self) -> None:
        self.scheduler.clear()
        self.jobs.clear()
        enabled = [name for name, account in self.config.accounts.items() if account.enabled]
        self.states = {name: self.states.get(name, AccountState()) for name in enabled}
        for name in enabled:
            self._schedule(name)

    def _run_job(self, name: str) -> pipeline.JobResult:
        assert self.store is not None
        try:
            return pipeline.run_job(self.store, self.config, only=name, progress=self._progress,
                               should_stop=self._should_stop)
        finally:
            # The 64 MiB page cache (syncd.store.database) is for big recomputes; an idle service gives it back.
            self.store.shrink_memory()

    def _should_stop(self) -> bool:
        """Asked between batches: the moment to stop cleanly, and proof of life for the watchdog."""
        self._ping()
        return self.stopping

    def _progress(self, account: str, seen: int, expected: int | None) -> None:
        self.activity = f"pulling {account}: {seen:,}" + (f" of {expected:,}" if expected else "") + " items"

    def _ping(self, force: bool = False) -> None:
        # WATCHDOG=1 at half of WATCHDOG_USEC (systemd.service(5) WatchdogSec=, docs/systemd.md#notify-and-watchdog);
        # a first pull of a big mailbox takes longer than that, so its batches keep the watchdog fed too.
        interval = watchdog_seconds()
        now = self.clock.monotonic()
        if force or (interval is not None and now - self._last_ping >= interval):
            self._last_ping = now
            notify("WATCHDOG=1", f"STATUS={self.status_line()}")

    def pull(self, name: str, force: bool = False) -> None:
        """One account's pull, wrapped: it never raises, and a failure backs the account off.
        ``force`` (a pull the user asked for) tries a backed-off account anyway."""
        state = self.states.get(name)
        if state is None or self.busy or self.stopping:
            return
        if not force and self.clock.boottime() < state.blocked_until:
            return
        self.busy = True
        try:
            result = self.runner(name)
            for text in result.internal:
                log.error("%s: internal error (please report it):\n%s", name, text.rstrip())
            problems = [f"{s.account}: {s.error}" for s in result.pulls if s.error]
            self._target_outcome(result)
            state.needs_login = any(s.needs_login for s in result.pulls)
            if problems:
                self._failed(name, "; ".join(problems))
            else:
                state.failures, state.last_error = 0, None
                new = sum(s.new for s in result.pulls)
                log.log(logging.INFO if new else logging.DEBUG, "%s: pulled, %d new", name, new)
        except SyncdError as exc:
            self._failed(name, str(exc))
        except Exception as exc:  # a bug must not take the service down; it is logged and backed off
            fault = self.store.fault(exc) if self.store is not None else None
            if fault is not None:  # a full disk, a damaged database: its sentence, not a traceback
                self._failed(name, str(fault))
            else:
                log.exception("%s: internal error", name)
                self._failed(name, f"internal error: {type(exc).__name__}: {exc}")
        finally:
            state.pulls += 1
            self.busy = False
            self.activity = None

    def _target_outcome(self, result: pipeline.JobResult) -> None:
        # The calendar is shared by every account: its failure is reported on its own and retried with
        # the next pull (at the accounts' rhythm, not in a loop), instead of backing off an account.
        if result.target_error and result.target_error != self.target_error:
            log.warning("follow-ups calendar: %s", result.target_error)
        elif result.followups is not None and self.target_error:
            log.info("follow-ups calendar: written again")
        if result.target_error or result.followups is not None:
            self.target_error = result.target_error

    def _failed(self, name: str, message: str) -> None:
        state = self.states[name]
        state.failures += 1
        state.last_error = message
        delay = min(self._interval(name) * 2 ** (state.failures - 1), BACKOFF_CAP.total_seconds())
        state.blocked_until = self.clock.boottime() + delay
        log.warning("%s: %s; next try in %s", name, message, timedelta(seconds=round(delay)))

    def pull_now(self, names: list[str], why: str, force: bool = False) -> None:
        """Pull outside the rhythm, then restart each rhythm from now, so the overdue job that
        ``schedule`` still holds does not pull the same account a second time right after."""
        if names:
            log.info("pulling %s now (%s)", ", ".join(names), why)
        for name in names:
            if self.stopping:
                break
            self.pull(name, force)
            if name in self.states:
                self._schedule(name)

    def catch_up(self) -> None:
        """After a stop longer than an account's interval (or never pulled), pull it now (docs/schedule.md:
        ``schedule`` keeps no persistence and would wait a whole interval)."""
        assert self.store is not None
        last = {record.name: record.last_success for record in self.store.accounts.records()}
        now = datetime.now(UTC)
        stale = []
        for name in self.states:
            stamp = last.get(name)
            if stamp is None or (now - datetime.fromisoformat(stamp)).total_seconds() > self._interval(name):
                stale.append(name)
        self.pull_now(stale, "not pulled within its interval")

    # ---- the loop ---------------------------------------------------------------------------------

    def jumped(self) -> bool:
        """True when the wall clock ran ahead of the monotonic clock: a suspend or a clock change."""
        wall, mono = self.clock.wall(), self.clock.monotonic()
        previous_wall, previous_mono = self._last
        self._last = (wall, mono)
        return (wall - previous_wall) - (mono - previous_mono) > JUMP_SECONDS

    def _pushed_back(self) -> list[str]:
        """Accounts whose next run lies beyond their longest interval: the wall clock went back (or the
        local time fell back an hour at DST), and ``schedule`` would wait that much longer."""
        now = datetime.now()  # schedule's own clock: naive local time (docs/schedule.md)
        return [name for name, job_ in self.jobs.items()
                if job_.next_run is not None
                and (job_.next_run - now).total_seconds() > self._bounds(name)[1] + JUMP_SECONDS]

    def tick(self) -> float:
        """One turn of the loop; returns how long to sleep."""
        if self.reload_requested:
            self.reload_requested = False
            self.reload()
        if self.pull_requested:
            self.pull_requested = False
            self.pull_now(list(self.states), "asked by SIGUSR1", force=True)
        if self.jumped():
            self.pull_now(list(self.states), "the clock jumped forward: resumed from a suspend?")
        for name in self._pushed_back():
            log.info("%s: the clock went back; rescheduled", name)
            self._schedule(name)
        self.scheduler.run_pending()
        self._ping(force=True)
        idle = self.scheduler.idle_seconds
        sleep = MAX_SLEEP if idle is None else min(max(idle, 0.0), MAX_SLEEP)
        watchdog = watchdog_seconds()
        return min(sleep, watchdog) if watchdog else sleep

    def reload(self) -> None:
        # sd_notify(3): RELOADING=1 while reloading, READY=1 when done (systemd 252 has no notify-reload).
        notify("RELOADING=1", "STATUS=reloading the configuration")
        try:
            config = load_config(self.config_path)
        except ConfigError as exc:
            self.reload_error = f"config reload failed, still on the previous one ({len(exc.problems)} problems)"
            for problem in exc.problems:
                log.error("%s", problem)
            log.error("%s", self.reload_error)
        else:
            self.config, self.reload_error = config, None
            self._build_jobs()
            log.info("configuration reloaded: %d accounts", len(self.states))
        notify("READY=1", f"STATUS={self.status_line()}")

    def next_pull(self) -> datetime | None:
        """The next time an account will really be pulled: its job, or later when it is backed off."""
        now, boot = datetime.now(), self.clock.boottime()
        times = [max(job_.next_run, now + timedelta(seconds=self.states[name].blocked_until - boot))
                 for name, job_ in self.jobs.items() if job_.next_run is not None and name in self.states]
        return min(times, default=None)

    def status_line(self) -> str:
        parts = [self.activity] if self.activity else []
        upcoming = self.next_pull()
        if upcoming is not None and not self.activity:
            parts.append(f"next pull {upcoming:%H:%M}")
        parts.append(f"{self.followups_today()} follow-ups due today")
        for name, state in sorted(self.states.items()):
            if state.last_error and state.needs_login:
                parts.append(f"account {name} needs login: run syncd auth login {name}")
            elif state.last_error:
                parts.append(f"account {name} needs attention: {state.last_error[:80]}")
        if self.target_error:
            parts.append(f"follow-ups calendar needs attention: {self.target_error[:80]}")
        if self.reload_error:
            parts.append(self.reload_error)
        return " · ".join(parts)

    def followups_today(self) -> int:
        """Active follow-ups placed on today's date where the user lives (planned_start is UTC ISO)."""
        if self.store is None:
            return 0
        zone = self.config.followups.timezone
        today = datetime.now(zone).date()
        start = datetime.combine(today, time_of_day(0), zone).astimezone(UTC)
        return self.store.followups.active_between(start, start + timedelta(days=1))

    def _signal(self, signum: int, _frame: FrameType | None) -> None:
        # Only flags here: the loop acts on them between batches, where the store is consistent.
        if signum in (signal.SIGTERM, signal.SIGINT):
            self.stopping = True
            self.stopped_by = self.stopped_by or signum
        elif signum == signal.SIGHUP:
            self.reload_requested = True
        elif signum == signal.SIGUSR1:
            self.pull_requested = True
        # No wake-up call here: a handler that takes a lock can deadlock the loop (syncd.service.wakeup); the
        # interpreter's own handler has already written to the wake-up pipe the loop sleeps on.

    def run(self) -> int:
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1):
            signal.signal(signum, self._signal)
        directory = state_dir()
        with contextlib.ExitStack() as stack:
            try:
                stack.enter_context(writer_lock(directory, "run", LOCK_WAIT, cancelled=lambda: self.stopping))
            except StateError:
                if self.stopping:  # stopped while waiting for a `syncd pull` to finish: not a failure
                    return self._stop_code()
                raise
            wakeup = stack.enter_context(Wakeup())
            store = stack.enter_context(open_store(directory))
            self.store = store
            notify("READY=1", f"STATUS=started with {len(self.states)} accounts")
            log.info("started: %d accounts, pid %d", len(self.states), os.getpid())
            self.catch_up()
            while not self.stopping:
                wakeup.sleep(self.tick())
            notify("STOPPING=1", "STATUS=stopping")
            log.info("stopped")
        return self._stop_code()

    def _stop_code(self) -> int:
        """README exit codes: a stop (SIGTERM) is a clean end; an interrupt from the keyboard says so."""
        return ExitCode.INTERRUPTED if self.stopped_by == signal.SIGINT else ExitCode.OK


SYSLOG_LEVELS = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3, logging.CRITICAL: 2}


class _JournalFormatter(logging.Formatter):
    """Plain lines; under journald, prefixed with the syslog level (sd-daemon(3): <3> error ... <7> debug)."""

    def __init__(self, journal: bool) -> None:
        super().__init__("%(message)s")
        self.journal = journal

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        if self.journal:
            # Every line of a traceback gets the prefix, or journald files the rest at the default level.
            return "\n".join(f"<{SYSLOG_LEVELS.get(record.levelno, 6)}>{line}" for line in text.splitlines())
        return f"syncd: {record.levelname.lower()}: {text}"


def setup_logging(verbose: int) -> None:
    handler = logging.StreamHandler(sys.stderr)
    # systemd.exec(5): $JOURNAL_STREAM is set when stderr is connected to the journal.
    handler.setFormatter(_JournalFormatter(journal=bool(os.environ.get("JOURNAL_STREAM"))))
    log.handlers[:] = [handler]
    log.setLevel(logging.DEBUG if verbose > 1 else logging.INFO)
    log.propagate = False
