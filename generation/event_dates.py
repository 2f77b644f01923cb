"""The date a news sentence is *about*, which may differ from its article's publication date:
"on Monday" in an article published on Wednesday is that Monday.

Every date expression of the sentence is found; the most exact wins (a day over a week over a
month over a year), an explicit one over a relative one at the same precision, then the first:
- explicit: the sentence names a calendar date: "March 3, 2015", "on September 14" (the year
  nearest the publication date), "in March" (the latest March up to publication), "in 2010";
- relative: a word resolved against the publication date: "yesterday", "today", "tomorrow",
  "on Tuesday" (the latest Tuesday on or before publication, or the next one when the
  sentence speaks of the future: "will", "is to", "plans to"), "last week / month / year";
- publication: the sentence names no date: its article's publication date.

Without a publication date only explicit full dates and years can be placed."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

from newsdesk.answers import DatePrecision, DateSource
from newsdesk.retrieval import dates
from newsdesk.retrieval.dates import (
    MONTH_NAME,
    WEEKDAY_NAME,
    YEAR,
    month_start,
    shift_months,
    week_start,
)

_PRECISION_RANK: dict[DatePrecision, int] = {"day": 0, "week": 1, "month": 2, "year": 3}
_SOURCE_RANK = {"explicit": 0, "relative": 1}

# Words after a year that show it dates the clause ("In 2014 the law changed"), unlike a
# count ("in 2000 cases").
_AFTER_YEAR = (
    r"(?=\s*(?:$|[^\w\s]|(?:in|at|on|and|or|when|while|after|before|during|about|for|from|to"
    r"|with|by|as|the|a|an|it|he|she|they|we|this|that|his|her|its|their|there|was|were|has"
    r"|had|have|is|are)\b))"
)
_YEAR_IN = re.compile(
    rf"\b(?:in|during|throughout)\s+(?:early\s+|late\s+|mid-?)?(?P<year>{YEAR})" + _AFTER_YEAR,
    re.IGNORECASE,
)
_MONTH_YEAR = re.compile(rf"\b(?P<month>{MONTH_NAME})\s+(?:of\s+)?(?P<year>{YEAR})\b")
_MONTH_IN = re.compile(
    rf"\b(?i:in|during|since|until|by|early|late|mid-?|last)\s+(?P<month>{MONTH_NAME})"
    rf"(?!\s+(?:\d|of\s+\d|on\s+[A-Z]))"
)
_NAMED_DAY = re.compile(
    r"\b(?P<word>yesterday|today|tonight|tomorrow|this\s+(?:morning|afternoon|evening))\b",
    re.IGNORECASE,
)
# A weekday that names a day, not a holiday or a character ("Good Friday", "Man Friday").
_WEEKDAY = re.compile(
    rf"(?<!Good )(?<!Black )(?<!Cyber )(?<!Ash )(?<!Holy )(?<!Super )(?<!Man )(?<!Girl )"
    rf"\b(?P<next>next\s+)?(?P<last>last\s+)?(?P<weekday>{WEEKDAY_NAME})\b"
)
_CALENDAR = re.compile(r"\b(?P<which>last|this)\s+(?P<unit>week|month|year)\b", re.IGNORECASE)
_FUTURE = re.compile(
    r"\b(?:will|shall|is\s+to|are\s+to|to\s+be\s+held|plans?\s+to|planned|scheduled|"
    r"expected\s+to|set\s+to|going\s+to|upcoming)\b",
    re.IGNORECASE,
)

DateSourceFound = Literal["explicit", "relative"]


@dataclass(frozen=True)
class EventDate:
    date: date
    source: DateSource
    precision: DatePrecision
    words: str | None  # the words it was read from (None for the publication date)


@dataclass(frozen=True)
class _Found:
    date: date
    source: DateSourceFound
    precision: DatePrecision
    start: int
    words: str

    def rank(self) -> tuple[int, int, int]:
        return (_PRECISION_RANK[self.precision], _SOURCE_RANK[self.source], self.start)


def event_date(sentence: str, published: date | None) -> EventDate | None:
    """The date `sentence` is about, or None when neither it nor the article gives one."""
    found = _explicit(sentence, published)
    if published is not None:
        found += _relative(sentence, published)
    if found:
        best = min(found, key=_Found.rank)
        return EventDate(best.date, best.source, best.precision, best.words)
    if published is None:
        return None
    return EventDate(published, "publication", "day", None)


def _explicit(sentence: str, published: date | None) -> list[_Found]:
    found: list[_Found] = []
    taken: list[tuple[int, int]] = []  # spans of full dates: their parts are not read again
    for match in dates.FULL_DATE.finditer(sentence):
        if (day := dates.full_date(match)) is not None:
            found.append(_Found(day, "explicit", "day", match.start(), match.group(0)))
            taken.append(match.span())

    def free(match: re.Match[str]) -> bool:
        return not any(start <= match.start() < end for start, end in taken)

    for match in _MONTH_YEAR.finditer(sentence):
        if free(match):
            first = date(int(match.group("year")), dates.month_number(match.group("month")), 1)
            found.append(_Found(first, "explicit", "month", match.start(), match.group(0)))
            taken.append(match.span())
    for match in _YEAR_IN.finditer(sentence):
        if free(match):
            first = date(int(match.group("year")), 1, 1)
            found.append(_Found(first, "explicit", "year", match.start(), match.group(0)))
    if published is None:
        return found
    for match in dates.MONTH_DAY.finditer(sentence):
        if free(match) and (day := dates.month_day(match, published)) is not None:
            found.append(_Found(day, "explicit", "day", match.start(), match.group(0)))
    for match in _MONTH_IN.finditer(sentence):
        if free(match):
            month = dates.month_number(match.group("month"))
            year = published.year - (1 if month > published.month else 0)
            first = date(year, month, 1)
            found.append(_Found(first, "explicit", "month", match.start(), match.group(0)))
    return found


def _clause(sentence: str, at: int) -> str:
    """The clause holding position `at`: tense belongs to it, not to a quote after a colon."""
    start = max(sentence.rfind(mark, 0, at) for mark in _CLAUSE_MARKS) + 1
    ends = [i for mark in _CLAUSE_MARKS if (i := sentence.find(mark, at)) >= 0]
    return sentence[start : min(ends, default=len(sentence))]


_CLAUSE_MARKS = (";", ":", '"', "“", "”")


def _relative(sentence: str, published: date) -> list[_Found]:
    found: list[_Found] = []
    for match in _NAMED_DAY.finditer(sentence):
        word = match.group("word").lower()
        shift = {"yesterday": -1, "tomorrow": 1}.get(word, 0)
        day = published + timedelta(days=shift)
        found.append(_Found(day, "relative", "day", match.start(), match.group(0)))
    for match in _WEEKDAY.finditer(sentence):
        weekday = dates.weekday_number(match.group("weekday"))
        future = _FUTURE.search(_clause(sentence, match.start())) is not None
        if match.group("next") or (future and not match.group("last")):
            day = dates.weekday_after(published, weekday)
        elif match.group("last"):
            day = dates.weekday_on_or_before(published - timedelta(days=1), weekday)
        else:
            day = dates.weekday_on_or_before(published, weekday)
        found.append(_Found(day, "relative", "day", match.start(), match.group(0)))
    for match in _CALENDAR.finditer(sentence):
        which, unit = match.group("which").lower(), match.group("unit").lower()
        back = 1 if which == "last" else 0
        first: date
        precision: DatePrecision
        if unit == "week":
            first, precision = week_start(published) - timedelta(weeks=back), "week"
        elif unit == "month":
            first, precision = shift_months(month_start(published), -back), "month"
        else:
            first, precision = date(published.year - back, 1, 1), "year"
        found.append(_Found(first, "relative", precision, match.start(), match.group(0)))
    return found
