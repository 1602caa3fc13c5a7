"""The main job, shared by ``syncd pull`` and the daemon: pull → recompute → reconcile the target.

Also the one place that opens the store and builds the follow-up target from the config, so the CLI
and the daemon stay thin shells over the same functions.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, time

from connectors.base import AuthRequired, ConnectorError
from syncd import engine
from syncd.accounts import open_target
from syncd.config import Config
from syncd.engine.due import due_followups
from syncd.errors import SyncdError, UsageError
from syncd.plan import reconcile
from syncd.plan.actions import ApplyResult
from syncd.pull import AccountSummary, Progress, ShouldStop, pull_all
from syncd.store import Store


def refreshed_now(store: Store, config: Config, as_of: date | None) -> tuple[datetime, bool]:
    """A command's "now" and whether it is historical; the engine is brought up to date unless it is."""
    now, historical = resolve_now(as_of)
    if not historical:
        engine.refresh(store, config, now)
    return now, historical


def resolve_now(as_of: date | None) -> tuple[datetime, bool]:
    """``--as-of DATE`` means the end of that day: behave as if today were DATE."""
    if as_of is None:
        return datetime.now(UTC), False
    return datetime.combine(as_of, time(23, 59, 59), UTC), True


@dataclasses.dataclass
class JobResult:
    pulls: list[AccountSummary]
    refresh: engine.RefreshStats | None
    followups: ApplyResult | None
    target_error: str | None = None
    target_needs_login: bool = False
    notes: list[str] = dataclasses.field(default_factory=list)  # e.g. the last good copy could not be renewed

    @property
    def internal(self) -> list[str]:
        """Tracebacks of bugs that stopped an account (its error says so; the others were pulled)."""
        return [summary.internal for summary in self.pulls if summary.internal]

    @property
    def needs_login(self) -> bool:
        return self.target_needs_login or any(summary.needs_login for summary in self.pulls)

    @property
    def failed(self) -> bool:
        return self.target_error is not None or any(summary.failed for summary in self.pulls)


def run_job(
    store: Store,
    config: Config,
    *,
    as_of: date | None = None,
    only: str | None = None,
    dry_run: bool = False,
    force: bool = False,
    progress: Progress | None = None,
    should_stop: ShouldStop | None = None,
) -> JobResult:
    if only is not None and only not in config.accounts:
        raise UsageError(f"no account named '{only}' in the configuration")
    pulls = pull_all(store, config, only, progress, should_stop)
    if should_stop is not None and should_stop():
        return JobResult(pulls, None, None)  # stopping: recompute and reconcile on the next run
    now, historical = resolve_now(as_of)
    stats = engine.refresh(store, config, datetime.now(UTC))
    statuses = engine.people(store, config, now, historical=historical)
    due = due_followups(statuses, store, config, now)
    try:
        target = open_target(config)
        outcome = JobResult(pulls, stats, reconcile.reconcile(
            due, store, target, now, config.followups, dry_run=dry_run, force=force))
    except (ConnectorError, SyncdError) as exc:  # SyncdError: the token store
        needs_login = isinstance(exc, AuthRequired)
        outcome = JobResult(pulls, stats, None, target_error=str(exc), target_needs_login=needs_login)
    warning = store.keep_last_good()  # once a day: the copy a damaged database is replaced by
    if warning:
        outcome.notes.append(warning)
    return outcome
