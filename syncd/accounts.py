"""From an account in the configuration to its connectors: settings, secret slot, source, address book,
follow-ups target.

Everything provider-specific comes from the provider's declaration (``connectors.PROVIDERS``); the pull,
the follow-ups and ``syncd auth`` all build what they need here, the same way for every provider.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import connectors
from connectors.base import AddressBook, CalendarTarget, Provider, Source
from syncd.config import AccountConfig, Config
from syncd.paths import state_dir
from syncd.tokens import AccountSecret, open_token_store

ICS_TARGET = "ics"  # ``followups.target = "ics"``: the file target, not an account


def provider_of(account: AccountConfig) -> Provider:
    return connectors.PROVIDERS[account.provider]


def settings_of(account: AccountConfig, config: Config | None = None) -> dict[str, Any]:
    """What the account's connectors read: its path, its owner addresses and its provider's own keys; with
    ``config``, also the name of the follow-ups calendar (for the target, and for logins that create it)."""
    settings = {"path": account.path, "me": account.me, **account.options}
    if config is not None:
        settings["calendar_name"] = config.followups.calendar_name
    return settings


def secret_of(account: AccountConfig) -> AccountSecret | None:
    """The account's slot in the token store; None for providers that need no login."""
    if not provider_of(account).needs_secret:
        return None
    return AccountSecret(open_token_store(account.options.get("token_store", "keyring"), state_dir()), account.name)


def open_source(account: AccountConfig) -> Source:
    return connectors.open_source(provider_of(account), account.name, settings_of(account), secret_of(account))


def reads_contacts(account: AccountConfig) -> bool:
    """Whether the account's address book is read (always for vcard and carddav; opt-in elsewhere)."""
    return connectors.reads_contacts(provider_of(account), settings_of(account))


def open_address_book(account: AccountConfig) -> AddressBook:
    return connectors.open_address_book(provider_of(account), account.name, settings_of(account), secret_of(account))


def followups_path(config: Config) -> Path:
    return config.followups.ics_path or state_dir() / "followups.ics"


def open_target(config: Config) -> CalendarTarget:
    """The calendar follow-ups are written to: the .ics file, or the account ``followups.target`` names."""
    name = config.followups.target
    if name == ICS_TARGET:
        settings = {"path": followups_path(config), "calendar_name": config.followups.calendar_name}
        return connectors.open_target(connectors.PROVIDERS[ICS_TARGET], ICS_TARGET, settings, None)
    account = config.accounts.get(name)
    # Loading the configuration refused any other followups.target, with its sentence (syncd/config/load.py).
    assert account is not None and provider_of(account).target is not None, name
    return connectors.open_target(provider_of(account), account.name, settings_of(account, config), secret_of(account))
