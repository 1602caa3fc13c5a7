"""``syncd run``: systemd notifications, signals, back-off, catch-up after a clock jump, one writer."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from syncd import job
from syncd.daemon import JUMP_SECONDS, Daemon
from syncd.errors import StateError
from syncd.lock import writer_lock
from syncd.notify import notify, watchdog_seconds
from syncd.pull import AccountSummary
from syncd.sample import write_sample
from tests.test_crash import gen_maildir

ROOT = Path(__file__).resolve().parents[1]


# ---- notify and lock --------------------------------------------------------------------------------


@pytest.fixture
def notify_socket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    path = tmp_path / "notify"
    sock.bind(str(path))
    sock.settimeout(5)
    monkeypatch.setenv("NOTIFY_SOCKET", str(path))
    yield sock
    sock.close()


def test_notify_sends_one_datagram(notify_socket: socket.socket) -> None:
    assert notify("READY=1", "STATUS=hello")
    assert notify_socket.recv(4096) == b"READY=1\nSTATUS=hello"


def test_notify_outside_systemd_is_a_no_op(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert not notify("READY=1")
    monkeypatch.setenv("NOTIFY_SOCKET", "vsock:2:1234")
    assert not notify("READY=1")
    monkeypatch.setenv("NOTIFY_SOCKET", "/nonexistent/socket")
    assert not notify("READY=1")


def test_watchdog_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    monkeypatch.setenv("WATCHDOG_USEC", "30000000")
    assert watchdog_seconds() == 15.0
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid() + 1))
    assert watchdog_seconds() is None  # meant for another process
    monkeypatch.delenv("WATCHDOG_USEC")
    assert watchdog_seconds() is None


def test_lock_keeps_writers_apart_and_names_the_service(tmp_path: Path) -> None:
    busy = rf"service is running \(pid {os.getpid()}\).*kill -USR1"
    with writer_lock(tmp_path, "run"), pytest.raises(StateError, match=busy), writer_lock(tmp_path, "pull", 0.2):
        pass
    # Released when its holder is done; a second pull is named as such.
    with (
        writer_lock(tmp_path, "pull"),
        pytest.raises(StateError, match="another 'syncd pull' is running"),
        writer_lock(tmp_path, "pull", 0),
    ):
        pass


# ---- the loop, with a fake clock ---------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.mono = 1000.0
        self.wall_time = 1_800_000_000.0

    def monotonic(self) -> float:
        return self.mono

    def wall(self) -> float:
        return self.wall_time

    def advance(self, seconds: float, suspended: float = 0.0) -> None:
        self.mono += seconds
        self.wall_time += seconds + suspended  # the monotonic clock stops during a suspend


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


def fake_runner(calls: list[str]):  # type: ignore[no-untyped-def]
    def run(name: str) -> job.JobResult:
        calls.append(name)
        summary = AccountSummary(name, error="token revoked" if name == "bad" else None)
        return job.JobResult([summary], None, None)

    return run


def test_a_failing_account_backs_off_while_the_other_keeps_its_rhythm(daemon: Daemon) -> None:
    calls: list[str] = []
    daemon.runner = fake_runner(calls)
    clock = daemon.clock
    assert isinstance(clock, FakeClock)
    for _ in range(12):  # two hours of ten-minute ticks
        daemon.pull("good")
        daemon.pull("bad")
        clock.advance(600)
    assert calls.count("good") == 12
    # bad: tried at 0, then after 10 min, 20 min, 40 min, 80 min... never every tick.
    assert 3 <= calls.count("bad") <= 5
    assert daemon.states["bad"].failures == calls.count("bad")
    assert "account bad needs attention: bad: token revoked" in daemon.status_line()
    assert "good" not in daemon.status_line().split("needs attention")[0].split("·")[-1]


def test_success_resets_the_back_off(daemon: Daemon) -> None:
    outcomes = iter([True, True, False])

    def flaky(name: str) -> job.JobResult:
        return job.JobResult([AccountSummary(name, error="down" if next(outcomes) else None)], None, None)

    daemon.runner = flaky
    clock = daemon.clock
    assert isinstance(clock, FakeClock)
    daemon.pull("good")
    clock.advance(600)
    daemon.pull("good")
    assert daemon.states["good"].failures == 2
    clock.advance(1200)
    daemon.pull("good")
    assert daemon.states["good"].failures == 0 and daemon.states["good"].last_error is None


def test_an_internal_error_is_logged_and_backed_off_not_raised(daemon: Daemon) -> None:
    def broken(name: str) -> job.JobResult:
        raise RuntimeError("bug")

    daemon.runner = broken
    daemon.pull("good")
    assert daemon.states["good"].failures == 1
    assert "internal error: RuntimeError: bug" in (daemon.states["good"].last_error or "")


def test_a_clock_jump_forward_triggers_a_prompt_pull(daemon: Daemon) -> None:
    calls: list[str] = []
    daemon.runner = fake_runner(calls)
    clock = daemon.clock
    assert isinstance(clock, FakeClock)
    daemon.tick()
    assert calls == []  # nothing due yet
    clock.advance(5)
    daemon.tick()
    assert calls == []
    clock.advance(5, suspended=JUMP_SECONDS + 3600)  # an hour asleep
    daemon.tick()
    assert sorted(calls) == ["bad", "good"]


def test_sighup_with_a_broken_config_keeps_the_old_one(daemon: Daemon) -> None:
    daemon.config_path.write_text("[accounts.good]\nprovder = 'x'\n")
    daemon.reload_requested = True
    daemon.tick()
    assert set(daemon.config.accounts) == {"good", "bad"}
    assert "config reload failed, still on the previous one" in daemon.status_line()
    daemon.config_path.write_text(CONFIG.format(path=daemon.config.accounts["good"].path).split("[accounts.bad]")[0])
    daemon.reload_requested = True
    daemon.tick()
    assert set(daemon.config.accounts) == {"good"} and daemon.reload_error is None


# ---- the real thing, as a subprocess -------------------------------------------------------------------


def _start(config: Path, state: Path, notify_path: Path | None, **env: str) -> subprocess.Popen[bytes]:
    environment = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(state), "SYNCD_STATE_DIR": str(state),
                   **env}
    if notify_path is not None:
        environment["NOTIFY_SOCKET"] = str(notify_path)
    return subprocess.Popen(
        [sys.executable, "-c", "from syncd.cli import main; main()", "--config", str(config), "run"],
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


@pytest.mark.slow
def test_service_lifecycle(tmp_path: Path) -> None:
    config = write_sample(tmp_path / "sample")
    config.write_text(config.read_text().replace('me = ["sam@example.com"]', 'me = ["sam@example.com"]\ninterval = "2s"'))
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "notify"))
    sock.settimeout(0.5)
    state = tmp_path / "state"
    daemon = _start(config, state, tmp_path / "notify", WATCHDOG_USEC="400000")
    try:
        got = _messages(sock, "READY=1")
        got += _messages(sock, "WATCHDOG=1")
        got += _messages(sock, "WATCHDOG=1")
        statuses = [m for m in got if m.startswith("STATUS=")]
        assert any("next pull" in s and "follow-ups due today" in s for s in statuses), statuses
        # The lock keeps `syncd pull` away, and says why.
        pull = subprocess.run(
            [sys.executable, "-c", "from syncd.cli import main; main()", "--config", str(config), "pull"],
            env={"PATH": os.environ.get("PATH", ""), "SYNCD_STATE_DIR": str(state), "SYNCD_LOCK_WAIT": "0.5"},
            cwd=ROOT, capture_output=True, text=True, timeout=60,
        )
        assert pull.returncode == 3 and "the syncd service is running" in pull.stderr
        # SIGHUP with a broken config: still running, on the old one.
        good = config.read_text()
        config.write_text(good + "\n[bogus]\n")
        daemon.send_signal(signal.SIGHUP)
        got = _messages(sock, "STATUS=next pull")
        deadline = time.monotonic() + 10
        while not any("config reload failed" in m for m in got) and time.monotonic() < deadline:
            got += _messages(sock, "WATCHDOG=1")
        assert any("config reload failed" in m for m in got)
        assert daemon.poll() is None
        config.write_text(good)
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=30) == 0
        assert "STOPPING=1" in _messages(sock, "STOPPING=1")
        stderr = daemon.stderr.read().decode() if daemon.stderr else ""
        assert "sample-mail: pulled, 58 new" in stderr and "Traceback" not in stderr
    finally:
        if daemon.poll() is None:
            daemon.kill()
        sock.close()


@pytest.mark.slow
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
    # The next start resumes and completes.
    daemon = _start(config, state, None)
    deadline = time.monotonic() + 60
    total = partial
    while time.monotonic() < deadline and total < 12000:
        time.sleep(0.2)
        db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=1)
        total = db.execute("SELECT COUNT(*) FROM sightings").fetchone()[0]
        db.close()
    daemon.send_signal(signal.SIGTERM)
    assert daemon.wait(timeout=30) == 0
    assert total == 12000


def test_log_lines_carry_syslog_levels_only_under_journald(monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    import logging

    from syncd.daemon import log, setup_logging

    monkeypatch.setenv("JOURNAL_STREAM", "8:1234")
    setup_logging(0)
    log.warning("account work: token revoked")
    log.info("pulled")
    assert capsys.readouterr().err == "<4>account work: token revoked\n<6>pulled\n"
    monkeypatch.delenv("JOURNAL_STREAM")
    setup_logging(0)
    log.error("boom")
    assert capsys.readouterr().err == "syncd: error: boom\n"
    log.setLevel(logging.WARNING)
