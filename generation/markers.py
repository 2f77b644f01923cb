"""The one grammar of citation markers: ``[1]``, ``[1, 2]``, ``[1;2]``, ``[1-3]``, ``[1–3]``.

Everything that reads, removes, neutralises or writes markers goes through this module, so
the parser, the stream's stripper, the prompt's sanitiser and the evals agree on what a
marker is. Adjacent groups such as ``[1][2]`` are separate markers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from newsdesk.answers import AnswerSentence
from newsdesk.index.text import sentence_spans

_NUMBER = r"\d{1,4}"
_SEPARATOR = r"\s*[,;\-–]\s*"
_NUMBERS = rf"{_NUMBER}(?:{_SEPARATOR}{_NUMBER})*"
MARKER = re.compile(rf"\[\s*{_NUMBERS}\s*\]")
_NUMBER_OR_RANGE = re.compile(r"(\d+)(?:\s*[\-–]\s*(\d+))?")
_MAX_RANGE = 20  # "[1-300]" is noise, not three hundred citations: keep its endpoints only.

# A marker with the spaces before it; never a line break, so bullets keep their lines.
_SPACED_MARKER = re.compile(rf"[^\S\n]*{MARKER.pattern}")
# The end of a text that may still become a spaced marker once more text arrives:
# trailing spaces, "[", "[1", "[1, 2", "[1–", "[1;" …
_UNFINISHED = re.compile(rf"[^\S\n]*(?:\[\s*(?:{_NUMBERS}(?:{_SEPARATOR})?\s*)?)?\Z")
# A run of markers and whitespace ("… zone. [1] [2] ").
_MARKER_RUN = re.compile(rf"(?:\s*{MARKER.pattern})*\s*")

_SENTENCE_END = ".!?"
_STRAY_STOP = re.compile(r"([.!?])(?:\s+[.!?])+(?=\s|$)")  # "struck [1]. [2]." → "struck . ."
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([,.;:!?)\]])")
_SPACE_AFTER_OPEN = re.compile(r"([(\[])\s+")
_EMPTY_BRACKETS = re.compile(r"\(\s*\)")


# --- removing and neutralising ---------------------------------------------------------------


def strip_markers(text: str) -> str:
    """The text without its markers (and the spaces before each): "zone [1, 2]." → "zone."."""
    return _SPACED_MARKER.sub("", text)


def unfinished_marker_start(text: str) -> int:
    """Where the tail of `text` that could still become a marker (with the spaces before it)
    begins; ``len(text)`` if there is none. A stream holds that tail back until it knows."""
    match = _UNFINISHED.search(text)
    assert match is not None  # every text ends with an (empty) unfinished tail
    return match.start()


def end_of_markers(text: str, position: int) -> int:
    """The end of the markers and whitespace that follow `position` (`position` itself if
    neither does): where the next words begin."""
    match = _MARKER_RUN.match(text, position)
    assert match is not None  # the run may be empty, so it always matches
    return match.end()


def neutralise_markers(text: str) -> str:
    """Marker-like text from an untrusted source as parentheses: "[3]" → "(3)"."""
    return MARKER.sub(lambda m: f"({m.group()[1:-1]})", text)


def tidy(text: str) -> str:
    """Whitespace left behind by removed markers: "refused  ." → "refused."."""
    text = " ".join(text.split())
    text = _STRAY_STOP.sub(r"\1", text)
    text = _EMPTY_BRACKETS.sub("", text)
    text = _SPACE_BEFORE_PUNCT.sub(r"\1", text)
    text = _SPACE_AFTER_OPEN.sub(r"\1", text)
    return " ".join(text.split())


# --- writing ---------------------------------------------------------------------------------


def with_markers(text: str, numbers: list[int]) -> str:
    """A sentence with its markers: "…zone [1][2]." (an ellipsis keeps its end)."""
    if not numbers:
        return text
    markers = "".join(f"[{n}]" for n in numbers)
    # "…zone [1]." reads better than "…zone. [1]"; an ellipsis or closing quote keeps its end.
    if text[-1:] in _SENTENCE_END and not text.endswith(".."):
        return f"{text[:-1]} {markers}{text[-1]}"
    return f"{text} {markers}"


def render_sentence(sentence: AnswerSentence) -> str:
    """A checked sentence as it appears in the cited text, markers included."""
    return with_markers(sentence.text, sentence.citations)


# --- parsing ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ParsedSentence:
    text: str  # sentence with all markers removed, whitespace tidied
    markers: list[int]  # numbers in order, de-duplicated


def marker_numbers(marker: str) -> list[int]:
    """The numbers one marker names: "[1, 3-5]" → [1, 3, 4, 5]."""
    numbers: list[int] = []
    for match in _NUMBER_OR_RANGE.finditer(marker):
        low = int(match.group(1))
        high = int(match.group(2)) if match.group(2) else low
        low, high = min(low, high), max(low, high)
        if high - low > _MAX_RANGE:
            numbers += [low, high]
        else:
            numbers += range(low, high + 1)
    return numbers


def parse_markers(generated: str) -> list[ParsedSentence]:
    """Split generated text into sentences and collect each sentence's [n] markers.

    Markers are blanked (replaced by spaces of equal length) before sentence splitting so
    offsets stay aligned and the splitter never sees them. A marker inside a sentence belongs
    to it; one between sentences belongs to the previous sentence if written right after its
    full stop or at the end of a line, otherwise to the sentence it opens ("[4] He said…").
    Sentences that are empty or only punctuation once markers are gone are dropped; their
    markers go to the previous kept sentence.
    """
    matches = list(MARKER.finditer(generated))
    blanked = MARKER.sub(lambda m: " " * len(m.group()), generated)
    spans = [(span.start, span.end) for span in sentence_spans(blanked)]
    trailing = _is_trailing_style(blanked, matches)
    markers: list[list[int]] = [[] for _ in spans]
    for match in matches:
        owner = _marker_owner(blanked, match, spans, trailing)
        if owner is not None:
            markers[owner] += marker_numbers(match.group())
    return _keep_real_sentences([tidy(blanked[s:e]) for s, e in spans], markers)


def _is_trailing_style(blanked: str, markers: list[re.Match[str]]) -> bool:
    """True when the writer puts markers after the full stop ("Claim. [1]").

    Decided by the last marker: if it follows end punctuation and nothing follows it, the
    writer's markers trail their sentences, so "A. [1] B." gives [1] to A, not to B.
    """
    if not markers:
        return False
    last = markers[-1]
    before = blanked[: last.start()].rstrip()
    return bool(before) and before[-1] in _SENTENCE_END and not blanked[last.end() :].strip()


def _marker_owner(
    blanked: str, marker: re.Match[str], spans: list[tuple[int, int]], trailing: bool
) -> int | None:
    """Index of the sentence span a marker belongs to (None if there are no sentences)."""
    start, end = marker.start(), marker.end()
    for index, (span_start, span_end) in enumerate(spans):
        if span_start <= start < span_end:
            return index
    # The marker sits between sentences (blanked markers are whitespace, so spans skip them).
    previous = max((i for i, (_, e) in enumerate(spans) if e <= start), default=None)
    following = min((i for i, (s, _) in enumerate(spans) if s >= end), default=None)
    if previous is None or following is None:
        return following if previous is None else previous
    attached = spans[previous][1] == start  # "said no.[1] Then" — written right after the stop
    same_line = "\n" not in blanked[end : spans[following][0]]
    # "A [1]. [4] He said…": a marker opening a sentence names that sentence's source.
    leads_next = not attached and same_line and not trailing
    return following if leads_next else previous


def _keep_real_sentences(texts: list[str], markers: list[list[int]]) -> list[ParsedSentence]:
    kept_texts: list[str] = []
    kept_markers: list[list[int]] = []
    orphans: list[int] = []  # markers of dropped sentences that came before any kept one
    for text, numbers in zip(texts, markers, strict=True):
        if any(ch.isalnum() for ch in text):
            kept_texts.append(text)
            kept_markers.append(orphans + numbers)
            orphans = []
        elif kept_markers:
            kept_markers[-1] += numbers
        else:
            orphans += numbers
    return [
        ParsedSentence(text, list(dict.fromkeys(numbers)))
        for text, numbers in zip(kept_texts, kept_markers, strict=True)
    ]
