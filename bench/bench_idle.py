"""Idle cost of ``syncd run``: three accounts, nothing changing; CPU seconds per hour and RSS.

    .venv/bin/python bench/bench_idle.py --seconds 120 --interval 15m

The daemon is started on the bundled sample (a maildir, an .ics export, and an mbox made from the
maildir), given time to do its first pulls, then watched for ``--seconds``. CPU comes from
/proc/PID/stat (utime + stime), memory from /proc/PID/status (VmRSS, VmHWM). Targets (issue 6):
< 2 CPU s per hour, < 80 MB RSS. A short ``--interval`` shows the cost of the pulls themselves too.
"""

from __future__ import annotations

import argparse
import mailbox
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from syncd.sample import write_sample

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def memory_mb(pid: int) -> tuple[float, float]:
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) / 1024
    return values["VmRSS"], values["VmHWM"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--interval", default="15m")
    parser.add_argument("--settle", type=float, default=10, help="seconds for the first pulls before measuring")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="syncd-idle-") as tmp:
        root = Path(tmp)
        config = write_sample(root / "sample")
        box = mailbox.mbox(str(root / "sample.mbox"))
        for path in sorted((root / "sample" / "mail" / "cur").iterdir()):
            box.add(path.read_bytes())
        box.close()
        text = config.read_text().replace('me = ["sam@example.com"]', f'me = ["sam@example.com"]\ninterval = "{args.interval}"')
        text += (f'\n[accounts.sample-mbox]\nprovider = "mbox"\npath = "{root / "sample.mbox"}"\n'
                 f'me = ["sam@example.com"]\ninterval = "{args.interval}"\n')
        config.write_text(text)
        # As under systemd: a notify socket that is read (the daemon sends STATUS= and WATCHDOG=1 each turn)
        # and the unit's WatchdogSec=5min.
        notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        notify.bind(str(root / "notify"))
        notify.setblocking(False)
        env = {**os.environ, "SYNCD_STATE_DIR": str(root / "state"), "NOTIFY_SOCKET": str(root / "notify"),
               "WATCHDOG_USEC": "300000000"}
        daemon = subprocess.Popen([sys.executable, "-c", "from syncd.cli import main; main()", "--config", str(config),
                                   "run"], env=env, stderr=subprocess.DEVNULL)
        try:
            time.sleep(args.settle)
            start_cpu, start = cpu_seconds(daemon.pid), time.monotonic()
            messages = 0
            while time.monotonic() - start < args.seconds:
                time.sleep(1)
                while True:
                    try:
                        notify.recv(65536)
                        messages += 1
                    except BlockingIOError:
                        break
            used, elapsed = cpu_seconds(daemon.pid) - start_cpu, time.monotonic() - start
            rss, peak = memory_mb(daemon.pid)
        finally:
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(timeout=30)
        print(f"syncd run, 3 accounts, interval {args.interval}, watched {elapsed:.0f} s after {args.settle:.0f} s")
        resolution = 3600 / TICKS / elapsed  # one clock tick over the window, per hour
        print(f"  CPU: {used:.2f} s in {elapsed:.0f} s -> {used * 3600 / elapsed:.2f} CPU s per hour (target < 2; "
              f"resolution {resolution:.2f} s/h: one {1000 / TICKS:.0f} ms tick over the window)")
        print(f"  notify messages while idle: {messages} ({messages * 3600 / elapsed:.0f} per hour)")
        print(f"  RSS: {rss:.0f} MB now, {peak:.0f} MB peak (target < 80 MB)")
        print(f"  exit code after SIGTERM: {daemon.returncode}")


if __name__ == "__main__":
    main()
