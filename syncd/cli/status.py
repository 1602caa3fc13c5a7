"""``syncd status``: each account's last pull, its cursors, errors and what is still skipped, the follow-ups,
and which addresses count as you (and why).

One function builds the report as plain data; it is printed as text or, with ``--json``, as JSON, so
both say the same. Skipped items come from the store's record of everything left out and not yet read,
not from the last pull's summary: an item skipped three pulls ago is still listed. The state is opened
read-only when it cannot be written, so status works on a read-only state too.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import TYPE_CHECKING, Any

import click

from syncd.cli.context import Context, pass_context

if TYPE_CHECKING:
    from syncd.config import Config
    from syncd.store import Store


@click.command()
@click.option("--skipped", "every_skipped", is_flag=True, help="List every item still skipped, with its reason.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (every skipped item included).")
@pass_context
def status(ctx: Context, every_skipped: bool, as_json: bool) -> None:
    """Show each account (last successful pull, cursor age, last error, what is still skipped, the rate
    learned for it) and which addresses count as you."""
    from syncd.store import open_store

    config = ctx.config()
    with open_store(read_only_ok=True) as store:
        data = report(store, config)
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    for line in lines(data, every_skipped):
        click.echo(line)


def report(store: Store, config: Config) -> dict[str, Any]:
    """The status as plain data (what ``--json`` prints)."""
    from datetime import UTC, datetime

    from syncd.accounts import provider_of
    from syncd.engine.owners import find as find_owners

    records = {record.name: record for record in store.accounts.records()}
    accounts = []
    for name, account in config.accounts.items():
        entry: dict[str, Any] = {"name": name, "provider": account.provider}
        record = records.get(name)
        if record is None:
            accounts.append({**entry, "state": "never pulled"})
            continue
        state = "needs attention" if record.last_error else "ok"
        if record.needs_login:
            state = f"needs login: run 'syncd auth login {name}'"
        items = [
            {"resource": resource, "item": item, "reason": reason, "since": since}
            for resource, item, reason, since in store.synced.skipped_items(name)
        ]
        online = provider_of(account).reports_owner
        source = "provider" if online else None if account.me else "guessed"
        owners = list(record.owner_addresses)
        accounts.append({
            **entry,
            "state": state,
            "last_success": record.last_success,
            "cursors_moved": store.synced.cursors_moved(name),
            "last_error": record.last_error,
            "coverage": record.coverage,
            "skipped": dict(Counter(item["reason"].split(":", 1)[0] for item in items).most_common()),
            "skipped_items": items,
            "owner": {"addresses": owners, "source": source} if owners and source else None,
            # The rate each provider was found to accept (Gmail's quota, learned: docs/gmail.md#learning-the-rate).
            "rates": [{"api": rate.api, "endpoint": rate.endpoint, "units_per_minute": rate.units_per_minute,
                       "regime": rate.regime, "updated": rate.updated} for rate in store.rates.of(name)],
        })
    tally = store.followups.tally(datetime.now(UTC))
    return {
        "accounts": accounts,
        "followups": {"in_calendar": tally.active, "next_planned": tally.next_start, "dismissed": tally.dismissed},
        "state": {"path": str(store.path) if store.path else None, "interactions": store.count("interactions"),
                  "read_only": store.read_only},
        # Which addresses count as you, and why (docs/rules.md#owner-addresses): address -> reason.
        "you": dict(sorted(find_owners(store, config).why.items())),
    }


def lines(data: dict[str, Any], every_skipped: bool = False) -> list[str]:
    """The report as text; ``every_skipped`` lists each skipped item under its reason's count."""
    out: list[str] = []
    for account in data["accounts"]:
        out.append(f"{account['name']} ({account['provider']}): {account['state']}")
        if account["state"] == "never pulled":
            continue
        out.append(f"  last successful pull: {account['last_success'] or 'never'}")
        out.append(f"  cursors last moved: {account['cursors_moved'] or 'never'}")
        if account["last_error"]:
            out.append(f"  last error: {account['last_error']}")
        for resource, coverage in account["coverage"].items():
            out.append(f"  {resource}: {coverage}")
        for rate in account["rates"]:
            out.append(f"  {rate['api']} rate: {rate['units_per_minute']:,.0f} units a minute, {rate['regime']} quota "
                       f"regime (learned, as of {rate['updated']})")
        for reason, count in account["skipped"].items():
            out.append(f"  skipped {count}: {reason}")
            if every_skipped:
                out.extend(f"    {item['item']}: {item['reason']}" for item in account["skipped_items"]
                           if item["reason"].split(":", 1)[0] == reason)
        owner = account["owner"]
        if owner:
            label = "from the provider" if owner["source"] == "provider" else "guessed"
            out.append(f"  owner ({label}): {', '.join(owner['addresses'])}")
    followups = data["followups"]
    upcoming = followups["next_planned"]
    upcoming_text = f", next planned {upcoming[:16].replace('T', ' ')} UTC" if upcoming else ""
    out.append(f"follow-ups: {followups['in_calendar']} in the calendar{upcoming_text}; "
               f"{followups['dismissed']} dismissed by you")
    state = data["state"]
    read_only = " (read-only: a pull cannot update it)" if state["read_only"] else ""
    out.append(f"state: {state['path']}{read_only}; {state['interactions']:,} interactions")
    out.append("addresses that count as you:" if data["you"] else "addresses that count as you: none yet")
    out.extend(f"  {address}: {why}" for address, why in data["you"].items())
    return out
