"""IMAP mail (``provider = "imap"``): message headers over IMAP4rev1 with TLS, read incrementally by UID.

``session`` opens and logs in one connection and turns every protocol failure into one sentence;
``folders`` chooses what is read (INBOX, the special-use \\Sent folder, configured extras); ``source``
reads them incrementally; ``login`` is ``syncd auth login`` for a password account.
"""

from __future__ import annotations

from connectors import password
from connectors.base import Provider
from connectors.settings import REQUIRED, Key, positive_int, string

IMAP = Provider(
    "imap",
    (
        Key("host", string, REQUIRED, "the IMAP server, e.g. imap.fastmail.com"),
        Key("security", string, "tls", "\"tls\" (port 993), \"starttls\" (port 143), or \"plain\" (only for a "
            "server on this machine)", choices=("tls", "starttls", "plain")),
        Key("port", positive_int, None, "the server's port (default: 993 for tls, 143 otherwise)"),
        Key("folders", string, (), "folders read besides INBOX and the sent folder", many=True),
        *password.KEYS,
    ),
    source="connectors.imap.source:ImapSource",
    login="connectors.imap.login",
    revoke_page="your mail provider's app-password settings (if you made one for syncd)",
    guesses_owner=True,  # without `me`, from the sent folder's senders, like a Maildir
)
