"""One IMAP session of an account: TLS (implicit on 993, or STARTTLS; the clear only to this machine), the
login, and every failure of the connection or the protocol said in one sentence.

Through imapclient (4.x) rather than the standard library's imaplib alone: imaplib hands FETCH answers back
as raw literals and strings to be parsed by hand, imapclient parses them (UIDs, INTERNALDATE as an aware
datetime, the header literal), knows the special-use and CONDSTORE/QRESYNC vocabulary (RFC 6154, RFC 7162),
and still exposes imaplib underneath where an extension answer must be read (docs/imap.md#python-clients;
TLS rules: docs/imap.md#tls-and-ports).
"""

from __future__ import annotations

import contextlib
import imaplib
import ssl
from collections.abc import Iterator, Mapping
from typing import Any

from connectors import tls
from connectors.base import AuthRequired, ConnectorError, SecretSlot, SourceUnavailable
from connectors.password import password, refused

SECURITY = ("tls", "starttls", "plain")
PORTS = {"tls": 993, "starttls": 143, "plain": 143}
TIMEOUT_SECONDS = 60.0


class ImapSession:
    """A logged-in connection, as a context manager that logs out (or just closes) on the way out."""

    def __init__(self, account: str, settings: Mapping[str, Any], slot: SecretSlot | None,
                 secret: str | None = None, timeout: float = TIMEOUT_SECONDS) -> None:
        self.account = account
        self.settings = settings
        self.host = str(settings["host"])
        self.security = str(settings.get("security") or "tls")
        self.port = int(settings.get("port") or PORTS[self.security])
        self.where = f"{self.host}:{self.port}"
        self._slot = slot
        self._secret = secret  # a password being checked by `syncd auth login`
        self.timeout = timeout  # seconds of silence before the server counts as having stopped answering
        self.client: Any = None
        self.enabled = False  # extensions switched on with ENABLE (once per session, before a folder is open)

    # ---- connecting ---------------------------------------------------------------------------------------

    def __enter__(self) -> ImapSession:
        if self.security == "plain" and not tls.is_loopback(self.host):
            # The password would cross the network in the clear.
            raise SourceUnavailable(f"account '{self.account}': security = \"plain\" is allowed only for a server "
                                    f"on this machine, not {self.host}; use \"tls\" or \"starttls\"")
        secret = self._secret if self._secret is not None else password(self.account, self.settings, self._slot)
        with self.failures("connecting", at_start=True):
            self._connect()
        with self.failures("logging in", at_start=True):
            try:
                self.client.login(str(self.settings.get("username") or ""), secret)
            except imaplib.IMAP4.error as exc:
                # imapclient turns every failure of LOGIN into LoginError: one that came of a broken connection
                # is said as such, not as a refused password (which would send the user to re-enter it).
                broken = exc if isinstance(exc, imaplib.IMAP4.abort) else exc.__context__
                if isinstance(broken, imaplib.IMAP4.abort | OSError):
                    raise broken from None
                raise refused(self.account, self.settings) from None
        return self

    def _connect(self) -> None:
        from imapclient import IMAPClient

        context = tls.context(self.settings.get("ca_file"))
        self.client = IMAPClient(self.host, port=self.port, ssl=self.security == "tls", ssl_context=context,
                                 timeout=self.timeout)
        self.client.normalise_times = False  # INTERNALDATE with its zone, not converted to local naive time
        if self.security == "starttls":
            if not self.client.has_capability("STARTTLS"):
                raise SourceUnavailable(f"account '{self.account}': {self.where} does not offer STARTTLS, so the "
                                        "password would travel in the clear; use security = \"tls\" (port 993)")
            self.client.starttls(context)

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(Exception):  # the pull's own outcome matters, not a failed goodbye
            if exc[0] is None:
                self.client.logout()
            else:
                self.client.shutdown()

    @property
    def commands(self) -> int:
        """IMAP commands sent in this session so far (each one a round trip): imaplib's tag counter."""
        return int(self.client._imap.tagnum) if self.client is not None else 0

    # ---- failures -----------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def failures(self, what: str, at_start: bool = False) -> Iterator[None]:
        """Turn what the network, TLS or the server did wrong into one sentence (no traceback, no secret).

        A failure at the start means the account could not be read at all; later, what was committed stays
        and the next pull resumes from there.
        """
        failed: type[ConnectorError] = SourceUnavailable if at_start else ConnectorError
        later = "" if at_start else "; what was read so far is kept and the next pull resumes"
        try:
            yield
        except (AuthRequired, SourceUnavailable, ConnectorError):
            raise
        except ssl.SSLError as exc:
            if tls.is_certificate_problem(exc):
                raise SourceUnavailable(tls.untrusted(self.where, self.account, exc.__class__.__name__)) from None
            # Most often a port that speaks no TLS, or TLS not from the start (WRONG_VERSION_NUMBER).
            check = f"; check accounts.{self.account}.security and port" if at_start else later
            raise failed(f"account '{self.account}': TLS with {self.where} failed while {what} "
                         f"({tls.failure_reason(exc)}){check}") from None
        except TimeoutError:
            raise failed(f"account '{self.account}': {self.where} stopped answering while {what}{later}") from None
        except imaplib.IMAP4.abort as exc:
            if "unexpected response" in str(exc) or "BYE" in str(exc):  # something that is not IMAP
                detail = " ".join(str(exc).split())[:120]
                raise failed(f"account '{self.account}': {self.where} does not answer like an IMAP server while "
                             f"{what} ({detail}); check accounts.{self.account}.host and port") from None
            raise failed(f"account '{self.account}': the connection to {self.where} broke off while {what}{later}") \
                from None
        except imaplib.IMAP4.error as exc:
            detail = " ".join(str(exc).split())[:120]
            raise failed(f"account '{self.account}': {self.where} gave an answer syncd cannot use while {what} "
                         f"({detail}){later}") from None
        except OSError as exc:
            reason = exc.strerror or exc.__class__.__name__
            raise failed(f"account '{self.account}': the connection to {self.where} failed while {what} "
                         f"({reason}){later}") from None
        except ValueError as exc:  # imapclient's parser on a malformed answer
            raise failed(f"account '{self.account}': {self.where} sent a malformed answer while {what} "
                         f"({str(exc)[:120]}){later}") from None
