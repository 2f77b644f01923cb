"""Sentence-aware chunking with exact character offsets.

Chunks are runs of whole sentences that fit a token budget measured with the embedding
model's own tokenizer, with the last sentence(s) of one chunk repeated at the start of the
next. A chunk is always a slice of the article: ``text[char_start:char_end] == chunk.text``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from newsdesk.index.text import Span, sentence_spans


class Tokenizer(Protocol):
    def token_spans(self, texts: Sequence[str]) -> list[list[tuple[int, int]]]: ...


@dataclass(frozen=True, slots=True)
class TextChunk:
    seq: int
    char_start: int
    char_end: int
    text: str
    token_count: int


@dataclass(frozen=True, slots=True)
class _Piece:
    """A sentence, or part of an over-long one, with its token count."""

    start: int
    end: int
    tokens: int


def chunk_text(
    text: str, tokenizer: Tokenizer, *, max_tokens: int, overlap_sentences: int = 1
) -> list[TextChunk]:
    if max_tokens < 1:
        raise ValueError("max_tokens must be positive")
    pieces = _pieces(text, sentence_spans(text), tokenizer, max_tokens)
    groups = _pack(pieces, max_tokens, overlap_sentences)
    return [
        TextChunk(
            seq=seq,
            char_start=group[0].start,
            char_end=group[-1].end,
            text=text[group[0].start : group[-1].end],
            token_count=sum(piece.tokens for piece in group),
        )
        for seq, group in enumerate(groups)
    ]


def _pieces(
    text: str, sentences: list[Span], tokenizer: Tokenizer, max_tokens: int
) -> list[_Piece]:
    spans_per_sentence = tokenizer.token_spans([text[s.start : s.end] for s in sentences])
    pieces: list[_Piece] = []
    for sentence, token_spans in zip(sentences, spans_per_sentence, strict=True):
        if len(token_spans) <= max_tokens:
            pieces.append(_Piece(sentence.start, sentence.end, max(len(token_spans), 1)))
        else:
            pieces.extend(_split_long_sentence(text, sentence, token_spans, max_tokens))
    return pieces


def _split_long_sentence(
    text: str, sentence: Span, token_spans: list[tuple[int, int]], max_tokens: int
) -> list[_Piece]:
    """Cut a sentence longer than the budget at token boundaries, preferring whitespace."""
    pieces: list[_Piece] = []
    first = 0
    while first < len(token_spans):
        last = min(first + max_tokens, len(token_spans))  # exclusive
        if last < len(token_spans):
            # Back off to a token that follows whitespace so words are not cut in half.
            for candidate in range(last, first + max_tokens // 2, -1):
                boundary = sentence.start + token_spans[candidate][0]
                if boundary > 0 and text[boundary - 1].isspace():
                    last = candidate
                    break
        start = sentence.start + (token_spans[first][0] if first else 0)
        end = sentence.start + token_spans[last][0] if last < len(token_spans) else sentence.end
        while end > start and text[end - 1].isspace():
            end -= 1
        if end > start:
            pieces.append(_Piece(start, end, last - first))
        first = last
    return pieces


def _pack(pieces: list[_Piece], max_tokens: int, overlap: int) -> list[list[_Piece]]:
    groups: list[list[_Piece]] = []
    current: list[_Piece] = []
    tokens = 0
    for piece in pieces:
        if current and tokens + piece.tokens > max_tokens:
            groups.append(current)
            # Carry the tail over for context, but never so much that no new text fits.
            carried = current[-overlap:] if overlap and len(current) > overlap else []
            while carried and sum(p.tokens for p in carried) + piece.tokens > max_tokens:
                carried = carried[1:]
            current, tokens = list(carried), sum(p.tokens for p in carried)
        current.append(piece)
        tokens += piece.tokens
    if current:
        groups.append(current)
    return groups
