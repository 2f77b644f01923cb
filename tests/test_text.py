from hypothesis import given, settings
from hypothesis import strategies as st

from newsdesk.index.text import normalise_text, sentence_spans

from .support.samples import SAMPLES


def test_paragraph_break_inside_a_sentence_is_joined() -> None:
    raw = (SAMPLES / "files" / "nato-no-fly-zone-stoltenberg.txt").read_text(encoding="utf-8")
    text = normalise_text(raw)
    assert "how U.S. President Joe Biden referred to Zelenskyy" in text
    assert "U.S.\n" not in text


def test_real_paragraph_breaks_and_headings_are_kept() -> None:
    assert normalise_text("He lives in the U.S.\n\nThe next day he left.") == (
        "He lives in the U.S.\n\nThe next day he left."
    )
    assert normalise_text("Intro text.\n\nBackground\n\nThe war began.") == (
        "Intro text.\n\nBackground\n\nThe war began."
    )


def test_whitespace_and_control_characters_are_normalised() -> None:
    raw = "\ufeffTitle\r\n\r\n\r\nFirst\u00a0 line.\t\x07\nSecond line.  \n\n\n\nLast."
    assert normalise_text(raw) == "Title\n\nFirst line.\nSecond line.\n\nLast."


def test_normalisation_is_idempotent_on_a_sample() -> None:
    raw = (SAMPLES / "files" / "nato-no-fly-zone-stoltenberg.txt").read_text(encoding="utf-8")
    once = normalise_text(raw)
    assert normalise_text(once) == once


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=400))
def test_sentence_spans_are_ordered_trimmed_slices(text: str) -> None:
    spans = sentence_spans(text)
    previous_end = 0
    for span in spans:
        assert previous_end <= span.start < span.end <= len(text)
        piece = text[span.start : span.end]
        assert piece == piece.strip()
        previous_end = span.end
    # Nothing but whitespace is left out between the spans.
    covered = "".join(text[s.start : s.end] for s in spans)
    assert "".join(covered.split()) == "".join(text.split())
