"""What the reranker reads of a query and each fused candidate: cheap, query-aware features.

A fused score says how close a chunk is to the query as a whole (one embedding, one bag of
words). The right passage for a question is usually the one where the question's rare words
meet in one sentence, in the question's order, next to the kind of thing asked for (a date for
"when", a number for "how many", a name for "who"). Those are read here, on the stemmed terms
BM25 counts (stores/lexical.py `tokenize`), weighted by BM25's idf so that "the" never counts
and a name counts a lot:

- coverage: idf-weighted share of the query's terms found in the passage, in its best
  sentence, and in its best two neighbouring sentences;
- bigrams: share of the query's adjacent term pairs found adjacent in the passage;
- proximity: how tightly the matched terms cluster (matched terms / shortest span holding them);
- answer type: the best sentence holds what the question asks for;
- the retrievers' own evidence: fused, dense and BM25 scores and ranks.

Claims (SciFact) are not questions: the question-only features are zero for them, and the main
signals get a question-only copy, so the learned weights can treat the two differently.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import blingfire
import numpy as np

from newsdesk.retrieval.fusion import max_scaled, min_max
from newsdesk.stores.lexical import tokenize

FEATURES = (
    "fused",
    "fused_rank",
    "dense",
    "lexical",
    "dense_rank",
    "lexical_rank",
    "coverage",
    "sentence_coverage",
    "window_coverage",
    "bigrams",
    "proximity",
    "answer_type",
    "question_dense",
    "question_lexical",
    "question_sentence_coverage",
    "question_window_coverage",
)

Idf = Callable[[Sequence[str]], Sequence[float]]

_QUESTION_WORDS = frozenset(
    {
        *("who", "whom", "whose", "what", "which", "when", "where", "why", "how"),
        *("is", "are", "was", "were", "do", "does", "did", "has", "have", "had"),
        *("can", "could", "should", "would", "will"),
    }
)
# The answer type a question asks for, by its opening words (checked in this order).
_ANSWER_TYPES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\b(when|what (year|date|day|month|century|decade|time period))\b"), "date"),
    (
        re.compile(
            r"\b(how (many|much|long|old|far|large|big|high|tall|often|fast)|"
            r"what (percentage|percent|number|amount|proportion|size))\b"
        ),
        "number",
    ),
    (re.compile(r"\b(who|whom|whose)\b"), "name"),
    (re.compile(r"\bwhere\b"), "place"),
)
_MONTHS = "january|february|march|april|may|june|july|august|september|october|november|december"
_DATE = re.compile(
    rf"\b(1\d{{3}}|20\d{{2}}|\d{{1,2}}(st|nd|rd|th)|{_MONTHS}|centur(y|ies)|"
    r"decades?|\d{3,4}s|bc|ad)\b",
    re.IGNORECASE,
)
_NUMBER = re.compile(
    r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|"
    r"forty|fifty|hundreds?|thousands?|millions?|billions?|dozens?|half|percent)\b",
    re.IGNORECASE,
)
# A capitalised word that does not open its sentence: a name (of a person, a place, a body).
_NAME = re.compile(r"(?<=[\w,;:)] )[A-Z][\w'-]+")


@dataclass(frozen=True, slots=True)
class Query:
    terms: tuple[str, ...]  # stemmed, stop words out, in query order (repeats kept)
    weights: dict[str, float]  # each distinct term's idf share (they sum to 1)
    bigrams: frozenset[tuple[str, str]]
    is_question: bool
    answer_type: str | None

    @classmethod
    def of(cls, text: str, idf: Idf) -> Query:
        terms = tuple(tokenize([text])[0])
        distinct = list(dict.fromkeys(terms))
        values = [max(float(v), 0.0) for v in idf(distinct)] if distinct else []
        total = sum(values)
        weights = {t: v / total for t, v in zip(distinct, values, strict=True)} if total else {}
        words = text.lower().split()
        is_question = text.rstrip().endswith("?") or (bool(words) and words[0] in _QUESTION_WORDS)
        lowered = text.lower()
        answer_type = (
            next((kind for pattern, kind in _ANSWER_TYPES if pattern.search(lowered)), None)
            if is_question
            else None
        )
        return cls(
            terms,
            weights,
            frozenset(itertools.pairwise(terms)),
            is_question,
            answer_type,
        )


def candidate_features(
    query: Query,
    head: Sequence[tuple[int, float]],
    dense: Mapping[int, float],
    lexical: Mapping[int, float],
    texts: Mapping[int, str],
) -> np.ndarray:
    """(len(head), len(FEATURES)) for the fused head (chunk id, fused score), best first."""
    dense_n, lexical_n = min_max(dense), max_scaled(lexical)
    dense_rank = {item: rank for rank, item in enumerate(dense)}
    lexical_rank = {item: rank for rank, item in enumerate(lexical)}
    top_fused = max((score for _, score in head), default=0.0)
    sentences = [_sentences(texts.get(item, "")) for item, _ in head]
    flat = [s for group in sentences for s in group]
    tokens = iter(tokenize(flat) if flat else [])
    question = 1.0 if query.is_question else 0.0
    rows = np.zeros((len(head), len(FEATURES)), dtype=np.float64)
    for row, ((item, score), group) in enumerate(zip(head, sentences, strict=True)):
        sentence_terms = [next(tokens) for _ in group]
        text_features = _text_features(query, group, sentence_terms)
        d, lx = dense_n.get(item, 0.0), lexical_n.get(item, 0.0)
        rows[row] = (
            score / top_fused if top_fused > 0 else 0.0,
            1.0 / (1 + row),
            d,
            lx,
            1.0 / (1 + dense_rank[item]) if item in dense_rank else 0.0,
            1.0 / (1 + lexical_rank[item]) if item in lexical_rank else 0.0,
            *text_features,
            question * d,
            question * lx,
            question * text_features[1],
            question * text_features[2],
        )
    return rows


def _text_features(
    query: Query, sentences: list[str], sentence_terms: list[list[str]]
) -> tuple[float, float, float, float, float, float]:
    """coverage, sentence_coverage, window_coverage, bigrams, proximity, answer_type."""
    weights = query.weights
    if not weights or not sentences:
        return (0.0,) * 6

    def cover(terms: set[str]) -> float:
        return sum(w for t, w in weights.items() if t in terms)

    sets = [set(terms) for terms in sentence_terms]
    per_sentence = [cover(s) for s in sets]
    best = int(np.argmax(per_sentence))
    window = max((cover(a | b) for a, b in itertools.pairwise(sets)), default=per_sentence[0])
    stream = [t for terms in sentence_terms for t in terms]
    coverage = cover(set(stream))
    pairs = {pair for terms in sentence_terms for pair in itertools.pairwise(terms)}
    bigrams = len(query.bigrams & pairs) / len(query.bigrams) if query.bigrams else 0.0
    return (
        coverage,
        per_sentence[best],
        window,
        bigrams,
        coverage * _tightness(stream, weights),
        _answer_type_cue(query, sentences[best], set(query.terms)),
    )


def _tightness(stream: list[str], weights: Mapping[str, float]) -> float:
    """Distinct matched terms / length of the shortest token span that holds them all."""
    hits = [(i, t) for i, t in enumerate(stream) if t in weights]
    needed = len({t for _, t in hits})
    if needed == 0:
        return 0.0
    # Sliding window over the hit positions (at most a few dozen per passage).
    best, counts, left = len(stream), dict[str, int](), 0
    for position, term in hits:
        counts[term] = counts.get(term, 0) + 1
        while len(counts) == needed:
            start, first = hits[left]
            best = min(best, position - start + 1)
            counts[first] -= 1
            if not counts[first]:
                del counts[first]
            left += 1
    return needed / best


def _answer_type_cue(query: Query, sentence: str, query_terms: set[str]) -> float:
    kind = query.answer_type
    if kind == "date":
        return 1.0 if _DATE.search(sentence) else 0.0
    if kind == "number":
        return 1.0 if _NUMBER.search(sentence) else 0.0
    if kind in ("name", "place"):
        names = _NAME.findall(sentence)
        if not names:
            return 0.0
        # A name the question already holds is not the answer.
        stems = tokenize(names)
        return 1.0 if any(not set(s) <= query_terms for s in stems) else 0.0
    return 0.0


def _sentences(text: str) -> list[str]:
    if not text.strip():
        return []
    return [s for s in blingfire.text_to_sentences(" ".join(text.split())).split("\n") if s]
