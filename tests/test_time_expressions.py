"""Relative dates in questions, resolved at fixed `as_of` dates (retrieval/time_expressions.py),
the rule that explicit filters win (retrieval/time_scope.py) and the recency preference
(retrieval/recency.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from newsdesk.domain import SearchFilters
from newsdesk.retrieval.dates import shift_months
from newsdesk.retrieval.recency import Recency, decay, prefer_recent
from newsdesk.retrieval.time_expressions import resolve
from newsdesk.retrieval.time_scope import time_scope

# A Wednesday, and a Monday at the start of a year (calendar edges).
WEDNESDAY = datetime(2015, 9, 23, 15, 30, tzinfo=UTC)
NEW_YEAR_MONDAY = datetime(2024, 1, 1, 9, 0, tzinfo=UTC)


def _days(question: str, as_of: datetime) -> tuple[date | None, date | None, str]:
    resolved = resolve(question, as_of)
    assert resolved is not None, question
    after = resolved.published_after.date() if resolved.published_after else None
    before = resolved.published_before.date() if resolved.published_before else None
    return after, before, resolved.resolved_from


@pytest.mark.parametrize(
    ("question", "as_of", "after", "before", "words"),
    [
        # last week: the previous Monday–Sunday, plus a day of reporting lag.
        ("What did NATO say last week?", WEDNESDAY, date(2015, 9, 14), date(2015, 9, 21),
         "last week"),
        ("what did nato say last week", NEW_YEAR_MONDAY, date(2023, 12, 25), date(2024, 1, 1),
         "last week"),
        # a weekday: the latest such day on or before as_of.
        ("What happened on Monday in Mecca?", WEDNESDAY, date(2015, 9, 21), date(2015, 9, 22),
         "on Monday"),
        ("What happened on Wednesday?", WEDNESDAY, date(2015, 9, 23), date(2015, 9, 23),
         "on Wednesday"),
        ("What did he say last Wednesday?", WEDNESDAY, date(2015, 9, 16), date(2015, 9, 17),
         "last Wednesday"),
        ("What happened on Monday?", NEW_YEAR_MONDAY, date(2024, 1, 1), date(2024, 1, 1),
         "on Monday"),
        ("What happened yesterday?", WEDNESDAY, date(2015, 9, 22), date(2015, 9, 23),
         "yesterday"),
        ("What happened yesterday?", NEW_YEAR_MONDAY, date(2023, 12, 31), date(2024, 1, 1),
         "yesterday"),
        ("What happened earlier today?", WEDNESDAY, date(2015, 9, 23), date(2015, 9, 23),
         "earlier today"),
        # a month without a year: the latest such month that has begun.
        ("What happened in March?", WEDNESDAY, date(2015, 3, 1), date(2015, 4, 1), "in March"),
        ("What happened in March?", NEW_YEAR_MONDAY, date(2023, 3, 1), date(2023, 4, 1),
         "in March"),
        ("What happened in September?", WEDNESDAY, date(2015, 9, 1), date(2015, 9, 23),
         "in September"),
        # a date with its year: reports can come any time after, so only a lower bound.
        ("In March 2011, what did Microsoft say?", WEDNESDAY, date(2011, 3, 1),
         date(2015, 9, 23), "In March 2011"),
        ("What happened in May?", WEDNESDAY, date(2015, 5, 1), date(2015, 6, 1), "in May"),
        ("last year's floods", WEDNESDAY, date(2014, 1, 1), date(2015, 1, 1), "last year"),
        ("What happened last year?", NEW_YEAR_MONDAY, date(2023, 1, 1), date(2024, 1, 1),
         "last year"),
        ("this month", WEDNESDAY, date(2015, 9, 1), date(2015, 9, 23), "this month"),
        ("last month", NEW_YEAR_MONDAY, date(2023, 12, 1), date(2024, 1, 1), "last month"),
        ("news since Tuesday", WEDNESDAY, date(2015, 9, 22), date(2015, 9, 23), "since Tuesday"),
        ("news in the past 3 days", WEDNESDAY, date(2015, 9, 20), date(2015, 9, 23),
         "in the past 3 days"),
        ("the past week", WEDNESDAY, date(2015, 9, 16), date(2015, 9, 23), "the past week"),
        ("on September 14", WEDNESDAY, date(2015, 9, 14), date(2015, 9, 15), "on September 14"),
        ("on March 3, 2015", WEDNESDAY, date(2015, 3, 3), date(2015, 9, 23),
         "on March 3, 2015"),
        ("What did NATO refuse in 2014?", WEDNESDAY, date(2014, 1, 1), date(2015, 9, 23),
         "in 2014"),
        ("before Tuesday", WEDNESDAY, None, date(2015, 9, 21), "before Tuesday"),
        ("until August", WEDNESDAY, None, date(2015, 8, 31), "until August"),
    ],
)  # fmt: skip
def test_relative_dates_resolve_against_as_of(
    question: str, as_of: datetime, after: date | None, before: date | None, words: str
) -> None:
    assert _days(question, as_of) == (after, before, words)


@pytest.mark.parametrize(
    "question",
    [
        "Who led the March on Washington?",
        "What did Theresa May say about the asylum backlog?",
        "Which schools may have to pay taxes?",
        "How many people march in Taipei?",
        "How did deaths in 2000 cases compare?",
        "What do shoppers buy on Black Friday sales?",  # no preposition before the weekday
        "What is Man Friday?",
        "Why did the 2015 Hajj draw criticism?",  # a year as a modifier is not a range
        "What did Stoltenberg reveal about NATO?",
        "What is the stadium called today?",  # "today" as "nowadays"
        # before / by a year dates an event, not its reports.
        "How many rail lines were built before 1900?",
        "What had the population declined to by 1945?",
    ],
)
def test_words_that_are_not_time_expressions_resolve_to_nothing(question: str) -> None:
    assert resolve(question, WEDNESDAY) is None


def test_future_periods_are_not_ranges() -> None:
    assert resolve("what happened in 2016?", WEDNESDAY) is None
    assert resolve("on March 3, 2016", WEDNESDAY) is None


def test_no_bound_passes_the_end_of_as_of_day() -> None:
    for question in ("yesterday", "this week", "in September", "the latest on Mecca"):
        resolved = resolve(question, WEDNESDAY)
        assert resolved is not None and resolved.published_before is not None
        assert resolved.published_before.date() <= WEDNESDAY.date(), question


def test_latest_asks_for_recency_and_no_lower_bound() -> None:
    resolved = resolve("the latest on the Mecca crane collapse", WEDNESDAY)
    assert resolved is not None and resolved.latest
    assert resolved.published_after is None
    assert resolved.published_before is not None
    assert resolved.published_before.date() == WEDNESDAY.date()
    assert resolved.resolved_from == "the latest"
    both = resolve("the most recent news from last week", WEDNESDAY)
    assert (
        both is not None and both.latest and both.resolved_from == "the most recent; from last week"
    )
    assert both.published_after is not None and both.published_after.date() == date(2015, 9, 14)
    last_week = resolve("what did NATO say last week", WEDNESDAY)
    assert last_week is not None and last_week.latest is False


def test_explicit_filters_win_over_the_words() -> None:
    explicit = SearchFilters(published_after=datetime(2010, 1, 1, tzinfo=UTC))
    scope = time_scope("What happened last week?", explicit, WEDNESDAY, 0)
    assert scope.filters == explicit and scope.time_range is None
    sources = SearchFilters(sources=["Wikinews"])
    scope = time_scope("What happened last week?", sources, WEDNESDAY, 0)
    assert scope.filters.sources == ["Wikinews"]
    assert scope.time_range is not None and scope.time_range.resolved_from == "last week"
    assert scope.filters.published_after == scope.time_range.published_after
    assert time_scope("What did NATO say?", None, WEDNESDAY, 30).time_range is None


def test_recency_applies_only_to_latest_questions_and_only_when_configured() -> None:
    assert time_scope("the latest on Mecca", None, WEDNESDAY, 30).recency is not None
    assert time_scope("the latest on Mecca", None, WEDNESDAY, 0).recency is None
    assert time_scope("what happened last week", None, WEDNESDAY, 30).recency is None
    assert time_scope("what happened in Mecca", None, WEDNESDAY, 30).recency is None


def test_recency_halves_relevance_every_half_life() -> None:
    recency = Recency(WEDNESDAY, half_life_days=10)
    assert decay(WEDNESDAY, recency) == pytest.approx(1.0)
    assert decay(WEDNESDAY - timedelta(days=10), recency) == pytest.approx(0.5)
    assert decay(WEDNESDAY - timedelta(days=20), recency) == pytest.approx(0.25)
    assert decay(None, recency) == pytest.approx(0.5)  # undated: one half-life old
    published = {
        1: WEDNESDAY - timedelta(days=300),  # most relevant, old
        2: WEDNESDAY - timedelta(days=1),  # a little less relevant, new
        3: WEDNESDAY,  # irrelevant (lowest score), newest
    }
    ranked = prefer_recent({1: 0.9, 2: 0.8, 3: 0.1}, published, recency)
    assert [chunk for chunk, _ in ranked] == [2, 3, 1]  # 300 days is 30 half-lives
    slow = Recency(WEDNESDAY, half_life_days=3650)  # ten years: relevance dominates
    assert [chunk for chunk, _ in prefer_recent({1: 0.9, 2: 0.8, 3: 0.1}, published, slow)] == [
        1,
        2,
        3,
    ]


def test_month_arithmetic_clamps_at_month_ends() -> None:
    assert shift_months(date(2015, 3, 31), -1) == date(2015, 2, 28)
    assert shift_months(date(2016, 2, 29), -12) == date(2015, 2, 28)
    assert shift_months(date(2024, 1, 15), -1) == date(2023, 12, 15)
