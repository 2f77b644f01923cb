"""The date a sentence is about (generation/event_dates.py), against hand labels on sentences
of the sample articles (tests/data/event_dates.jsonl), plus cases the labels do not cover.

The labels record what a reader takes the sentence to be about, given its article's
publication date; this set was read while the extractor was written (a development set, not
a held-out one)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from newsdesk.generation.event_dates import event_date

LABELS = Path(__file__).parent / "data" / "event_dates.jsonl"
MIN_ACCURACY = 0.9


def _labelled() -> list[dict]:
    return [json.loads(line) for line in LABELS.read_text(encoding="utf-8").splitlines()]


def event_date_accuracy() -> tuple[float, float, int]:
    """(date accuracy, date-and-source accuracy, sentences): also run by the results note."""
    rows = _labelled()
    dates = sources = 0
    for row in rows:
        found = event_date(row["sentence"], date.fromisoformat(row["published"]))
        if found is not None and found.date.isoformat() == row["date"]:
            dates += 1
            sources += found.source == row["date_source"]
    return dates / len(rows), sources / len(rows), len(rows)


def test_the_labelled_set_covers_every_date_source() -> None:
    rows = _labelled()
    assert len(rows) >= 60
    assert {r["date_source"] for r in rows} == {"explicit", "relative", "publication"}
    assert {r["precision"] for r in rows} == {"day", "week", "month", "year"}


def test_event_dates_match_the_hand_labels() -> None:
    by_date, by_date_and_source, _ = event_date_accuracy()
    assert by_date >= MIN_ACCURACY
    assert by_date_and_source >= MIN_ACCURACY


@pytest.mark.parametrize(
    ("sentence", "published", "expected", "source"),
    [
        # "on Monday" in an article published on Wednesday is that Monday.
        ("Ministers met on Monday in Brussels.", date(2024, 5, 8), date(2024, 5, 6), "relative"),
        # future tense: the next such day.
        ("The minister will visit Paris on Friday.", date(2024, 5, 8), date(2024, 5, 10),
         "relative"),
        # the tense of a quote after a colon is not the sentence's.
        ('He spoke on Tuesday: "We will act."', date(2024, 5, 8), date(2024, 5, 7), "relative"),
        # a day without a year: the year nearest publication (December, read in January).
        ("The fire started on December 30.", date(2024, 1, 4), date(2023, 12, 30), "explicit"),
        # an explicit day wins over a relative one at the same precision.
        ("A storm on Sunday night (March 4) flooded the square.", date(2007, 3, 5),
         date(2007, 3, 4), "explicit"),
        ("Good Friday services were cancelled.", date(2024, 3, 30), date(2024, 3, 30),
         "publication"),
        ("Theresa May said the talks would continue.", date(2018, 6, 1), date(2018, 6, 1),
         "publication"),
        ("The march on the capital drew thousands.", date(2018, 6, 1), date(2018, 6, 1),
         "publication"),
        ("The charity helped in 2000 cases last decade.", date(2018, 6, 1), date(2018, 6, 1),
         "publication"),
    ],
)  # fmt: skip
def test_event_date_cases(sentence: str, published: date, expected: date, source: str) -> None:
    found = event_date(sentence, published)
    assert found is not None
    assert (found.date, found.source) == (expected, source)


def test_an_undated_article_places_only_explicit_dates() -> None:
    explicit = event_date("Columbia was lost on February 1, 2003.", None)
    assert explicit is not None and explicit.date == date(2003, 2, 1)
    assert event_date("The storm hit on Monday.", None) is None
    assert event_date("Nothing here names a day.", None) is None
