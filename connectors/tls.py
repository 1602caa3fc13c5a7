"""TLS for the open-standard providers (IMAP, CalDAV): credentials travel only over TLS to the configured
host, or in the clear to this machine (loopback); a private CA or a self-signed server is trusted through
``ca_file``, never by switching verification off.
"""

from __future__ import annotations

import ipaddress
import re
import ssl
from pathlib import Path


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 or localhost: traffic that never leaves this machine."""
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def context(ca_file: Path | str | None) -> ssl.SSLContext:
    """Verification on, hostnames checked; the system's CAs, or only ``ca_file`` when it is given."""
    return ssl.create_default_context(cafile=str(ca_file) if ca_file else None)


def untrusted(where: str, account: str, detail: str) -> str:
    """The one sentence for a certificate syncd does not trust, with the fix."""
    return (f"account '{account}': the certificate of {where} is not trusted ({detail}); if the server uses a "
            "self-signed certificate or a private CA, set ca_file = \"<that certificate or CA file>\" on the account")


def is_certificate_problem(exc: BaseException) -> bool:
    """Whether a connection failed because the server's certificate was not trusted (here or in a cause)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in str(current):
            return True
        current = current.__cause__ or current.__context__
    return False


def failure_reason(exc: BaseException) -> str | None:
    """OpenSSL's reason (``WRONG_VERSION_NUMBER`` ...) when a connection failed in TLS, here or in a cause; None
    when it failed otherwise. HTTP clients keep the TLS error inside their own, often only in its text."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ssl.SSLError):
            return str(current.reason or current.__class__.__name__)
        found = re.search(r"\[SSL: ([A-Z0-9_]+)\]", str(current))
        if found:
            return found.group(1)
        current = current.__cause__ or current.__context__
    return None
