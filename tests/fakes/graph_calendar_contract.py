"""The connector contract's Outlook target: OutlookCalendarTarget instances on one started Graph calendar fake."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

from connectors.base import CalendarTarget, FollowupEvent
from connectors.microsoft.calendar_target import OutlookCalendarTarget
from connectors.throttle import RateBudget, RetryPolicy, Throttle
from tests.fakes.graph_calendar import GraphCalendarFake
from tests.fakes.server import FakeServer

TOKEN = "t"


def no_sleep_throttle(sleeps: list[float] | None = None, concurrency: int = 4) -> Throttle:
    """A throttle that records the waits it would make instead of sleeping (tests never really back off)."""
    record = sleeps if sleeps is not None else []
    return Throttle(RateBudget(10_000, 600, sleep=record.append), RetryPolicy(rng=lambda: 0.0),
                    concurrency=concurrency, sleep=record.append)


def settings(base_url: str, **extra: Any) -> dict[str, Any]:
    return {
        "graph_endpoint": base_url, "window_past": timedelta(days=365), "window_future": timedelta(days=180),
        "rate_limit": 10_000, "concurrency": 4, "followups_calendar_id": None, "me": ("sam@example.com",),
        "calendar_name": "Follow-ups", **extra,
    }


def written(writer: OutlookCalendarTarget, *events: FollowupEvent) -> OutlookCalendarTarget:
    """``events`` created, and committed (the target sends its writes at commit)."""
    for event in events:
        writer.create(event)
    writer.commit()
    return writer


@contextlib.contextmanager
def contract_target(tmp_path: Path) -> Iterator[Callable[[], CalendarTarget]]:
    os.environ["no_proxy"] = "127.0.0.1,localhost"
    with FakeServer(max_concurrent=4) as server:
        fake = GraphCalendarFake(server)
        fake.bearer_guard(TOKEN)

        def factory() -> CalendarTarget:
            return OutlookCalendarTarget("acct", settings(server.base_url), None, token=lambda force: TOKEN,
                                         throttle=no_sleep_throttle())

        yield factory
