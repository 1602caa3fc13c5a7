"""The configuration's JSON Schema (``syncd config schema``) and each key's default as the file writes it."""

from __future__ import annotations

from datetime import time, timedelta
from typing import Any

from connectors import PROVIDERS
from connectors.settings import REQUIRED, Key, format_duration
from syncd.config.spec import (
    ACCOUNT_KEYS,
    ENGINE_KEYS,
    FOLLOWUP_KEYS,
    KIND_SCHEMAS,
    PEOPLE_KEYS,
    PROVIDER_KEYS,
    TIER_KEYS,
    WEEKDAYS,
    weekday,
)


def default_value(key: Key) -> Any:
    """``key``'s default as a TOML/JSON value, or None when there is none to write (required, or computed)."""
    def one(value: Any) -> Any:
        if key.kind is weekday:
            return WEEKDAYS[value]
        return format_duration(value) if isinstance(value, timedelta | time) else value

    if key.default is REQUIRED or key.default is None:
        return None
    return [one(item) for item in sorted(key.default)] if key.many else one(key.default)


def _key_schema(key: Key) -> dict[str, Any]:
    schema = dict(KIND_SCHEMAS.get(key.kind, {"type": "string"}))
    if key.many:
        schema = {"type": "array", "items": schema}
    if key.choices:
        schema["enum"] = list(key.choices)
    if default_value(key) is not None:
        schema["default"] = default_value(key)
    schema["description"] = key.doc
    return schema


def _object(keys: list[Key]) -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": {key.name: _key_schema(key) for key in keys},
        "required": [key.name for key in keys if key.default is REQUIRED],
    }


def _account_schema() -> dict[str, Any]:
    """Common keys, then per provider (``if``/``then``) the keys it adds; other keys are refused."""
    schema = _object(ACCOUNT_KEYS)
    del schema["additionalProperties"]  # enforced inside each provider's `then`, which knows its keys
    variants = []
    for provider, extra in sorted(PROVIDER_KEYS.items()):
        then = _object(extra)
        then["properties"] = {key.name: True for key in ACCOUNT_KEYS} | then["properties"]
        then["required"] = ["path"] if PROVIDERS[provider].reads_path else []
        chosen = {"required": ["provider"], "properties": {"provider": {"const": provider}}}
        variants.append({"if": chosen, "then": then})
    schema["allOf"] = variants
    return schema


def json_schema() -> dict[str, Any]:
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "syncd configuration",
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "accounts": {"type": "object", "additionalProperties": _account_schema()},
            "engine": _object(ENGINE_KEYS),
            "followups": _object(FOLLOWUP_KEYS),
            "tiers": {"type": "array", "items": _object(TIER_KEYS)},
            "people": {"type": "array", "items": _object(PEOPLE_KEYS)},
        },
    }
