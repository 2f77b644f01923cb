"""The one marker grammar: what the parser reads as a marker, the stream's stripper removes,
even when a marker arrives split across tokens."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from newsdesk.generation.markers import (
    MARKER,
    end_of_markers,
    neutralise_markers,
    parse_markers,
    strip_markers,
    with_markers,
)
from newsdesk.generation.streaming import MarkerStripper

FORMS = ["[1]", "[1, 2]", "[1,2]", "[1;2]", "[1; 2]", "[1-3]", "[1–3]", "[ 1 ]", "[1, 2–4; 7]"]


def _streamed(tokens: list[str]) -> str:
    stripper = MarkerStripper()
    return "".join(stripper.feed(token) for token in tokens) + stripper.flush()


@pytest.mark.parametrize("marker", FORMS)
def test_every_marker_the_parser_reads_is_stripped(marker: str) -> None:
    text = f"The crane fell {marker}. It killed 107 people {marker}."
    assert all(p.markers for p in parse_markers(text))
    assert strip_markers(text) == "The crane fell. It killed 107 people."


@pytest.mark.parametrize("marker", FORMS)
def test_the_stream_hides_every_form_whole_or_split_at_any_character(marker: str) -> None:
    text = f"The crane fell {marker}. It killed 107."
    for cut in range(len(text) + 1):
        assert _streamed([text[:cut], text[cut:]]) == "The crane fell. It killed 107."


def test_split_semicolon_and_en_dash_markers_do_not_leak() -> None:
    assert _streamed(["It fell [1", ";2]. Then", " [1", "–3] more."]) == "It fell. Then more."


def test_a_bracket_that_becomes_no_marker_is_text() -> None:
    assert _streamed(["Scores [1", "a] and [12345] stay", " ["]) == "Scores [1a] and [12345] stay ["


def test_a_removed_marker_does_not_join_its_neighbours_into_one() -> None:
    # Found by the property below: "[1" held back, "[1, 2]" removed, then "]" — the stream
    # stripped the joined "[1]", which strip_markers of the whole text keeps.
    text = "[1[1, 2]]"
    for cut in range(len(text) + 1):
        assert _streamed([text[:cut], text[cut:]]) == strip_markers(text) == "[1]"
    nested = "[1][1][1][1][1[1]]"
    assert _streamed([nested[:15], nested[15:]]) == strip_markers(nested)


_PIECES = st.sampled_from(
    [*FORMS, "word", " ", "  ", "\n", ".", ",", ";", "-", "–", "[", "]", "1", "42", "(3)"]
)


@given(pieces=st.lists(_PIECES, max_size=24), data=st.data())
def test_any_token_split_streams_what_strip_markers_gives(
    pieces: list[str], data: st.DataObject
) -> None:
    text = "".join(pieces)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(text)), max_size=8)))
    tokens = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]
    assert _streamed(tokens) == strip_markers(text)


@given(pieces=st.lists(st.sampled_from([*FORMS, "word", " ", ".", "\n"]), max_size=24))
def test_stripped_text_has_no_marker_left(pieces: list[str]) -> None:
    assert not MARKER.search(strip_markers("".join(pieces)))


def test_markers_in_article_text_are_neutralised() -> None:
    assert neutralise_markers("As shown in [3] and [1; 2], see [note].") == (
        "As shown in (3) and (1; 2), see [note]."
    )


def test_the_end_of_markers_is_where_the_next_words_begin() -> None:
    text = "The crane fell. [1] [2–3] It"
    assert text[end_of_markers(text, len("The crane fell.")) :] == "It"
    assert end_of_markers(text, len("The crane")) == len("The crane ")


def test_rendered_markers_parse_back() -> None:
    rendered = with_markers("The crane fell.", [2, 1])
    assert rendered == "The crane fell [2][1]."
    assert [(p.text, p.markers) for p in parse_markers(rendered)] == [("The crane fell.", [2, 1])]
