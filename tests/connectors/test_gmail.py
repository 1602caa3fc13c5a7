"""Gmail: the connector against the stateful fake, through google-api-python-client and google-auth on loopback.

Every test ends the same way: what the store holds equals what the fake's mailbox lists (spam, trash and
drafts left out), with no duplicates, whatever fault came in between.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from connectors.base import AuthRequired, Batch, ConnectorError, CursorExpired
from connectors.google.gmail import Cursor, GmailSource, to_interaction
from connectors.throttle import RateBudget, RetryPolicy, Throttle
from syncd.store import Store
from tests.fakes.gmail import GmailWorld
from tests.fakes.known import StoreKnown, pull_into
from tests.fakes.server import DROP, Request, Response

os.environ["NO_PROXY"] = "127.0.0.1,localhost"

ME = "sam@example.com"
NOW_MS = int(datetime.now(UTC).timestamp() * 1000)
DAY_MS = 86_400_000


class Sleeps:
    """A fake sleep: the backoff is recorded, never waited."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def throttle(sleeps: Sleeps | None = None, quota: float = 1e9, attempts: int = 6) -> Throttle:
    sleep = sleeps or Sleeps()
    return Throttle(RateBudget(quota, 60, sleep=sleep), RetryPolicy(attempts=attempts, base=0.001, jitter=0.0), sleep=sleep)


def seed(world: GmailWorld, n: int, *, start_days_ago: float = 1.0, step_days: float = 1.0) -> list[str]:
    """n messages, alternately received and sent, one a day back from ``start_days_ago``."""
    ids = []
    for i in range(n):
        when = NOW_MS - int((start_days_ago + i * step_days) * DAY_MS)
        other = f"p{i % 7}@example.org"
        if i % 2:
            ids.append(world.gmail.add(ME, [other], when_ms=when, labels=["SENT"], subject=f"s{i}"))
        else:
            ids.append(world.gmail.add(f"P {i} <{other}>", [ME], when_ms=when, labels=["INBOX", "UNREAD"],
                                       subject=f"r{i}"))
    return ids


def source(world: GmailWorld, th: Throttle | None = None, **settings: Any) -> GmailSource:
    return GmailSource("g", {**world.settings, **settings}, world.slot, throttle=th or throttle())


def pull(store: Store, src: GmailSource, stop_after: int | None = None) -> list[Batch]:
    """What syncd.pull does: every batch committed with its cursor; optionally killed after k batches."""
    return pull_into(store, src, "g", stop_after=stop_after)


def pull_resyncing(store: Store, src: GmailSource) -> list[Batch]:
    """pull, and on CursorExpired what syncd.pull does: forget the cursor and pull again."""
    try:
        return pull(store, src)
    except CursorExpired:
        store.synced.reset_cursor("g", "gmail")
        return pull(store, src)


def new_store() -> Store:
    store = Store(":memory:")
    store.accounts.ensure("g", "google")
    return store


def assert_matches(store: Store, world: GmailWorld) -> None:
    """The store holds exactly the listed mailbox: one sighting and one interaction per message."""
    expected = world.gmail.listed()
    rows = store.db.execute(
        "SELECT s.provider_id, substr(i.message_key, 1, instr(i.message_key, char(10)) - 1), i.ts, i.bulk "
        "FROM sightings s JOIN interactions i ON i.id = s.interaction_id "
        "WHERE s.account = 'g'"
    ).fetchall()
    ids = [row[0] for row in rows]
    assert len(ids) == len(set(ids)), "duplicate sightings"
    assert set(ids) == set(expected)
    assert store.count("interactions") == len(expected)
    for provider_id, message_id, ts, _bulk in rows:
        message = expected[provider_id]
        assert message_id == f"{message.id}@mail.example.com" or message_id.endswith("@mail.example.com")
        assert ts == message.internal_date // 1000
    # And nothing the metadata scope refuses was ever asked (docs/gmail.md#metadata-scope).
    for request in world.server.requests():
        assert "q" not in request.query
        assert request.query.get("format", ["metadata"]) == ["metadata"]


def bulk_of(store: Store, provider_id: str) -> str | None:
    row = store.db.execute(
        "SELECT i.bulk FROM sightings s JOIN interactions i ON i.id = s.interaction_id WHERE s.provider_id = ?",
        (provider_id,),
    ).fetchone()
    assert row is not None
    return row[0]


# ---- full sync --------------------------------------------------------------------------------------------


def test_full_sync_reads_metadata_newest_first_in_batches_of_50(world: GmailWorld) -> None:
    seed(world, 120)
    store = new_store()
    batches = pull(store, source(world))
    assert_matches(store, world)
    # Profile first (its history id), then the listing; never q, never format=full (docs/gmail.md#metadata-scope).
    log = world.server.log
    assert log[0].path.endswith("/profile")
    for request in log:
        assert "q" not in request.query
        if "/messages/" in request.path:
            assert request.query["format"] == ["metadata"]
            assert "From" in request.query["metadataHeaders"]
            assert len(request.query["metadataHeaders"]) == 10
    lists = world.server.requests("GET", r"/messages\Z")
    assert all(r.query["maxResults"] == ["500"] and r.query["includeSpamTrash"] == ["false"] for r in lists)
    assert all("labelIds" not in r.query for r in lists)
    assert world.gmail.batch_sizes and max(world.gmail.batch_sizes) <= 50
    # Newest first: the timestamps of the interactions only go back in time.
    times = [i.timestamp for b in batches for i in b.interactions if i.timestamp is not None]
    assert times == sorted(times, reverse=True)
    assert batches[-1].complete and batches[-1].full and batches[-1].coverage is None
    assert batches[0].expected == 120
    assert set(batches[-1].owner_addresses) == {ME}


def test_interaction_fields(world: GmailWorld) -> None:
    gid = world.gmail.add("Ann <ann@example.org>", [ME, "x@example.org"], cc=["y@example.org", "Bad Name"],
                          when_ms=NOW_MS - DAY_MS, labels=["INBOX", "CATEGORY_PROMOTIONS"], subject="Sale",
                          thread="t-1", message_id="abc")
    batches = pull(new_store(), source(world))
    [item] = [i for b in batches for i in b.interactions]
    assert item.provider_id == gid
    assert item.message_id == "abc@mail.example.com"
    assert item.timestamp == datetime.fromtimestamp((NOW_MS - DAY_MS) / 1000, UTC)
    assert item.link == "https://mail.google.com/mail/#all/t-1"
    assert item.bulk == "CATEGORY_PROMOTIONS"
    assert item.subject == "Sale"
    assert [(p.address, p.role) for p in item.participants] == [
        ("ann@example.org", "from"), (ME, "to"), ("x@example.org", "to"), ("y@example.org", "cc")]
    assert item.recipient_count == 4  # the unusable "Bad Name" counts as sent to
    skips = [s for b in batches for s in b.skipped]
    assert any("local@domain" in s.why for s in skips)


def test_bulk_headers_win_over_labels_and_malformed_headers_are_skips() -> None:
    message = {"id": "m1", "threadId": "t", "labelIds": ["CATEGORY_UPDATES"], "internalDate": "1700000000000",
               "payload": {"headers": [{"name": "From", "value": "a@example.org"}, {"name": "To", "value": ME},
                                       {"name": "List-Id", "value": "<list.example.org>"}]}}
    item, _ = to_interaction(message)
    assert item is not None and item.bulk == "List-Id"
    for broken in ({"id": "m2", "payload": {"headers": "junk"}}, {"id": "m3", "payload": None},
                   {"id": "m4", "payload": {"headers": [{"name": "Subject", "value": "no one"}]}},
                   {"id": "m5", "payload": {"headers": [None, 3]}}):
        item, skips = to_interaction(broken)
        assert item is None and skips, broken


# ---- increments ---------------------------------------------------------------------------------------------


def test_increment_adds_deletes_and_relabels(world: GmailWorld) -> None:
    ids = seed(world, 30)
    store = new_store()
    pull(store, source(world))
    world.server.log.clear()
    new = world.gmail.add("n@example.org", [ME], when_ms=NOW_MS, labels=["INBOX"])
    world.gmail.delete(ids[3])
    world.gmail.relabel(ids[4], add=["TRASH"], remove=["INBOX"])  # trashed: out of the listing
    world.gmail.relabel(ids[6], add=["CATEGORY_SOCIAL"])  # becomes bulk
    world.gmail.relabel(ids[8], add=["STARRED"])  # nothing syncd stores
    gone_soon = world.gmail.add("d@example.org", [ME], when_ms=NOW_MS)
    world.gmail.delete(gone_soon)  # added and deleted between pulls: never fetched
    spam = world.gmail.add("s@example.org", [ME], when_ms=NOW_MS, labels=["SPAM"])
    draft = world.gmail.add(ME, ["q@example.org"], when_ms=NOW_MS, labels=["DRAFT"])
    batches = pull(store, source(world))
    assert_matches(store, world)
    assert bulk_of(store, ids[6]) == "CATEGORY_SOCIAL"
    assert new in store.synced.known_ids("g", "gmail")
    assert not {spam, draft, gone_soon} & store.synced.known_ids("g", "gmail")
    assert not any(b.full for b in batches)
    # Only the history and the two messages whose state changed were read: no listing, no profile.
    gets = [r.path.rsplit("/", 1)[-1] for r in world.server.requests("GET", "/messages/")]
    assert sorted(gets) == sorted([new, ids[6]])
    assert not world.server.requests("GET", r"/messages\Z") and not world.server.requests("GET", "/profile")
    # Back out of trash, and out of the category: the store follows.
    world.gmail.relabel(ids[4], remove=["TRASH"], add=["INBOX"])
    world.gmail.relabel(ids[6], remove=["CATEGORY_SOCIAL"])
    pull(store, source(world))
    assert_matches(store, world)
    assert bulk_of(store, ids[6]) is None


def test_relabel_killed_between_its_two_batches(world: GmailWorld) -> None:
    """A stored message turned bulk is removed under the old cursor, then re-added: a kill in between replays."""
    ids = seed(world, 10)
    store = new_store()
    pull(store, source(world))
    world.gmail.relabel(ids[2], add=["CATEGORY_UPDATES"])
    [removal] = pull(store, source(world), stop_after=1)
    assert removal.deleted == [ids[2]] and not removal.interactions
    pull(store, source(world))
    assert_matches(store, world)
    assert bulk_of(store, ids[2]) == "CATEGORY_UPDATES"


def test_nothing_changed_is_one_request(world: GmailWorld) -> None:
    seed(world, 5)
    store = new_store()
    pull(store, source(world))
    before = len(world.server.log)
    batches = pull(store, source(world))
    assert batches == []
    assert len(world.server.log) - before == 1
    assert world.server.log[-1].path.endswith("/history")


def test_history_ids_compare_as_integers(world: GmailWorld) -> None:
    seed(world, 3)
    store = new_store()
    pull(store, source(world))
    world.gmail.history_id = 99_999  # more digits than before: string order would go wrong
    world.gmail.add("z@example.org", [ME], when_ms=NOW_MS)
    pull(store, source(world))
    cursor = Cursor.load(store.synced.cursors("g")["gmail"])
    assert cursor is not None and int(cursor.history) == world.gmail.history_id
    assert_matches(store, world)


# ---- expired history → full resync ----------------------------------------------------------------------------


def test_expired_history_resyncs_without_duplicates_and_keeps_decisions(world: GmailWorld) -> None:
    ids = seed(world, 40)
    store = new_store()
    pull(store, source(world))
    store.decisions.set_person("p1@example.org", every=timedelta(days=30), note="likes tea")
    world.gmail.expire_history()
    world.gmail.delete(ids[0])
    world.gmail.add("late@example.org", [ME], when_ms=NOW_MS)
    with pytest.raises(CursorExpired, match=r"gmail: history id \d+ is too old"):
        pull(store, source(world))
    store.synced.reset_cursor("g", "gmail")
    gets = world.gmail.requests("messages.get")
    pull(store, source(world))
    assert_matches(store, world)
    # What the store held was re-sighted from the listing, not fetched again: one get, for the new message.
    assert world.gmail.requests("messages.get") - gets == 1
    row = store.db.execute("SELECT every_days, note FROM person_settings WHERE person = 'p1@example.org'").fetchone()
    assert tuple(row) == (30, "likes tea")


def test_expired_history_through_pull_account(world: GmailWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    from syncd import accounts
    from syncd import pull as pull_module
    from syncd.config import AccountConfig

    seed(world, 12)
    store = new_store()
    th = throttle()
    settings = {**world.settings, "gmail_throttle": th}
    account = AccountConfig(name="g", provider="google", path=None, me=(), options=settings, enabled=True)
    monkeypatch.setattr(accounts, "secret_of", lambda account: world.slot)
    first = pull_module.pull_account(store, account)
    assert first.error is None and first.seen == 12
    world.gmail.expire_history()
    second = pull_module.pull_account(store, account)
    assert second.error is None and second.resynced == ["gmail"]
    assert_matches(store, world)


# ---- initial window and backfill -----------------------------------------------------------------------------


@pytest.fixture
def small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pages of 40 instead of 500, so a few hundred messages cross several pages (and stay fast)."""
    import connectors.google.gmail_client

    monkeypatch.setattr(connectors.google.gmail_client, "LIST_PAGE", 40)


def test_initial_window_then_backfill(world: GmailWorld) -> None:
    # 300 messages a day apart: a 100-day window stops after the chunk that reaches day 100.
    ids = seed(world, 300, step_days=1.0)
    store = new_store()
    src = source(world, initial_window=timedelta(days=100), gmail_backfill_per_pull=120)
    first = pull(store, src)
    assert len(store.synced.known_ids("g", "gmail")) == 100  # two batches of 50, not the whole page of 300
    assert all(b.full for b in first) and not any(b.complete for b in first)
    coverage = first[-1].coverage
    since = (datetime.now(UTC) - timedelta(days=100)).date().isoformat()
    assert coverage == f"complete back to {since}; older mail is read on later pulls"
    assert len(world.server.requests("GET", r"/messages\Z")) == 1
    # New mail and deletions meanwhile; the next pull applies them first, then backfills 120+ more.
    world.gmail.add("n@example.org", [ME], when_ms=NOW_MS)
    world.gmail.delete(ids[0])
    world.gmail.delete(ids[-1])  # not listed yet: deleting it must not break anything
    second = pull(store, src)
    assert second[0].interactions and second[0].interactions[0].provider_id not in ids  # the new mail first
    assert len(store.synced.known_ids("g", "gmail")) == 100 - 1 + 1 + 150  # three more batches of 50
    assert second[-1].coverage is not None and not any(b.complete for b in second)
    third = pull(store, src)
    assert third[-1].complete and third[-1].coverage is None
    assert_matches(store, world)
    assert pull(store, src) == []


def test_resync_with_a_window_does_not_sweep_rows_it_has_not_relisted(world: GmailWorld) -> None:
    """A resync of a store that already holds everything: a bounded listing must not delete the old rows."""
    seed(world, 200)
    store = new_store()
    pull(store, source(world))
    world.gmail.expire_history()
    src = source(world, initial_window=timedelta(days=30), gmail_backfill_per_pull=50)
    pull_resyncing(store, src)
    assert_matches(store, world)  # the older messages are still there, not yet re-listed
    for _ in range(4):
        pull(store, src)
        assert_matches(store, world)
    assert Cursor.load(store.synced.cursors("g")["gmail"]).listing is None  # type: ignore[union-attr]


def test_without_a_window_a_later_pull_finishes_a_killed_listing(world: GmailWorld, small_pages: None) -> None:
    seed(world, 130)
    store = new_store()
    pull(store, source(world), stop_after=2)
    batches = pull(store, source(world))
    assert batches[-1].complete
    assert_matches(store, world)


# ---- metadata scope --------------------------------------------------------------------------------------------


def test_fake_refuses_what_the_metadata_scope_refuses(world: GmailWorld) -> None:
    import httplib2

    gid = seed(world, 1)[0]
    token = json.loads(world.slot.value or "{}")["token"]
    http = httplib2.Http()
    base = world.gmail.endpoint + "gmail/v1/users/me"
    for url, text in ((f"{base}/messages?q=", "Metadata scope does not support 'q' parameter"),
                      (f"{base}/messages/{gid}", "Metadata scope doesn't allow format FULL"),
                      (f"{base}/messages/{gid}?format=raw", "Metadata scope doesn't allow format RAW")):
        resp, content = http.request(url, headers={"Authorization": f"Bearer {token}"})
        assert resp.status == 403 and json.loads(content)["error"]["message"] == text
    resp, content = http.request(f"{base}/messages/{gid}?format=metadata&metadataHeaders=From&metadataHeaders=To",
                                 headers={"Authorization": f"Bearer {token}"})
    assert {h["name"] for h in json.loads(content)["payload"]["headers"]} == {"From", "To"}
    resp, _ = http.request(f"{base}/messages/{gid}?format=metadata", headers={"Authorization": "Bearer nope"})
    assert resp.status == 401


# ---- faults -------------------------------------------------------------------------------------------------------


def is_get(request: Request) -> bool:
    return "/messages/" in request.path


def is_list(request: Request) -> bool:
    return request.path.endswith("/messages")


RATE_403 = Response(403, {"error": {"code": 403, "message": "User-rate limit exceeded.",
                                    "errors": [{"reason": "userRateLimitExceeded", "domain": "usageLimits"}]}})
TOO_MANY = Response(429, {"error": {"code": 429, "message": "Too many concurrent requests for user",
                                    "errors": [{"reason": "rateLimitExceeded", "domain": "usageLimits"}]}},
                    {"Retry-After": "2"})
UNAVAILABLE = Response(503, {"error": {"code": 503, "message": "The service is currently unavailable.",
                                       "errors": [{"reason": "backendError", "domain": "global"}]}})


def test_429_storm_and_5xx_on_parts_and_pages_are_retried(world: GmailWorld) -> None:
    seed(world, 130)
    sleeps = Sleeps()
    world.server.inject(is_get, TOO_MANY, times=37)  # parts of batches
    world.server.inject(is_get, RATE_403, times=11)
    world.server.inject(is_get, UNAVAILABLE, times=5)
    world.server.inject(is_list, UNAVAILABLE, times=2)  # a whole page
    world.server.inject(lambda r: r.path.startswith("/batch"), UNAVAILABLE, times=2)  # a whole batch
    store = new_store()
    pull(store, source(world, throttle(sleeps)))
    assert_matches(store, world)
    assert 2.0 in sleeps.calls  # Retry-After honoured
    assert max(world.gmail.batch_sizes) <= 50


def test_parts_that_keep_failing_fail_the_run_and_say_how_many(world: GmailWorld) -> None:
    seed(world, 100)
    store = new_store()
    failing = set(sorted(world.gmail.messages)[:6])
    world.server.inject(lambda r: is_get(r) and r.path.rsplit("/", 1)[-1] in failing, UNAVAILABLE, times=10_000)
    with pytest.raises(ConnectorError, match=r"6 of 50 messages could not be fetched \(HTTP 503"):
        pull(store, source(world, throttle(attempts=3)))
    # What was committed is true: the 50 newest (none of them failing) at most; no message is reported read
    # that was not.
    assert store.synced.known_ids("g", "gmail") <= set(world.gmail.messages) - failing
    world.server.faults.clear()
    pull(store, source(world))
    assert_matches(store, world)


def test_connection_reset_mid_page(world: GmailWorld) -> None:
    seed(world, 80)
    world.server.inject(is_list, DROP, times=1)
    world.server.inject(lambda r: r.path.startswith("/batch"), DROP, times=1)
    store = new_store()
    pull(store, source(world))
    assert_matches(store, world)


def test_deleted_between_list_and_get_is_not_an_error(world: GmailWorld) -> None:
    ids = seed(world, 20)
    doomed = ids[5]

    def delete_after_listing(request: Request) -> bool:
        if request.path.startswith("/batch") and doomed in world.gmail.messages:
            world.gmail.delete(doomed)  # listed, then deleted before its get (docs/gmail.md#getting-a-message)
        return False

    world.server.inject(delete_after_listing, DROP, times=1)
    store = new_store()
    batches = pull(store, source(world))
    assert doomed in [d for b in batches for d in b.deleted]
    assert_matches(store, world)


def test_token_expiring_mid_sync_is_refreshed_and_saved(world: GmailWorld) -> None:
    seed(world, 120)
    store = new_store()
    src = source(world)
    before = world.slot.value
    batches = src.pull(store.synced.cursors("g"), StoreKnown(store, "g"))
    for n, batch in enumerate(batches):
        store.synced.apply_batch("g", batch)
        if n == 1:
            world.oauth.expire_access_tokens()
    assert_matches(store, world)
    assert world.oauth.refreshes >= 1 and world.slot.value != before
    assert json.loads(world.slot.value or "{}")["token"] in world.oauth.access


def test_revoked_refresh_token_needs_login_without_leaking_tokens(world: GmailWorld) -> None:
    seed(world, 10)
    store = new_store()
    pull(store, source(world))
    world.gmail.add("n@example.org", [ME], when_ms=NOW_MS)
    world.oauth.revoke()
    with pytest.raises(AuthRequired) as caught:
        pull(store, source(world))
    text = str(caught.value)
    assert "needs login" in text and "rt-1" not in text and "at-" not in text
    world.oauth.add_refresh_token("rt-1", ["https://www.googleapis.com/auth/gmail.metadata"])
    pull(store, source(world))
    assert_matches(store, world)


def test_stale_page_token_restarts_the_listing(world: GmailWorld, small_pages: None) -> None:
    seed(world, 130)
    store = new_store()
    pull(store, source(world), stop_after=3)  # the profile batch, then pages 1 and 2
    world.gmail.token_epoch += 1  # Google forgot every token
    pull(store, source(world))
    assert_matches(store, world)
    assert any(r.query.get("pageToken") for r in world.server.requests("GET", r"/messages\Z"))


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5])
def test_killed_pull_resumes_to_the_same_store(world: GmailWorld, small_pages: None, k: int) -> None:
    ids = seed(world, 130)  # pages of 40: batches are the profile's, then one per page
    store = new_store()
    pull(store, source(world), stop_after=k)
    world.gmail.delete(ids[2])
    world.gmail.delete(ids[120])
    world.gmail.add("n@example.org", [ME], when_ms=NOW_MS)
    world.gmail.relabel(ids[70], add=["SPAM"])
    world.gmail.relabel(ids[90], add=["CATEGORY_FORUMS"])
    pull(store, source(world))
    assert_matches(store, world)
    assert bulk_of(store, ids[90]) == "CATEGORY_FORUMS"
    # Nothing committed was fetched again, except what the history sends back (the new and relabelled).
    assert sum(world.gmail.batch_sizes) <= 130 + 2


def test_quota_is_spent_per_method(world: GmailWorld) -> None:
    seed(world, 60)
    th = throttle()
    pull(new_store(), source(world, th))
    assert th.budget is not None
    # getProfile 1 + one list 5 + 60 gets × 20
    assert th.budget.spent_total == 1 + 5 + 60 * 20


def test_server_quota_refusals_are_waited_out(world: GmailWorld) -> None:
    seed(world, 60)
    world.gmail.quota = 1000  # fewer than the gets need: the fake answers 403 userRateLimitExceeded
    calls = []

    def sleep(seconds: float) -> None:
        calls.append(seconds)
        world.gmail.reset_quota()  # the minute passes

    th = Throttle(RateBudget(1e9, 60), RetryPolicy(attempts=8, base=0.001, jitter=0.0), sleep=sleep)
    store = new_store()
    pull(store, source(world, th))
    assert calls and world.gmail.requests("messages.get") > 60
    assert_matches(store, world)


def test_owner_addresses_are_profile_me_and_send_as_aliases(world: GmailWorld) -> None:
    world.gmail.add("Sam <sam.work@example.com>", ["ann@example.org"], when_ms=NOW_MS - DAY_MS, labels=["SENT"])
    world.gmail.add("ann@example.org", ["sam.work@example.com"], when_ms=NOW_MS - 2 * DAY_MS)
    store = new_store()
    batches = pull(store, source(world, me=("sam@home.example",)))
    assert batches[-1].owner_addresses == [ME, "sam@home.example", "sam.work@example.com"]
    # Kept in the cursor: a later pull with nothing new still reports the alias.
    world.gmail.add("bob@example.org", [ME], when_ms=NOW_MS)
    later = pull(store, source(world, me=("sam@home.example",)))
    assert "sam.work@example.com" in later[-1].owner_addresses


def test_forbidden_answers_fail_with_one_clear_sentence(world: GmailWorld) -> None:
    seed(world, 3)
    world.server.inject(is_get, Response(403, {"error": {"code": 403, "message": "Metadata scope doesn't allow format FULL",
                                                         "errors": [{"reason": "forbidden"}]}}), times=1)
    with pytest.raises(ConnectorError) as caught:
        pull(new_store(), source(world))
    assert str(caught.value) == "gmail messages.get: Google refused access (forbidden); check the login's permissions"


def test_benchmark_runs_small() -> None:
    from bench.bench_gmail import run

    figures = run("legacy", messages=400, scale=60.0, latency=0.0, echo=False)
    assert figures.stored == 400
    assert figures.units_per_message == pytest.approx((1 + 5 + 400 * 5) / 400)
    assert figures.idle_requests == 1
    assert figures.refused == 0 and figures.learned_regime == "legacy"


def test_history_expiring_during_a_backfill_loses_no_deletion(world: GmailWorld) -> None:
    """Deleted while syncd was away long enough for the history id to expire, mid-backfill: the resync sweeps it."""
    ids = seed(world, 200)
    store = new_store()
    src = source(world, initial_window=timedelta(days=30), gmail_backfill_per_pull=50)
    pull(store, src)  # the newest 50, then stopped at the window
    world.gmail.delete(ids[1])  # stored by the aborted full sync; its deletion is in the expired history only
    world.gmail.expire_history()
    pull_resyncing(store, src)
    for _ in range(5):
        pull(store, src)
    assert Cursor.load(store.synced.cursors("g")["gmail"]).listing is None  # type: ignore[union-attr]
    assert_matches(store, world)
