"""What every command shares: the parsed global options, the configuration, and the ``--as-of`` option."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from syncd.config import Config


class Context:
    def __init__(self, config_path: Path | None, verbose: int, traceback: bool = False) -> None:
        self.config_path = config_path
        self.verbose = verbose
        self.traceback = traceback

    def config(self) -> Config:
        from syncd.config import load_config
        from syncd.paths import find_config_path

        return load_config(find_config_path(self.config_path))


pass_context = click.make_pass_decorator(Context)


def parse_day(text: str) -> date:
    from syncd.errors import UsageError

    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"'{text}' is not a date like 2001-10-01") from None


def day_option(_ctx: click.Context, _param: click.Parameter, value: str | None) -> date | None:
    """A click callback: the option's text as a date, checked once where it is read."""
    return None if value is None else parse_day(value)


def duration_option(_ctx: click.Context, param: click.Parameter, value: str | None) -> timedelta | None:
    """A click callback: the option's text (``30d``, ``6w``) as a duration."""
    from connectors.settings import parse_duration
    from syncd.errors import UsageError

    try:
        return None if value is None else parse_duration(value)
    except ValueError as exc:
        raise UsageError(f"--{param.name}: {exc}") from None


def as_of_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--as-of DATE``: the command gets a ``date`` (or None), checked once here."""
    return click.option(
        "--as-of", "as_of", metavar="DATE", callback=day_option,
        help="Behave as if today were DATE (YYYY-MM-DD); ignore later interactions.",
    )(func)
