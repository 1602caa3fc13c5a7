"""``syncd run``: back-off, catch-up after a clock jump, reload, status; then the real process under a fake
systemd (a NOTIFY_SOCKET the test binds): readiness, watchdog, signals, resume, rhythm."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from syncd import pipeline
from syncd.pull import AccountSummary
from syncd.sample import write_sample
from syncd.service.daemon import JUMP_SECONDS, Daemon
from syncd.store import Store
from syncd.tokens import TokenStoreError
from tests.support.generate import gen_maildir
from tests.support.paths import ROOT

# ---- the loop, with a fake clock ---------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.mono = 1000.0
        self.boot = 5000.0
        self.wall_time = 1_800_000_000.0

    def monotonic(self) -> float:
        return self.mono

    def boottime(self) -> float:
        return self.boot

    def wall(self) -> float:
        return self.wall_time

    def advance(self, seconds: float, suspended: float = 0.0) -> None:
        self.mono += seconds  # CLOCK_MONOTONIC stops during a suspend; CLOCK_BOOTTIME and the wall clock do not
        self.boot += seconds + suspended
        self.wall_time += seconds + suspended


CONFIG = """
[accounts.good]
provider = "maildir"
path = "{path}"
interval = "10m"

[accounts.bad]
provider = "maildir"
path = "{path}"
interval = "10m"
"""


@pytest.fixture
def daemon(tmp_path: Path) -> Daemon:
    (tmp_path / "mail").mkdir()
    config = tmp_path / "config.toml"
    config.write_text(CONFIG.format(path=tmp_path / "mail"))
    return Daemon(config, clock=FakeClock())


def clock_of(daemon: Daemon) -> FakeClock:
    assert isinstance(daemon.clock, FakeClock)
    return daemon.clock


def fake_runner(calls: list[str], target_error: str | None = None) -> Callable[[str], pipeline.JobResult]:
    def run(name: str) -> pipeline.JobResult:
        calls.append(name)
        summary = AccountSummary(name, error="token revoked" if name == "bad" else None)
        return pipeline.JobResult([summary], None, None, target_error=target_error)

    return run


def test_a_failing_account_backs_off_while_the_other_keeps_its_rhythm(daemon: Daemon) -> None:
    calls: list[str] = []
    daemon.runner = fake_runner(calls)
    for _ in range(12):  # two hours of ten-minute ticks
        daemon.pull("good")
        daemon.pull("bad")
        clock_of(daemon).advance(600)
    assert calls.count("good") == 12
    # bad: tried at 0, then after 10 min, 20 min, 40 min... never every tick.
    assert 3 <= calls.count("bad") <= 5
    assert daemon.states["bad"].failures == calls.count("bad")
    status = daemon.status_line()
    assert "account bad needs attention: bad: token revoked" in status and "account good" not in status


def test_an_account_that_needs_login_says_so_and_how_in_the_status(daemon: Daemon) -> None:
    revoked = "account 'bad' needs login (the token was revoked or has expired): run 'syncd auth login bad'"
    daemon.runner = lambda name: pipeline.JobResult([AccountSummary(name, error=revoked, needs_login=True)], None, None)
    daemon.pull("bad")
    assert "account bad needs login: run syncd auth login bad" in daemon.status_line()
    daemon.runner = fake_runner([])
    clock_of(daemon).advance(24 * 3600)
    daemon.pull("bad", force=True)  # logged in again meanwhile: a forced pull fails differently now
    assert "account bad needs attention: bad: token revoked" in daemon.status_line()


def test_back_off_is_capped_and_counts_time_asleep(daemon: Daemon) -> None:
    calls: list[str] = []
    daemon.runner = fake_runner(calls)
    daemon.states["bad"].failures = 30  # 2**30 intervals would be decades: the cap holds it to 6 h
    daemon.pull("bad")
    clock_of(daemon).advance(5 * 3600)
    daemon.pull("bad")
    assert calls == ["bad"]
    clock_of(daemon).advance(60, suspended=3600)  # an hour of suspend counts (CLOCK_BOOTTIME)
    daemon.pull("bad")
    assert calls == ["bad", "bad"]


def test_success_resets_the_back_off(daemon: Daemon) -> None:
    outcomes = iter([True, True, False])

    def flaky(name: str) -> pipeline.JobResult:
        return pipeline.JobResult([AccountSummary(name, error="down" if next(outcomes) else None)], None, None)

    daemon.runner = flaky
    daemon.pull("good")
    clock_of(daemon).advance(600)
    daemon.pull("good")
    assert daemon.states["good"].failures == 2
    clock_of(daemon).advance(1200)
    daemon.pull("good")
    assert daemon.states["good"].failures == 0 and daemon.states["good"].last_error is None


def test_an_internal_error_is_logged_and_backed_off_not_raised(daemon: Daemon) -> None:
    def broken(name: str) -> pipeline.JobResult:
        raise RuntimeError("bug")

    daemon.runner = broken
    daemon.pull("good")
    assert daemon.states["good"].failures == 1
    assert "internal error: RuntimeError: bug" in (daemon.states["good"].last_error or "")
    assert not daemon.busy


def test_a_bug_in_one_account_is_logged_with_its_traceback_and_a_token_store_failure_backs_off(
        daemon: Daemon, caplog: pytest.LogCaptureFixture) -> None:
    trace = "Traceback (most recent call last):\n  ...\nRuntimeError: a bug"
    daemon.runner = lambda name: pipeline.JobResult(
        [AccountSummary(name, error="internal error: RuntimeError: a bug", internal=trace)], None, None)
    with caplog.at_level("ERROR", logger="syncd"):
        daemon.pull("good")
    assert f"good: internal error (please report it):\n{trace}" in caplog.messages
    assert daemon.states["good"].failures == 1

    def locked(name: str) -> pipeline.JobResult:
        raise TokenStoreError("the system keyring is locked: unlock it (log in to your desktop) and try again")

    daemon.runner = locked
    daemon.pull("bad")
    assert daemon.states["bad"].failures == 1 and not daemon.busy
    assert daemon.states["bad"].last_error == ("the system keyring is locked: unlock it (log in to your desktop) and "
                                               "try again")


def test_a_calendar_failure_is_reported_on_its_own_without_backing_accounts_off(daemon: Daemon) -> None:
    calls: list[str] = []
    daemon.runner = fake_runner(calls, target_error="followups.ics: permission denied")
    daemon.pull("good")
    assert daemon.states["good"].failures == 0
    assert "follow-ups calendar needs attention: followups.ics: permission denied" in daemon.status_line()
    # Written again (any ApplyResult): the calendar is no longer reported.
    daemon.runner = lambda name: pipeline.JobResult([AccountSummary(name)], None, object())  # type: ignore[arg-type]
    daemon.pull("good")
    assert "calendar" not in daemon.status_line()


def test_a_clock_jump_forward_pulls_promptly_and_only_once(daemon: Daemon) -> None:
    calls: list[str] = []
    daemon.runner = fake_runner(calls)
    daemon.tick()
    assert calls == []  # nothing due yet
    clock_of(daemon).advance(5)
    daemon.tick()
    assert calls == []
    # An hour asleep: the monotonic clock stood still while the wall clock (and schedule's) ran on.
    clock_of(daemon).advance(5, suspended=JUMP_SECONDS + 3600)
    for job_ in daemon.jobs.values():
        job_.next_run = datetime.now() - timedelta(hours=1)  # what schedule sees after a real suspend
    daemon.tick()
    assert sorted(calls) == ["bad", "good"]  # promptly, and schedule's overdue jobs did not pull again
    assert all(job_.next_run is not None and job_.next_run > datetime.now() for job_ in daemon.jobs.values())


def test_a_clock_set_back_does_not_stall_the_rhythm(daemon: Daemon) -> None:
    daemon.jobs["good"].next_run = datetime.now() + timedelta(hours=5)  # the clock went back 5 h (or DST)
    daemon.tick()
    next_run = daemon.jobs["good"].next_run
    assert next_run is not None and next_run - datetime.now() <= timedelta(minutes=12)


def test_sigusr1_pulls_now_even_a_backed_off_account(daemon: Daemon) -> None:
    calls: list[str] = []
    daemon.runner = fake_runner(calls)
    daemon.pull("bad")
    daemon.pull_requested = True
    daemon.tick()
    assert sorted(calls) == ["bad", "bad", "good"]


def test_a_stop_request_skips_the_remaining_pulls(daemon: Daemon) -> None:
    calls: list[str] = []

    def stopping(name: str) -> pipeline.JobResult:
        daemon.stopping = True  # SIGTERM arrives during the first account's pull
        return fake_runner(calls)(name)

    daemon.runner = stopping
    daemon.pull_now(["good", "bad"], "test")
    assert calls == ["good"]


def test_sighup_with_a_broken_config_keeps_the_old_one(daemon: Daemon) -> None:
    daemon.config_path.write_text("[accounts.good]\nprovder = 'x'\n")
    daemon.reload_requested = True
    daemon.tick()
    assert set(daemon.config.accounts) == {"good", "bad"}
    assert "config reload failed, still on the previous one" in daemon.status_line()
    daemon.states["bad"].last_error = "token revoked"
    daemon.config_path.write_text(CONFIG.format(path=daemon.config.accounts["good"].path).split("[accounts.bad]")[0])
    daemon.reload_requested = True
    daemon.tick()
    assert set(daemon.config.accounts) == {"good"} and daemon.reload_error is None
    assert set(daemon.jobs) == set(daemon.states) == {"good"}
    assert "bad" not in daemon.status_line()  # a removed account is no longer reported


def test_status_counts_todays_follow_ups_and_the_next_real_pull(daemon: Daemon, tmp_path: Path) -> None:
    daemon.store = Store(tmp_path / "state.sqlite3")
    zone = daemon.config.followups.timezone
    today = datetime.now(zone).replace(hour=12, minute=0, second=0, microsecond=0)
    rows = [("a", today, "active"), ("b", today.replace(hour=0, minute=30), "active"), ("c", today, "dismissed"),
            ("d", today + timedelta(days=1), "active")]
    for key, start, state in rows:
        daemon.store.db.execute(
            "INSERT INTO followups(key, person, origin, due, planned_start, state, updated) VALUES (?,?,?,?,?,?,?)",
            (key, key, "cycle", start.date().isoformat(), start.astimezone(UTC).isoformat(), state, "x"),
        )
    assert "2 follow-ups due today" in daemon.status_line()
    # Both accounts backed off for hours: the next pull is then, not at their jobs' next tick.
    daemon.runner = lambda name: pipeline.JobResult([AccountSummary(name, error="down")], None, None)
    daemon.states["good"].failures = daemon.states["bad"].failures = 6
    daemon.pull("good")
    daemon.pull("bad")
    assert f"next pull {datetime.now() + timedelta(hours=6):%H:%M}" in daemon.status_line()
    daemon.store.close()


def test_log_lines_carry_syslog_levels_only_under_journald(monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    import logging

    from syncd.service.daemon import log, setup_logging

    monkeypatch.setenv("JOURNAL_STREAM", "8:1234")
    setup_logging(0)
    log.warning("account work: token revoked")
    log.info("pulled")
    log.error("two\nlines")
    assert capsys.readouterr().err == "<4>account work: token revoked\n<6>pulled\n<3>two\n<3>lines\n"
    monkeypatch.delenv("JOURNAL_STREAM")
    setup_logging(0)
    log.error("boom")
    assert capsys.readouterr().err == "syncd: error: boom\n"
    log.setLevel(logging.WARNING)


def test_the_watchdog_is_fed_between_the_batches_of_a_long_pull(daemon: Daemon, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "notify"))
    sock.settimeout(1)
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "notify"))
    monkeypatch.setenv("WATCHDOG_USEC", "20000000")  # ping every 10 s
    monkeypatch.delenv("WATCHDOG_PID", raising=False)

    def long_pull(name: str) -> pipeline.JobResult:
        for seen in range(0, 60_000, 1000):  # one batch a second, for a minute: longer than the watchdog
            clock_of(daemon).advance(1)
            daemon._progress(name, seen, 60_000)
            assert not daemon._should_stop()
        return pipeline.JobResult([AccountSummary(name)], None, None)

    daemon.runner = long_pull
    daemon.pull("good")
    pings = []
    while True:
        try:
            pings.append(sock.recv(4096).decode())
        except TimeoutError:
            break
    sock.close()
    assert len(pings) == 6 and all(p.startswith("WATCHDOG=1\n") for p in pings)  # 60 s of batches / 10 s
    assert "STATUS=pulling good: 9,000 of 60,000 items" in pings[0]


def test_signal_handlers_take_no_lock(daemon: Daemon) -> None:
    """A handler runs between two bytecodes of the main thread, possibly while it holds a lock; one that
    took a lock (threading.Event.set did) could wait on the loop's own lock forever, and the service hung
    on a SIGHUP or SIGTERM about one time in ten. The handlers only set flags (syncd.service.wakeup)."""
    calls: list[str] = []

    def watch(_frame: object, event: str, arg: object) -> None:
        if event == "c_call":
            calls.append(getattr(arg, "__qualname__", repr(arg)))

    sys.setprofile(watch)
    try:
        for signum in (signal.SIGHUP, signal.SIGUSR1, signal.SIGTERM):
            daemon._signal(signum, None)
    finally:
        sys.setprofile(None)
    assert not [name for name in calls if "acquire" in name or "__enter__" in name], calls
    assert daemon.reload_requested and daemon.pull_requested and daemon.stopping


# ---- the real thing, as a subprocess -------------------------------------------------------------------


def _start(config: Path, state: Path, notify_path: Path | None, *options: str, **env: str) -> subprocess.Popen[bytes]:
    environment = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(state), "SYNCD_STATE_DIR": str(state),
                   **env}
    if notify_path is not None:
        environment["NOTIFY_SOCKET"] = str(notify_path)
    return subprocess.Popen(
        [sys.executable, "-c", "from syncd.cli import main; main()", "--config", str(config), *options, "run"],
        env=environment, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )


def _messages(sock: socket.socket, until: str, timeout: float = 20) -> list[str]:
    got: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            got.extend(sock.recv(65536).decode().split("\n"))
        except TimeoutError:
            continue
        if any(m.startswith(until) for m in got):
            return got
    raise AssertionError(f"no {until} within {timeout}s; got {got}")


@pytest.fixture
def notify_socket(tmp_path: Path) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "notify"))
    sock.settimeout(0.5)
    return sock


def test_service_lifecycle(tmp_path: Path, notify_socket: socket.socket) -> None:
    config = write_sample(tmp_path / "sample")
    config.write_text(config.read_text().replace('me = ["sam@example.com"]', 'me = ["sam@example.com"]\ninterval = "2s"'))
    state = tmp_path / "state"
    daemon = _start(config, state, tmp_path / "notify", WATCHDOG_USEC="400000")
    try:
        got = _messages(notify_socket, "READY=1")
        got += _messages(notify_socket, "WATCHDOG=1")
        got += _messages(notify_socket, "WATCHDOG=1")
        statuses = [m for m in got if m.startswith("STATUS=")]
        assert any("next pull" in s and "follow-ups due today" in s for s in statuses), statuses
        assert not any("needs attention" in s for s in statuses), statuses
        # SIGHUP with a broken config: still running, on the old one, and saying so.
        good = config.read_text()
        config.write_text(good + "\n[bogus]\n")
        daemon.send_signal(signal.SIGHUP)
        got = _messages(notify_socket, "RELOADING=1")
        deadline = time.monotonic() + 10
        while not any("config reload failed" in m for m in got) and time.monotonic() < deadline:
            got += _messages(notify_socket, "WATCHDOG=1")
        assert any("config reload failed" in m for m in got)
        assert "READY=1" in got[got.index("RELOADING=1"):]  # sd_notify(3): reload done, on the old config
        assert daemon.poll() is None
        config.write_text(good)
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=30) == 0
        assert "STOPPING=1" in _messages(notify_socket, "STOPPING=1")
        stderr = daemon.stderr.read().decode() if daemon.stderr else ""
        assert "sample-mail: pulled, 58 new" in stderr and "Traceback" not in stderr
        assert "[bogus]" in stderr or "bogus" in stderr  # the broken key is named in the log
    finally:
        if daemon.poll() is None:
            daemon.kill()
        notify_socket.close()


def test_a_failing_account_backs_off_while_another_keeps_its_rhythm_live(tmp_path: Path) -> None:
    config = write_sample(tmp_path / "sample")
    text = config.read_text().replace('me = ["sam@example.com"]', 'me = ["sam@example.com"]\ninterval = "1s"')
    text += f'\n[accounts.gone]\nprovider = "maildir"\npath = "{tmp_path / "nowhere"}"\nme = ["sam@example.com"]\n' \
            'interval = "1s"\n'
    config.write_text(text)
    daemon = _start(config, tmp_path / "state", None, "-vv")
    # Watched until the missing folder has failed three times (tried at 0, 1 and 3 s: waits of 1, 2, 4 s),
    # not for a fixed time, so a slow machine changes how long it takes, not what it shows.
    lines: list[str] = []
    assert daemon.stderr is not None
    for raw in daemon.stderr:
        lines.append(raw.decode())
        if sum(line.startswith("syncd: warning: gone:") for line in lines) == 3:
            break
    daemon.send_signal(signal.SIGTERM)
    assert daemon.wait(timeout=30) == 0
    stderr = "".join(lines)
    good = stderr.count("sample-mail: pulled")
    failures = [line for line in lines if line.startswith("syncd: warning: gone:")]
    assert [f.split("next try in ")[1].strip() for f in failures] == ["0:00:01", "0:00:02", "0:00:04"], stderr
    # Meanwhile the good account kept its one-second rhythm: more pulls than the failing one's tries.
    assert good > len(failures), stderr


def test_the_service_waits_for_a_running_pull_and_a_stop_ends_the_wait(tmp_path: Path,
                                                                        notify_socket: socket.socket) -> None:
    from tests.support.lock import hold_lock

    config = write_sample(tmp_path / "sample")
    state = tmp_path / "state"
    state.mkdir()
    holder = hold_lock(state, "pull", 30)
    try:
        daemon = _start(config, state, tmp_path / "notify")
        with pytest.raises(AssertionError, match="no READY=1"):
            _messages(notify_socket, "READY=1", timeout=1.5)  # not ready while `syncd pull` writes
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=5) == 0
    finally:
        holder.kill()
        holder.wait()
        notify_socket.close()


def test_sigterm_mid_pull_exits_0_and_the_next_start_resumes(tmp_path: Path) -> None:
    mail = tmp_path / "mail"
    gen_maildir.generate(mail, messages=12000, folders=2, people=300)
    config = tmp_path / "config.toml"
    config.write_text(f'[accounts.big]\nprovider = "maildir"\npath = "{mail}"\nme = ["me@example.com"]\n'
                      f'[followups]\nics_path = "{tmp_path / "f.ics"}"\ntimezone = "UTC"\n')
    state = tmp_path / "state"
    daemon = _start(config, state, None)
    db_path = state / "syncd.sqlite3"
    deadline = time.monotonic() + 60
    seen = 0
    while time.monotonic() < deadline and seen == 0:
        time.sleep(0.01)
        try:
            db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=0.1)
            seen = db.execute("SELECT COUNT(*) FROM sightings").fetchone()[0]
            db.close()
        except sqlite3.Error:
            continue
    daemon.send_signal(signal.SIGTERM)
    assert daemon.wait(timeout=30) == 0
    db = sqlite3.connect(db_path)
    partial = db.execute("SELECT COUNT(*) FROM sightings").fetchone()[0]
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.close()
    assert 0 < partial < 12000, "the daemon was not stopped mid-pull: nothing was tested"
    assert not (tmp_path / "f.ics").exists()  # stopped before recompute: no half-planned calendar
    # The next start resumes (the interrupted pull is not a success, so it catches up at once) and completes.
    daemon = _start(config, state, None)
    deadline = time.monotonic() + 60
    total = partial
    while time.monotonic() < deadline and not (tmp_path / "f.ics").exists():
        time.sleep(0.2)
    daemon.send_signal(signal.SIGTERM)
    assert daemon.wait(timeout=30) == 0
    db = sqlite3.connect(db_path)
    total = db.execute("SELECT COUNT(*) FROM sightings").fetchone()[0]
    db.close()
    assert total == 12000
