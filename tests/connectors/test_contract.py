"""The connector contract, run against every registered source and target.

A new connector gets these for free by adding a factory below: it must yield well-formed batches,
resume from its own cursors without re-reading anything, fail as a whole with SourceUnavailable, and
(targets) create idempotently, touch only its own events, and keep what it committed. Address books have
a contract of their own (``test_address_book_contract.py``).

Online providers run against their loopback fakes or real servers: ``ONLINE_SOURCES`` names, per provider,
context managers (``module`` for its ``contract_source``, or ``module:function``) taking ``tmp_path`` and
yielding a Source seeded with mail or meetings, and ``ONLINE_TARGETS`` ones (``contract_target``) yielding a
factory of targets on one calendar. A provider with several servers (CalDAV: Radicale and Xandikos) meets the
contract on each.
"""

from __future__ import annotations

import importlib
import mailbox
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import connectors
from connectors.base import Batch, CalendarTarget, FollowupEvent, Source, SourceUnavailable
from syncd.sample import write_sample
from syncd.store import Store
from tests.fakes.known import StoreKnown as _Known

ANCHOR = date(2026, 3, 2)


def _sample(tmp_path: Path) -> Path:
    write_sample(tmp_path / "sample", anchor=ANCHOR)
    return tmp_path / "sample"


def _maildir(tmp_path: Path) -> dict[str, Any]:
    return {"path": _sample(tmp_path) / "mail", "me": ("sam@example.com",)}


def _mbox(tmp_path: Path) -> dict[str, Any]:
    sample = _sample(tmp_path)
    box = mailbox.mbox(str(tmp_path / "takeout.mbox"))
    for folder in (sample / "mail" / "cur", sample / "mail" / ".Sent" / "cur"):
        for path in sorted(folder.iterdir()):
            box.add(path.read_bytes())
    box.flush()
    box.close()
    return {"path": tmp_path / "takeout.mbox", "me": ("sam@example.com",)}


def _ics(tmp_path: Path) -> dict[str, Any]:
    now = datetime(ANCHOR.year, ANCHOR.month, ANCHOR.day, 12, tzinfo=UTC)
    return {"path": _sample(tmp_path) / "calendar.ics", "me": ("sam@example.com",), "now": now}


SOURCE_SETTINGS: dict[str, Callable[[Path], dict[str, Any]]] = {"maildir": _maildir, "mbox": _mbox, "ics": _ics}
ONLINE_SOURCES = {
    "google": ["tests.fakes.gmail_contract"],
    "microsoft": ["tests.fakes.graph_mail_contract"],
    "imap": ["tests.servers.contract:imap_source"],
    "caldav": ["tests.servers.contract:radicale_source", "tests.servers.contract:xandikos_source"],
}
ONLINE_TARGETS = {
    "google": ["tests.fakes.gcal_contract"],
    "microsoft": ["tests.fakes.graph_calendar_contract"],
    "caldav": ["tests.servers.contract:radicale_target", "tests.servers.contract:xandikos_target"],
}
# What an online account yields: Google and Microsoft accounts are mail and meetings at once.
KINDS = {"google": {"mail", "event"}, "microsoft": {"mail", "event"}, "imap": {"mail"}, "caldav": {"event"}}


def _variants(online: dict[str, list[str]], local: list[str]) -> list[Any]:
    """(provider, context-manager spec or None) for every registered provider and each of its servers."""
    out = [pytest.param((name, None), id=name) for name in local]
    for name, specs in online.items():
        for spec in specs:
            server = spec.partition(":")[2].split("_")[0]
            out.append(pytest.param((name, spec), id=f"{name}-{server}" if len(specs) > 1 else name))
    return sorted(out, key=lambda p: p.id)


def _opener(spec: str, default: str) -> Callable[[Path], Any]:
    module, _, function = spec.partition(":")
    opener: Callable[[Path], Any] = getattr(importlib.import_module(module), function or default)
    return opener


SOURCES = sorted(name for name, provider in connectors.PROVIDERS.items() if provider.source)


def test_every_registered_source_has_contract_settings() -> None:
    assert set(SOURCE_SETTINGS) | set(ONLINE_SOURCES) == set(SOURCES)


@pytest.fixture(params=_variants(ONLINE_SOURCES, sorted(set(SOURCES) - set(ONLINE_SOURCES))))
def source(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Source]:
    provider, spec = request.param
    if spec is not None:
        with _opener(spec, "contract_source")(tmp_path) as online:
            yield online
        return
    yield connectors.open_source(connectors.PROVIDERS[provider], "acct", SOURCE_SETTINGS[provider](tmp_path), None)


def _pull_into(store: Store, source: Source) -> list[Batch]:
    batches = list(source.pull(store.synced.cursors("acct"), _Known(store)))
    for batch in batches:
        store.synced.apply_batch("acct", batch)
    return batches


def test_source_yields_well_formed_batches(source: Source) -> None:
    store = Store(":memory:")
    store.accounts.ensure("acct", source.provider)
    batches = _pull_into(store, source)
    items = [item for batch in batches for item in batch.interactions]
    assert items, "the sample has interactions for every source"
    assert len({item.provider_id for item in items}) == len(items)
    for item in items:
        assert item.kind in ("mail", "event")
        assert item.timestamp is None or item.timestamp.utcoffset() == timedelta(0)
        assert item.participants
        for participant in item.participants:
            assert participant.role in ("from", "to", "cc", "bcc", "organizer", "attendee")
            assert "@" in participant.address
    assert all(isinstance(batch.resource, str) and batch.resource for batch in batches)
    if source.provider in ONLINE_SOURCES:
        assert {item.kind for item in items} == KINDS[source.provider]
    assert store.count("interactions") > 0


def test_source_resumes_from_its_cursor_without_new_rows(source: Source) -> None:
    store = Store(":memory:")
    store.accounts.ensure("acct", source.provider)
    _pull_into(store, source)
    before = store.count("sightings")
    again = _pull_into(store, source)
    assert sum(len(batch.interactions) for batch in again) == 0
    assert sum(len(batch.deleted) for batch in again) == 0
    assert store.count("sightings") == before


def test_source_with_missing_path_fails_as_a_whole(source: Source, tmp_path: Path) -> None:
    if source.provider in ONLINE_SOURCES:
        pytest.skip("online sources have no path; their whole-source failure is a revoked login (tests per provider)")
    settings = dict(source.settings)
    settings["path"] = tmp_path / "nowhere"
    broken = type(source)("acct", settings)
    with pytest.raises(SourceUnavailable, match="nowhere"):
        list(broken.pull({}, _Known(Store(":memory:"))))


# ---- targets ---------------------------------------------------------------------------------------


def _ics_target(tmp_path: Path) -> CalendarTarget:
    settings = {"path": tmp_path / "followups.ics", "calendar_name": "Follow-ups"}
    return connectors.open_target(connectors.PROVIDERS["ics"], "ics", settings, None)


TARGET_FACTORIES: dict[str, Callable[[Path], CalendarTarget]] = {"ics": _ics_target}


def test_every_registered_target_has_a_factory() -> None:
    assert set(TARGET_FACTORIES) | set(ONLINE_TARGETS) == {name for name, provider in connectors.PROVIDERS.items() if provider.target}


@pytest.fixture(params=_variants(
    ONLINE_TARGETS, sorted(name for name, provider in connectors.PROVIDERS.items() if provider.target
                           and name not in ONLINE_TARGETS)))
def target_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], CalendarTarget]]:
    provider, spec = request.param
    if spec is not None:
        with _opener(spec, "contract_target")(tmp_path) as factory:
            yield factory
        return
    yield lambda: TARGET_FACTORIES[provider](tmp_path)


def _followup(key: str, title: str = "Reach out to Alice") -> FollowupEvent:
    start = datetime(2026, 3, 3, 9, 30, tzinfo=UTC)
    return FollowupEvent(
        key=key,
        person="alice@example.org",
        start=start,
        duration_minutes=15,
        title=title,
        description="last contact 2026-02-01",
        reminder_minutes=0,
        planned_start=start,
    )


def test_target_create_is_idempotent_and_durable(target_factory: Callable[[], CalendarTarget]) -> None:
    target = target_factory()
    assert target.list_own() == []
    target.create(_followup("k1"))
    target.create(_followup("k1"))
    target.commit()
    listed = target_factory().list_own()
    assert [event.key for event in listed] == ["k1"]
    assert listed[0].start == _followup("k1").start
    assert listed[0].planned_start == _followup("k1").start


def test_target_update_and_delete(target_factory: Callable[[], CalendarTarget]) -> None:
    target = target_factory()
    target.create(_followup("k1"))
    target.create(_followup("k2"))
    target.commit()
    target = target_factory()
    target.update(_followup("k1", title="Reach out to Alice Moreau"))
    target.delete("k2")
    target.delete("never-existed")
    target.commit()
    listed = {event.key: event for event in target_factory().list_own()}
    assert set(listed) == {"k1"}
    assert listed["k1"].title == "Reach out to Alice Moreau"
