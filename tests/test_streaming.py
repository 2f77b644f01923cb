"""Releasing streamed sentences: when a sentence counts as finished."""

from newsdesk.generation.streaming import (
    MarkerStripper,
    completed_prefix,
    without_unfinished_sentence,
)


def test_a_sentence_is_finished_only_once_the_next_has_begun_with_words() -> None:
    assert completed_prefix("The crane fell.") == ("", 0)
    # Trailing-style markers may still be arriving: not finished yet.
    assert completed_prefix("The crane fell. [1]") == ("", 0)
    assert completed_prefix("The crane fell. [1] It") == ("The crane fell. [1] ", 1)
    assert completed_prefix("The crane fell [1]. It killed 107 [2]. The") == (
        "The crane fell [1]. It killed 107 [2]. ",
        2,
    )


def test_marker_stripper_hides_markers_split_across_deltas() -> None:
    stripper = MarkerStripper()
    pieces = [stripper.feed(d) for d in ["It fell [", "1", "]. Then [2", ", 3] more"]]
    assert "".join(pieces) + stripper.flush() == "It fell. Then more"


def test_a_sentence_cut_off_by_the_token_limit_is_dropped() -> None:
    cut = "The crane fell on Friday [1]. It happened during the final rites of the [2]"
    assert without_unfinished_sentence(cut) == "The crane fell on Friday [1]."
    whole = 'The crane fell [1]. "It was terrible," he said. [2]'
    assert without_unfinished_sentence(whole) == whole
    assert without_unfinished_sentence("Only a fragment of") == "Only a fragment of"
