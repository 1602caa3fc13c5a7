"""``syncd run`` (the service) and ``syncd install-units`` (its systemd user units)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import click

UNITS = ("syncd.service", "syncd-pull.service", "syncd-pull.timer")
UNIT_SOURCE = Path(__file__).resolve().parents[1] / "systemd"


@click.command()
@click.pass_context
def run(click_ctx: click.Context) -> None:
    """Run as a service: pull each account on its interval, keep follow-ups current (systemd-ready)."""
    from syncd.daemon import Daemon, setup_logging
    from syncd.paths import find_config_path

    ctx = click_ctx.obj
    setup_logging(ctx.verbose)
    sys.exit(Daemon(find_config_path(ctx.config_path)).run())


def _syncd_executable() -> str:
    found = shutil.which("syncd")
    if found:
        return str(Path(found).resolve())
    return str(Path(sys.argv[0]).resolve())


def render_unit(name: str, executable: str) -> str:
    text = (UNIT_SOURCE / name).read_text(encoding="utf-8")
    docs = UNIT_SOURCE.parent / "README.md"
    return text.replace("@SYNCD@", executable).replace("@DOCS@", str(docs))


@click.command(name="install-units")
@click.option("--force", is_flag=True, help="Replace unit files that differ from what would be written.")
def install_units(force: bool) -> None:
    """Write syncd's systemd user units to ~/.config/systemd/user and say what to run next."""
    from syncd.errors import UsageError

    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    target = base / "systemd" / "user"
    target.mkdir(parents=True, exist_ok=True)
    executable = _syncd_executable()
    for name in UNITS:
        path = target / name
        text = render_unit(name, executable)
        if path.exists() and path.read_text(encoding="utf-8") != text and not force:
            raise UsageError(f"{path} exists and differs (edited by you?); pass --force to replace it")
        path.write_text(text, encoding="utf-8")
        click.echo(f"wrote {path}")
    click.echo(
        "next:\n"
        "  systemctl --user daemon-reload\n"
        "  systemctl --user enable --now syncd.service      # or: enable --now syncd-pull.timer (not both)\n"
        "  loginctl enable-linger \"$USER\"                   # keep it running when you are logged out\n"
        "  systemctl --user status syncd                    # its state; journalctl --user -u syncd for the log"
    )
