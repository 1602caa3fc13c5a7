"""Applying a plan: records first, then the calendar, then the records settled; at most ``max_deletes``
deletions a run unless forced (docs/rules.md#safety-rails).

Crash safety: the ``followups`` records are written *before* the target is touched (``pending``,
``deleting``) and settled after ``commit`` (``active``, ``done``), so a crash anywhere leaves states the
next plan resolves without duplicates or false dismissals (see :mod:`syncd.plan.reconcile`).
"""

from __future__ import annotations

import dataclasses
from collections import Counter

from connectors.base import CalendarTarget
from syncd.plan.actions import Action, ApplyResult, Plan
from syncd.store import Store

FORCE_HINT = "syncd pull --force"


def _split(plan: Plan, force: bool) -> tuple[list[Action], list[Action], list[str]]:
    """(the writes to make, the deletions held back, messages): at most ``max_deletes`` unless forced."""
    deletes = [a for a in plan.actions if a.verb == "delete"]
    allowed = len(deletes) if force else min(len(deletes), plan.max_deletes)
    held = deletes[allowed:]
    writes = deletes[:allowed] + [a for a in plan.actions if a.verb != "delete"]
    messages = list(plan.notes)
    if held:
        messages.append(
            f"{len(held)} more deletions held back (followups.max_deletes is {plan.max_deletes} a run); "
            f"run '{FORCE_HINT}' if that is what you want"
        )
    return writes, held, messages


def preview(plan: Plan, force: bool = False) -> ApplyResult:
    """What :func:`apply` would do, without writing (``--dry-run``, ``syncd plan``)."""
    writes, held, messages = _split(plan, force)
    count = Counter(a.verb for a in writes)
    return ApplyResult(plan, False, count["create"], count["update"], count["delete"], held, messages)


def apply(plan: Plan, target: CalendarTarget, store: Store, force: bool = False) -> ApplyResult:
    """Write ``plan``: records first (pending / deleting), then the target, commit, then the records
    settled. A crash anywhere leaves states the next :func:`plan` resolves without duplicates or
    false dismissals."""
    result = preview(plan, force)
    writes = _split(plan, force)[0]
    here = target.where()
    if plan.settles or writes:
        store.followups.save([
            *(dataclasses.replace(settle.record, calendar=here) if settle.record.state == "active" else settle.record
              for settle in plan.settles),
            *(dataclasses.replace(action.record, state="deleting" if action.verb == "delete" else "pending")
              for action in writes if action.record is not None),
        ])
    if writes:
        for action in writes:
            if action.verb == "delete":
                target.delete(action.key)
            elif action.event is not None:
                (target.create if action.verb == "create" else target.update)(action.event)
        target.commit()
        here = target.where()
        store.followups.save(dataclasses.replace(action.record, calendar=here)
                             for action in writes if action.record is not None)
    result.applied = True
    return result
