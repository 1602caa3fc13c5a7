"""Where syncd finds its configuration and keeps its state (XDG, or what systemd hands it)."""

from __future__ import annotations

import os
from pathlib import Path


def _xdg(variable: str, fallback: str) -> Path:
    value = os.environ.get(variable, "")
    # The XDG spec says relative values are invalid and must be ignored.
    return Path(value) if value and os.path.isabs(value) else Path.home() / fallback


def find_config_path(cli_path: Path | None = None) -> Path:
    """``--config``, else ``$SYNCD_CONFIG``, else systemd's ``$CONFIGURATION_DIRECTORY``, else XDG."""
    if cli_path is not None:
        return Path(cli_path).expanduser()
    if os.environ.get("SYNCD_CONFIG"):
        return Path(os.environ["SYNCD_CONFIG"]).expanduser()
    if os.environ.get("CONFIGURATION_DIRECTORY"):
        # systemd.exec(5): a colon-separated list when several directories are configured.
        return Path(os.environ["CONFIGURATION_DIRECTORY"].split(":")[0]) / "config.toml"
    return _xdg("XDG_CONFIG_HOME", ".config") / "syncd" / "config.toml"


def state_dir(ensure: bool = True) -> Path:
    """``$STATE_DIRECTORY`` (systemd), else ``$SYNCD_STATE_DIR``, else ``$XDG_STATE_HOME/syncd``."""
    if os.environ.get("STATE_DIRECTORY"):
        path = Path(os.environ["STATE_DIRECTORY"].split(":")[0])
    elif os.environ.get("SYNCD_STATE_DIR"):
        path = Path(os.environ["SYNCD_STATE_DIR"]).expanduser()
    else:
        path = _xdg("XDG_STATE_HOME", ".local/state") / "syncd"
    if ensure:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path
