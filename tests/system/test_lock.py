"""One writer at a time (docs/systemd.md#timer): the service and `syncd pull` share a flock in the state folder."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from syncd.errors import ExitCode, StateError
from syncd.service.lock import writer_lock
from tests.support.lock import hold_lock
from tests.support.paths import ROOT


def test_a_second_writer_is_told_the_service_is_running(tmp_path: Path) -> None:
    holder = hold_lock(tmp_path, "run", 30)
    try:
        started = time.monotonic()
        with pytest.raises(StateError, match=rf"service is running \(pid {holder.pid}\).*kill -USR1 {holder.pid}"), \
                writer_lock(tmp_path, "pull", 0.3):
            pass
        assert time.monotonic() - started >= 0.3  # it waited for its wait, then said so
    finally:
        holder.kill()
        holder.wait()


def test_a_second_pull_is_named_as_such(tmp_path: Path) -> None:
    with (
        writer_lock(tmp_path, "pull"),
        pytest.raises(StateError, match="another 'syncd pull' is running"),
        writer_lock(tmp_path, "pull", 0),
    ):
        pass


def test_the_wait_ends_when_the_holder_finishes(tmp_path: Path) -> None:
    holder = hold_lock(tmp_path, "pull", 0.5)
    try:
        with writer_lock(tmp_path, "pull", 10):
            assert (tmp_path / "lock").read_text() == f"{os.getpid()} pull\n"
    finally:
        holder.wait()


def test_a_crashed_holder_leaves_no_stale_lock(tmp_path: Path) -> None:
    holder = hold_lock(tmp_path, "run", 30)
    holder.kill()  # SIGKILL: no cleanup runs; the kernel drops the flock with the descriptor
    holder.wait()
    with writer_lock(tmp_path, "pull", 0):
        pass


def test_a_stop_request_ends_the_wait(tmp_path: Path) -> None:
    stop = threading.Event()
    with writer_lock(tmp_path, "pull"):
        threading.Timer(0.2, stop.set).start()
        started = time.monotonic()
        with pytest.raises(StateError), writer_lock(tmp_path, "run", 30, cancelled=stop.is_set):
            pass
        assert time.monotonic() - started < 15  # well short of the 30 s it would otherwise wait


def test_syncd_pull_waits_briefly_then_exits_3_naming_the_service(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    config = tmp_path / "config.toml"
    (tmp_path / "mail").mkdir()
    config.write_text(f'[accounts.a]\nprovider = "maildir"\npath = "{tmp_path / "mail"}"\nme = ["me@example.com"]\n')
    holder = hold_lock(state, "run", 30)
    try:
        pull = subprocess.run(
            [sys.executable, "-c", "from syncd.cli import main; main()", "--config", str(config), "pull"],
            env={"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "SYNCD_STATE_DIR": str(state),
                 "SYNCD_LOCK_WAIT": "0.5"},
            cwd=ROOT, capture_output=True, text=True, timeout=60,
        )
    finally:
        holder.kill()
        holder.wait()
    assert pull.returncode == ExitCode.STATE
    assert f"the syncd service is running (pid {holder.pid})" in pull.stderr
    assert "Traceback" not in pull.stderr
