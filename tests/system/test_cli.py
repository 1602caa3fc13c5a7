"""The command line, run in-process through its single error boundary, on the synthetic sample."""

from __future__ import annotations

import csv
import io
import json
import re
import signal
import subprocess
import sys
from pathlib import Path

import icalendar
import pytest

from syncd.cli.pull import progress_line
from tests.support.cli import Run
from tests.support.paths import ROOT
from tests.system.conftest import SAMPLE_ANCHOR

ANCHOR = SAMPLE_ANCHOR


AS_OF = ("--as-of", ANCHOR.isoformat())


def test_sample_command_runs_the_whole_job(run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SYNCD_STATE_DIR", raising=False)
    code, out, _ = run("sample", "--dir", str(tmp_path / "s"))
    assert code == 0
    assert "sample-mail:" in out and "NAME" in out and "Alice Moreau" in out
    ics = tmp_path / "s" / "followups.ics"
    assert f"follow-ups written to {ics}" in out
    calendar = icalendar.Calendar.from_ical(ics.read_bytes())
    events = list(calendar.walk("VEVENT"))
    assert events and all(e.walk("VALARM") for e in events)
    assert all("ATTENDEE" not in e for e in events)
    code, out, _ = run("sample", "--dir", str(tmp_path / "s"))
    assert code == 0 and "0 created, 0 updated, 0 deleted" in out


def test_pull_then_people_json_contract(run: Run, sample: Path) -> None:
    code, out, _ = run("pull", *AS_OF)
    assert code == 0
    assert "sample-mail: 58 new" in out
    code, out, _ = run("people", "--json", *AS_OF)
    assert code == 0
    people = {p["key"]: p for p in json.loads(out)}
    required = {"name", "addresses", "last_contact", "last_outbound", "last_inbound", "last_meeting", "tier",
                "every_days", "due", "reason"}
    assert all(required <= set(p) for p in people.values())
    assert people["alice@example.org"]["tier"] == "inner" and people["alice@example.org"]["every_days"] == 21
    assert people["print@printshop.example"]["due"] is None
    assert "sales@vendor.example" not in people  # inbound only: not a relationship
    assert "news@list.example" not in people
    assert people["alice@example.org"]["last_contact"].endswith("Z")


def test_people_filters_and_csv(run: Run, sample: Path) -> None:
    run("pull", *AS_OF)
    _, out, _ = run("people", "--overdue", "--json", *AS_OF)
    overdue = json.loads(out)
    assert overdue and all(p["due"] < ANCHOR.isoformat() for p in overdue)
    _, out, _ = run("people", "--tier", "directory", "--json", *AS_OF)
    assert [p["key"] for p in json.loads(out)] == ["print@printshop.example"]
    _, out, _ = run("people", "--all", "--json", *AS_OF)
    assert "sales@vendor.example" in {p["key"] for p in json.loads(out)}
    _, out, _ = run("people", "--dormant", "--json", *AS_OF)
    assert [p["key"] for p in json.loads(out)] == ["gus@example.net"]
    _, out, _ = run("people", "--csv", *AS_OF)
    rows = list(csv.DictReader(io.StringIO(out)))
    assert rows and set(rows[0]) >= {"name", "addresses", "due", "reason"}


def test_why_explains_and_ambiguity_lists_candidates(run: Run, sample: Path) -> None:
    run("pull", *AS_OF)
    code, out, _ = run("why", "alice", *AS_OF)
    assert code == 0
    assert "Alice Moreau <alice@example.org>" in out and "tier 'inner'" in out and "last contact:" in out
    code, _, err = run("why", "example", *AS_OF)
    assert code == 2 and "matches several people" in err
    code, _, err = run("why", "nobody-like-this", *AS_OF)
    assert code == 2 and "nobody matches" in err


def test_plan_writes_nothing(run: Run, sample: Path) -> None:
    run("pull", "--dry-run", *AS_OF)
    assert not (sample / "followups.ics").exists()
    code, out, _ = run("plan", *AS_OF)
    assert code == 0 and "to create" in out and "Reach out to" in out
    assert not (sample / "followups.ics").exists()


def test_decisions_set_merge_unmerge_remind(run: Run, sample: Path) -> None:
    run("pull", *AS_OF)
    assert run("set", "bob@example.net", "--every", "10d", "--note", "calls only")[0] == 0
    _, out, _ = run("why", "bob@example.net", *AS_OF)
    assert "every 10 d — per-person setting" in out and "note: calls only" in out
    assert run("merge", "alice@example.org", "hana@example.net")[0] == 0
    _, out, _ = run("people", "--json", *AS_OF)
    alice = next(p for p in json.loads(out) if p["key"] == "alice@example.org")
    assert alice["addresses"] == ["alice@example.org", "hana@example.net"]
    assert run("unmerge", "hana@example.net")[0] == 0
    code, _, err = run("unmerge", "hana@example.net")
    assert code == 2 and "was not merged" in err
    assert run("remind", "chen", "--on", "2026-03-04", "--note", "intro to Dana")[0] == 0
    _, out, _ = run("plan", *AS_OF)
    assert "Reach out to Chen Wei" in out
    code, _, err = run("set", "bob@example.net", "--every", "soon")
    assert code == 2 and "--every" in err
    code, _, err = run("set", "bob@example.net", "--tier", "vip")
    assert code == 2 and "no tier named 'vip'" in err


def test_status_reports_accounts(run: Run, sample: Path) -> None:
    code, out, _ = run("status")
    assert "never pulled" in out
    run("pull", *AS_OF)
    code, out, _ = run("status")
    assert code == 0 and "sample-mail (maildir): ok" in out and "last successful pull:" in out
    # (the sample ran as of March 2026, so none of its follow-ups is still ahead)
    assert re.search(r"follow-ups: [1-9]\d* in the calendar; 0 dismissed by you", out)


def test_config_check_reports_every_problem_with_exit_2(run: Run, tmp_path: Path) -> None:
    bad = tmp_path / "config.toml"
    bad.write_text('[accounts.work]\nprovder = "maildir"\npath = "/does/not/exist"\n[followups]\nslot = "9h"\n')
    code, _, err = run("--config", str(bad), "config", "check")
    assert code == 2
    assert "syncd: config.toml: accounts.work.provder: unknown key (did you mean 'provider'?)" in err
    assert "accounts.work.provider: missing (required)" in err
    assert "accounts.work.path: /does/not/exist does not exist" in err
    assert "followups.slot: '9h' is not a time like 09:30" in err


def test_missing_config_says_run_init(run: Run, tmp_path: Path) -> None:
    code, _, err = run("--config", str(tmp_path / "none.toml"), "pull")
    assert code == 2 and "run 'syncd init'" in err


def test_init_never_overwrites(run: Run, tmp_path: Path) -> None:
    path = tmp_path / "c" / "config.toml"
    assert run("--config", str(path), "init")[0] == 0
    assert run("--config", str(path), "config", "check")[0] == 0
    code, _, err = run("--config", str(path), "init")
    assert code == 2 and "already exists" in err


def test_schema_is_json(run: Run) -> None:
    code, out, _ = run("config", "schema")
    assert code == 0 and "followups" in json.loads(out)["properties"]


def test_a_source_failing_at_pull_time_fails_alone(run: Run, sample: Path) -> None:
    config = sample / "config.toml"
    # The path exists (the config is valid) but is a file, not a mail folder: that source fails alone.
    config.write_text(config.read_text().replace(str(sample / "mail"), str(sample / "calendar.ics"), 1))
    code, out, _ = run("pull", *AS_OF)
    assert code == 1
    assert "sample-mail: FAILED: accounts.sample-mail.path:" in out and "is not a folder" in out
    assert "sample-calendar: 13 new" in out
    _, out, _ = run("status")
    assert "sample-mail (maildir): needs attention" in out and "last error:" in out


def test_a_missing_archive_fails_its_account_and_the_rest_is_pulled(run: Run, sample: Path) -> None:
    config = sample / "config.toml"
    config.write_text(config.read_text() + f'\n[accounts.usb]\nprovider = "mbox"\npath = "{sample / "unmounted.mbox"}"\n')
    code, out, _ = run("pull", *AS_OF)
    assert code == 1
    assert f"usb: FAILED: accounts.usb.path: {sample / 'unmounted.mbox'} does not exist" in out
    assert "sample-mail: 58 new" in out and "follow-ups:" in out
    _, out, _ = run("status")
    assert "usb (mbox): needs attention" in out
    code, _, err = run("config", "check")
    assert code == 2 and "accounts.usb.path:" in err


def test_unusable_state_database_is_exit_3(run: Run, sample: Path, tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir(exist_ok=True)
    (state / "syncd.sqlite3").write_bytes(b"garbage" * 1000)
    code, _, err = run("status")
    assert code == 3 and "unusable" in err


def test_an_unexpected_error_is_one_sentence_with_exit_70(run: Run, sample: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import syncd.pipeline

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(syncd.pipeline, "run_job", boom)
    code, _, err = run("pull")
    assert code == 70 and "internal error: RuntimeError: disk on fire" in err and "--traceback" in err


def test_unknown_account_and_bad_date(run: Run, sample: Path) -> None:
    code, _, err = run("pull", "--account", "nope")
    assert code == 2 and "no account named 'nope'" in err
    code, _, err = run("people", "--as-of", "yesterday")
    assert code == 2 and "is not a date" in err


def test_progress_line_has_a_bar_and_an_eta_when_the_total_is_known() -> None:
    assert progress_line("work", 500, None, 250.0) == "work: 500 read (250/s)"
    assert progress_line("work", 500, 2000, 250.0) == "work: [#####               ] 500/2,000 (250/s, ETA 0:06)"


# ---- who lands in the calendar: the command line (docs/rules.md#kept-warm-and-small-network) ----------------


def test_people_json_gains_strength_and_contact_days_and_csv_has_the_same_columns(run: Run, sample: Path) -> None:
    run("pull", *AS_OF)
    _, out, _ = run("people", "--all", "--json", *AS_OF)
    records = json.loads(out)
    assert all({"strength", "contact_days", "kept_warm", "lapsed", "group", "one_offs"} <= set(p) for p in records)
    assert all(0 <= p["strength"] <= 1 and isinstance(p["contact_days"], int) for p in records)
    _, out, _ = run("people", "--all", "--csv", *AS_OF)
    rows = list(csv.DictReader(io.StringIO(out)))
    assert list(rows[0]) == list(records[0]) and len(rows) == len(records)
    assert rows[0]["addresses"] == " ".join(records[0]["addresses"])
    _, out, _ = run("people", "--csv", "--tier", "nobody-is-here", *AS_OF)
    assert out.splitlines()[0].split(",") == list(records[0])  # the header, even for no rows


def test_people_sorts_by_strength_and_lists_the_lapsed(run: Run, sample: Path) -> None:
    run("pull", *AS_OF)
    _, out, _ = run("people", "--sort", "strength", "--json", *AS_OF)
    strengths = [p["strength"] for p in json.loads(out)]
    assert strengths == sorted(strengths, reverse=True) and len(strengths) > 3
    _, out, _ = run("people", "--lapsed", "--json", *AS_OF)
    assert all(p["lapsed"] and p["remind"] for p in json.loads(out))
    code, out, _ = run("people", "--sort", "strength", *AS_OF)
    assert code == 0 and out.splitlines()[0].split()[:2] == ["NAME", "STRENGTH"]


def test_set_says_the_new_due_date_and_the_next_pull_counts_no_new_interactions(run: Run, sample: Path) -> None:
    run("pull", *AS_OF)
    code, out, _ = run("set", "bob@example.net", "--every", "10d", *AS_OF)
    assert code == 0 and "bob@example.net: updated; every 10 d (per-person setting (syncd set --every)); " in out
    assert re.search(r"next follow-up due \d{4}-\d\d-\d\d", out)
    code, out, _ = run("pull", *AS_OF)
    assert code == 0 and "new interactions" not in out and "full recompute" not in out


def test_remind_says_where_the_one_off_lands_and_people_and_why_show_it(run: Run, sample: Path) -> None:
    run("pull", *AS_OF)
    code, out, _ = run("remind", "chen", "--on", "2026-03-04", "--note", "intro to Dana", *AS_OF)
    assert code == 0 and "one-off on 2026-03-04; the next pull puts it in the calendar for Wed 2026-03-04" in out
    code, out, _ = run("remind", "chen", "--on", "2026-06-01", *AS_OF)
    assert "with the first pull from 2026-05-18 on" in out
    _, out, _ = run("people", "--json", *AS_OF)
    chen = next(p for p in json.loads(out) if p["name"] == "Chen Wei")
    assert chen["one_offs"] == [{"on": "2026-03-04", "note": "intro to Dana"}, {"on": "2026-06-01", "note": None}]
    _, out, _ = run("why", "chen", *AS_OF)
    assert "one-off on 2026-03-04: intro to Dana" in out and "one-off due 2026-03-04:" in out


def test_pull_without_accounts_says_so(run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "empty.toml"
    config.write_text(f'[followups]\nics_path = "{tmp_path / "f.ics"}"\n')
    monkeypatch.setenv("SYNCD_STATE_DIR", str(tmp_path / "state"))
    code, out, _ = run("--config", str(config), "pull")
    assert code == 0 and "nothing pulled: no accounts are configured in" in out and "[accounts.NAME]" in out


def test_status_shows_which_addresses_count_as_you_and_why(run: Run, sample: Path) -> None:
    run("pull", *AS_OF)
    _, out, _ = run("status")
    assert "addresses that count as you:" in out
    assert re.search(r"  \S+@\S+: 'me' of account sample-", out)


def test_the_process_ends_with_its_own_exit_code_whatever_stop_comes_late() -> None:
    """After main() has its verdict, SIGTERM and SIGINT are held: one arriving while the process ends cannot
    turn exit 0 or 130 into "killed by a signal" (-15, -2), as it did when the default actions came back."""
    script = ("import signal, sys\nfrom syncd.cli import main\nsys.argv = ['syncd', '--version']\n"
              "try:\n    main()\nexcept SystemExit:\n    pass\n"
              "print(sorted(int(s) for s in signal.pthread_sigmask(signal.SIG_BLOCK, [])))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=ROOT)
    held = json.loads(done.stdout.strip().splitlines()[-1])
    assert int(signal.SIGTERM) in held and int(signal.SIGINT) in held, done.stderr


def test_what_a_decision_leaves_and_lists_nobody_matches(run: Run, sample: Path) -> None:
    run("pull", *AS_OF)
    code, out, _ = run("set", "news@list.example", "--note", "a list", *AS_OF)  # known, but no relationship
    assert code == 0 and out.strip().endswith("; no follow-up: not a relationship: they wrote to you, but you "
                                              "never wrote to or met them"), out
    code, out, _ = run("people", "--tier", "inner", "--sort", "name", "--due", "--as-of", "2000-01-01")
    assert code == 0 and out.strip() == "nobody matches", out
    code, out, _ = run("why", "colleague5@example.com", *AS_OF)  # only on an all-hands over the recipient cap
    assert code == 0 and out.strip() == ("colleague5@example.com: no qualifying contact (bulk, role address, over the "
                                         "recipient cap, or only cc'd)"), out
    code, out, _ = run("people", "--sort", "name", *AS_OF)
    names = [line.split("  ")[0] for line in out.splitlines()[1:]]
    assert names == sorted(names, key=str.lower) and "Bob Okafor" in names
