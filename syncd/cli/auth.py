"""``syncd auth``: log in to online accounts (google, microsoft, imap, caldav) and manage their stored logins.

The provider-specific work (OAuth flows, what a token file looks like) is in the login module each provider
declares (``connectors.base.Provider.login``); this module only finds the account, its slot in the token
store, and talks to the user. Tokens never appear in the output.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from connectors import login_of
from connectors.base import ConnectorError, Login
from syncd.accounts import provider_of, secret_of, settings_of
from syncd.config import AccountConfig, Config
from syncd.errors import SyncdError, UsageError
from syncd.tokens import AccountSecret


class LoginFailed(SyncdError):
    """A login or import did not work; the message says why."""


def _account(click_ctx: click.Context, name: str) -> tuple[Config, AccountConfig]:
    config = click_ctx.obj.config()
    account = config.accounts.get(name)
    online = [n for n, a in config.accounts.items() if provider_of(a).needs_secret]
    if account is None:
        listed = ", ".join(online) or "none is configured"
        raise UsageError(f"no account named '{name}' in the configuration (accounts that log in: {listed})")
    if not provider_of(account).needs_secret:
        raise UsageError(f"account '{name}' ({account.provider}) reads local files and needs no login")
    return config, account


def _login(account: AccountConfig) -> Login:
    return login_of(provider_of(account))


def _slot(account: AccountConfig) -> AccountSecret:
    slot = secret_of(account)
    assert slot is not None  # _account admits only providers that log in
    return slot


@click.group(name="auth")
def auth() -> None:
    """Log in to online accounts (Google, Microsoft, IMAP, CalDAV, CardDAV); the login is kept in the system
    keyring, or in a 0600 file with token_store = "file"."""


@auth.command()
@click.argument("account")
@click.option("--no-browser", is_flag=True, help="Print the address instead of opening a browser (use with ssh -L).")
@click.option("--port", type=click.IntRange(1, 65535), default=8080, show_default=True,
              help="Local port Google redirects to (google).")
@click.option("--paste", is_flag=True, help="No local listener: paste the address the browser ends on (google).")
@click.pass_context
def login(click_ctx: click.Context, account: str, no_browser: bool, port: int, paste: bool) -> None:
    """Log in to ACCOUNT (Google: browser consent; Microsoft: a code to enter on another device; IMAP and
    CalDAV: the password, asked without echo)."""
    config, acct = _account(click_ctx, account)
    slot = _slot(acct)
    try:
        who = _login(acct).login(
            account, settings_of(acct, config), slot, no_browser=no_browser, port=port, paste=paste,
            echo=click.echo,
        )
    except ConnectorError as exc:
        raise LoginFailed(f"{account}: {exc}") from None
    if acct.options.get("password_command"):
        click.echo(f"{account}: logged in ({who}); nothing is stored")
        return
    click.echo(f"{account}: logged in ({who}); the login is kept in {slot.store.describe()}")


@auth.command(name="import")
@click.argument("account")
@click.option("--file", "path", required=True, type=click.Path(path_type=Path, dir_okay=False, allow_dash=True),
              help="Token file made elsewhere (Google: authorized-user JSON; Microsoft: MSAL cache); - is stdin.")
@click.pass_context
def import_(click_ctx: click.Context, account: str, path: Path) -> None:
    """Take a login made on another machine (for headless servers)."""
    config, acct = _account(click_ctx, account)
    try:
        text = sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    slot = _slot(acct)
    try:
        who = _login(acct).import_secret(account, settings_of(acct, config), slot, text)
    except ConnectorError as exc:
        raise LoginFailed(f"{account}: {exc}") from None
    click.echo(f"{account}: login imported ({who}); kept in {slot.store.describe()}; you may delete {path} now")


@auth.command()
@click.pass_context
def status(click_ctx: click.Context) -> None:
    """Show each online account's login (never the token itself)."""
    config = click_ctx.obj.config()
    online = {name: a for name, a in config.accounts.items() if provider_of(a).needs_secret}
    if not online:
        click.echo("no account needs a login (only local archives are configured)")
        return
    needs = _needs_login()
    for name, account in online.items():
        try:
            slot = _slot(account)
            state = _login(account).describe(slot.get())
            if account.options.get("password_command"):
                state = "the password comes from password_command (nothing stored)"
            where = slot.store.describe()
        except SyncdError as exc:  # the token store itself (no keyring, locked)
            click.echo(f"{name} ({account.provider}): {exc}")
            continue
        if name in needs:
            state = f"needs login: {needs[name]}"
        click.echo(f"{name} ({account.provider}): {state}; kept in {where}")


def _needs_login() -> dict[str, str]:
    """Accounts whose last pull ended in "needs login", from the state database (empty when there is none)."""
    from syncd.paths import state_dir
    from syncd.store import DB_NAME, open_store

    if not (state_dir() / DB_NAME).exists():
        return {}
    with open_store() as store:
        return {record.name: "the last pull could not use the stored login"
                for record in store.accounts.records() if record.needs_login}


@auth.command()
@click.argument("account")
@click.pass_context
def logout(click_ctx: click.Context, account: str) -> None:
    """Forget ACCOUNT's stored login (syncd stops reading it until the next login)."""
    _, acct = _account(click_ctx, account)
    slot = _slot(acct)
    removed = slot.clear()
    page = provider_of(acct).revoke_page or ""
    if removed:
        click.echo(f"{account}: login removed from {slot.store.describe()}; to revoke syncd's access too, see {page}")
    else:
        click.echo(f"{account}: no login was stored")
