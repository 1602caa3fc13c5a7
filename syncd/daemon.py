"""``syncd run``: pull each account on its own rhythm, recompute and reconcile after each pull, forever.

Built on ``schedule`` (apis.md §7), with what it lacks added here:

* every job is wrapped: ``schedule`` re-runs a job that raised on *every* tick, so a failure is logged
  and the account backs off exponentially (up to ``BACKOFF_CAP``) while the others keep their rhythm;
* jitter: each account's interval is drawn from ±20 % (``every(low).to(high)``), as Google's quota
  guide asks of clients polling on a schedule;
* ``schedule`` uses the wall clock and never catches up: a jump of the wall clock ahead of the monotonic
  clock (a suspend, a clock change) triggers a prompt pull, and so does a start-up after a stop longer
  than an account's interval;
* systemd (apis.md §8): READY=1, STATUS=, WATCHDOG=1 at half of $WATCHDOG_USEC, STOPPING=1; SIGTERM and
  SIGINT stop after the current batch (each batch is committed with its cursor), SIGHUP reloads the
  config (a broken one is reported and the old one kept), SIGUSR1 asks for a pull now.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Protocol

import schedule

from syncd import job
from syncd.config import Config, load_config
from syncd.errors import ConfigError, SyncdError
from syncd.lock import writer_lock
from syncd.notify import notify, watchdog_seconds
from syncd.paths import state_dir
from syncd.store import Store

log = logging.getLogger("syncd")

JITTER = 0.2
BACKOFF_CAP = timedelta(hours=6)
JUMP_SECONDS = 60.0  # the wall clock running this far ahead of the monotonic one means we were asleep
MAX_SLEEP = 60.0


class Clock(Protocol):
    def monotonic(self) -> float: ...
    def wall(self) -> float: ...


class SystemClock:
    def monotonic(self) -> float:
        return time.monotonic()

    def wall(self) -> float:
        return time.time()


@dataclasses.dataclass
class AccountState:
    failures: int = 0
    blocked_until: float = 0.0  # monotonic
    last_error: str | None = None
    pulls: int = 0


Runner = Callable[[str], job.JobResult]


class Daemon:
    def __init__(self, config_path: Path, clock: Clock | None = None) -> None:
        self.config_path = config_path
        self.config: Config = load_config(config_path)
        self.clock: Clock = clock or SystemClock()
        self.scheduler = schedule.Scheduler()
        self.states: dict[str, AccountState] = {}
        self.wake = threading.Event()
        self.stopping = False
        self.reload_requested = False
        self.pull_requested = False
        self.busy = False
        self.reload_error: str | None = None
        self.store: Store | None = None
        self.runner: Runner = self._run_job
        self._last = (self.clock.wall(), self.clock.monotonic())
        self._build_jobs()

    # ---- jobs -------------------------------------------------------------------------------------

    def _interval(self, name: str) -> float:
        interval = self.config.accounts[name].options.get("interval") or timedelta(minutes=15)
        return max(interval.total_seconds(), 1.0)

    def _build_jobs(self) -> None:
        self.scheduler.clear()
        for name, account in self.config.accounts.items():
            if not account.enabled:
                continue
            self.states.setdefault(name, AccountState())
            seconds = self._interval(name)
            low = max(1, round(seconds * (1 - JITTER)))
            high = max(low, round(seconds * (1 + JITTER)))
            self.scheduler.every(low).to(high).seconds.do(self.pull, name).tag(name)

    def _run_job(self, name: str) -> job.JobResult:
        assert self.store is not None
        return job.run_job(self.store, self.config, only=name, should_stop=lambda: self.stopping)

    def pull(self, name: str) -> None:
        """One account's pull, wrapped: it never raises, and a failure backs the account off."""
        state = self.states.setdefault(name, AccountState())
        if self.busy or self.stopping or self.clock.monotonic() < state.blocked_until:
            return
        self.busy = True
        try:
            result = self.runner(name)
            problems = [f"{s.account}: {s.error}" for s in result.pulls if s.error]
            if result.target_error:
                problems.append(f"follow-ups: {result.target_error}")
            if problems:
                self._failed(name, "; ".join(problems))
            else:
                state.failures, state.last_error = 0, None
                new = sum(s.new for s in result.pulls)
                log.log(logging.INFO if new else logging.DEBUG, "%s: pulled, %d new", name, new)
        except SyncdError as exc:
            self._failed(name, str(exc))
        except Exception as exc:  # a bug must not take the service down; it is logged and backed off
            log.exception("%s: internal error", name)
            self._failed(name, f"internal error: {type(exc).__name__}: {exc}")
        finally:
            state.pulls += 1
            self.busy = False

    def _failed(self, name: str, message: str) -> None:
        state = self.states[name]
        state.failures += 1
        state.last_error = message
        delay = min(self._interval(name) * 2 ** (state.failures - 1), BACKOFF_CAP.total_seconds())
        state.blocked_until = self.clock.monotonic() + delay
        log.warning("%s: %s; next try in %s", name, message, timedelta(seconds=round(delay)))

    def pull_all_now(self, why: str) -> None:
        log.info("pulling every account now (%s)", why)
        for name in list(self.states):
            if name in self.config.accounts and self.config.accounts[name].enabled:
                self.pull(name)

    def catch_up(self) -> None:
        """After a stop longer than an account's interval (or never pulled), pull it now."""
        assert self.store is not None
        last = {row["name"]: row["last_success"] for row in self.store.accounts()}
        now = datetime.now(UTC)
        for name in list(self.states):
            stamp = last.get(name)
            age = (now - datetime.fromisoformat(stamp)).total_seconds() if stamp else None
            if age is None or age > self._interval(name):
                self.pull(name)

    # ---- the loop ---------------------------------------------------------------------------------

    def jumped(self) -> bool:
        """True when the wall clock ran ahead of the monotonic clock: a suspend or a clock change."""
        wall, mono = self.clock.wall(), self.clock.monotonic()
        previous_wall, previous_mono = self._last
        self._last = (wall, mono)
        return (wall - previous_wall) - (mono - previous_mono) > JUMP_SECONDS

    def tick(self) -> float:
        """One turn of the loop; returns how long to sleep."""
        if self.reload_requested:
            self.reload_requested = False
            self.reload()
        if self.pull_requested:
            self.pull_requested = False
            self.pull_all_now("asked by SIGUSR1")
        if self.jumped():
            self.pull_all_now("the clock jumped forward: resumed from a suspend?")
        self.scheduler.run_pending()
        notify("WATCHDOG=1", f"STATUS={self.status_line()}")
        idle = self.scheduler.idle_seconds
        sleep = MAX_SLEEP if idle is None else min(max(idle, 0.0), MAX_SLEEP)
        watchdog = watchdog_seconds()
        return min(sleep, watchdog) if watchdog else sleep

    def reload(self) -> None:
        try:
            config = load_config(self.config_path)
        except ConfigError as exc:
            self.reload_error = f"config reload failed, still on the previous one ({len(exc.problems)} problems)"
            for problem in exc.problems:
                log.error("%s", problem)
            log.error("%s", self.reload_error)
            return
        self.config, self.reload_error = config, None
        self._build_jobs()
        log.info("configuration reloaded: %d accounts", len(config.accounts))

    def status_line(self) -> str:
        parts = []
        upcoming = self.scheduler.get_next_run()
        if upcoming is not None:
            parts.append(f"next pull {upcoming:%H:%M}")
        parts.append(f"{self.followups_today()} follow-ups due today")
        for name, state in sorted(self.states.items()):
            if state.last_error:
                parts.append(f"account {name} needs attention: {state.last_error[:80]}")
        if self.reload_error:
            parts.append(self.reload_error)
        return " · ".join(parts)

    def followups_today(self) -> int:
        if self.store is None:
            return 0
        today = datetime.now(self.config.followups.timezone).date().isoformat()
        row = self.store.db.execute(
            "SELECT COUNT(*) FROM followups WHERE state = 'active' AND due <= ? AND "
            "substr(planned_start, 1, 10) = ?",
            (today, today),
        ).fetchone()
        return int(row[0])

    def _signal(self, signum: int, _frame: FrameType | None) -> None:
        if signum in (signal.SIGTERM, signal.SIGINT):
            self.stopping = True
        elif signum == signal.SIGHUP:
            self.reload_requested = True
        elif signum == signal.SIGUSR1:
            self.pull_requested = True
        self.wake.set()

    def run(self) -> int:
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1):
            signal.signal(signum, self._signal)
        directory = state_dir()
        with writer_lock(directory, "run", wait_seconds=0), job.open_store(directory) as store:
            self.store = store
            notify("READY=1", f"STATUS=started with {len(self.states)} accounts")
            log.info("started: %d accounts, pid %d", len(self.states), os.getpid())
            self.catch_up()
            while not self.stopping:
                sleep = self.tick()
                self.wake.wait(sleep)
                self.wake.clear()
            notify("STOPPING=1", "STATUS=stopping")
            log.info("stopped")
        return 0


SYSLOG_LEVELS = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3, logging.CRITICAL: 2}


class _JournalFormatter(logging.Formatter):
    """Plain lines; under journald, prefixed with the syslog level (sd-daemon(3): <3> error ... <7> debug)."""

    def __init__(self, journal: bool) -> None:
        super().__init__("%(message)s")
        self.journal = journal

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        if self.journal:
            return "\n".join(f"<{SYSLOG_LEVELS.get(record.levelno, 6)}>{line}" for line in text.splitlines())
        return f"syncd: {record.levelname.lower()}: {text}"


def setup_logging(verbose: int) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_JournalFormatter(journal=bool(os.environ.get("JOURNAL_STREAM"))))
    log.handlers[:] = [handler]
    log.setLevel(logging.DEBUG if verbose > 1 else logging.INFO)
    log.propagate = False
