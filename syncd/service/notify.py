"""The systemd notification protocol (sd_notify(3)) in a few lines, without a dependency.

READY=1 after start-up, STATUS= lines for ``systemctl --user status syncd``, WATCHDOG=1 keep-alives,
STOPPING=1 on the way out. Outside systemd ($NOTIFY_SOCKET unset) every call is a no-op.
"""

from __future__ import annotations

import os
import socket


def notify(*states: str) -> bool:
    """Send ``states`` (e.g. "READY=1", "STATUS=...") in one datagram; False when not under systemd."""
    address = os.environ.get("NOTIFY_SOCKET", "")
    if not address or address[0] not in "/@":
        return False  # unset, or a scheme we do not speak (e.g. vsock:): docs/systemd.md#sd_notify
    if address[0] == "@":
        address = "\0" + address[1:]  # the abstract namespace
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            # MSG_DONTWAIT: when the receiver's queue is full (net.unix.max_dgram_qlen datagrams, 10 by
            # default) a blocking send would hang the daemon until someone reads; a dropped message is
            # harmless, the next STATUS= or WATCHDOG=1 follows within half a watchdog period.
            sock.send("\n".join(states).encode(), socket.MSG_DONTWAIT)
    except OSError:
        return False  # systemd went away, or is not reading: never fatal, never blocking
    return True


def watchdog_seconds() -> float | None:
    """How often to send WATCHDOG=1: half of $WATCHDOG_USEC, when it is meant for this process."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    try:
        return max(int(usec) / 2_000_000, 0.01)
    except ValueError:
        return None
