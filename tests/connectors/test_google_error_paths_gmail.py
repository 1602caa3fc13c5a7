"""Gmail's error branches, each driven the way it happens: through googleapiclient, google-auth and httplib2
against the loopback Gmail fake, asserting the one sentence the user reads and what the store holds.
"""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime
from typing import Any

import pytest

from connectors.base import AuthRequired, Batch, ConnectorError
from connectors.google import gmail_client
from connectors.google.gmail import Cursor, GmailSource
from connectors.throttle import RateBudget, RetryPolicy, Throttle
from syncd.store import Store
from tests.fakes.gmail import GmailWorld, google_error
from tests.fakes.known import StoreKnown, pull_into
from tests.fakes.server import Request, Response
from tests.fakes.slot import assert_no_secret

os.environ["NO_PROXY"] = "127.0.0.1,localhost"

ME = "sam@example.com"
NOW_MS = int(datetime.now(UTC).timestamp() * 1000)
DAY_MS = 86_400_000
REFUSED = google_error(401, "Request had invalid authentication credentials.", "authError")
BACKEND = google_error(503, "The service is currently unavailable.", "backendError")


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def source(world: GmailWorld, sleeps: Sleeps | None = None, attempts: int = 6, **settings: Any) -> GmailSource:
    sleep = sleeps if sleeps is not None else Sleeps()
    throttle = Throttle(RateBudget(1e9, 60, sleep=sleep), RetryPolicy(attempts=attempts, base=0.001, jitter=0.0),
                        sleep=sleep)
    return GmailSource("g", {**world.settings, **settings}, world.slot, throttle=throttle)


def new_store() -> Store:
    store = Store(":memory:")
    store.accounts.ensure("g", "google")
    return store


def pull(store: Store, src: GmailSource, stop_after: int | None = None) -> list[Batch]:
    return pull_into(store, src, "g", stop_after=stop_after)


def seed(world: GmailWorld, n: int) -> list[str]:
    return [world.gmail.add(f"p{i}@example.org", [ME], when_ms=NOW_MS - (i + 1) * DAY_MS) for i in range(n)]


def stored(store: Store) -> set[str]:
    return store.synced.known_ids("g", "gmail")


def no_secret(text: str, world: GmailWorld) -> None:
    assert_no_secret(text, world.slot.value)


def path_is(suffix: str) -> Any:
    return lambda request: request.path.endswith(suffix)


# ---- the cursor ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ['{"v": 2, "history": "1"}', '{"v": 1, "history": "12a"}', "{broken",
                                  "[1, 2]", '{"v": 1}', '{"v": 1, "history": "5", "aliases": 3}'])
def test_an_unreadable_cursor_is_none(text: str) -> None:
    assert Cursor.load(text) is None


def test_an_unreadable_cursor_starts_a_full_sync(world: GmailWorld) -> None:
    ids = seed(world, 3)
    batches = list(source(world).pull({"gmail": '{"v": 7, "history": "99"}'}, StoreKnown(new_store(), "g")))
    assert world.server.requests("GET", "/profile")  # from the profile's history id, as a first pull
    assert {i.provider_id for b in batches for i in b.interactions} == set(ids)
    assert batches[-1].full and batches[-1].complete


# ---- the listing ----------------------------------------------------------------------------------------


def test_an_empty_mailbox_is_complete_at_once(world: GmailWorld) -> None:
    store = new_store()
    batches = pull(store, source(world))
    assert batches[-1].complete and batches[-1].full and batches[-1].interactions == []
    assert Cursor.load(store.synced.cursors("g")["gmail"]).listing is None  # type: ignore[union-attr]
    assert world.gmail.requests("messages.get") == 0
    world.gmail.add("n@example.org", [ME], when_ms=NOW_MS)
    pull(store, source(world))
    assert len(stored(store)) == 1 and world.gmail.requests("messages.list") == 1  # from history only


def test_an_empty_page_with_a_next_page_is_followed(world: GmailWorld) -> None:
    ids = seed(world, 5)
    newest_first = world.gmail._token(NOW_MS + DAY_MS, "")  # a page token before every message
    world.server.inject(lambda r: path_is("/messages")(r) and not r.arg("pageToken"),
                        Response(200, {"resultSizeEstimate": 0, "nextPageToken": newest_first}), times=1)
    store = new_store()
    batches = pull(store, source(world))
    assert stored(store) == set(ids) and batches[-1].complete
    assert len(world.server.requests("GET", r"/messages\Z")) == 2


def test_a_page_that_comes_back_shorter_goes_on_with_the_next(world: GmailWorld,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    ids = seed(world, 60)
    store = new_store()
    pull(store, source(world), stop_after=2)  # killed after the first 50 of the page of 60
    assert len(stored(store)) == 50
    monkeypatch.setattr(gmail_client, "LIST_PAGE", 50)  # Google now sends that page with 50, and a next page
    batches = pull(store, source(world))
    assert stored(store) == set(ids) and batches[-1].complete
    assert sum(world.gmail.batch_sizes) == 60  # nothing fetched twice


def test_a_resumed_page_whose_rest_was_deleted_completes(world: GmailWorld) -> None:
    ids = seed(world, 60)
    store = new_store()
    pull(store, source(world), stop_after=2)  # killed after the first 50 of the page of 60
    for gid in ids[50:]:
        world.gmail.delete(gid)  # the rest of the page is deleted before the next pull
    lists: list[Request] = []

    def endless(request: Request) -> bool:
        if path_is("/messages")(request):
            lists.append(request)
        return len(lists) > 5  # stop the loop: from the 6th listing on, Google fails

    world.server.inject(endless, BACKEND, times=10_000)
    batches = pull(store, source(world, attempts=2))
    assert batches[-1].complete and stored(store) == set(ids[:50])


def test_drafts_and_messages_trashed_before_their_get_are_not_stored(world: GmailWorld) -> None:
    kept = seed(world, 3)
    draft = world.gmail.add(ME, ["ann@example.org"], when_ms=NOW_MS, labels=["DRAFT"])  # listed, never sent
    trashed = world.gmail.add("x@example.org", [ME], when_ms=NOW_MS)

    def trash_after_listing(request: Request) -> bool:
        if request.path.startswith("/batch") and "TRASH" not in world.gmail.messages[trashed].labels:
            world.gmail.relabel(trashed, add=["TRASH"], remove=["INBOX"])
        return False

    world.server.inject(trash_after_listing, Response(), times=1)
    store = new_store()
    batches = pull(store, source(world))
    assert stored(store) == set(kept)
    assert {draft, trashed} <= {d for b in batches for d in b.deleted}


def test_a_message_naming_nobody_is_a_skip_not_a_row(world: GmailWorld) -> None:
    kept = seed(world, 2)
    nobody = world.gmail.add("", when_ms=NOW_MS, headers=[("Subject", "system notice"),
                                                          ("Date", "Mon, 2 Mar 2026 09:00:00 +0000")])
    store = new_store()
    batches = pull(store, source(world))
    assert stored(store) == set(kept) and batches[-1].complete
    assert [(s.what, s.why) for b in batches for s in b.skipped] == [(nobody, "no From or recipients")]


def test_a_profile_without_a_message_count_expects_nothing(world: GmailWorld) -> None:
    ids = seed(world, 2)
    world.server.inject(path_is("/profile"), Response(200, {"emailAddress": ME, "historyId": str(world.gmail.history_id),
                                                            "messagesTotal": "many"}), times=1)
    store = new_store()
    batches = pull(store, source(world))
    assert batches[0].expected is None and stored(store) == set(ids)


# ---- increments -----------------------------------------------------------------------------------------


def test_history_that_changes_nothing_stored_only_moves_the_cursor(world: GmailWorld) -> None:
    ids = seed(world, 3)
    store = new_store()
    pull(store, source(world))
    before = Cursor.load(store.synced.cursors("g")["gmail"])
    gets = world.gmail.requests("messages.get")
    world.gmail.relabel(ids[0], add=["STARRED"])
    (batch,) = pull(store, source(world))
    assert batch.interactions == [] and batch.deleted == [] and not batch.full
    after = Cursor.load(store.synced.cursors("g")["gmail"])
    assert before is not None and after is not None
    assert int(after.history) == world.gmail.history_id > int(before.history)
    assert world.gmail.requests("messages.get") == gets and stored(store) == set(ids)


def test_history_over_several_pages(world: GmailWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    store = new_store()
    pull(store, source(world))
    monkeypatch.setattr(gmail_client, "LIST_PAGE", 3)
    ids = seed(world, 7)
    pull(store, source(world))
    pages = world.server.requests("GET", r"/history\Z")
    assert len(pages) == 3 and [bool(r.arg("pageToken")) for r in pages] == [False, True, True]
    assert stored(store) == set(ids)


# ---- failures -------------------------------------------------------------------------------------------


def test_a_401_that_survives_the_refresh_is_needs_login(world: GmailWorld) -> None:
    seed(world, 2)
    world.server.inject(path_is("/profile"), REFUSED, times=100)
    store = new_store()
    with pytest.raises(AuthRequired) as failure:
        pull(store, source(world))
    assert str(failure.value) == "account 'g' needs login (Google refused the login): run 'syncd auth login g'"
    no_secret(str(failure.value), world)
    assert world.oauth.refreshes >= 1 and store.synced.cursors("g") == {}


def test_an_unknown_host_is_one_sentence(world: GmailWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    real = socket.getaddrinfo

    def resolve(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "gmail.invalid":
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    sleeps = Sleeps()
    with pytest.raises(ConnectorError) as failure:
        pull(new_store(), source(world, sleeps, gmail_endpoint="http://gmail.invalid/"))
    assert str(failure.value) == ("gmail getProfile: cannot reach Google (Unable to find the server at gmail.invalid); "
                                  "check the network or the configured endpoint")
    assert sleeps == []


def test_a_non_json_answer_says_so(world: GmailWorld) -> None:
    world.server.inject(path_is("/profile"), Response(200, "<html>Sign in to the hotel wifi</html>",
                                                      {"Content-Type": "text/html"}), times=1)
    with pytest.raises(ConnectorError) as failure:
        pull(new_store(), source(world))
    assert "dictionary update sequence" not in str(failure.value)


def test_a_listing_that_keeps_failing_loses_nothing(world: GmailWorld) -> None:
    ids = seed(world, 3)
    world.server.inject(path_is("/messages"), BACKEND, times=3)
    store = new_store()
    with pytest.raises(ConnectorError) as failure:
        pull(store, source(world, attempts=3))
    assert str(failure.value) == ("gmail messages.list: the provider kept failing (HTTP 503 backendError) after 3 "
                                  "tries; try again later")
    assert stored(store) == set() and "gmail" in store.synced.cursors("g")  # the new full sync's start is kept
    pull(store, source(world))
    assert stored(store) == set(ids) and world.gmail.requests("getProfile") == 1


def test_the_daily_quota_is_said_plainly_and_not_waited_out(world: GmailWorld) -> None:
    seed(world, 3)
    world.server.inject(path_is("/messages"), google_error(403, "Daily Limit Exceeded", "dailyLimitExceeded",
                                                           "usageLimits"), times=1)
    sleeps = Sleeps()
    with pytest.raises(ConnectorError) as failure:
        pull(new_store(), source(world, sleeps))
    assert str(failure.value) == ("gmail messages.list: Google's daily quota for your project is used up; "
                                  "syncd goes on tomorrow")
    assert sleeps == []


def test_history_refused_keeps_the_cursor(world: GmailWorld) -> None:
    seed(world, 2)
    store = new_store()
    pull(store, source(world))
    cursor = store.synced.cursors("g")["gmail"]
    world.gmail.add("n@example.org", [ME], when_ms=NOW_MS)
    world.server.inject(path_is("/history"), google_error(403, "Gmail API has not been used in project 1 before or "
                                                               "it is disabled.", "accessNotConfigured"), times=1)
    with pytest.raises(ConnectorError) as failure:
        pull(store, source(world))
    assert str(failure.value) == ("gmail history.list: Google refused access (accessNotConfigured); "
                                  "check the login's permissions")
    assert store.synced.cursors("g")["gmail"] == cursor and len(stored(store)) == 2
    pull(store, source(world))
    assert len(stored(store)) == 3


def test_a_batch_that_keeps_failing_as_a_whole_loses_nothing(world: GmailWorld) -> None:
    ids = seed(world, 3)
    world.server.inject(lambda r: r.path.startswith("/batch"), BACKEND, times=3)
    store = new_store()
    with pytest.raises(ConnectorError) as failure:
        pull(store, source(world, attempts=3))
    assert str(failure.value) == ("gmail messages.get: the provider kept failing (HTTP 503 backendError) after 3 "
                                  "tries; try again later")
    assert stored(store) == set()
    pull(store, source(world))
    assert stored(store) == set(ids)


def test_a_batch_refused_after_the_refresh_is_needs_login(world: GmailWorld) -> None:
    seed(world, 3)
    world.server.inject(lambda r: r.path.startswith("/batch"), REFUSED, times=100)
    store = new_store()
    with pytest.raises(AuthRequired) as failure:
        pull(store, source(world))
    assert str(failure.value) == "account 'g' needs login (Google refused the login): run 'syncd auth login g'"
    no_secret(str(failure.value), world)
    assert stored(store) == set() and world.oauth.refreshes >= 1
