"""The README's walk-through: a Fastmail-like setup on this machine, Dovecot (IMAP) and Radicale (CalDAV) on
loopback, holding the bundled sample mailbox and calendar, and a syncd config for them.

    .venv/bin/python -m tests.servers.walkthrough /tmp/syncd-demo

Prints the passwords and what to run, then keeps both servers up until Ctrl-C.
"""

from __future__ import annotations

import shutil
import signal
import sys
from datetime import date
from pathlib import Path

from syncd.sample import OWNER, write_sample
from tests.servers import dav
from tests.servers.dovecot import PASSWORD, Dovecot
from tests.servers.radicale import Radicale

CONFIG = """\
[accounts.mail]
provider = "imap"
host = "127.0.0.1"
port = {port}
security = "starttls"
username = "{user}"
ca_file = "{ca_file}"
token_store = "file"
me = ["{me}"]

[accounts.calendar]
provider = "caldav"
url = "{url}"
username = "{dav_user}"
token_store = "file"
me = ["{me}"]

[followups]
target = "calendar"
"""


def main() -> None:
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/syncd-demo").resolve()
    folder.mkdir(parents=True, exist_ok=True)
    sample = folder / "sample"
    write_sample(sample, anchor=date.today())
    mail, radicale = Dovecot(), Radicale()
    try:
        user = mail.new_user("you")
        shutil.copytree(sample / "mail", mail.maildir(user))
        mail.hand_over(user)
        mail.start()
        radicale.start()
        account = dav.radicale_account(radicale)
        dav.load(account.calendar("Work"), (sample / "calendar.ics").read_bytes())
        (folder / "config.toml").write_text(CONFIG.format(
            port=mail.plain_port, user=user, ca_file=mail.cert, me=OWNER, url=radicale.url, dav_user=account.username))
        print(f"Dovecot: IMAP on 127.0.0.1:{mail.plain_port} (STARTTLS), user {user}, password {PASSWORD}")
        print(f"Radicale: CalDAV at {radicale.url}, user {account.username}, password {account.password}")
        print(f"export SYNCD_CONFIG={folder}/config.toml SYNCD_STATE_DIR={folder}/state")
        print("then: syncd auth login mail; syncd auth login calendar; syncd pull   (Ctrl-C here stops the servers)")
        stop = {signal.SIGINT, signal.SIGTERM}
        signal.pthread_sigmask(signal.SIG_BLOCK, stop)  # wait for either here, so the servers are always stopped
        signal.sigwait(stop)
    finally:
        mail.stop()
        radicale.stop()


if __name__ == "__main__":
    main()
