"""A Microsoft account end to end through the CLI, with nothing injected into syncd's code: `syncd auth
login` (device code) against an https Entra fake on loopback, then `syncd pull` builds people from Outlook
mail and meetings, writes follow-ups into Outlook, a second pull writes nothing, and a revoked login ends
in exit 4 for that account alone."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs

import keyring
import pytest
from keyring.backends import fail

from tests.fakes.entra import CLIENT_ID, HOST, FakeEntra
from tests.fakes.graph_calendar import GraphCalendarFake
from tests.fakes.graph_mail import GraphMailFake
from tests.fakes.server import FakeServer, Request, Response
from tests.fakes.tls import self_signed
from tests.support.cli import Run

ME = "sam@example.com"
CONFIG = """
[accounts.outlook]
provider = "microsoft"
client_id = "{client_id}"
authority = "{authority}/common"
graph_endpoint = "{graph}"
token_store = "file"

[followups]
target = "outlook"
timezone = "UTC"
"""


def serve_entra(entra: FakeEntra, server: FakeServer) -> None:
    """The Entra fake on a real https listener: its links name this listener instead of Microsoft's host."""

    def answer(request: Request) -> Response:
        form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
        form.update({k: v[0] for k, v in request.query.items()})
        reply = entra._answer(request.method, f"https://{HOST}{request.path}", form)
        return Response(reply.status_code, reply.text.replace(f"https://{HOST}", server.base_url),
                        {"Content-Type": "application/json"})

    server.route("GET", r"/.*")(answer)
    server.route("POST", r"/.*")(answer)


class World:
    def __init__(self, tmp_path: Path) -> None:
        cert, key = self_signed(tmp_path)
        self.cert = cert
        self.login = FakeServer(tls=(cert, key))
        self.entra = FakeEntra(ME, CLIENT_ID)
        serve_entra(self.entra, self.login)
        self.graph = FakeServer(max_concurrent=4)
        self.mail = GraphMailFake(self.graph, owner=ME, auth=self.entra.guard)
        self.calendar = GraphCalendarFake(self.graph, owner=ME)
        self.now = datetime.now(UTC)

    def writes(self) -> int:
        return len([r for r in self.graph.requests() if r.method in ("POST", "PATCH", "DELETE")])


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setattr(keyring.core, "_keyring_backend", fail.Keyring())
    w = World(tmp_path)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", w.cert)  # msal's requests session trusts the fake's certificate
    with w.login, w.graph:
        config = tmp_path / "config.toml"
        config.write_text(CONFIG.format(client_id=CLIENT_ID, authority=w.login.base_url, graph=w.graph.base_url))
        monkeypatch.setenv("SYNCD_CONFIG", str(config))
        monkeypatch.setenv("SYNCD_STATE_DIR", str(tmp_path / "state"))
        # Alice: written to 120 days ago (overdue at the default 90 days); Bob: met 100 days ago.
        w.mail.add("sentitems", sender=ME, to=["alice@example.org"], when=w.now - timedelta(days=120))
        w.mail.add("inbox", sender="alice@example.org", to=[ME], when=w.now - timedelta(days=119))
        w.mail.add("inbox", sender="carol@example.net", to=[ME], when=w.now - timedelta(days=3))
        w.calendar.add_meeting("Kick-off", w.now - timedelta(days=100), attendees=[("bob@example.com", "accepted")])
        yield w


def test_device_code_login_then_pull_writes_followups_into_outlook(run: Run, world: World, tmp_path: Path) -> None:
    code, out, err = run("auth", "login", "outlook")
    assert code == 0, out + err
    assert "enter the code FAKE" in out and "outlook: logged in" in out
    cache = (tmp_path / "state" / "tokens" / "outlook.json").read_text()
    assert "refresh_token" in cache.lower() or "RefreshToken" in cache
    code, out, err = run("pull")
    assert code == 0, out + err
    code, out, _ = run("people", "--json")
    people = {p["key"]: p for p in json.loads(out)}
    assert people["alice@example.org"]["relationship"] and people["bob@example.com"]["relationship"]
    assert not people.get("carol@example.net", {}).get("relationship")
    created = [r for r in world.graph.requests("POST") if r.path.endswith("/events")]
    assert len(created) == 2
    for request in created:
        body = request.json()
        assert body["showAs"] == "free" and body["isReminderOn"] is True and not body.get("attendees")
        assert body["singleValueExtendedProperties"][0]["id"].startswith("String {")
    writes, before = world.writes(), len(world.graph.requests())
    code, out, _ = run("pull")
    assert code == 0 and world.writes() == writes, out
    made = ["/".join(r.path.split("/")[-2:]) for r in world.graph.requests()[before:]]
    # One request per mail folder and one for the calendar; then the tagged events of the follow-ups
    # calendar the first pull made (remembered: no list of calendars), which the reconciler compares with
    # what it wants.
    assert made == ["messages/delta", "messages/delta", "calendarView/delta", "AAMkCal0002=/events"]


def test_revoked_login_is_exit_4_and_says_how_to_log_in(run: Run, world: World) -> None:
    assert run("auth", "login", "outlook")[0] == 0
    world.entra.revoke()
    code, out, _ = run("pull")
    assert code == 4
    assert "outlook: FAILED: account 'outlook' needs login" in out and "syncd auth login outlook" in out
    code, out, _ = run("status")
    assert "outlook (microsoft): needs login: run 'syncd auth login outlook'" in out
