"""Bounded expansion of a recurring event: inside the window, at most once a day, at most N occurrences.

RFC 5545 §3.3.10 lets a rule repeat every second, forever; one invitation with ``FREQ=MINUTELY`` and no
end would be millions of "meetings" and gigabytes of memory. Expansion here is bounded three ways, and
what is left out is said (as skips the pull summary counts):

* **At most once a day.** A rule more frequent than daily (``SECONDLY``, ``MINUTELY``, ``HOURLY``, or a
  ``DAILY`` rule whose ``BYHOUR``/``BYMINUTE``/``BYSECOND`` make several a day) is read as a daily rule at
  its first time of day: for keeping in touch, meeting someone hourly is meeting them daily. Its
  ``COUNT`` becomes the ``UNTIL`` it would reach (``recurrence thinned``).
* **Never-matching rules cost nothing.** A ``BYMONTH``/``BYMONTHDAY`` pair that no month has (February
  30th) yields no occurrence; dateutil would search up to the year 9999 for one.
* **At most ``cap`` occurrences, the nearest today first.** The window is expanded outward from "now" in
  slices that double in length, up to a quarter of the cap ahead and the rest behind, so the latest
  contacts and the next booked meetings are what is kept (``recurrence cut``). Memory stays bounded by
  the cap whatever the rule.

The expansion itself is recurring-ical-events' (RRULE, RDATE, EXDATE, RECURRENCE-ID overrides); what it
and dateutil cost, and why each bound is needed: docs/icalendar.md#recurrence-rules.

Providers that expand series themselves (Google Calendar with ``singleEvents``, Outlook's calendar view)
are bounded by their window already; :class:`OncePerDay` adds the first bound for them — Outlook's
recurrence patterns are at most daily by design, Google accepts any RFC 5545 rule. No cap is applied
there: their instances arrive in no useful order, so a cap would keep the oldest and drop the latest.
"""

from __future__ import annotations

import calendar
import contextlib
import math
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta

import icalendar
import recurring_ical_events

from connectors.settings import Key, positive_int

MAX_OCCURRENCES = 1000
# The setting, for every provider whose meetings this module expands (.ics exports, CalDAV calendars).
MAX_OCCURRENCES_KEY = Key(
    "max_occurrences", positive_int, MAX_OCCURRENCES,
    "a recurring event is expanded to at most this many occurrences, the nearest today first",
)
FIRST_SLICE = timedelta(days=32)
_SUB_DAILY = {"SECONDLY": 1, "MINUTELY": 60, "HOURLY": 3600}
_DAY = 86400
# Parts that cannot go with FREQ=DAILY once a rule is thinned (RFC 5545 §3.3.10 table).
_TIME_PARTS = ("BYHOUR", "BYMINUTE", "BYSECOND", "BYSETPOS")


def _one(rule: icalendar.vRecur, key: str, default: object = None) -> object:
    values = rule.get(key)
    return values[0] if values else default


def _rules(event: icalendar.cal.Component) -> list[icalendar.vRecur]:
    """The event's RRULEs; none when they cannot be read (the expansion then says what is wrong with them)."""
    rules = event.get("RRULE")  # a lookup in the parsed component: a value that did not parse is no vRecur
    listed = rules if isinstance(rules, list) else [] if rules is None else [rules]
    return listed if all(isinstance(rule, icalendar.vRecur) for rule in listed) else []


def _per_day(rule: icalendar.vRecur) -> int:
    """How many times a day a DAILY rule fires through its time parts (1 when it has none)."""
    return math.prod(len(rule.get(part) or [None]) for part in ("BYHOUR", "BYMINUTE", "BYSECOND"))


def _never_matches(rule: icalendar.vRecur) -> bool:
    """A BYMONTH/BYMONTHDAY combination no month has (e.g. February 30th): the rule has no occurrence."""
    months = [int(m) for m in rule.get("BYMONTH") or range(1, 13)]
    days = [int(d) for d in rule.get("BYMONTHDAY") or ()]
    if not days:
        return False
    longest = {m: calendar.monthrange(2024, m)[1] for m in range(1, 13)}  # 2024: February has 29 days
    return not any(1 <= m <= 12 and 0 < abs(d) <= longest[m] for m in months for d in days)


def _until(start: object, span: timedelta) -> date | datetime:
    """The UNTIL a rule starting at ``start`` reaches after ``span``, in the type RFC 5545 asks for."""
    if isinstance(start, datetime):
        end = start + span
        return end.astimezone(UTC) if end.tzinfo is not None else end
    assert isinstance(start, date)
    return start + span


def thin(event: icalendar.cal.Component) -> str | None:
    """Rewrite rules of ``event`` that fire more than once a day as daily ones; returns the note, if any."""
    listed = _rules(event)
    if not listed:
        return None
    thinned: list[str] = []
    result = []
    for rule in listed:
        frequency = str(_one(rule, "FREQ", "")).upper()
        per_day = _per_day(rule) if frequency == "DAILY" else 1
        if frequency not in _SUB_DAILY and per_day <= 1:
            result.append(rule)
            continue
        thinned.append(frequency)
        interval = int(str(_one(rule, "INTERVAL", 1)))
        step = _SUB_DAILY.get(frequency, _DAY) * interval
        daily = icalendar.vRecur({k: v for k, v in rule.items() if k not in _TIME_PARTS and k != "COUNT"})
        daily["FREQ"] = ["DAILY"]
        daily["INTERVAL"] = [max(1, step // _DAY)]
        if rule.get("BYDAY"):  # a weekday with an ordinal ("1MO") belongs to monthly and yearly rules only
            daily["BYDAY"] = [str(day).lstrip("+-0123456789") for day in rule["BYDAY"]]
        count = _one(rule, "COUNT")
        if count is not None and "UNTIL" not in rule:
            fires = int(str(count)) if frequency in _SUB_DAILY else math.ceil(int(str(count)) / per_day)
            # The last firing is COUNT - 1 steps after the first, and UNTIL includes it (RFC 5545 §3.3.10).
            seconds = min(max(fires - 1, 0) * step, 10_000 * 365 * _DAY)  # COUNT=10**9 is "forever" too
            with contextlib.suppress(OverflowError):  # beyond the year 9999: no end
                daily["UNTIL"] = [_until(event.decoded("DTSTART"), timedelta(seconds=seconds))]
        result.append(daily)
    if not thinned:
        return None
    event.pop("RRULE")
    for rule in result:
        event.add("RRULE", rule)
    return f"recurrence thinned: FREQ={thinned[0]} repeats more often than daily; read as once a day"


def never_occurs(event: icalendar.cal.Component) -> bool:
    """Whether every RRULE of ``event`` can never match and it has no RDATE to stand on."""
    listed = _rules(event)
    return bool(listed) and "RDATE" not in event and all(_never_matches(rule) for rule in listed)


def fast_forward(event: icalendar.cal.Component, window_start: datetime) -> None:
    """Move the start of a daily or weekly series that began long before the window up to just before it.

    dateutil walks a rule from its DTSTART, so a daily rule from the year 1 costs 740,000 steps on every
    expansion. Moving DTSTART (and DTEND) by whole periods leaves every later occurrence where it was;
    the moved start itself, which RFC 5545 always counts as an occurrence, stays before the window. A
    rule with COUNT counts from its start and is left as it is; so are monthly and yearly rules, which
    are cheap to walk.
    """
    rules = _rules(event)
    if not rules or "RECURRENCE-ID" in event:
        return
    periods = []
    for rule in rules:
        frequency = str(_one(rule, "FREQ", "")).upper()
        if "COUNT" in rule or frequency not in ("DAILY", "WEEKLY"):
            return
        periods.append(int(str(_one(rule, "INTERVAL", 1))) * (7 if frequency == "WEEKLY" else 1))
    period = timedelta(days=math.lcm(*periods))
    start = event.decoded("DTSTART")
    begins = start if isinstance(start, datetime) else datetime(start.year, start.month, start.day)
    reference = window_start if begins.tzinfo is not None else window_start.replace(tzinfo=None)
    steps = (reference - begins) // period - 1
    if steps < 1:
        return
    shift = period * steps
    for name in ("DTSTART", "DTEND"):
        if name in event:
            value = event.decoded(name)
            params = event[name].params
            event.pop(name)
            event.add(name, value + shift, parameters=dict(params))


def _slices(start: datetime, end: datetime, forward: bool) -> Iterator[tuple[datetime, datetime]]:
    """[start, end] cut into spans that double in length, from ``start`` onward (or from ``end`` back)."""
    span = FIRST_SLICE
    edge = start if forward else end
    while (edge < end) if forward else (edge > start):
        other = min(edge + span, end) if forward else max(edge - span, start)
        yield (edge, other) if forward else (other, edge)
        edge, span = other, span * 2


def _start(component: icalendar.cal.Component) -> datetime:
    value = component.decoded("DTSTART")
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return datetime(value.year, value.month, value.day, tzinfo=UTC)


def _key(component: icalendar.cal.Component) -> str:
    anchor = component.get("RECURRENCE-ID") or component.get("DTSTART")
    return anchor.to_ical().decode() if hasattr(anchor, "to_ical") else str(anchor)


def _collect(
    query: recurring_ical_events.CalendarQuery,
    slices: Iterator[tuple[datetime, datetime]],
    wanted: Callable[[datetime], bool],
    newest_first: bool,
    room: int,
    kept: dict[str, icalendar.cal.Component],
) -> bool:
    """Add up to ``room`` occurrences from ``slices`` (in order) to ``kept``; True when more were left over."""
    taken = 0
    for begin, end in slices:
        found = sorted((c for c in query.between(begin, end) if wanted(_start(c))), key=_start, reverse=newest_first)
        for component in found:
            key = _key(component)
            if key in kept:
                continue  # an occurrence overlapping two slices
            if taken >= room:
                return True
            kept[key] = component
            taken += 1
    return False


def expand(
    single: icalendar.Calendar, window: tuple[datetime, datetime], now: datetime, cap: int = MAX_OCCURRENCES
) -> tuple[list[icalendar.cal.Component], bool]:
    """The occurrences of the one series in ``single`` within ``window``, at most ``cap`` of them, the
    nearest ``now`` first (a quarter of the cap ahead of it); and whether any were cut for the cap."""
    query = recurring_ical_events.of(single)
    low, high = window
    middle = min(max(now, low), high)
    kept: dict[str, icalendar.cal.Component] = {}
    ahead = _collect(query, _slices(middle, high, forward=True), lambda start: start >= middle, False,
                     max(1, cap // 4), kept)
    behind = _collect(query, _slices(low, middle, forward=False), lambda start: start < middle, True,
                      cap - len(kept), kept)
    return sorted(kept.values(), key=_start), ahead or behind


class OncePerDay:
    """For one pull of a provider that expands series itself: at most one occurrence per series and UTC day."""

    def __init__(self) -> None:
        self._days: defaultdict[str, set[date]] = defaultdict(set)
        self._noted: set[str] = set()

    def admit(self, series: str, start: datetime) -> str | None:
        """None to keep the occurrence; else, the first time for its series, the note that says why not
        (later ones of the same series return ``""``: left out, already said)."""
        day = start.astimezone(UTC).date()
        if day not in self._days[series]:
            self._days[series].add(day)
            return None
        if series in self._noted:
            return ""
        self._noted.add(series)
        return "recurrence thinned: the series repeats more often than daily; one occurrence a day is kept"
