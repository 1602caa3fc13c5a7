"""The shared Graph client: immutable ids on every request, the token only for the configured origin,
one refresh on 401, 429 Retry-After waited exactly, 410 as an expired delta, other errors in one sentence."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.base import AuthRequired, ConnectorError
from connectors.microsoft.graph import DeltaExpired, GraphClient, GraphError, mailbox_throttle
from connectors.throttle import RetryPolicy, Throttle
from tests.fakes.server import DROP, TRUNCATE, FakeServer, Request, Response


class Tokens:
    def __init__(self) -> None:
        self.current = "t1"
        self.refreshes = 0

    def __call__(self, force: bool) -> str:
        if force:
            self.refreshes += 1
            self.current = f"t{self.refreshes + 1}"
        return self.current


@pytest.fixture
def graph(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeServer]:
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    with FakeServer() as server:
        yield server


def _client(server: FakeServer, tokens: Tokens, sleeps: list[float], account: str = "") -> GraphClient:
    throttle = Throttle(policy=RetryPolicy(attempts=4, rng=lambda: 0), sleep=sleeps.append)
    return GraphClient(server.base_url, tokens, throttle=throttle, account=account)


def test_pages_follow_next_links_with_options_only_on_the_first_call(graph: FakeServer) -> None:
    @graph.route("GET", "/v1.0/me/items")
    def items(request: Request) -> Response:
        if request.arg("page") == "2":
            return Response(200, {"value": [{"id": "b"}], "@odata.deltaLink": f"{graph.base_url}/v1.0/me/items?d=1"})
        return Response(200, {"value": [{"id": "a"}], "@odata.nextLink": f"{graph.base_url}/v1.0/me/items?page=2"})

    pages = list(_client(graph, Tokens(), []).pages("me/items", params={"$select": "id"},
                                                    headers={"Prefer": "odata.maxpagesize=1000"}))
    assert [[v["id"] for v in p.value] for p in pages] == [["a"], ["b"]]
    assert pages[-1].delta_link == f"{graph.base_url}/v1.0/me/items?d=1"
    first, second = graph.requests("GET")
    assert first.query == {"$select": ["id"]} and second.query == {"page": ["2"]}
    for request in (first, second):
        assert 'IdType="ImmutableId"' in request.headers["prefer"] and "odata.maxpagesize=1000" in request.headers["prefer"]
        assert request.headers["authorization"] == "Bearer t1"


def test_a_link_to_another_origin_is_refused_before_the_token_is_sent(graph: FakeServer) -> None:
    with FakeServer() as elsewhere:
        @graph.route("GET", "/v1.0/me/items")
        def items(request: Request) -> Response:
            return Response(200, {"value": [], "@odata.nextLink": f"{elsewhere.base_url}/v1.0/me/items?page=2"})

        with pytest.raises(ConnectorError, match="not to the configured"):
            list(_client(graph, Tokens(), []).pages("me/items"))
        assert elsewhere.requests() == []


def test_401_refreshes_once_then_gives_the_error(graph: FakeServer) -> None:
    tokens, sleeps = Tokens(), list[float]()

    @graph.route("GET", "/v1.0/me")
    def me(request: Request) -> Response:
        if request.headers["authorization"] == "Bearer t2":
            return Response(200, {"mail": "sam@example.com"})
        return Response(401, {"error": {"code": "InvalidAuthenticationToken", "message": "expired"}})

    assert _client(graph, tokens, sleeps).request("GET", "me") == {"mail": "sam@example.com"}
    assert tokens.refreshes == 1
    tokens.current = "revoked"
    graph.routes.clear()
    graph.route("GET", "/v1.0/me")(lambda r: Response(401, {"error": {"code": "InvalidAuthenticationToken",
                                                                     "message": "nope"}}))
    with pytest.raises(GraphError, match="HTTP 401 InvalidAuthenticationToken"):
        _client(graph, tokens, sleeps).request("GET", "me")
    assert tokens.refreshes == 2  # one refresh per request, never a loop


def test_429_waits_exactly_retry_after_then_5xx_and_resets_back_off(graph: FakeServer) -> None:
    sleeps: list[float] = []
    graph.route("GET", "/v1.0/me")(lambda r: Response(200, {"ok": True}))
    graph.inject(lambda r: True, Response(429, {"error": {"code": "TooManyRequests", "message": "slow"}},
                                          {"Retry-After": "7"}))
    graph.inject(lambda r: True, Response(503, {"error": {"code": "ServiceUnavailable", "message": "x"}}))
    graph.inject(lambda r: True, DROP)
    assert _client(graph, Tokens(), sleeps).request("GET", "me") == {"ok": True}
    assert sleeps == [7.0, 2.0, 4.0]


def test_retries_run_out_with_the_reason(graph: FakeServer) -> None:
    graph.inject(lambda r: True, Response(503, {"error": {"code": "ServiceUnavailable", "message": "x"}}), times=10)
    with pytest.raises(ConnectorError, match=r"kept failing \(HTTP 503 ServiceUnavailable\) after 4 tries"):
        _client(graph, Tokens(), []).request("GET", "me")


def test_410_and_sync_state_errors_are_expired_deltas(graph: FakeServer) -> None:
    graph.inject(lambda r: True, Response(410, {"error": {"code": "SyncStateNotFound", "message": "gone"}}))
    with pytest.raises(DeltaExpired):
        _client(graph, Tokens(), []).request("GET", "me/mailFolders/inbox/messages/delta")
    graph.inject(lambda r: True, Response(400, {"error": {"code": "syncStateInvalid", "message": "bad"}}))
    with pytest.raises(DeltaExpired):
        _client(graph, Tokens(), []).request("GET", "me/mailFolders/inbox/messages/delta")


def test_other_errors_are_one_sentence_and_204_is_none(graph: FakeServer) -> None:
    graph.route("DELETE", "/v1.0/me/events/x")(lambda r: Response(204))
    graph.route("GET", "/v1.0/me/events/y")(lambda r: Response(404, {"error": {"code": "ErrorItemNotFound",
                                                                             "message": "The item was not found."}}))
    client = _client(graph, Tokens(), [])
    assert client.request("DELETE", "me/events/x") is None
    with pytest.raises(GraphError, match=r"HTTP 404 ErrorItemNotFound: The item was not found\.") as caught:
        client.request("GET", "me/events/y")
    assert caught.value.status == 404 and caught.value.code == "ErrorItemNotFound"
    assert "Bearer" not in str(caught.value)


def test_a_body_that_is_not_json_is_retried_then_reported(graph: FakeServer) -> None:
    graph.route("GET", "/v1.0/me")(lambda r: Response(200, "<html>proxy error</html>"))
    with pytest.raises(ConnectorError, match="not JSON"):
        _client(graph, Tokens(), []).request("GET", "me")


def test_a_reset_in_the_middle_of_a_body_is_retried(graph: FakeServer) -> None:
    graph.route("GET", "/v1.0/me")(lambda r: Response(200, {"mail": "sam@example.com"}))
    graph.inject(lambda r: True, TRUNCATE, times=2)
    sleeps: list[float] = []
    assert _client(graph, Tokens(), sleeps).request("GET", "me") == {"mail": "sam@example.com"}
    assert len(sleeps) == 2


def test_a_refreshed_token_still_refused_means_needs_login(graph: FakeServer) -> None:
    graph.route("GET", "/v1.0/me")(lambda r: Response(401, {"error": {"code": "InvalidAuthenticationToken",
                                                                     "message": "revoked"}}))
    with pytest.raises(AuthRequired, match="account 'work' needs login"):
        _client(graph, Tokens(), [], account="work").request("GET", "me")


def test_one_throttle_per_mailbox_never_above_outlooks_limits() -> None:
    first = mailbox_throttle("https://graph.example/", "acct-x", 50_000, 16)
    assert mailbox_throttle("https://GRAPH.example", "acct-x", 10, 1) is first  # shared by mail, calendar, target
    assert first.budget is not None and first.budget.units == 10_000 and first.budget.per_seconds == 600
    assert mailbox_throttle("https://graph.example/", "acct-y", 100, 2) is not first


def test_netrc_never_replaces_the_bearer_token(graph: FakeServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    netrc = tmp_path / ".netrc"
    netrc.write_text("machine 127.0.0.1 login someone password secret\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    graph.route("GET", "/v1.0/me")(lambda r: Response(200, {"auth": r.headers.get("authorization")}))
    assert _client(graph, Tokens(), []).request("GET", "me") == {"auth": "Bearer t1"}
