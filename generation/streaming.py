"""Streaming generated text safely.

Markers in raw model output are unchecked — they may point to passages that do not exist or
do not support the sentence — so the token stream shows the prose only (MarkerStripper);
finished sentences are checked and released with their corrected markers
(CheckedSentences); the final event carries the whole checked answer."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from newsdesk.answers import AnswerSentence, Citation
from newsdesk.domain import Passage
from newsdesk.generation.citations import CitationChecker
from newsdesk.generation.markers import (
    end_of_markers,
    render_sentence,
    strip_markers,
    unfinished_marker_start,
)
from newsdesk.index.text import sentence_spans


@dataclass(frozen=True)
class TokenEvent:
    """A piece of generated text as it arrives (markers removed: they are not checked yet)."""

    text: str


@dataclass(frozen=True)
class SentenceEvent:
    """A sentence once it is finished and checked: its text with the final [n] markers, and
    the citations it uses. The sentence events of a stream, joined by spaces, spell the
    final text (unless the check later abstains)."""

    text: str
    sentence: AnswerSentence
    citations: list[Citation]


def sentence_events(
    sentences: list[AnswerSentence], citations: list[Citation]
) -> Iterator[SentenceEvent]:
    for sentence in sentences:
        yield SentenceEvent(render_sentence(sentence), sentence, cited_by(sentence, citations))


class MarkerStripper:
    """Removes markers from streamed text, also those split across deltas ("[1", ";2]"): a
    tail that may still become a marker is held back until the next delta decides. The pieces
    it returns, joined, are ``strip_markers`` of the whole text."""

    def __init__(self) -> None:
        self._pending = ""

    def feed(self, delta: str) -> str:
        # Hold back the *received* text that may still start a marker, and strip only what
        # is before it: stripping first would let a removed marker join its neighbours into a
        # new one ("[1" + "[2]" + "]" → "[1]"), which strip_markers of the whole text keeps.
        text = self._pending + delta
        cut = unfinished_marker_start(text)
        self._pending = text[cut:]
        return strip_markers(text[:cut])

    def flush(self) -> str:
        """What is left at the end of the stream (an unfinished "[" is just text)."""
        rest, self._pending = self._pending, ""
        return rest


_ENDS_SENTENCE = re.compile(r"[.!?…][\"'”’)\]]*$")


def without_unfinished_sentence(raw: str) -> str:
    """Drop a last sentence that was cut off (generation hit its token limit mid-sentence):
    a fragment can read as supported while saying something the source does not."""
    spans = sentence_spans(raw)
    if len(spans) < 2:
        return raw
    last = strip_markers(raw[spans[-1].start : spans[-1].end]).rstrip()
    return raw if _ENDS_SENTENCE.search(last) else raw[: spans[-1].start].rstrip()


def completed_prefix(raw: str) -> tuple[str, int]:
    """The part of streamed text whose sentences are finished, and how many there are.

    A sentence is finished once the next one has begun with words: only then are the markers
    that trail it ("… zone. [2] The …") known to be complete."""
    spans = sentence_spans(raw)
    for index in range(len(spans) - 1, 0, -1):
        span = spans[index]
        cut = end_of_markers(raw, span.start)
        if cut < span.end:  # words follow the markers: sentence `index` has begun
            return raw[:cut], index
    return "", 0


class CheckedSentences:
    """Releases generated sentences one at a time, each as soon as it is finished, checked
    and cited, so a stream can show citations before generation ends.

    Each release checks the finished prefix again; the checker treats sentences
    independently and numbers citations by first use, so a released sentence keeps its
    numbers in the final answer."""

    def __init__(
        self, checker: CitationChecker, passages: list[Passage], max_sentences: int
    ) -> None:
        self.checker = checker
        self.passages = passages
        self.max_sentences = max_sentences
        self.released = 0
        self._finished = 0

    def feed(self, raw: str) -> list[SentenceEvent]:
        prefix, finished = completed_prefix(raw)
        if finished <= self._finished or self.released >= self.max_sentences:
            return []
        self._finished = finished
        cited = self.checker.check(prefix, self.passages)
        fresh = cited.sentences[self.released : self.max_sentences]
        self.released += len(fresh)
        return list(sentence_events(fresh, cited.citations))


def cited_by(sentence: AnswerSentence, citations: list[Citation]) -> list[Citation]:
    numbers = set(sentence.citations)
    return [c for c in citations if c.number in numbers]
