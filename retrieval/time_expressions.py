"""Resolve the time words of a question ("last week", "on Monday", "in March", "since 2020",
"the latest on ...") against an `as_of` date into a range of publication dates.

The semantics (docs/answers.md, "Time"):
- calendar words name calendar periods: "last week" is the previous Monday–Sunday, "last
  month" the previous calendar month, "last year" the previous calendar year, "this week /
  month / year" runs from its start to `as_of`; "past 3 days", "the past week", "in the last
  2 months" are rolling windows ending at `as_of`;
- a weekday ("on Monday") is the latest such day on or before `as_of` ("last Monday": before
  `as_of`'s day); a month without a year ("in March") the latest March that has begun; a
  day without a year ("on September 14") the latest such day;
- a closed period's upper bound is extended by REPORTING_LAG (news of a day is published that
  day or the next), and no bound goes past the end of `as_of`'s day;
- a date given with its year ("in 2022", "in March 2015", "on March 3, 2015") names when
  something happened, and reports of it come any time after ("NATO refused in 2022", told in
  2025): it sets only the lower bound;
- a bare "today" is not resolved: in questions it mostly means "nowadays" ("what is it called
  today?"); "earlier today", "this morning" and "tonight" are today;
- "since X" runs from the start of X to `as_of`, "after X" from the day after X,
  "before X" ends before X, "until / by X" at the end of X — except that before / until / by
  a date with its year ("by 1945") sets no bound (it dates an event, not its reports);
  "from X" ("news from last week") is X itself;
- "latest", "most recent", "newest", "recent(ly)" ask for recency: no lower bound, the upper
  bound at `as_of`, and the recency preference (retrieval/recency.py) when it is configured.

Conservative on purpose: a month or year counts only after a preposition ("in March", "since
2015"), never as a bare word, so "the March on Washington", "Theresa May" or "in 2000 cases"
stay text. Only the first time expression of a question is used. dateparser's search_dates
(and dateutil's fuzzy parser) were not used: search_dates finds dates in "the March on Washington" and "Theresa May" (tested)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from newsdesk.retrieval import dates
from newsdesk.retrieval.dates import (
    DAY,
    MONTH_NAME,
    ORDINAL,
    WEEKDAY_NAME,
    YEAR,
    end_of,
    month_end,
    month_start,
    shift_months,
    start_of,
    week_start,
)

REPORTING_LAG = timedelta(days=1)

_NUMBERS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "few": 3, "couple of": 2,
}  # fmt: skip
_PREPOSITION = (
    r"(?:(?P<prep>(?i:in|on|during|since|from|after|before|until|till|by|over|throughout))\s+)"
)
_OPTIONAL_PREP = _PREPOSITION + "?"
# A year or month must be followed by the end of a clause, or by a word that starts another
# phrase: "in 2015 in Mecca" is a year, "in 2000 cases" a count.
_CLAUSE_END = (
    r"(?=\s*(?:$|[?.!,;:)\"”']|(?:in|at|on|and|or|when|while|after|before|during|about|for"
    r"|from|to|with|by|did|was|were|has|had|have)\b))"
)
_LATEST = re.compile(
    r"\b(?:the\s+)?(?:latest|most\s+recent(?:ly)?|newest|recent(?:ly)?)\b", re.IGNORECASE
)


@dataclass(frozen=True)
class Period:
    first: date
    last: date
    # A date given with its year ("in 2022", "March 2015", "March 3, 2015") names when
    # something happened; reports of it come any time after, so it bounds only from below.
    dated: bool = False


@dataclass(frozen=True)
class ResolvedTime:
    """What a question's time words mean: inclusive bounds on publication times (either may
    be open), the words that were resolved, and whether the question asks for the latest."""

    published_after: datetime | None
    published_before: datetime | None
    resolved_from: str
    latest: bool = False


_Handler = Callable[[re.Match[str], date], Period | None]


def _rolling(match: re.Match[str], today: date) -> Period | None:
    count = match.group("count")
    number = int(count) if count.isdigit() else _NUMBERS[" ".join(count.lower().split())]
    unit = match.group("unit").lower()
    if not 1 <= number <= 3650:
        return None
    return Period(_back(today, number, unit), today)


def _back(today: date, number: int, unit: str) -> date:
    if unit == "day":
        return today - timedelta(days=number)
    if unit == "week":
        return today - timedelta(weeks=number)
    return shift_months(today, -number * (12 if unit == "year" else 1))


def _named_day(match: re.Match[str], today: date) -> Period | None:
    # today, tonight, this morning: today.
    day = today - timedelta(days=1) if match.group("word").lower() == "yesterday" else today
    return Period(day, day)


def _calendar(match: re.Match[str], today: date) -> Period | None:
    which, unit = match.group("which").lower(), match.group("unit").lower()
    if unit == "week":
        start = week_start(today) - (timedelta(weeks=1) if which == "last" else timedelta(0))
        return Period(start, start + timedelta(days=6) if which == "last" else today)
    if unit == "month":
        start = shift_months(month_start(today), -1 if which == "last" else 0)
        return Period(start, month_end(start) if which == "last" else today)
    year = today.year - (1 if which == "last" else 0)
    return Period(date(year, 1, 1), date(year, 12, 31) if which == "last" else today)


def _full_date(match: re.Match[str], today: date) -> Period | None:
    day = dates.full_date(match)
    return Period(day, day, dated=True) if day is not None and day <= today else None


def _month_day(match: re.Match[str], today: date) -> Period | None:
    g = match.groupdict()
    month, number = dates.month_number(g["m1"] or g["m2"]), int(g["d1"] or g["d2"])
    for year in (today.year, today.year - 1):
        day = dates.valid_date(year, month, number)
        if day is not None and day <= today:
            return Period(day, day)
    return None


def _month(match: re.Match[str], today: date) -> Period | None:
    month = dates.month_number(match.group("month"))
    if match.group("year"):
        year = int(match.group("year"))
    else:
        # The latest such month that has begun ("last March": one before the current month).
        strictly_before = bool(match.group("last"))
        year = today.year
        if month > today.month or (strictly_before and month == today.month):
            year -= 1
    start = date(year, month, 1)
    if start > today:
        return None
    return Period(start, month_end(start), dated=bool(match.group("year")))


def _year(match: re.Match[str], today: date) -> Period | None:
    year = int(match.group("year"))
    if year > today.year:
        return None
    return Period(date(year, 1, 1), date(year, 12, 31), dated=True)


_COUNT = r"(?P<count>\d{1,4}|an?|one|two|three|four|five|six|seven|eight|nine|ten|few|couple\s+of)"
_PATTERNS: list[tuple[re.Pattern[str], _Handler]] = [
    (
        re.compile(
            rf"\b{_OPTIONAL_PREP}(?:the\s+)?(?:past|last|previous)\s+{_COUNT}\s+"
            r"(?P<unit>day|week|month|year)s?\b",
            re.IGNORECASE,
        ),
        _rolling,
    ),
    (
        # "the past week": rolling; "last week" (no "the") is the calendar week.
        re.compile(
            rf"\b{_OPTIONAL_PREP}(?:the\s+)?past\s+(?P<count>)(?P<unit>day|week|month|year)\b",
            re.IGNORECASE,
        ),
        lambda m, today: _rolling_one(m, today),
    ),
    (
        re.compile(
            rf"\b{_OPTIONAL_PREP}(?P<which>last|this)\s+(?P<unit>week|month|year)\b",
            re.IGNORECASE,
        ),
        _calendar,
    ),
    (
        re.compile(
            rf"\b{_OPTIONAL_PREP}(?P<word>yesterday|tonight|earlier\s+today|so\s+far\s+today"
            r"|this\s+(?:morning|afternoon|evening))\b",
            re.IGNORECASE,
        ),
        _named_day,
    ),
    (re.compile(rf"\b{_OPTIONAL_PREP}{dates.FULL_DATE.pattern[2:]}"), _full_date),
    (re.compile(rf"\b{_PREPOSITION}(?:the\s+)?{dates.MONTH_DAY.pattern[2:]}"), _month_day),
    (
        # "on Monday", "last Monday", "since Tuesday", "Monday's": never a bare weekday.
        re.compile(
            rf"\b(?:{_PREPOSITION}(?P<last>last\s+)?|(?P<last2>last\s+)|(?=\w+'s\b))"
            rf"(?P<weekday>{WEEKDAY_NAME})\b",
            re.IGNORECASE,
        ),
        lambda m, today: _weekday_any(m, today),
    ),
    (
        re.compile(
            rf"\b(?:(?:{_PREPOSITION}|(?P<last>(?i:last)\s+)|(?i:this)\s+)(?:early\s+|late\s+|mid-?)?"
            rf"(?P<month>{MONTH_NAME})(?:\s+(?:of\s+)?(?P<year>{YEAR}))?"
            rf"|(?P<month2>{MONTH_NAME})\s+(?P<year2>{YEAR}))"
            rf"(?!\s+(?:on|of|for|to|against|madness)\s+[A-Z])(?!\s*{DAY}{ORDINAL}\b)" + _CLAUSE_END
        ),
        lambda m, today: _month_any(m, today),
    ),
    (
        re.compile(
            rf"\b(?:{_PREPOSITION}(?:the\s+year\s+)?|the\s+year\s+)(?P<year>{YEAR})" + _CLAUSE_END,
            re.IGNORECASE,
        ),
        _year,
    ),
]


def _rolling_one(match: re.Match[str], today: date) -> Period | None:
    return Period(_back(today, 1, match.group("unit").lower()), today)


def _weekday_any(match: re.Match[str], today: date) -> Period | None:
    weekday = dates.weekday_number(match.group("weekday"))
    strictly_before = bool(match.group("last") or match.group("last2"))
    day = dates.weekday_on_or_before(
        today - timedelta(days=1) if strictly_before else today, weekday
    )
    return Period(day, day)


def _month_any(match: re.Match[str], today: date) -> Period | None:
    g = match.groupdict()
    if g["month2"]:
        year = int(g["year2"])
        start = date(year, dates.month_number(g["month2"]), 1)
        return Period(start, month_end(start), dated=True) if start <= today else None
    return _month(match, today)


def resolve(question: str, as_of: datetime) -> ResolvedTime | None:
    """The publication range a question's time words ask for, or None when it has none."""
    today = as_of.date()
    latest = _LATEST.search(question)
    best: tuple[re.Match[str], tuple[datetime | None, datetime | None]] | None = None
    for pattern, handler in _PATTERNS:
        for match in pattern.finditer(question):
            period = handler(match, today)
            bounds = (
                None if period is None else _bounds(match.groupdict().get("prep"), period, today)
            )
            if bounds is None:
                continue
            if best is None or (match.start(), -match.end()) < (best[0].start(), -best[0].end()):
                best = (match, bounds)
            break
    if best is None:
        if latest is None:
            return None
        return ResolvedTime(None, end_of(today), " ".join(latest.group(0).split()), latest=True)
    match, (after, before) = best
    words = " ".join(match.group(0).split())
    if latest is not None:
        words = f"{' '.join(latest.group(0).split())}; {words}"
    return ResolvedTime(after, before, words, latest=latest is not None)


def _bounds(
    preposition: str | None, period: Period, today: date
) -> tuple[datetime | None, datetime | None] | None:
    """Inclusive publication bounds, or None when the words set none: "before 1900" or "by
    1945" dates an event, and reports of it may come at any time."""
    now = end_of(today)
    match (preposition or "").lower():
        case "since":
            return start_of(period.first), now
        case "after":
            return start_of(period.last + timedelta(days=1)), now
        case "before" | "until" | "till" | "by" if period.dated:
            return None
        case "before":
            return None, min(end_of(period.first - timedelta(days=1)), now)
        case "until" | "till" | "by":
            return None, min(end_of(period.last), now)
        case _ if period.dated:
            return start_of(period.first), now
        case _:
            return start_of(period.first), min(end_of(period.last + REPORTING_LAG), now)
