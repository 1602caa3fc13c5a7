"""How a provider declares its settings: a :class:`Key` per setting, and the kinds of value they hold.

A kind is a converter: it takes the raw TOML value and returns the typed one, or raises ``TypeError``
(wrong type; the message names the expected type) or ``ValueError`` (bad value; the message is the
sentence the user reads). ``SCHEMAS`` gives each kind's JSON Schema. The configuration (``syncd.config``)
validates every account with the keys its provider declares, and adds kinds of its own for its own
tables (times of day, weekdays, time zones).
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Callable
from datetime import time, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from connectors.addresses import normalise

REQUIRED = object()  # a default that says the key must be given


@dataclasses.dataclass(frozen=True)
class Key:
    """One key of a table: its name, how its TOML value becomes a typed one, its default, the doc line."""

    name: str
    kind: Callable[[Any], Any]  # converter of the value, or of one item when ``many``
    default: Any
    doc: str
    many: bool = False  # a TOML array of ``kind`` values, read as a tuple
    choices: tuple[str, ...] | None = None  # the only values allowed (checked after ``kind``)


# ---- durations -------------------------------------------------------------------------------------

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "y": 365 * 86400}
_DURATION = re.compile(r"^(?:\d+[smhdwy])+$")
_DURATION_PART = re.compile(r"(\d+)([smhdwy])")
# Largest unit first; weeks are skipped on purpose: "180d" reads better than a mix, and the config's
# defaults are written in days and years.
_WRITTEN_UNITS = (("y", 365 * 86400), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1))


def parse_duration(text: str) -> timedelta:
    """``30d``, ``6w``, ``15m``, ``2h``, ``1y`` (365 days), ``90s``, or combined like ``1w2d``."""
    compact = str(text).strip().lower().replace(" ", "")
    if not _DURATION.match(compact):
        raise ValueError(f"'{text}' is not a duration like 30d, 6w, 15m, 2h or 1y")
    return timedelta(seconds=sum(int(n) * _UNITS[unit] for n, unit in _DURATION_PART.findall(compact)))


def format_duration(value: timedelta | time) -> str:
    """A duration (or a time of day) as the config file writes it: ``14d``, ``3y``, ``15m``, ``09:30``."""
    if isinstance(value, time):
        return value.strftime("%H:%M")
    seconds = int(value.total_seconds())
    if seconds == 0:
        return "0m"
    unit, size = next((unit, size) for unit, size in _WRITTEN_UNITS if seconds % size == 0)
    return f"{seconds // size}{unit}"


def duration(value: Any) -> timedelta:
    if not isinstance(value, str):
        raise TypeError("a duration string like \"30d\"")
    return parse_duration(value)


def positive_duration(value: Any) -> timedelta:
    """A rhythm or a length: zero would make a follow-up due on every run, so it is a mistake, not a choice."""
    result = duration(value)
    if not result:
        raise ValueError(f"'{value}' must be longer than zero")
    return result


# ---- scalars ---------------------------------------------------------------------------------------


def string(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("a string")
    return value


def boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError("true or false")
    return value


def _whole(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError("a whole number")
    return value


def positive_int(value: Any) -> int:
    if _whole(value) < 1:
        raise ValueError(f"{value} is too small (at least 1)")
    return int(value)


def count(value: Any) -> int:
    """A whole number, zero allowed."""
    if _whole(value) < 0:
        raise ValueError(f"must be 0 or more (got {value})")
    return int(value)


# ---- paths, addresses, endpoints -------------------------------------------------------------------

_VARIABLE = re.compile(r"\$(\w+)|\$\{([^}]*)\}")


def path(value: Any) -> Path:
    if not isinstance(value, str) or not value.strip():
        raise TypeError("a path string")
    return Path(os.path.expandvars(value)).expanduser()


def expanded_path(value: Any) -> Path:
    """``~`` and ``$VARS`` expanded; an unset variable would otherwise stay in the path as literal text."""
    if not isinstance(value, str):
        raise TypeError("a path string")
    if not value.strip():
        raise ValueError("is empty")
    unset = [a or b for a, b in _VARIABLE.findall(value) if (a or b) not in os.environ]
    if unset:
        raise ValueError(f"${unset[0]} is not set in the environment")
    return path(value)


def url(value: Any) -> str:
    """An http(s) base URL; providers are reached only through these, so tests and proxies can redirect them."""
    text = string(value).strip()
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"'{text}' is not an http(s) URL like https://host/")
    if parts.scheme == "http" and (parts.hostname or "") not in ("127.0.0.1", "::1", "localhost"):
        # Tokens travel with every request: in clear text only to this machine (a local proxy, a test fake).
        raise ValueError(f"'{text}' must use https (plain http only for 127.0.0.1 or localhost)")
    return text


def address(value: Any) -> str:
    text = string(value)
    found = normalise(text)
    if found is None:
        raise ValueError(f"'{text}' is not an email address")
    return found


def pattern(value: Any) -> str:
    """An exact address, a glob over addresses (``*@shop.example``), or a bare domain (``example.org``)."""
    text = string(value).strip().lower()
    if any(ch in text for ch in "*?"):
        if "[" in text or not re.fullmatch(r"[a-z0-9.*?+_'-]*@?[a-z0-9.*?-]+", text):
            raise ValueError(f"'{value}' is not an address pattern (use * and ?, e.g. *@shop.example)")
        return text
    if "@" in text:
        return address(text)
    if not re.fullmatch(r"(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z0-9-]{2,}", text):
        raise ValueError(f"'{value}' is neither an address, an address pattern nor a domain")
    return text


SCHEMAS: dict[Callable[..., Any], dict[str, Any]] = {
    duration: {"type": "string", "pattern": _DURATION.pattern},
    positive_duration: {"type": "string", "pattern": _DURATION.pattern},
    path: {"type": "string"},
    expanded_path: {"type": "string"},
    string: {"type": "string"},
    boolean: {"type": "boolean"},
    positive_int: {"type": "integer", "minimum": 1},
    count: {"type": "integer", "minimum": 0},
    url: {"type": "string", "format": "uri"},
    address: {"type": "string", "format": "email"},
    pattern: {"type": "string"},
}


# ---- keys more than one provider declares ------------------------------------------------------------

FOLLOWUPS_CALENDAR_ID = Key(
    "followups_calendar_id", string, None,
    "write follow-ups into this existing calendar (e.g. \"primary\") instead of a dedicated one syncd creates "
    "(needs the broader permission to edit all events)",
)
