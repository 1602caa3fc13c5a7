"""Outlook mail through Graph delta: real requests and msal over loopback against the Graph mail fake.

Batches go into a real :class:`syncd.store.Store` the way syncd.pull does (CursorExpired → reset the
resource's cursor and pull again), so "the store matches the mailbox" is checked end to end.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from connectors.base import AuthRequired, Batch, ConnectorError, CursorExpired, Interaction, Skip
from connectors.microsoft.auth import login, token_provider
from connectors.microsoft.graph import GraphClient
from connectors.microsoft.mail import SELECT, OutlookMailSource
from connectors.throttle import RateBudget, RetryPolicy, Throttle
from syncd.store import Store
from tests.fakes.clock import FakeClock
from tests.fakes.entra import FakeEntra
from tests.fakes.graph_mail import GraphMailFake
from tests.fakes.graph_mail_contract import settings as contract_settings
from tests.fakes.known import StoreKnown
from tests.fakes.server import DROP, FakeServer, Request, Response
from tests.fakes.slot import MemorySlot

ACCT = "work"
OWNER = "sam@example.com"
DAY = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@dataclasses.dataclass
class Env:
    server: FakeServer
    entra: FakeEntra
    fake: GraphMailFake
    slot: MemorySlot
    clock: FakeClock
    store: Store

    def settings(self, **extra: Any) -> dict[str, Any]:
        return contract_settings(self.server, self.entra, **extra)

    def source(self, *, budget: RateBudget | None = None, **extra: Any) -> OutlookMailSource:
        config = self.settings(**extra)
        # Backoff without Retry-After is tiny and counted, never slept for real.
        throttle = Throttle(budget, RetryPolicy(attempts=6, base=0.001, cap=0.004, jitter=0.0),
                            concurrency=int(config["concurrency"]), sleep=self.clock.sleep)
        client = GraphClient(self.server.base_url, token_provider(ACCT, config, self.slot, http_client=self.entra),
                             throttle=throttle)
        return OutlookMailSource(ACCT, config, self.slot, client=client)

    def pull(self, source: OutlookMailSource | None = None, *, stop_after: int | None = None) -> list[Batch]:
        """Like syncd.pull.pull_account: each batch committed with its cursor, expired cursors resynced."""
        source = source or self.source()
        batches: list[Batch] = []
        for _ in range(4):
            try:
                for batch in source.pull(self.store.synced.cursors(ACCT), StoreKnown(self.store, ACCT)):
                    self.store.synced.apply_batch(ACCT, batch)
                    batches.append(batch)
                    if stop_after is not None and len(batches) >= stop_after:
                        return batches  # killed here: the generator is dropped mid-round
                return batches
            except CursorExpired as expired:
                self.store.synced.reset_cursor(ACCT, expired.resource)
        raise AssertionError("cursor kept expiring")

    def stored(self, folder: str) -> set[str]:
        return self.store.synced.known_ids(ACCT, f"mail:{folder}")

    def assert_store_matches_mailbox(self) -> None:
        for folder in ("inbox", "sentitems"):
            expected = {ident for ident, m in self.fake.messages([folder]).items() if not m["isDraft"]}
            assert self.stored(folder) == expected, folder
        sent = [m for m in self.fake.messages().values() if not m["isDraft"]]
        assert self.store.count("sightings") == len(sent)
        assert self.store.count("interactions") == len({m["internetMessageId"] for m in sent})


@pytest.fixture
def env() -> Iterator[Env]:
    clock = FakeClock()
    entra = FakeEntra(OWNER)
    with FakeServer(max_concurrent=4) as server:
        fake = GraphMailFake(server, owner=OWNER, auth=entra.guard, clock=clock, page_cap=3)
        slot = MemorySlot()
        store = Store(":memory:")
        store.accounts.ensure(ACCT, "microsoft")
        result = Env(server, entra, fake, slot, clock, store)
        login(ACCT, result.settings(), slot, echo=lambda _: None, http_client=entra)
        yield result


def _seed(fake: GraphMailFake, n: int = 5) -> None:
    for i in range(n):
        fake.add("inbox", sender=f"p{i}@example.org", to=[OWNER], when=DAY + timedelta(hours=i))
        fake.add("sentitems", sender=OWNER, to=[f"p{i}@example.org"], when=DAY + timedelta(hours=i, minutes=30))


def _is_first_request(request: Request) -> bool:
    return "$skiptoken" not in request.query and "$deltatoken" not in request.query


# ---- what a message becomes ---------------------------------------------------------------------------


def test_metadata_only_and_what_each_message_becomes(env: Env) -> None:
    sent = env.fake.add("sentitems", sender=OWNER, to=["alice@example.org", "/O=EXCHANGELABS/OU=X/CN=BOB"],
                        cc=["carol@example.org"], when=DAY, received=DAY + timedelta(minutes=2),
                        message_id_raw="<abc@mail.example>", names={"alice@example.org": "Alice Moreau"})
    got = env.fake.add("inbox", sender="alice@example.org", to=[OWNER], when=DAY,
                       received=DAY + timedelta(hours=3))
    other = env.fake.add("inbox", sender="news@shop.example", to=[OWNER], when=DAY, inference="other")
    env.fake.add("sentitems", sender=OWNER, to=["dave@example.org"], when=DAY, draft=True)
    batches = env.pull(env.source(me=("sam.alias@example.com",)))
    items = {item.provider_id: item for batch in batches for item in batch.interactions}
    out = items[sent]
    assert out.timestamp == DAY  # the owner's mail: sentDateTime
    assert out.message_id == "abc@mail.example"
    assert [(p.address, p.name, p.role) for p in out.participants] == [
        (OWNER, "", "from"), ("alice@example.org", "Alice Moreau", "to"), ("carol@example.org", "", "cc")]
    assert out.recipient_count == 3  # the X.500 path counts towards the cap, but is no participant
    assert out.bulk is None and out.subject is None
    assert items[got].timestamp == DAY + timedelta(hours=3)  # others' mail: receivedDateTime
    assert items[other].bulk == "inferenceClassification: other"
    skips = [skip for batch in batches for skip in batch.skipped]
    assert [skip.why.split(":")[0] for skip in skips] == ["draft"]
    assert all(batch.owner_addresses == [OWNER, "sam.alias@example.com"] for batch in batches)
    # What went over the wire: $select exactly the metadata list, on the first request of a round only.
    firsts = [r for r in env.fake.delta_requests() if _is_first_request(r)]
    assert [r.arg("$select") for r in firsts] == [SELECT, SELECT]
    assert "subject" not in SELECT and "body" not in SELECT.lower()
    assert all("odata.maxpagesize=1000" in r.headers["prefer"] for r in env.fake.delta_requests())
    assert env.fake.without_immutable_ids == 0


def test_convert_keeps_the_last_of_repeated_entries() -> None:
    from connectors.microsoft.mail import _convert

    message = {"id": "A", "from": {"emailAddress": {"address": "x@example.org"}}, "toRecipients": [],
               "receivedDateTime": "2026-01-05T09:00:00Z", "isDraft": False}
    items, removed, _ = _convert([message, {"id": "A", "@removed": {"reason": "deleted"}}], "inbox", {OWNER})
    assert (items, removed) == ([], ["A"])
    items, removed, _ = _convert([{"id": "A", "@removed": {"reason": "changed"}}, message, message], "inbox", {OWNER})
    assert [i.provider_id for i in items] == ["A"] and removed == []
    bare = dict(message, **{"from": {"emailAddress": {"address": "/O=EX/CN=X"}}})
    items, _, skipped = _convert([bare], "inbox", {OWNER})
    assert not items and isinstance(skipped[0], Skip) and skipped[0].why.startswith("no addresses")


# ---- full and incremental -----------------------------------------------------------------------------


@pytest.mark.parametrize("prefetch", [True, False])
def test_full_then_incremental_costs_one_request_per_folder(env: Env, prefetch: bool) -> None:
    _seed(env.fake, 5)
    batches = env.pull(env.source(prefetch=prefetch))
    assert [b.resource for b in batches] == ["mail:inbox"] * 2 + ["mail:sentitems"] * 2  # pages of 3
    assert all(b.full for b in batches) and [b.complete for b in batches] == [False, True, False, True]
    env.assert_store_matches_mailbox()
    assert len(env.server.requests("GET", r"/v1\.0/me$")) == 1

    before = len(env.server.log)
    again = env.pull()
    assert sum(len(b.interactions) + len(b.deleted) for b in again) == 0
    assert len(env.server.log) - before == 2, "nothing changed: one request per folder, no /me"
    assert not any(b.full for b in again)

    new = env.fake.add("inbox", sender="zoe@example.org", to=[OWNER], when=DAY + timedelta(days=1))
    later = env.pull()
    assert [item.provider_id for b in later for item in b.interactions] == [new]
    env.assert_store_matches_mailbox()


def test_deletions_and_moves_in_either_folder_order(env: Env) -> None:
    _seed(env.fake, 4)
    env.pull(env.source(folders=("sentitems", "inbox")))
    inbox = sorted(env.stored("inbox"))
    env.fake.delete(inbox[0])
    env.fake.move(inbox[1], "sentitems")  # same immutable id, reported @removed in the inbox
    batches = env.pull(env.source(folders=("sentitems", "inbox")))
    assert [d for b in batches for d in b.deleted] == [inbox[0]]  # the move's removal is not applied
    env.assert_store_matches_mailbox()
    assert inbox[1] in env.stored("sentitems")
    # and back again, with the inbox read first this time
    env.fake.move(inbox[1], "inbox")
    env.pull()
    env.assert_store_matches_mailbox()


def test_replays_are_idempotent(env: Env) -> None:
    env.fake.replay_every = 2
    _seed(env.fake, 6)
    batches = env.pull()
    assert sum(len(b.interactions) for b in batches) > 12  # items really came twice, across pages
    env.assert_store_matches_mailbox()
    for ident in list(env.fake.messages())[:4]:
        env.fake.mark_read(ident)
    env.pull()
    env.assert_store_matches_mailbox()


def test_expired_delta_token_resyncs_the_folder_without_duplicates(env: Env) -> None:
    _seed(env.fake, 5)
    env.pull()
    env.fake.expire_tokens()
    gone = sorted(env.stored("inbox"))[0]
    env.fake.delete(gone)  # a deletion only a full resync can notice once the token is gone
    env.fake.add("sentitems", sender=OWNER, to=["new@example.org"], when=DAY + timedelta(days=2))
    batches = env.pull()
    assert any(b.full and b.complete and b.resource == "mail:inbox" for b in batches)
    env.assert_store_matches_mailbox()
    assert gone not in env.stored("inbox")


def test_expiry_in_the_middle_of_a_full_round(env: Env) -> None:
    _seed(env.fake, 8)
    env.pull(stop_after=1)
    env.fake.expire_tokens()
    env.pull()
    env.assert_store_matches_mailbox()


def test_expiry_mid_full_round_then_a_deletion(env: Env) -> None:
    _seed(env.fake, 8)
    env.pull(stop_after=1)
    first = sorted(env.stored("inbox"))[0]
    env.fake.expire_tokens()
    env.fake.delete(first)
    env.pull()
    env.assert_store_matches_mailbox()


def test_killed_mid_pull_resumes_at_the_next_page(env: Env) -> None:
    _seed(env.fake, 8)  # 3 pages per folder
    env.pull(stop_after=4)  # inbox done, sentitems one page in
    ids = sorted(env.fake.messages(["inbox"]))
    env.fake.delete(ids[0])
    env.fake.add("sentitems", sender=OWNER, to=["late@example.org"], when=DAY + timedelta(days=3))
    before = len(env.server.log)
    env.pull()
    resumed = env.server.log[before:]
    assert "$skiptoken" in resumed[1].query, "the sentitems round went on from its next link"
    env.pull()
    env.assert_store_matches_mailbox()


# ---- failures on the wire -----------------------------------------------------------------------------


def test_a_next_link_to_another_origin_is_refused_and_gets_no_token(env: Env) -> None:
    _seed(env.fake, 5)
    with FakeServer() as elsewhere:
        env.fake.link_origin = elsewhere.base_url  # another port is another origin
        with pytest.raises(ConnectorError, match="not followed"):
            env.pull()
        assert elsewhere.log == []
    assert len(env.stored("inbox")) == 3  # the first page was committed before the bad link


def test_a_429_storm_waits_exactly_retry_after(env: Env) -> None:
    env.fake.budget, env.fake.window = 2, 30.0
    _seed(env.fake, 5)
    env.pull()
    env.assert_store_matches_mailbox()
    # 1 /me + 4 pages with 2 allowed per 30 s: every third request is refused and waits out the window.
    assert env.fake.throttled >= 2
    assert env.clock.sleeps and set(env.clock.sleeps) == {30.0}
    assert len(env.clock.sleeps) == env.fake.throttled


def test_the_client_budget_keeps_the_server_from_throttling(env: Env) -> None:
    env.fake.budget, env.fake.window = 2, 30.0
    _seed(env.fake, 5)
    env.pull(env.source(budget=RateBudget(2, 30.0, clock=env.clock, sleep=env.clock.sleep)))
    env.assert_store_matches_mailbox()
    assert env.fake.throttled == 0 and sum(env.clock.sleeps) >= 60


def test_server_errors_and_a_reset_connection_are_retried(env: Env) -> None:
    _seed(env.fake, 5)
    is_next_page = lambda r: "$skiptoken" in r.query  # noqa: E731
    env.server.inject(is_next_page, Response(503, {"error": {"code": "ServiceUnavailable", "message": "x"}}), 2)
    env.server.inject(lambda r: "$skiptoken" in r.query and "inbox" not in r.path, DROP, 1)
    env.pull()
    env.assert_store_matches_mailbox()
    assert len(env.clock.sleeps) == 3 and max(env.clock.sleeps) < 0.01  # backoff, no Retry-After to honour


def test_a_server_that_keeps_failing_fails_the_pull_after_committed_pages(env: Env) -> None:
    _seed(env.fake, 5)
    env.server.inject(lambda r: "$skiptoken" in r.query, Response(500, {"error": {"code": "x"}}), 100)
    with pytest.raises(ConnectorError, match="kept failing"):
        env.pull()
    assert len(env.stored("inbox")) == 3


def test_a_token_expiring_mid_sync_is_refreshed_once(env: Env) -> None:
    _seed(env.fake, 5)
    expired: list[Request] = []

    def second_page(request: Request) -> bool:
        if "$skiptoken" in request.query and not expired:
            expired.append(request)
            env.entra.expire_access_tokens()  # the token dies just as this request arrives
        return False  # no fault: the bearer guard answers 401

    env.server.inject(second_page, DROP, 1)
    env.pull()
    env.assert_store_matches_mailbox()
    assert env.entra.refreshes == 1
    # /me and page 1 with the first token, page 2 refused (401) with it, then the refreshed token.
    tokens = [r.headers["authorization"] for r in env.server.log]
    assert len(tokens) == 6 and len(set(tokens[:3])) == 1 and len(set(tokens[3:])) == 1 and tokens[2] != tokens[3]
    assert env.slot.writes >= 2  # the refreshed cache was saved


def test_a_revoked_login_needs_login(env: Env) -> None:
    _seed(env.fake, 2)
    env.entra.revoke()
    with pytest.raises(AuthRequired, match="needs login"):
        env.pull()


def test_unknown_folder_and_stale_endpoint(env: Env) -> None:
    with pytest.raises(ConnectorError, match="no mail folder 'nosuch'"):
        env.pull(env.source(folders=("nosuch",)))
    _seed(env.fake, 1)
    env.pull()
    cursors = {resource: cursor.replace(env.server.base_url, "http://127.0.0.1:9") for resource, cursor
               in env.store.synced.cursors(ACCT).items()}
    with pytest.raises(CursorExpired, match="another Graph endpoint"):
        list(env.source().pull(cursors, StoreKnown(env.store, ACCT)))


def test_the_concurrency_limit_is_never_exceeded(env: Env) -> None:
    env.server.latency = 0.02
    _seed(env.fake, 5)
    source = env.source()
    env.pull(source)
    errors: list[BaseException] = []

    def hammer() -> None:
        try:
            for _ in range(3):
                source.client.request("GET", "me")
        except BaseException as exc:  # reported below, with the thread joined
            errors.append(exc)

    threads = [threading.Thread(target=hammer) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert 1 <= env.server.peak_in_flight <= 4
    assert source.client.throttle.retries == 0, "no MailboxConcurrency 429 was ever needed"


def test_interactions_are_utc_and_complete(env: Env) -> None:
    _seed(env.fake, 2)
    items: list[Interaction] = [i for b in env.pull() for i in b.interactions]
    assert items and all(i.timestamp is not None and i.timestamp.utcoffset() == timedelta(0) for i in items)
