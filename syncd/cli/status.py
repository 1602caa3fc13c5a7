"""``syncd status``: each account's last pull, its cursors, errors and skips, and the follow-ups."""

from __future__ import annotations

import json

import click

from syncd.cli.context import Context, pass_context


@click.command()
@pass_context
def status(ctx: Context) -> None:
    """Show each account: last successful pull, cursor age, last error, what was skipped."""
    from syncd import pipeline
    from syncd.accounts import provider_of
    from syncd.store import utc_now_iso

    config = ctx.config()
    with pipeline.open_store() as store:
        rows = {row["name"]: row for row in store.accounts()}
        for name, account in config.accounts.items():
            row = rows.get(name)
            if row is None:
                click.echo(f"{name} ({account.provider}): never pulled")
                continue
            summary = json.loads(row["last_summary"] or "{}")
            state = "needs attention" if row["last_error"] else "ok"
            if row["last_error"] and summary.get("needs_login"):
                state = f"needs login: run 'syncd auth login {name}'"
            click.echo(f"{name} ({account.provider}): {state}")
            click.echo(f"  last successful pull: {row['last_success'] or 'never'}")
            cursor_age = store.db.execute(
                "SELECT MAX(updated) FROM cursors WHERE account = ?", (name,)
            ).fetchone()[0]
            click.echo(f"  cursors last moved: {cursor_age or 'never'}")
            if row["last_error"]:
                click.echo(f"  last error: {row['last_error']}")
            for resource, coverage in summary.get("coverage", {}).items():
                click.echo(f"  {resource}: {coverage}")
            for reason, count in summary.get("skipped", {}).items():
                click.echo(f"  skipped {count}: {reason}")
            owners = json.loads(row["owner_addresses"] or "[]")
            if owners and provider_of(account).needs_secret:
                click.echo(f"  owner (from the provider): {', '.join(owners)}")
            elif owners and not account.me:
                click.echo(f"  owner (guessed): {', '.join(owners)}")
        active, next_start, dismissed = store.db.execute(
            "SELECT SUM(state = 'active'), "
            "MIN(CASE WHEN state = 'active' AND planned_start >= ? THEN planned_start END), "
            "SUM(state = 'dismissed') FROM followups",
            (utc_now_iso(),),
        ).fetchone()
        upcoming = f", next planned {next_start[:16].replace('T', ' ')} UTC" if next_start else ""
        click.echo(f"follow-ups: {active or 0} in the calendar{upcoming}; {dismissed or 0} dismissed by you")
        click.echo(f"state: {store.path}; {store.count('interactions'):,} interactions")
