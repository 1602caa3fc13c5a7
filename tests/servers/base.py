"""What every real test server needs: a free loopback port, a folder of its own, a wait until it listens on its own port,
a clean stop, and one rule for a server that is not installed.

A missing server skips its tests with a sentence naming the package to install; under ``CI=true`` it fails
instead, because CI installs every server (``.ci/run``) and a skip there would hide a missing install step.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, NoReturn

import pytest

START_SECONDS = 30.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now (the server binds it right after)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def missing(what: str, package: str) -> NoReturn:
    """Skip (locally) or fail (under CI=true) a test whose server is not installed."""
    message = f"{what} is not installed here: install {package} to run this test"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message + " (CI must install it: see .ci/run)")
    pytest.skip(message)


def unprivileged_user() -> tuple[int, int] | None:
    """The (uid, gid) a server drops to when the tests run as root (Dovecot refuses to serve mail as root);
    None when the tests already run as an ordinary user, who then runs the server too."""
    if os.geteuid() != 0:
        return None
    nobody = pwd.getpwnam("nobody")
    return nobody.pw_uid, nobody.pw_gid


def server_folder(prefix: str) -> Path:
    """A fresh temporary folder the server's user can write (outside pytest's root-only tmp folders)."""
    folder = Path(tempfile.mkdtemp(prefix=f"syncd-{prefix}-"))
    give_to_server(folder)
    return folder


def give_to_server(path: Path) -> None:
    """Hand ``path`` (recursively) to the server's user, when that is not the one running the tests."""
    user = unprivileged_user()
    if user is None:
        return
    os.chown(path, *user)
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            os.chown(os.path.join(root, name), *user, follow_symlinks=False)


def stderr_file(folder: Path) -> IO[bytes]:
    """Where a server's own output goes: a file in its folder, never a pipe nobody reads (a chatty server
    would block once the pipe's buffer is full)."""
    return (folder / "stderr.log").open("ab")


def listening(process: subprocess.Popen[bytes], *ports: int) -> bool:
    """Whether ``process`` itself holds a listening TCP socket on each of ``ports``. Not merely whether
    something answers there: between :func:`free_port` and the server's bind, another test's server (other
    workers, other runs on the machine) may take the port; this server then exits, and a test that only saw
    "something answers" would talk to the other one. Linux: the listening sockets of /proc/net/tcp{,6}
    matched by inode with the process's open file descriptors (proc(5))."""
    if process.poll() is not None:
        return False
    wanted: dict[str, int] = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                port = int(fields[1].rsplit(":", 1)[1], 16)
                if fields[3] == "0A" and port in ports:  # 0A: TCP_LISTEN
                    wanted[f"socket:[{fields[9]}]"] = port
    held = set()
    with contextlib.suppress(OSError):
        for fd in Path(f"/proc/{process.pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                held.add(os.readlink(fd))
    return {port for link, port in wanted.items() if link in held} == set(ports)


def wait_until(ready: Callable[[], bool], process: subprocess.Popen[bytes], what: str, log: Path | None = None,
               *, port_may_be_taken: bool = False) -> bool:
    """Wait for ``ready()``; fail the test with the server's own last words if it exits or takes too long.
    With ``port_may_be_taken``, a server that exited at start returns False instead (its port was taken
    meanwhile, :func:`listening`): the caller starts it again on another port."""
    deadline = time.monotonic() + START_SECONDS
    while not ready():
        if process.poll() is not None and port_may_be_taken:
            stop(process)
            return False
        if process.poll() is not None or time.monotonic() > deadline:
            stop(process)
            said = _tail(log) if log is not None else ""
            state = "exited at start" if process.returncode not in (None, -15) else f"did not answer in {START_SECONDS:.0f} s"
            pytest.fail(f"{what} {state}: {said}")
        time.sleep(0.05)
    return True


START_ATTEMPTS = 3  # a port taken between choosing and binding it, twice in a row, is not bad luck any more


def start_holding_its_ports(start_once: Callable[[bool], bool], other_ports: Callable[[], None]) -> None:
    """Start a server with ``start_once(port_may_be_taken)`` (see :func:`wait_until`); when it exited because
    its port was taken meanwhile, choose ``other_ports()`` and start it again; the last attempt fails the test
    with the server's own last words."""
    for attempt in range(1, START_ATTEMPTS + 1):
        if start_once(attempt < START_ATTEMPTS):
            return
        other_ports()


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    for stream in (process.stdout, process.stderr):
        if stream is not None:
            stream.close()


def remove(folder: Path) -> None:
    with contextlib.suppress(OSError):
        shutil.rmtree(folder)


def _tail(log: Path) -> str:
    try:
        return log.read_text(errors="replace")[-2000:]
    except OSError:
        return ""
