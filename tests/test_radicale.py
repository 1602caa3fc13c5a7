"""A real CalDAV server (Radicale, started here on loopback) accepts every follow-up syncd writes."""

from __future__ import annotations

import base64
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import icalendar
import pytest

from syncd import cli

pytest.importorskip("radicale")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _request(method: str, url: str, body: bytes | None = None, content_type: str = "text/calendar") -> int:
    # [auth] type = none takes any user name; owner_only rights then give "anon" its own /anon/ tree.
    headers = {"Content-Type": content_type, "Authorization": "Basic " + base64.b64encode(b"anon:x").decode()}
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


@pytest.fixture
def radicale(tmp_path: Path) -> Iterator[str]:
    port = _free_port()
    config = tmp_path / "radicale.conf"
    config.write_text(
        f"[server]\nhosts = 127.0.0.1:{port}\n[auth]\ntype = none\n[rights]\ntype = owner_only\n"
        f"[storage]\nfilesystem_folder = {tmp_path / 'collections'}\n[logging]\nlevel = warning\n"
    )
    server = subprocess.Popen([sys.executable, "-m", "radicale", "--config", str(config)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                if server.poll() is not None:
                    pytest.fail(f"radicale did not start: {server.stderr.read().decode() if server.stderr else ''}")
                time.sleep(0.1)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.mark.slow
def test_every_followup_is_accepted_by_a_caldav_server(radicale: str, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SYNCD_STATE_DIR", raising=False)
    cli.main(["sample", "--dir", str(tmp_path / "s")])  # returns normally on success
    calendar = icalendar.Calendar.from_ical((tmp_path / "s" / "followups.ics").read_bytes())
    events = list(calendar.walk("VEVENT"))
    assert events
    collection = f"{radicale}/anon/followups/"
    mkcalendar = b'<?xml version="1.0"?><C:mkcalendar xmlns:C="urn:ietf:params:xml:ns:caldav"/>'
    # A principal collection first, then the calendar inside it (RFC 4791 §5.3.1: MKCALENDAR needs a parent).
    assert _request("MKCOL", f"{radicale}/anon/", None, "application/xml") in (201, 405)
    assert _request("MKCALENDAR", collection, mkcalendar, "application/xml") == 201
    timezones = list(calendar.walk("VTIMEZONE"))
    for event in events:
        single = icalendar.Calendar()
        single.add("PRODID", "-//syncd//follow-ups//EN")
        single.add("VERSION", "2.0")
        for tz in timezones:
            single.add_component(tz)
        single.add_component(event)
        status = _request("PUT", f"{collection}{event['X-SYNCD-KEY']}.ics", single.to_ical())
        assert status in (201, 204), f"{event['SUMMARY']}: HTTP {status}"
    fetch = urllib.request.Request(f"{collection}{events[0]['X-SYNCD-KEY']}.ics",
                                   headers={"Authorization": "Basic " + base64.b64encode(b"anon:x").decode()})
    with urllib.request.urlopen(fetch, timeout=10) as response:
        back = icalendar.Calendar.from_ical(response.read())
    assert str(next(iter(back.walk("VEVENT")))["UID"]) == str(events[0]["UID"])
