"""A Google account end to end through the CLI: token file → `syncd pull` → people from Gmail and meetings
from Calendar → follow-ups in a dedicated calendar; a second pull writes nothing; faults end in one status line."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import keyring
import pytest
from keyring.backends import fail

from tests.fakes.server import FakeServer, Response
from tests.support.cli import Run
from tests.support.google_cli import CAL, GMAIL, ME, World, configure


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setattr(keyring.core, "_keyring_backend", fail.Keyring())
    with FakeServer() as server:
        w = World(server, tmp_path)
        configure(w, monkeypatch)
        # Alice: written to 120 days ago (overdue at the default 90 days); Bob: met 100 days ago;
        # Carol only ever wrote in (no relationship); a newsletter is bulk.
        w.gmail.add(ME, ["Alice Moreau <alice@example.org>"], when_ms=w.ms(120), labels=["SENT"], subject="Proposal")
        w.gmail.add("alice@example.org", [ME], when_ms=w.ms(119), subject="Re: Proposal")
        w.gmail.add("carol@example.net", [ME], when_ms=w.ms(10), subject="Cold pitch")
        w.gmail.add("news@shop.example", [ME], when_ms=w.ms(5), labels=["INBOX", "CATEGORY_PROMOTIONS"])
        w.calendar.add_meeting(start=w.now - timedelta(days=100), summary="Kick-off",
                               attendees=[(ME, "accepted"), ("bob@example.com", "accepted")])
        token = tmp_path / "token.json"
        w.oauth.add_refresh_token("rt-1", [GMAIL, *CAL])
        token.write_text(w.oauth.authorized_user_json("rt-1"))
        yield w


def _people(run: Run) -> dict[str, dict]:
    code, out, _ = run("people", "--json")
    assert code == 0
    return {p["key"]: p for p in json.loads(out)}


def test_pull_builds_people_writes_followups_and_a_second_pull_changes_nothing(run: Run, world: World) -> None:
    assert run("auth", "import", "gmail", "--file", str(world.tmp / "token.json"))[0] == 0
    code, out, err = run("pull")
    assert code == 0, out + err
    people = _people(run)
    assert people["alice@example.org"]["relationship"] and people["bob@example.com"]["relationship"]
    assert "carol@example.net" not in people or not people["carol@example.net"]["relationship"]
    titles = sorted(e["summary"] for e in world.followups())
    assert titles == ["Reach out to Alice Moreau", "Reach out to bob@example.com"], titles
    for event in world.followups():
        assert "attendees" not in event and event["transparency"] == "transparent"
        assert event["extendedProperties"]["private"]["syncd"] == "1"
    writes, before = world.writes(), len(world.server.requests())
    code, out, _ = run("pull")
    assert code == 0 and world.writes() == writes, out
    made = [f"{r.method} {r.path.split('/')[-1]}" for r in world.server.requests()[before:]]
    # Nothing changed: one history call for the mailbox, one sync-token list for the calendar read, and
    # the follow-ups calendar found and listed (the reconciler compares against what is there now).
    assert made == ["GET history", "GET events", "GET calendarList", "GET events"]
    code, out, _ = run("status")
    assert "gmail (google): ok" in out
    assert "owner (from the provider): sam@example.com" in out and "guessed" not in out
    # Four messages needed no more than the safe start: that is the rate kept, and shown.
    assert "  gmail rate: 6,000 units a minute, 2026 quota regime (learned, as of " in out


def test_revoked_login_stops_only_that_account_with_exit_4(run: Run, world: World) -> None:
    run("auth", "import", "gmail", "--file", str(world.tmp / "token.json"))
    world.oauth.revoke("rt-1")
    world.oauth.expire_access_tokens()
    code, out, _ = run("pull")
    assert code == 4
    assert "gmail: FAILED: account 'gmail' needs login (the token was revoked or has expired)" in out
    assert "archive: 0 new" in out  # the other account was pulled
    assert "follow-ups: FAILED: account 'gmail' needs login" in out
    assert "rt-1" not in out and "at-" not in out
    code, out, _ = run("status")
    assert "gmail (google): needs login: run 'syncd auth login gmail'" in out


def test_a_429_storm_and_an_expiring_token_still_end_in_a_complete_pull(run: Run, world: World) -> None:
    run("auth", "import", "gmail", "--file", str(world.tmp / "token.json"))
    world.server.inject(lambda r: r.path.startswith("/gmail/"), Response(
        429, {"error": {"code": 429, "message": "Too many concurrent requests for user",
                        "errors": [{"reason": "rateLimitExceeded"}]}}, {"Retry-After": "0"}), times=3)
    world.oauth.expire_access_tokens()
    code, out, err = run("pull")
    assert code == 0, out + err
    assert all(fault.times == 0 for fault in world.server.faults)
    assert len(world.followups()) == 2
    stored = json.loads((world.tmp / "state" / "tokens" / "gmail.json").read_text())
    assert stored["token"] in world.oauth.access  # the refreshed token was saved back


def test_resets_mid_body_and_a_failing_token_endpoint_are_retried(run: Run, world: World) -> None:
    from tests.fakes.server import TRUNCATE

    run("auth", "import", "gmail", "--file", str(world.tmp / "token.json"))
    world.server.inject(lambda r: r.path.endswith("/messages"), TRUNCATE)  # a Gmail list page cut short
    world.server.inject(lambda r: r.path.endswith("/primary/events"), TRUNCATE)  # and a Calendar page
    world.oauth.expire_access_tokens()
    world.server.inject(lambda r: r.path == "/token", Response(503, {"error": "temporarily_unavailable"}))
    code, out, err = run("pull")
    assert code == 0, out + err
    assert all(fault.times == 0 for fault in world.server.faults)  # every fault was met, and survived
    assert len(world.followups()) == 2


def test_a_bounded_first_pull_says_how_far_back_it_is_complete(run: Run, world: World) -> None:
    config = world.tmp / "config.toml"
    config.write_text(config.read_text().replace('token_store = "file"', 'token_store = "file"\ninitial_window = "30d"'))
    for day in range(60):  # a daily digest: the first 50-message batch already reaches 30 days back
        world.gmail.add("digest@news.example", [ME], when_ms=world.ms(day), labels=["INBOX", "CATEGORY_UPDATES"])
    run("auth", "import", "gmail", "--file", str(world.tmp / "token.json"))
    code, out, _ = run("pull")
    assert code == 0 and "gmail: complete back to" in out, out
    code, out, _ = run("status")
    assert "  gmail: complete back to" in out and "older mail is read on later pulls" in out
    code, out, _ = run("people", "--json")
    assert "alice@example.org" not in out  # 120 days ago: not read yet
    code, out, _ = run("pull")  # the backfill reads the rest
    code, out, _ = run("status")
    assert "complete back to" not in out
    code, out, _ = run("people", "--json")
    assert "alice@example.org" in out
