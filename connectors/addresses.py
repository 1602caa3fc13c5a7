"""Email addresses as the engine sees them: normalised, valid or not, role or person.

Rules from docs/rules.md#person and docs/rules.md#role-addresses: addresses are trimmed, lower-cased, with an
IDNA domain; strings without a valid ``local@domain`` (X.500 paths, ``undisclosed-recipients:;``) are
not addresses; role local parts (``noreply``, ``postmaster``, ...) are never people.
"""

from __future__ import annotations

import fnmatch
import functools
import re
from collections.abc import Iterable

# RFC 5322 dot-atom is far more permissive than what real people use; this accepts every address
# seen in practice (quoted local parts excepted) and rejects X.500 strings and display-name debris.
_LOCAL = r"[a-z0-9!#$%&'*+/=?^_`{|}~.-]+"
_DOMAIN = r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}"
_VALID = re.compile(rf"^{_LOCAL}@{_DOMAIN}$")

_ROLE_WORDS = (
    "noreply|no-reply|no_reply|donotreply|do-not-reply|do_not_reply|mailer-daemon|postmaster"
    "|bounce|bounces|notification|notifications|newsletter|newsletters"
)
# The role word, optionally followed by a +/./-/_ suffix ("noreply+abc", "bounces-123", "newsletter.eu").
_ROLE = re.compile(rf"^(?:{_ROLE_WORDS})(?:[+._-].*)?$")


@functools.lru_cache(maxsize=65536)  # the same few thousand addresses recur in every message
def normalise(raw: str) -> str | None:
    """The canonical form of an address, or None if the string is not a ``local@domain`` address."""
    text = raw.strip().strip("<>").strip().strip("'\"").lower()
    if text.startswith("mailto:"):
        text = text[len("mailto:") :]
    local, sep, domain = text.rpartition("@")
    if not sep or not local or not domain:
        return None
    domain = domain.rstrip(".")
    if not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            return None
    local = local.strip(".") if local.startswith(".") else local  # Enron: "<.name@enron.com>"
    address = f"{local}@{domain}"
    # Consecutive dots break RFC 5322's dot-atom, yet real servers handed out such mailboxes
    # (Enron's "m..forney@enron.com"): they name a person, so they are kept.
    if not _VALID.match(address):
        return None
    return address


def is_role(address: str) -> bool:
    """True for role addresses that never belong to a person (``noreply@``, ``bounces+x@`` ...)."""
    return bool(_ROLE.match(address.partition("@")[0]))


# A word of the local part that marks a list, a desk or a shared mailbox (docs/rules.md#groups-and-desks).
GROUP_LOCAL_WORDS = frozenset({
    "everyone", "all", "dl", "reception", "office", "team", "info", "sales", "support", "helpdesk", "help",
    "desk", "staff", "list", "lists", "group", "groups", "announce", "announcements", "contact", "hello",
    "enquiries", "inquiries", "admin", "billing", "jobs", "careers", "marketing",
    "customerservice", "feedback", "webmaster", "hostmaster", "abuse", "frontdesk", "mailroom",
})
_LOCAL_SPLIT = re.compile(r"[._+-]+")


def is_group_address(address: str) -> bool:
    """True when the local part marks a list, a desk or a shared mailbox (``everyone``, ``dl-``,
    ``reception``, ``sales.team``, ...): never a person to remind, though still listed."""
    local = address.partition("@")[0]
    if "everyone" in local or local.startswith(("all-", "all_", "dl-", "dl_")):
        return True
    return any(word in GROUP_LOCAL_WORDS for word in _LOCAL_SPLIT.split(local))


def domain_of(address: str) -> str:
    return address.rpartition("@")[2]


def matches(address: str, pattern: str) -> bool:
    """Match a config pattern: an exact address, a glob (``*@shop.example``), or a bare domain.

    A bare domain also matches its subdomains (``example.org`` matches ``a@mail.example.org``).
    """
    pattern = pattern.strip().lower()
    if "@" not in pattern and not any(ch in pattern for ch in "*?["):
        domain = domain_of(address)
        return domain == pattern or domain.endswith("." + pattern)
    if any(ch in pattern for ch in "*?["):
        return fnmatch.fnmatchcase(address, pattern)
    return address == pattern


def matches_any(address: str, patterns: Iterable[str]) -> bool:
    return any(matches(address, pattern) for pattern in patterns)


def provider_equivalent(address: str) -> str:
    """Gmail treats dots and ``+tag`` in the local part as insignificant and googlemail.com as gmail.com.

    Used only when ``engine.provider_equivalences`` is on (off by default: docs/rules.md#merges).
    """
    local, _, domain = address.partition("@")
    if domain in ("gmail.com", "googlemail.com"):
        local = local.split("+", 1)[0].replace(".", "")
        return f"{local}@gmail.com"
    return address
