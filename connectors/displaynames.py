"""Display names as mail headers carry them → the name a person is shown by (docs/rules.md#display-names).

Exchange and Outlook write names "Last, First" and "Last, First (Dept)"; Lotus Notes appends its own
routing ("First Last/HOU/ECT@ECT"); quotes, employee numbers and stray whitespace come along. Names of
lists and desks ("All Enron Worldwide", "DL-Portland Real Time Shift", "Market Participants") never
name a person, and role or group addresses get no names at all. Pure functions, shared by the header
parsers and the store (which keeps names as :func:`shown_name` gives them).
"""

from __future__ import annotations

import functools
import re

from connectors.addresses import is_group_address, is_role

# Whole words that mark a list, a desk or a group in a display name (compared case-insensitively).
GROUP_WORDS = frozenset({
    "everyone", "team", "group", "groups", "list", "lists", "distribution", "participants", "committee",
    "subcommittee", "department", "desk", "helpdesk", "staff", "members", "users", "support", "sales",
    "reception", "office", "announcement", "announcements", "mailbox", "newsletter", "subscribers",
    "customers", "employees", "worldwide",
})
_QUOTED_PAIR = re.compile(r"\\(.)")
_TRAILING_NOTE = re.compile(r"\s*\([^()]*\)\s*$")  # "(Dept)", "(Z39911)", "(E-mail)"
_LOTUS_DOMAIN = re.compile(r"@[A-Za-z][\w-]*$")  # "Name@ENRON": Lotus Notes' routing domain
_MAX_LENGTH = 60
_LOCAL_SPLIT = re.compile(r"[._\-+']+")
_WORD = re.compile(r"[^\W\d_]+(?:['-][^\W\d_]+)*")


@functools.lru_cache(maxsize=65536)  # the same names recur in every message of an archive
def display_name(raw: str | None) -> str | None:
    """The name to show for ``raw`` as a header wrote it, or None when it names no single person.

    >>> display_name("Scholtes, Diana")
    'Diana Scholtes'
    >>> display_name("Hackney, Mark W(Z39911)")
    'Mark W Hackney'
    """
    if not raw:
        return None
    # RFC 5322 §3.2.4 quoted-pairs ("Michelle Cash \(E-mail\)") stand for the character itself.
    text = _QUOTED_PAIR.sub(r"\1", " ".join(raw.split())).strip(" '\"")
    while _TRAILING_NOTE.search(text):
        text = _TRAILING_NOTE.sub("", text).strip(" '\"")
    if "/" in text:  # Lotus Notes: "First Last/HOU/ECT@ECT" (an X.500 path starts with "/": nothing left)
        text = text.split("/", 1)[0].strip()
    if "@" in text:
        if " " not in text:
            return None  # an address written where a name belongs
        text = _LOTUS_DOMAIN.sub("", text).strip()
        if "@" in text:
            return None
    if text.count(",") == 1:
        last, first = (part.strip() for part in text.split(","))
        if not last or not first:
            return None
        text = f"{first} {last}"
    elif "," in text:
        return None  # several names, not one
    text = text.strip(" '\"")
    if not text or len(text) > _MAX_LENGTH or not _WORD.search(text) or looks_like_group(text):
        return None
    return text


@functools.lru_cache(maxsize=65536)  # the same few thousand names recur in every batch
def shown_name(address: str, raw: str | None) -> str | None:
    """The name to keep for ``address`` from a header's display name, or None to keep none: never for
    role or group addresses, never the address or its bare local part written where a name belongs."""
    if not raw or is_role(address) or is_group_address(address):
        return None
    name = display_name(raw)
    if name is None or name.lower() in (address, address.partition("@")[0]):
        return None
    return name


def looks_like_group(name: str) -> bool:
    """Whether a display name names a list, a desk or a group rather than a person."""
    lowered = name.lower()
    if lowered.startswith(("all ", "dl-", "dl ", "everyone")):
        return True
    return any(word in GROUP_WORDS for word in re.findall(r"[a-z]+", lowered))


@functools.lru_cache(maxsize=65536)
def _name_words(name: str) -> tuple[str, ...]:
    return tuple(w.replace("'", "").replace("-", "") for w in _WORD.findall(name.lower()))


def name_words(name: str) -> list[str]:
    """A name's words, lower-cased, letters only: "Mark W. Hackney" → ["mark", "w", "hackney"]."""
    return list(_name_words(name))


@functools.lru_cache(maxsize=65536)
def _local_words(address: str) -> tuple[str, ...]:
    return tuple(w for w in _LOCAL_SPLIT.split(address.partition("@")[0].lower()) if w)


def local_words(address: str) -> list[str]:
    """An address's local part split at punctuation: "m..forney@x" → ["m", "forney"]."""
    return list(_local_words(address))


def spellings(words: list[str]) -> set[str]:
    """Local parts written as one word from a name's words: "firstlast", "lastfirst", "flast", "lastf"."""
    first, last = words[0], words[-1]
    return {first + last, last + first, first[0] + last, last + first[0]}


def name_fits(name: str, address: str) -> bool:
    """Whether ``name`` plausibly belongs to ``address``: the local part is spelled from its words
    ("first.last", "firstlast", "flast", "first_m_last", "m..last" with an initial, "last.first").

    Every spelling it accepts contains the last name as one word of the local part or as one of
    :func:`spellings`, so callers can look candidates up by those instead of trying every address."""
    words = name_words(name)
    local = local_words(address)
    if len(words) < 2 or not local:
        return False
    first, last = words[0], words[-1]
    joined = "".join(local)
    if len(last) >= 2 and joined in spellings(words):
        return True
    if len(local) >= 2 and local[-1] == last and len(last) >= 2:
        # Every other piece of the local part is one of the name's words or one's initial.
        return all(any(piece == w or (len(piece) == 1 and w.startswith(piece)) for w in words[:-1])
                   for piece in local[:-1])
    return len(local) >= 2 and local[0] == last and local[-1] in {first, first[0]}
