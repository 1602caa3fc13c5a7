"""Connectors: one module per provider, each speaking :mod:`connectors.base`.

The registry maps ``provider = "..."`` in the config to a class, imported only when used, so start-up
stays cheap and a provider's heavy client library loads only for accounts that need it.
"""

from __future__ import annotations

import importlib

from connectors.base import CalendarTarget, Source

SOURCES: dict[str, str] = {
    "maildir": "connectors.maildir:MaildirSource",
    "mbox": "connectors.mbox:MboxSource",
    "ics": "connectors.ics:IcsSource",
    "google": "connectors.google:GoogleSource",
    "microsoft": "connectors.microsoft:MicrosoftSource",
}

TARGETS: dict[str, str] = {
    "ics": "connectors.ics_target:IcsFileTarget",
    "google": "connectors.gcal_target:GoogleCalendarTarget",
    "microsoft": "connectors.graph_calendar_target:OutlookCalendarTarget",
}

# Login for online providers: modules with ``login``, ``import_secret`` and ``describe`` (see syncd.auth).
AUTH: dict[str, str] = {
    "google": "connectors.google_auth",
    "microsoft": "connectors.microsoft_auth",
}


def _load(spec: str) -> type:
    module, _, attr = spec.partition(":")
    cls: type = getattr(importlib.import_module(module), attr)
    return cls


def source_class(provider: str) -> type[Source]:
    return _load(SOURCES[provider])


def target_class(provider: str) -> type[CalendarTarget]:
    return _load(TARGETS[provider])
