"""Article text normalisation and sentence spans.

Every offset the service hands out (chunks, quotes) points into the *normalised* text, which
is what SQLite stores, so normalisation runs exactly once, at ingestion."""

from __future__ import annotations

import itertools
import re
import unicodedata
from dataclasses import dataclass

import blingfire

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b\u200c\u200d\u2060\ufeff]")
_HORIZONTAL_SPACE = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n\s*")


@dataclass(frozen=True, slots=True)
class Span:
    start: int
    end: int


def normalise_text(raw: str) -> str:
    """Canonical form of an article body.

    NFC, Unix newlines, no control or zero-width characters, single spaces, paragraphs
    separated by exactly one blank line, and paragraph breaks that cut a sentence in two
    (a wire-copy quirk: "…how U.S.\\n\\nPresident Joe Biden…") joined back with a space.
    """
    text = unicodedata.normalize("NFC", raw).replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub("", text)
    text = _HORIZONTAL_SPACE.sub(" ", text)
    text = "\n".join(line.strip() for line in text.split("\n"))
    paragraphs = [p for p in _PARAGRAPH_BREAK.split(text.strip()) if p]
    return "\n\n".join(_join_broken_sentences(paragraphs))


# How much of two neighbouring paragraphs the sentence splitter reads to decide whether a
# break cuts a sentence: the start of the following one and the end of the one before (its
# last sentence, or the end of that if longer). Bounded, so that joining is linear in the
# text however many paragraphs are joined into one.
_HEAD_CHARS = 300
_TAIL_CHARS = 300
_SPACE = re.compile(r"\s")


def _join_broken_sentences(paragraphs: list[str]) -> list[str]:
    # Only a paragraph that ends in a period can be a false break ("U.S.", "Gen.", "No.");
    # headings and paragraphs ending in other punctuation are left alone. The sentence
    # splitter decides: if it reads the end of the previous paragraph and the start of the
    # next, joined, as one sentence, they are one.
    joined: list[list[str]] = []
    end = ""  # the end of the last joined paragraph, at most _TAIL_CHARS characters
    tail: str | None = None  # the last sentence of `end`, once it was needed
    for paragraph in paragraphs:
        if joined and end.endswith(".") and paragraph[:1].isalnum():
            if tail is None:
                tail = _last_sentence(end)
            head = paragraph.split("\n", 1)[0][:_HEAD_CHARS]
            together = f"{tail} {head}"
            spans = sentence_spans(together)
            if len(spans) <= len(sentence_spans(head)):
                joined[-1].append(paragraph)
                if head == paragraph:  # the joined sentence is already split: reuse it
                    tail = end = _window(together[spans[-1].start : spans[-1].end])
                else:
                    end, tail = _window(f"{tail} {paragraph}"), None
                continue
        joined.append([paragraph])
        end, tail = _window(paragraph), None
    return [" ".join(parts) for parts in joined]


def _window(text: str) -> str:
    """The last _TAIL_CHARS characters of ``text``, starting at a word."""
    if len(text) <= _TAIL_CHARS:
        return text
    cut = len(text) - _TAIL_CHARS
    space = _SPACE.search(text, cut)
    return text[space.end() :] if space and space.end() < len(text) else text[cut:]


def _last_sentence(paragraph: str) -> str:
    spans = sentence_spans(paragraph)
    return paragraph[spans[-1].start : spans[-1].end] if spans else paragraph


def sentence_spans(text: str) -> list[Span]:
    """Sentences of ``text`` as spans that partition it (whitespace trimmed at the edges).

    blingfire finds the boundaries; the spans are cut from ``text`` itself, so slicing
    with them always gives back the original characters, whatever the splitter does.
    """
    if not text.strip():
        return []
    _, offsets = blingfire.text_to_sentences_and_offsets(text)
    starts = sorted({min(max(start, 0), len(text)) for start, _ in offsets} | {0})
    bounds = [*starts, len(text)]
    spans = []
    for start, end in itertools.pairwise(bounds):
        span = _trim(text, start, end)
        if span is not None:
            spans.append(span)
    return spans


def _trim(text: str, start: int, end: int) -> Span | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return Span(start, end) if start < end else None
