"""The registry of providers: one line per provider.

A provider is one package here (``local``, ``google``, ``microsoft``, ``imap``, ``caldav``, ``carddav``) that
declares what it offers in a :class:`connectors.base.Provider`: its configuration keys, its source, its address
book, its follow-ups target, its login. Adding a provider is one new package plus one line below; syncd builds
the configuration schema, the pull and ``syncd auth`` from these declarations. Classes are imported only when an
account uses them, so start-up stays cheap and a provider's client library loads only for accounts that need it.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from types import ModuleType
from typing import Any

from connectors import caldav, carddav, google, imap, local, microsoft
from connectors.base import AddressBook, CalendarTarget, Login, Provider, SecretSlot, Source

PROVIDERS: dict[str, Provider] = {provider.name: provider for provider in (
    local.MAILDIR,
    local.MBOX,
    local.ICS,
    local.VCARD,
    google.GOOGLE,
    microsoft.MICROSOFT,
    imap.IMAP,
    caldav.CALDAV,
    carddav.CARDDAV,
)}

def _load(spec: str) -> type:
    module, _, name = spec.partition(":")
    found = getattr(importlib.import_module(module), name)
    if not isinstance(found, type):
        raise TypeError(f"{spec} is not a class")
    return found


def _build(spec: str | None, kind: type, name: str, settings: Mapping[str, Any], secret: SecretSlot | None) -> Any:
    """An instance of the class ``spec`` names, checked to be a ``kind`` (an abstract class: typed by the caller)."""
    cls: Any = _load(spec or "")
    if not issubclass(cls, kind):
        raise TypeError(f"{spec} is not a {kind.__name__}")
    return cls(name, settings, secret)


def open_source(provider: Provider, name: str, settings: Mapping[str, Any], secret: SecretSlot | None) -> Source:
    """The provider's source for the account ``name``; ``provider.source`` must be set."""
    source: Source = _build(provider.source, Source, name, settings, secret)
    return source


def reads_contacts(provider: Provider, settings: Mapping[str, Any]) -> bool:
    """Whether an account with these settings reads the user's address book."""
    if provider.address_book is None:
        return False
    return provider.address_book_switch is None or bool(settings.get(provider.address_book_switch))


def open_address_book(
    provider: Provider, name: str, settings: Mapping[str, Any], secret: SecretSlot | None
) -> AddressBook:
    """The provider's address book for the account ``name``; ``provider.address_book`` must be set."""
    book: AddressBook = _build(provider.address_book, AddressBook, name, settings, secret)
    return book


def open_target(
    provider: Provider, name: str, settings: Mapping[str, Any], secret: SecretSlot | None
) -> CalendarTarget:
    """The provider's follow-ups target; ``provider.target`` must be set (the configuration checks it)."""
    target: CalendarTarget = _build(provider.target, CalendarTarget, name, settings, secret)
    return target


def login_of(provider: Provider) -> Login:
    """The module that logs the provider's accounts in; ``provider.login`` must be set."""
    if provider.login is None:
        raise ValueError(f"provider {provider.name} has no login")
    module: ModuleType = importlib.import_module(provider.login)
    if not isinstance(module, Login):
        raise TypeError(f"{provider.login} does not offer login, import_secret and describe")
    return module
