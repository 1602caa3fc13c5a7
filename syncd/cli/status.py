"""``syncd status``: each account's last pull, its cursors, errors and skips, and the follow-ups."""

from __future__ import annotations

import click

from syncd.cli.context import Context, pass_context


@click.command()
@pass_context
def status(ctx: Context) -> None:
    """Show each account: last successful pull, cursor age, last error, what was skipped."""
    from datetime import UTC, datetime

    from syncd.accounts import provider_of
    from syncd.store import open_store

    config = ctx.config()
    with open_store() as store:
        records = {record.name: record for record in store.accounts.records()}
        for name, account in config.accounts.items():
            record = records.get(name)
            if record is None:
                click.echo(f"{name} ({account.provider}): never pulled")
                continue
            state = "needs attention" if record.last_error else "ok"
            if record.needs_login:
                state = f"needs login: run 'syncd auth login {name}'"
            click.echo(f"{name} ({account.provider}): {state}")
            click.echo(f"  last successful pull: {record.last_success or 'never'}")
            click.echo(f"  cursors last moved: {store.synced.cursors_moved(name) or 'never'}")
            if record.last_error:
                click.echo(f"  last error: {record.last_error}")
            for resource, coverage in record.coverage.items():
                click.echo(f"  {resource}: {coverage}")
            for reason, count in record.skipped.items():
                click.echo(f"  skipped {count}: {reason}")
            owners = record.owner_addresses
            if owners and provider_of(account).reports_owner:
                click.echo(f"  owner (from the provider): {', '.join(owners)}")
            elif owners and not account.me:
                click.echo(f"  owner (guessed): {', '.join(owners)}")
        tally = store.followups.tally(datetime.now(UTC))
        upcoming = f", next planned {tally.next_start[:16].replace('T', ' ')} UTC" if tally.next_start else ""
        click.echo(f"follow-ups: {tally.active} in the calendar{upcoming}; {tally.dismissed} dismissed by you")
        click.echo(f"state: {store.path}; {store.count('interactions'):,} interactions")
