"""The configuration as typed, frozen settings: what the rest of syncd reads once the file is validated."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from datetime import time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


@dataclasses.dataclass(frozen=True)
class AccountConfig:
    name: str
    provider: str
    path: Path | None
    me: tuple[str, ...]
    enabled: bool
    options: Mapping[str, Any]  # the provider's own keys, and `interval`, already converted


@dataclasses.dataclass(frozen=True)
class EngineConfig:
    max_recipients: int = 20
    max_attendees: int = 20
    min_every: timedelta = timedelta(days=14)
    max_every: timedelta = timedelta(days=180)
    default_every: timedelta = timedelta(days=90)
    forget_after: timedelta = timedelta(days=3 * 365)
    after_series_end: timedelta = timedelta(days=21)
    meeting_grace: timedelta = timedelta(days=7)
    blocklist: tuple[str, ...] = ()
    provider_equivalences: bool = False
    warm_min_days: int = 2
    lapsed_after: int = 3


def local_timezone() -> ZoneInfo:
    """This machine's IANA zone: $TZ, else the /etc/localtime link, else UTC."""
    for candidate in (os.environ.get("TZ", "").lstrip(":"), _localtime_link()):
        if candidate:
            try:
                return ZoneInfo(candidate)
            except (ZoneInfoNotFoundError, ValueError, OSError):  # POSIX rules like "CET-1CEST", folders
                continue
    return ZoneInfo("UTC")


def _localtime_link() -> str:
    try:
        target = os.readlink("/etc/localtime")
    except OSError:
        return ""
    return target.split("zoneinfo/", 1)[1] if "zoneinfo/" in target else ""


@dataclasses.dataclass(frozen=True)
class FollowupsConfig:
    target: str = "ics"
    ics_path: Path | None = None
    calendar_name: str = "Follow-ups"
    slot: time = time(9, 30)
    duration: timedelta = timedelta(minutes=15)
    per_day: int = 3
    working_days: frozenset[int] = frozenset(range(5))
    timezone: ZoneInfo = dataclasses.field(default_factory=local_timezone)
    reminder: timedelta = timedelta(0)
    title: str = "Reach out to {name}"
    max_deletes: int = 20
    horizon: timedelta = timedelta(days=14)
    lapsed_per_day: int = 1
    birthdays: bool = False
    birthday_title: str = "Wish {name} a happy birthday"


@dataclasses.dataclass(frozen=True)
class TierConfig:
    name: str
    remind: bool = True
    every: timedelta | None = None
    match: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()  # address-book groups (labels, categories, contact folders), any case


@dataclasses.dataclass(frozen=True)
class PersonConfig:
    addresses: tuple[str, ...]
    name: str | None = None
    every: timedelta | None = None
    tier: str | None = None
    note: str | None = None


@dataclasses.dataclass(frozen=True)
class Config:
    path: Path | None = None
    accounts: Mapping[str, AccountConfig] = dataclasses.field(default_factory=dict)
    engine: EngineConfig = dataclasses.field(default_factory=EngineConfig)
    followups: FollowupsConfig = dataclasses.field(default_factory=FollowupsConfig)
    tiers: tuple[TierConfig, ...] = ()
    people: tuple[PersonConfig, ...] = ()
