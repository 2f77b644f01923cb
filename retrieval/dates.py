"""Calendar vocabulary and arithmetic shared by the question-range resolver
(retrieval/time_expressions.py) and the event-date extractor (generation/event_dates.py).

Only English names, written as news writes them: "March", "Sept.", "Monday". The arithmetic
needs only whole months and days, so it is done here (clamped at month ends) rather than with
an untyped dependency."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta

MONTHS: dict[str, int] = {
    name: number
    for number, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ],
        start=1,
    )
    for name in names
}
WEEKDAYS: dict[str, int] = {
    name: number
    for number, name in enumerate(
        ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
    )
}

# Capitalised full names, or abbreviations with their full stop ("Sept."): a lower-case
# "may" or "march" is a verb, and "Mar" without a stop is too often something else.
MONTH_NAME = (
    r"(?:January|February|March|April|May|June|July|August|September|October|November|December"
    r"|(?:Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept?|Oct|Nov|Dec)\.)"
)
WEEKDAY_NAME = r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"
YEAR = r"(?:1[89]\d\d|20\d\d|2100)"
DAY = r"(?:[12]\d|3[01]|0?[1-9])"
ORDINAL = r"(?:st|nd|rd|th)?"

# "March 3, 2015", "March 3 2015", "3 March 2015", "2015-03-03": a day no context can move.
FULL_DATE = re.compile(
    rf"\b(?:(?P<m1>{MONTH_NAME})\s+(?P<d1>{DAY}){ORDINAL},?\s+(?P<y1>{YEAR})"
    rf"|(?P<d2>{DAY}){ORDINAL}\s+(?P<m2>{MONTH_NAME}),?\s+(?P<y2>{YEAR})"
    rf"|(?P<y3>{YEAR})-(?P<m3>0[1-9]|1[0-2])-(?P<d3>0[1-9]|[12]\d|3[01]))\b"
)
# "March 3", "3 March", "September 14th": a day whose year the context supplies.
MONTH_DAY = re.compile(
    rf"\b(?:(?P<m1>{MONTH_NAME})\s+(?P<d1>{DAY}){ORDINAL}|(?P<d2>{DAY}){ORDINAL}\s+"
    rf"(?P<m2>{MONTH_NAME}))\b(?!\s*(?:,\s*)?\d)"
)


def month_number(name: str) -> int:
    return MONTHS[name.lower().rstrip(".")]


def weekday_number(name: str) -> int:
    return WEEKDAYS[name.lower()]


def valid_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:  # "February 30"
        return None


def full_date(match: re.Match[str]) -> date | None:
    """The date a FULL_DATE match spells."""
    g = match.groupdict()
    if g["y3"]:
        return valid_date(int(g["y3"]), int(g["m3"]), int(g["d3"]))
    month = g["m1"] or g["m2"]
    return valid_date(int(g["y1"] or g["y2"]), month_number(month), int(g["d1"] or g["d2"]))


def month_day(match: re.Match[str], reference: date) -> date | None:
    """The date a MONTH_DAY match spells, in the year that puts it nearest `reference`
    (news writes "on December 30" in January about last year's December)."""
    g = match.groupdict()
    month, day = month_number(g["m1"] or g["m2"]), int(g["d1"] or g["d2"])
    candidates = [valid_date(reference.year + shift, month, day) for shift in (-1, 0, 1)]
    dated = [c for c in candidates if c is not None]
    return min(dated, key=lambda c: abs((c - reference).days)) if dated else None


def weekday_on_or_before(reference: date, weekday: int) -> date:
    return reference - timedelta(days=(reference.weekday() - weekday) % 7)


def weekday_after(reference: date, weekday: int) -> date:
    return reference + timedelta(days=(weekday - reference.weekday() - 1) % 7 + 1)


def week_start(day: date) -> date:
    """The Monday of the ISO week holding `day`."""
    return day - timedelta(days=day.weekday())


def month_start(day: date) -> date:
    return day.replace(day=1)


def shift_months(day: date, months: int) -> date:
    """`day` moved by whole months, clamped to the last day of a shorter month."""
    year, month = divmod(day.year * 12 + day.month - 1 + months, 12)
    first = date(year, month + 1, 1)
    return min(first + timedelta(days=day.day - 1), month_end(first))


def month_end(day: date) -> date:
    index = day.year * 12 + day.month  # the next month's index
    year, month = divmod(index, 12)
    return date(year, month + 1, 1) - timedelta(days=1)


def start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def end_of(day: date) -> datetime:
    return datetime.combine(day, time.max, tzinfo=UTC)
