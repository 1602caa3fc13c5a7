"""``syncd run`` (the service) and ``syncd install-units`` (its systemd user units)."""

from __future__ import annotations

import dataclasses
import os
import shutil
import sys
from pathlib import Path

import click

UNITS = ("syncd.service", "syncd-pull.service", "syncd-pull.timer")


@click.command()
@click.pass_context
def run(click_ctx: click.Context) -> None:
    """Run as a service: pull each account on its interval, keep follow-ups current (systemd-ready)."""
    from syncd.paths import find_config_path
    from syncd.service.daemon import Daemon, setup_logging

    ctx = click_ctx.obj
    setup_logging(ctx.verbose)
    sys.exit(Daemon(find_config_path(ctx.config_path)).run())


def unit_source() -> Path:
    """The unit templates: ``systemd/`` beside the package in a checkout or editable install, else where
    a wheel puts its data files (``share/syncd/systemd`` under the environment's prefix)."""
    from syncd.errors import UsageError

    checkout = Path(__file__).resolve().parents[2] / "systemd"
    for candidate in (checkout, Path(sys.prefix) / "share" / "syncd" / "systemd"):
        if (candidate / UNITS[0]).is_file():
            return candidate
    raise UsageError("this installation of syncd has no systemd unit templates; reinstall it from the source tree")


def syncd_executable() -> str:
    """The absolute path of the ``syncd`` that is running now, for ExecStart=.

    The console script that started us first, then the one beside this Python (a virtualenv's bin/), then
    PATH. Symlinks are kept (``~/.local/bin/syncd`` → a pipx venv): resolving the venv's python would lose
    the venv.
    """
    from syncd.errors import UsageError

    candidates = [Path(sys.argv[0]), Path(sys.executable).parent / "syncd"]
    found = shutil.which("syncd")
    if found:
        candidates.append(Path(found))
    for path in candidates:
        if path.name == "syncd" and path.is_file() and os.access(path, os.X_OK):
            return str(path.absolute())
    raise UsageError("cannot find the syncd executable to run from the units; install syncd with pip first")


@dataclasses.dataclass(frozen=True)
class UnitPaths:
    """What ``install-units`` fills into the templates: absolute paths, as the user's shell resolves them."""

    executable: str
    config: Path
    state: Path
    writable: tuple[Path, ...] = ()  # beyond the state folder: e.g. the folder of an .ics follow-ups file


def unit_value(path: str | Path) -> str:
    """A path as one unit-file word: ``%`` starts a specifier (systemd.unit(5)), blanks split words."""
    text = str(path).replace("%", "%%")
    return f'"{text}"' if any(c.isspace() for c in text) else text


def render_unit(name: str, paths: UnitPaths, source: Path | None = None) -> str:
    source = source or unit_source()
    text = (source / name).read_text(encoding="utf-8")
    docs = source.parent / "README.md"
    if docs.is_file():
        text = text.replace("@DOCS@", str(docs))
    else:  # an installed wheel has no README beside its units
        text = "".join(line for line in text.splitlines(keepends=True) if "@DOCS@" not in line)
    # "-": a folder that does not exist (yet) is skipped rather than failing the start (systemd.exec(5)).
    extra = [unit_value(f"-{p}") for p in dict.fromkeys(paths.writable) if p != paths.state]
    writable = " ".join([unit_value(paths.state), *extra])
    for key, value in (("@SYNCD@", unit_value(paths.executable)), ("@CONFIG@", unit_value(paths.config)),
                       ("@STATE@", unit_value(paths.state)), ("@WRITABLE@", writable)):
        text = text.replace(key, value)
    return text


def current_paths(config_option: Path | None) -> UnitPaths:
    """The paths ``syncd`` uses right now; the config, when it loads, adds the folder of an .ics target."""
    from syncd.config import load_config
    from syncd.errors import ConfigError
    from syncd.paths import find_config_path, state_dir

    config_path = find_config_path(config_option).absolute()
    writable: tuple[Path, ...] = ()
    try:
        ics_path = load_config(config_path).followups.ics_path
    except (ConfigError, OSError):
        ics_path = None  # `syncd config check` is the place for that; the units do not need it
    if ics_path is not None:
        writable = (Path(ics_path).expanduser().absolute().parent,)
    return UnitPaths(syncd_executable(), config_path, state_dir().absolute(), writable)


@click.command(name="install-units")
@click.option("--force", is_flag=True, help="Replace unit files that differ from what would be written.")
@click.pass_context
def install_units(click_ctx: click.Context, force: bool) -> None:
    """Write syncd's systemd user units to ~/.config/systemd/user and say what to run next."""
    from syncd.errors import UsageError

    # systemd.unit(5): user units are read from $XDG_CONFIG_HOME/systemd/user (default ~/.config).
    base = os.environ.get("XDG_CONFIG_HOME", "")
    target = (Path(base) if os.path.isabs(base) else Path.home() / ".config") / "systemd" / "user"
    paths = current_paths(getattr(click_ctx.obj, "config_path", None))
    rendered = {name: render_unit(name, paths) for name in UNITS}
    # Check every file before writing any, so a refusal leaves the set as it was rather than half-replaced.
    changed = [target / name for name, text in rendered.items()
               if (target / name).exists() and (target / name).read_text(encoding="utf-8") != text]
    if changed and not force:
        names = ", ".join(str(path) for path in changed)
        raise UsageError(f"{names}: exists and differs (edited by you?); pass --force to replace")
    target.mkdir(parents=True, exist_ok=True)
    for name, text in rendered.items():
        path = target / name
        if path.exists() and path.read_text(encoding="utf-8") == text:
            click.echo(f"unchanged {path}")
            continue
        path.write_text(text, encoding="utf-8")
        click.echo(f"wrote {path}")
    click.echo(f"the units run {paths.executable} with config {paths.config} and state in {paths.state}")
    click.echo(
        "next:\n"
        "  systemctl --user daemon-reload\n"
        "  systemctl --user enable --now syncd.service      # or: enable --now syncd-pull.timer (not both)\n"
        "  loginctl enable-linger \"$USER\"                   # keep it running when you are logged out\n"
        "  systemctl --user status syncd                    # its state; journalctl --user -u syncd for the log"
    )
