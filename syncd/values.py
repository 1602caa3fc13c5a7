"""The kinds of value the configuration holds, each a converter and its JSON Schema.

A converter takes the raw TOML value and returns the typed one, or raises ``TypeError`` (wrong type,
its message names the expected type) or ``ValueError`` (bad value, its message is the sentence the user
reads). ``syncd.config`` builds its spec from these.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from datetime import time, timedelta
from pathlib import Path
from typing import Any

from syncd.addresses import normalise

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "y": 365 * 86400}
_DURATION = re.compile(r"^(?:\d+[smhdwy])+$")
_DURATION_PART = re.compile(r"(\d+)([smhdwy])")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def parse_duration(text: str) -> timedelta:
    """``30d``, ``6w``, ``15m``, ``2h``, ``1y`` (365 days), ``90s``, or combined like ``1w2d``."""
    compact = str(text).strip().lower().replace(" ", "")
    if not _DURATION.match(compact):
        raise ValueError(f"'{text}' is not a duration like 30d, 6w, 15m, 2h or 1y")
    return timedelta(seconds=sum(int(n) * _UNITS[unit] for n, unit in _DURATION_PART.findall(compact)))


def duration(value: Any) -> timedelta:
    if not isinstance(value, str):
        raise TypeError("a duration string like \"30d\"")
    return parse_duration(value)


def time_of_day(value: Any) -> time:
    if not isinstance(value, str):
        raise TypeError('a time string like "09:30"')
    match = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", value.strip())
    if not match:
        raise ValueError(f"'{value}' is not a time like 09:30")
    return time(int(match[1]), int(match[2]))


def path(value: Any) -> Path:
    if not isinstance(value, str) or not value.strip():
        raise TypeError("a path string")
    return Path(os.path.expandvars(value)).expanduser()


def string(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("a string")
    return value


def boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError("true or false")
    return value


def positive_int(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError("a whole number")
    if value < 1:
        raise ValueError(f"{value} is too small (at least 1)")
    return value


def list_of(item: Callable[[Any], Any]) -> Callable[[Any], tuple[Any, ...]]:
    def convert(value: Any) -> tuple[Any, ...]:
        if not isinstance(value, list):
            raise TypeError("a list")
        return tuple(item(v) for v in value)

    return convert


def address(value: Any) -> str:
    text = string(value)
    address = normalise(text)
    if address is None:
        raise ValueError(f"'{text}' is not an email address")
    return address


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


def weekday(value: Any) -> int:
    text = string(value).strip().lower()[:3]
    if text not in WEEKDAYS:
        raise ValueError(f"'{value}' is not a weekday (mon, tue, wed, thu, fri, sat, sun)")
    return WEEKDAYS.index(text)


SCHEMAS: dict[Callable[..., Any], dict[str, Any]] = {
    duration: {"type": "string", "pattern": _DURATION.pattern},
    time_of_day: {"type": "string", "pattern": r"^([01]?\d|2[0-3]):[0-5]\d$"},
    path: {"type": "string"},
    string: {"type": "string"},
    boolean: {"type": "boolean"},
    positive_int: {"type": "integer", "minimum": 1},
}
