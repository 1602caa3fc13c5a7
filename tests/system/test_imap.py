"""The IMAP source against a real Dovecot on loopback: headers only and no flag ever changed, one STATUS per
folder when nothing is new, new and expunged messages (with QRESYNC and by counts), a renumbered, renamed or
vanished folder, headers that do not parse, a connection cut mid-FETCH, garbage, a wrong password, an untrusted
certificate, a password command; and the pure parts (folder choice, timestamps, VANISHED sets)."""

from __future__ import annotations

import imaplib
import json
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest

from connectors.base import AuthRequired, Batch, ConnectorError, CursorExpired, Source, SourceUnavailable
from connectors.imap import source as imap_source
from connectors.imap.folders import choose
from connectors.imap.session import TIMEOUT_SECONDS
from connectors.imap.source import FolderState, ImapSource, _uid_sets, timestamp
from connectors.password import run_password_command
from syncd.store import Store
from tests.fakes.known import StoreKnown, pull_into
from tests.fakes.slot import MemorySlot
from tests.servers import shared
from tests.servers.dovecot import PASSWORD, Dovecot
from tests.servers.faults import GarbageServer, ImapProxy, ImapRule, TcpProxy

pytestmark = pytest.mark.slow
ME = "sam@example.com"
NOW = datetime.now(UTC).replace(microsecond=0)


class Mailbox:
    """One Dovecot user: syncd's source for it, and another client's session to change its mail."""

    def __init__(self, server: Dovecot) -> None:
        self.server = server
        self.user = server.new_user("imap")
        self.store = Store(":memory:")
        self.store.accounts.ensure("acct", "imap")
        self.n = 0

    def source(self, timeout: float = TIMEOUT_SECONDS, **extra: Any) -> ImapSource:
        return ImapSource("acct", self.server.settings(self.user, **extra), MemorySlot(json.dumps({"password": PASSWORD})),
                          timeout=timeout)

    def add(self, folder: str = "INBOX", sender: str = "ann@example.org", to: str = ME, *, days: int = 1,
            flags: str | None = None, raw: bytes | None = None, subject: str = "") -> None:
        self.n += 1
        message = raw or (f"From: {sender}\r\nTo: {to}\r\nSubject: {subject or f'message {self.n}'}\r\n"
                          f"Message-ID: <m{self.n}.{self.user}@example.org>\r\n"
                          f"Date: {format_datetime(NOW - timedelta(days=days))}\r\n\r\nA body.\r\n").encode()
        with self.server.admin(self.user) as admin:
            admin.append(folder, flags, None, message)

    def admin(self) -> Any:
        return self.server.admin(self.user)

    def pull(self, source: Source) -> list[Batch]:
        """As syncd.pull does: each batch committed with its cursor, a renumbered folder read again."""
        for _ in range(3):
            try:
                return pull_into(self.store, source)
            except CursorExpired as expired:
                self.store.synced.reset_cursor("acct", expired.resource)
        raise AssertionError("the cursor kept expiring")

    def count(self, table: str = "interactions") -> int:
        return self.store.count(table)


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    yield Mailbox(shared.dovecot())


def _flags(box: Mailbox, folder: str) -> dict[int, set[bytes]]:
    with box.admin() as admin:
        admin.select(folder, readonly=True)
        _, data = admin.uid("FETCH", "1:*", "(FLAGS)")
    out = {}
    for line in data:
        text = line.decode() if isinstance(line, bytes) else str(line)
        uid = int(text.split("UID ")[1].split()[0].rstrip(")"))
        out[uid] = set(imaplib.ParseFlags(line)) if isinstance(line, bytes) else set()
    return out


def test_only_headers_are_read_and_no_flag_changes(mailbox: Mailbox) -> None:
    mailbox.add(flags="(\\Seen)", subject="Read already")
    mailbox.add(flags="(\\Flagged)", subject="Starred")
    mailbox.add(subject="Unread")
    mailbox.add("Sent", sender=ME, to="Bob Okafor <bob@example.net>", subject="Proposal")
    before = {folder: _flags(mailbox, folder) for folder in ("INBOX", "Sent")}
    source = mailbox.source()
    batches = mailbox.pull(source)
    assert {folder: _flags(mailbox, folder) for folder in ("INBOX", "Sent")} == before
    assert all("body_count=0" in line for line in mailbox.server.logouts(mailbox.user))
    items = [i for b in batches for i in b.interactions]
    assert sorted(i.subject or "" for i in items) == ["Proposal", "Read already", "Starred", "Unread"]
    assert {b.resource for b in batches} == {"INBOX", "Sent"}
    assert all(i.provider_id.split("/")[0] in ("INBOX", "Sent") and i.message_id for i in items)
    # Without `me`, the owner is guessed from the special-use \Sent folder (said so in the summary).
    assert [b.owner_addresses for b in batches if b.resource == "Sent"] == [[ME]]


def test_a_pull_with_nothing_new_costs_one_status_per_folder(mailbox: Mailbox) -> None:
    mailbox.add()
    with mailbox.admin() as admin:
        admin.create("Archive")
    mailbox.add("Archive")

    def idle_commands(**extra: Any) -> int:
        source = mailbox.source(**extra)
        mailbox.pull(source)
        again = mailbox.pull(source)
        assert again == []  # nothing yielded, nothing committed
        assert source.session is not None
        return source.session.commands

    two, three = idle_commands(), idle_commands(folders=("Archive",))
    assert three - two == 1  # a third folder costs exactly one command (its STATUS) when nothing changed


@pytest.mark.parametrize("server", [shared.dovecot, shared.dovecot_without_condstore], ids=["qresync", "counts"])
def test_new_and_expunged_messages(server: Callable[[], Dovecot]) -> None:
    mailbox = Mailbox(server())
    for _ in range(4):
        mailbox.add()
    source = mailbox.source(me=(ME,))
    mailbox.pull(source)
    assert mailbox.count() == 4
    with mailbox.admin() as admin:
        admin.select("INBOX")
        admin.uid("STORE", "2", "+FLAGS", "(\\Deleted)")
        admin.expunge()
    mailbox.add(subject="Fresh")
    batches = mailbox.pull(source)
    assert [i.subject for b in batches for i in b.interactions] == ["Fresh"]
    assert [d.rsplit("/", 1)[-1] for b in batches for d in b.deleted] == ["2"]
    assert mailbox.count() == 4
    with mailbox.admin() as admin:  # an expunge alone (MESSAGES drops, UIDNEXT stays)
        admin.select("INBOX")
        admin.uid("STORE", "1", "+FLAGS", "(\\Deleted)")
        admin.expunge()
    assert [d.rsplit("/", 1)[-1] for b in mailbox.pull(source) for d in b.deleted] == ["1"]
    assert mailbox.count() == 3


def test_a_renumbered_folder_is_read_again_without_doubles(mailbox: Mailbox) -> None:
    with mailbox.admin() as admin:
        admin.create("Archive")
    raw = [f"From: ann@example.org\r\nTo: {ME}\r\nMessage-ID: <arch{n}@example.org>\r\n\r\nx\r\n".encode()
           for n in range(3)]
    for message in raw:
        mailbox.add("Archive", raw=message)
    source = mailbox.source(folders=("Archive",), me=(ME,))
    mailbox.pull(source)
    old = {pid for pid in StoreKnown(mailbox.store).known_ids("Archive")}
    with mailbox.admin() as admin:  # the server renumbers: a new folder under the same name
        admin.delete("Archive")
        admin.create("Archive")
    for message in raw:
        mailbox.add("Archive", raw=message)
    with pytest.raises(CursorExpired, match="renumbered"):
        pull_into(mailbox.store, source)
    mailbox.pull(source)
    new = StoreKnown(mailbox.store).known_ids("Archive")
    assert len(new) == 3 and not new & old  # all under the new UIDVALIDITY, none of the old ids left
    assert mailbox.count() == 3  # the same three messages, not six


def test_a_renamed_folder_is_named_and_its_mail_kept_until_the_config_follows(mailbox: Mailbox) -> None:
    with mailbox.admin() as admin:
        admin.create("Archive")
    mailbox.add("Archive")
    mailbox.add("Archive")
    mailbox.pull(mailbox.source(folders=("Archive",), me=(ME,)))
    with mailbox.admin() as admin:
        admin.rename("Archive", "Archive-2025")
    batches = mailbox.pull(mailbox.source(folders=("Archive",), me=(ME,)))
    skips = [s for b in batches for s in b.skipped]
    assert [s.what for s in skips] == ["Archive"] and skips[0].why.startswith("folder missing: not on the server")
    assert mailbox.count() == 2  # kept
    batches = mailbox.pull(mailbox.source(folders=("Archive-2025",), me=(ME,)))
    assert sum(len(b.interactions) for b in batches) == 2
    assert mailbox.count() == 2 and StoreKnown(mailbox.store).known_ids("Archive") == set()


def test_a_folder_deleted_during_the_pull_is_named(mailbox: Mailbox) -> None:
    with mailbox.admin() as admin:
        admin.create("Archive")
    mailbox.add()
    mailbox.add("Archive")
    pulling = mailbox.source(folders=("Archive",), me=(ME,)).pull({}, StoreKnown(mailbox.store))
    first = next(pulling)  # INBOX: the folder list was read before this
    assert first.resource == "INBOX"
    with mailbox.admin() as admin:
        admin.delete("Archive")
    rest = list(pulling)
    assert [(s.what, s.why) for b in rest for s in b.skipped] == [
        ("Archive", "folder missing: it vanished while syncd read it")]


def test_headers_that_do_not_parse_are_named_and_the_rest_goes_on(mailbox: Mailbox) -> None:
    mailbox.add(raw=b"X-Broken: \xff\xfe\r\nSubject: nobody\r\n\r\nbody\r\n")
    mailbox.add(subject="Fine")
    batches = mailbox.pull(mailbox.source(me=(ME,)))
    assert [i.subject for b in batches for i in b.interactions] == ["Fine"]
    (skip,) = [s for b in batches for s in b.skipped]
    assert skip.what.startswith("INBOX/") and skip.why == "no From or recipients"


@pytest.mark.parametrize(("stall", "said"), [
    (False, "broke off while reading headers in INBOX"),  # the connection closed
    (True, "stopped answering while reading headers in INBOX"),  # open, and silent past the timeout
])
def test_a_connection_cut_mid_fetch_resumes_without_loss_or_doubles(mailbox: Mailbox, stall: bool, said: str,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(imap_source, "BATCH_SIZE", 3)
    for n in range(9):
        mailbox.add(subject=f"{n:02d} " + "x" * 3000)  # large headers: each FETCH answer spans many packets
    measure = TcpProxy(mailbox.server.plain_port)
    twin = Mailbox(mailbox.server)
    for n in range(9):
        twin.add(subject=f"{n:02d} " + "x" * 3000)
    twin.pull(twin.source(me=(ME,), security="plain", port=measure.port, ca_file=None))
    measure.stop()
    proxy = TcpProxy(mailbox.server.plain_port, cuts=[int(measure.received * 0.6)], stall=stall)
    try:
        cut = mailbox.source(me=(ME,), security="plain", port=proxy.port, ca_file=None, timeout=1.0)
        with pytest.raises(ConnectorError) as failed:
            pull_into(mailbox.store, cut)
    finally:
        proxy.stop()
    message = str(failed.value)
    assert said in message or (not stall and "failed while reading headers" in message), message
    assert "\n" not in message and message.endswith("; what was read so far is kept and the next pull resumes")
    assert 0 < mailbox.count() < 9  # whole batches were committed before the cut
    mailbox.pull(mailbox.source(me=(ME,)))
    assert mailbox.count() == 9 and mailbox.count("sightings") == 9


def test_a_server_that_never_greets_is_one_sentence() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:  # connections wait in its backlog, never answered
        port = listener.getsockname()[1]
        settings = {"host": "127.0.0.1", "port": port, "security": "plain", "username": "u"}
        source = ImapSource("acct", settings, MemorySlot(json.dumps({"password": "p"})), timeout=0.3)
        with pytest.raises(SourceUnavailable) as failed:
            list(source.pull({}, StoreKnown(Store(":memory:"))))
    assert str(failed.value) == f"account 'acct': 127.0.0.1:{port} stopped answering while connecting"


def test_tls_on_a_port_without_tls_is_one_sentence_naming_the_settings(mailbox: Mailbox) -> None:
    port = mailbox.server.plain_port  # answers IMAP in the clear: the TLS handshake reads a greeting
    with pytest.raises(SourceUnavailable) as failed:
        list(mailbox.source(security="tls", port=port).pull({}, StoreKnown(mailbox.store)))
    text = str(failed.value)
    assert text.startswith(f"account 'acct': TLS with 127.0.0.1:{port} failed while connecting ("), text
    assert text.endswith("); check accounts.acct.security and port") and "\n" not in text
    assert mailbox.count() == 0


def test_a_server_that_answers_garbage_is_one_sentence() -> None:
    garbage = GarbageServer(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<html>not mail</html>\r\n")
    try:
        settings = {"host": "127.0.0.1", "port": garbage.port, "security": "plain", "username": "u"}
        with pytest.raises(SourceUnavailable) as failed:
            list(ImapSource("acct", settings, MemorySlot(json.dumps({"password": "p"}))).pull({}, StoreKnown(Store(":memory:"))))
    finally:
        garbage.stop()
    text = str(failed.value)
    assert text.startswith(f"account 'acct': 127.0.0.1:{garbage.port} does not answer like an IMAP server while "
                           "connecting"), text
    assert "check accounts.acct.host and port" in text and "\n" not in text


def test_a_wrong_password_needs_login(mailbox: Mailbox) -> None:
    source = ImapSource("acct", mailbox.server.settings(mailbox.user), MemorySlot(json.dumps({"password": "nope"})))
    with pytest.raises(AuthRequired, match=r"needs login \(the server refused the password\)"):
        list(source.pull({}, StoreKnown(mailbox.store)))
    with pytest.raises(AuthRequired, match="no password is stored"):
        list(ImapSource("acct", mailbox.server.settings(mailbox.user), MemorySlot()).pull({}, StoreKnown(mailbox.store)))


@pytest.mark.parametrize("security", ["tls", "starttls"])
def test_an_untrusted_certificate_is_refused_with_the_fix(mailbox: Mailbox, security: str) -> None:
    port = mailbox.server.tls_port if security == "tls" else mailbox.server.plain_port
    source = mailbox.source(security=security, port=port, ca_file=None)
    with pytest.raises(SourceUnavailable) as failed:
        list(source.pull({}, StoreKnown(mailbox.store)))
    assert "is not trusted" in str(failed.value) and 'set ca_file = "' in str(failed.value)
    trusted = mailbox.source(security=security, port=port)  # with ca_file: the same server is fine
    assert [b.resource for b in trusted.pull({}, StoreKnown(mailbox.store))] == ["INBOX", "Sent"]


def test_plain_is_refused_for_a_server_elsewhere() -> None:
    settings = {"host": "imap.example.com", "security": "plain", "username": "u"}
    with pytest.raises(SourceUnavailable, match="allowed only for a server on this machine"):
        list(ImapSource("acct", settings, MemorySlot()).pull({}, StoreKnown(Store(":memory:"))))


def test_a_server_without_starttls_is_refused() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        client, _ = listener.accept()
        with client, client.makefile("rb") as lines:
            client.sendall(b"* OK IMAP4rev1 ready\r\n")
            for line in lines:
                tag = line.split(b" ", 1)[0]
                client.sendall(b"* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n" + tag + b" OK done\r\n")

    threading.Thread(target=serve, daemon=True).start()
    settings = {"host": "127.0.0.1", "port": port, "security": "starttls", "username": "u"}
    with pytest.raises(SourceUnavailable, match="does not offer STARTTLS"):
        list(ImapSource("acct", settings, MemorySlot(json.dumps({"password": "p"}))).pull({}, StoreKnown(Store(":memory:"))))
    listener.close()


def test_password_command(mailbox: Mailbox) -> None:
    command = (sys.executable, "-c", f"print({PASSWORD!r}); print('second line')")
    source = ImapSource("acct", mailbox.server.settings(mailbox.user, password_command=command, me=(ME,)), None)
    # Logged in with the first line printed, and read both (empty) folders.
    assert [b.resource for b in source.pull({}, StoreKnown(mailbox.store))] == ["INBOX", "Sent"]
    failing = (sys.executable, "-c", "import sys; print('s3cret'); print('vault is locked', file=sys.stderr); sys.exit(3)")
    with pytest.raises(SourceUnavailable) as failed:
        run_password_command("acct", failing)
    assert str(failed.value) == f"account 'acct': password_command ({sys.executable}) failed with exit status 3: vault is locked"
    with pytest.raises(SourceUnavailable, match="printed no password"):
        run_password_command("acct", (sys.executable, "-c", "print()"))
    with pytest.raises(SourceUnavailable, match="was not found"):
        run_password_command("acct", ("no-such-password-manager",))
    wrong = ImapSource("acct", mailbox.server.settings(mailbox.user, password_command=(sys.executable, "-c", "print('x')")),
                       None)
    with pytest.raises(AuthRequired, match="password_command printed; update it in your password manager"):
        list(wrong.pull({}, StoreKnown(mailbox.store)))


# ---- the pure parts ------------------------------------------------------------------------------------


def test_the_sent_folder_is_found_by_its_flag_else_by_its_name() -> None:
    listing = [((b"\\HasNoChildren",), "/", "INBOX"), ((b"\\Sent",), "/", "Gesendete Objekte"),
               ((b"\\Noselect",), "/", "[Gmail]"), ((), "/", "Sent")]
    folders, missing = choose(listing, ["archive", "Gone"])
    assert [(f.name, f.sent) for f in folders] == [("INBOX", False), ("Gesendete Objekte", True)]
    assert missing == ["archive", "Gone"]
    folders, _ = choose([((), ".", "INBOX"), ((), ".", "INBOX.Sent Items"), ((), ".", "Archive")], ["archive"])
    assert [(f.name, f.sent) for f in folders] == [("INBOX", False), ("INBOX.Sent Items", True), ("Archive", False)]
    # A shared mailbox with neither an INBOX nor a sent folder: only what the configuration names.
    folders, missing = choose([((), "/", "Projects"), ((b"\\Noselect",), "/", "INBOX")], ["Projects"])
    assert [(f.name, f.sent) for f in folders] == [("Projects", False)] and missing == []


def test_the_timestamp_is_the_date_header_unless_it_is_implausible() -> None:
    internal = datetime(2026, 3, 1, 12, tzinfo=UTC)
    migrated = datetime(2019, 5, 4, 8, tzinfo=UTC)
    assert timestamp(migrated, internal) == migrated  # mail copied to the server later keeps its day
    assert timestamp(internal + timedelta(days=30), internal) == internal  # a sender's clock far ahead
    assert timestamp(datetime(1970, 1, 1, tzinfo=UTC), internal) == internal
    assert timestamp(None, internal) == internal
    assert timestamp(None, None) is None
    assert timestamp(migrated, None) == migrated


def test_vanished_sets_and_unreadable_cursors() -> None:
    assert _uid_sets([b"(EARLIER) 41,43:45,118", "47"]) == {41, 43, 44, 45, 118, 47}
    assert FolderState.load("not json") is None and FolderState.load(None) is None
    state = FolderState(7, 10, 5, 11, None)
    assert FolderState.load(state.dump()) == state
    assert state.unchanged({b"MESSAGES": 5, b"UIDNEXT": 11}) and not state.unchanged({b"MESSAGES": 4, b"UIDNEXT": 11})


def test_nothing_listening_is_one_sentence() -> None:
    from tests.servers.base import free_port

    settings = {"host": "127.0.0.1", "port": free_port(), "security": "plain", "username": "u"}
    with pytest.raises(SourceUnavailable) as failed:
        list(ImapSource("acct", settings, MemorySlot(json.dumps({"password": "p"}))).pull({}, StoreKnown(Store(":memory:"))))
    assert "the connection to 127.0.0.1:" in str(failed.value) and "failed while connecting (" in str(failed.value)


# ---- answers a server should not give (a proxy in front of Dovecot gives them) ------------------------------


def _through(mailbox: Mailbox, *rules: ImapRule) -> tuple[ImapProxy, ImapSource]:
    proxy = ImapProxy(mailbox.server.plain_port)
    for rule in rules:
        proxy.add(rule)
    return proxy, mailbox.source(me=(ME,), security="plain", port=proxy.port, ca_file=None)


@pytest.mark.parametrize(("command", "rule", "said"), [
    ("LOGIN", ImapRule(lambda c: c.startswith("LOGIN"), close=True),
     "the connection to {where} broke off while logging in"),
    ("LIST", ImapRule(lambda c: c.startswith("LIST"), "{tag} NO [SERVERBUG] Internal error\r\n"),
     "{where} gave an answer syncd cannot use while listing folders (LIST failed: [SERVERBUG] Internal error); "
     "what was read so far is kept and the next pull resumes"),
    ("STATUS", ImapRule(lambda c: c.startswith("STATUS"), close=True),
     "the connection to {where} broke off while checking INBOX; what was read so far is kept and the next pull "
     "resumes"),
])
def test_a_connection_closed_or_refused_at_each_step_is_one_sentence(mailbox: Mailbox, command: str, rule: ImapRule,
                                                                     said: str) -> None:
    mailbox.add()
    proxy, source = _through(mailbox, rule)
    try:
        with pytest.raises(ConnectorError) as failed:
            mailbox.pull(source)
    finally:
        proxy.stop()
    assert str(failed.value) == f"account 'acct': {said.format(where=f'127.0.0.1:{proxy.port}')}"
    assert mailbox.count() == 0
    mailbox.pull(mailbox.source(me=(ME,)))
    assert mailbox.count() == 1


@pytest.mark.parametrize("incremental", [False, True])
def test_a_fetch_answer_without_its_header_block_or_without_a_message_is_asked_again_next_pull(
        mailbox: Mailbox, incremental: bool) -> None:
    """A glitch of one FETCH answer costs nothing: the message without headers is named as skipped, the one
    left out is not taken for read, and the next pull fetches both again (they are below the cursor's last
    UID, so no SEARCH lists them) and forgets the skip; after that the folder is back to one STATUS a pull."""
    if incremental:
        mailbox.add()
        mailbox.pull(mailbox.source(me=(ME,)))
    first = mailbox.n + 1
    mailbox.add()
    mailbox.add()
    glitch = f"* 1 FETCH (UID {first} FLAGS ())\r\n{{tag}} OK Fetch completed.\r\n"
    proxy, source = _through(mailbox, ImapRule(lambda c: c.startswith("UID FETCH") and "HEADER" in c, glitch))
    try:
        batches = mailbox.pull(source)
        assert [(s.what.split("/")[0], s.why) for b in batches for s in b.skipped] == [
            ("INBOX", "unparseable headers: the server sent no header block; asked again on the next pull")]
        assert mailbox.count() == first - 1
        assert len(mailbox.store.synced.skipped_items("acct")) == 1
        again = mailbox.pull(source)  # the rule was used up: the server answers as it should
    finally:
        proxy.stop()
    assert not [s for b in again for s in b.skipped]
    assert mailbox.count() == first + 1 and mailbox.store.synced.skipped_items("acct") == []
    assert mailbox.pull(mailbox.source(me=(ME,))) == []  # nothing waits: the STATUS shortcut again


def test_a_message_left_out_twice_is_gone_and_nothing_waits_for_it(mailbox: Mailbox) -> None:
    mailbox.add()
    mailbox.add()
    nothing = "{tag} OK Fetch completed.\r\n"
    proxy, source = _through(mailbox, ImapRule(lambda c: c.startswith("UID FETCH") and "HEADER" in c, nothing,
                                               times=2))
    try:
        mailbox.pull(source)
        mailbox.pull(source)  # asked again, still no answer: taken as expunged meanwhile
        third = mailbox.pull(source)
    finally:
        proxy.stop()
    assert mailbox.count() == 0 and not [s for b in third for s in b.skipped]


def test_a_folder_renumbered_between_status_and_examine_is_read_again_without_doubles(mailbox: Mailbox) -> None:
    mailbox.add()
    mailbox.pull(mailbox.source(me=(ME,)))
    mailbox.add()
    renumbered = ImapRule(lambda c: c.startswith("EXAMINE") and "INBOX" in c,
                          "* 2 EXISTS\r\n* OK [UIDVALIDITY 7] UIDs valid\r\n* OK [UIDNEXT 3] Predicted next UID\r\n"
                          "{tag} OK [READ-ONLY] Examine completed.\r\n")
    proxy, source = _through(mailbox, renumbered)
    try:
        with pytest.raises(CursorExpired, match="UIDVALIDITY changed"):
            pull_into(mailbox.store, source)
        mailbox.store.synced.reset_cursor("acct", "INBOX")  # as syncd.pull does: that folder is read again
        mailbox.pull(source)
    finally:
        proxy.stop()
    assert mailbox.count() == 2 and mailbox.count("sightings") == 2


def test_a_server_that_refuses_the_vanished_fetch_is_one_sentence_and_the_next_pull_finds_the_deletion(
        mailbox: Mailbox) -> None:
    for _ in range(3):
        mailbox.add()
    mailbox.pull(mailbox.source(me=(ME,)))
    with mailbox.admin() as admin:
        admin.select("INBOX")
        admin.uid("STORE", "2", "+FLAGS", "(\\Deleted)")
        admin.expunge()
    proxy, source = _through(mailbox, ImapRule(lambda c: "VANISHED" in c, "{tag} NO [SERVERBUG] Internal error\r\n"))
    try:
        with pytest.raises(ConnectorError) as failed:
            mailbox.pull(source)
    finally:
        proxy.stop()
    assert "gave an answer syncd cannot use while looking for deleted messages in INBOX" in str(failed.value)
    assert mailbox.count() == 3  # nothing removed on a guess
    mailbox.pull(mailbox.source(me=(ME,)))
    assert mailbox.count() == 2
