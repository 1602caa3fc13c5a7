"""The configuration file: its spec, validation, typed settings, JSON Schema and starter.

* ``spec`` — every key of syncd's own tables (a provider's own keys are declared in its connectors package);
* ``load`` — reads and validates the TOML file, reporting every problem at once;
* ``settings`` — the typed, frozen settings the rest of syncd reads;
* ``schema`` — the JSON Schema (``syncd config schema``); ``starter`` — what ``syncd init`` writes.
"""

from __future__ import annotations

from syncd.config.load import load_config, parse_config
from syncd.config.schema import default_value, json_schema
from syncd.config.settings import (
    AccountConfig,
    Config,
    EngineConfig,
    FollowupsConfig,
    PersonConfig,
    TierConfig,
    local_timezone,
)
from syncd.config.spec import ACCOUNT_KEYS, ENGINE_KEYS, FOLLOWUP_KEYS, PEOPLE_KEYS, PROVIDER_KEYS, TIER_KEYS
from syncd.config.starter import STARTER_CONFIG

__all__ = [
    "ACCOUNT_KEYS", "ENGINE_KEYS", "FOLLOWUP_KEYS", "PEOPLE_KEYS", "PROVIDER_KEYS", "STARTER_CONFIG",
    "TIER_KEYS", "AccountConfig", "Config", "EngineConfig", "FollowupsConfig", "PersonConfig", "TierConfig",
    "default_value", "json_schema", "load_config", "local_timezone", "parse_config",
]
