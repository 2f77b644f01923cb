"""What the reranker reads of a query and each fused candidate: cheap, query-aware features.

A fused score says how close a chunk is to the query as a whole (one embedding, one bag of
words). The right passage for a question is usually the one where the question's rare words
meet in one sentence, in the question's order, next to the kind of thing asked for (a date for
"when", a number for "how many", a name for "who"). Those are read here, on the stemmed terms
BM25 counts (stores/lexical.py `tokenize`), weighted by BM25's idf so that "the" never counts
and a name counts a lot:

- coverage: idf-weighted share of the query's terms found in the passage, in its best
  sentence (and its square: all of a question's words in one sentence is worth more than the
  sum of its parts), and in its best two neighbouring sentences;
- bigrams: share of the query's adjacent term pairs found adjacent in the passage, and in its
  best sentence;
- proximity: how tightly the matched terms cluster (matched terms / shortest span holding them);
- length of the passage (in terms);
- answer type: the best sentence holds a word of the kind the question asks for (one the
  question does not hold), the best coverage of a sentence that holds one, and the best coverage
  of the ANSWER_WINDOW words either side of one;
- the retrievers' own evidence: fused, dense and BM25 scores and ranks.

Only questions are reranked (retrieval/rerank.py): claims and keyword queries keep the fused
order.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import blingfire
import numpy as np

from newsdesk.retrieval.fusion import max_scaled, min_max
from newsdesk.stores.lexical import tokenize

# The retrievers' evidence, and how the query's words meet in the passage.
BASE_FEATURES = (
    "fused",
    "fused_rank",
    "dense",
    "lexical",
    "dense_rank",
    "lexical_rank",
    "length",
    "coverage",
    "sentence_coverage",
    "sentence_coverage_sq",
    "window_coverage",
    "bigrams",
    "sentence_bigrams",
    "proximity",
)
# What the question asks for (zero when its kind is not known).
ANSWER_FEATURES = ("answer_type", "typed_sentence_coverage", "answer_window_coverage")
FEATURES = (*BASE_FEATURES, *ANSWER_FEATURES)
# Words either side of a candidate answer that answer_window_coverage reads.
ANSWER_WINDOW = 10

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


@dataclass(frozen=True, slots=True)
class Query:
    terms: tuple[str, ...]  # stemmed, stop words out, in query order (repeats kept)
    weights: dict[str, float]  # each distinct term's idf share (they sum to 1)
    bigrams: frozenset[tuple[str, str]]
    is_question: bool
    answer_type: str | None
    term_set: frozenset[str]  # the distinct terms

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
            frozenset(terms),
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
    passages = [_words(texts.get(item, "")) for item, _ in head]
    # One tokenizer call for the head's distinct words: a word's terms are the same alone as
    # in its sentence (terms never span white space), answer windows need word offsets, and
    # each distinct word is stemmed once.
    distinct = list(
        dict.fromkeys(word for sentences in passages for sentence in sentences for word in sentence)
    )
    stems = dict(zip(distinct, tokenize(distinct) if distinct else [], strict=True))
    base = np.zeros((len(head), len(BASE_FEATURES)), dtype=np.float64)
    answer = np.zeros((len(head), len(ANSWER_FEATURES)), dtype=np.float64)
    for row, ((item, score), sentences) in enumerate(zip(head, passages, strict=True)):
        word_terms = [[stems[word] for word in sentence] for sentence in sentences]
        reading = _Reading(query, sentences, word_terms)
        base[row] = (
            score / top_fused if top_fused > 0 else 0.0,
            1.0 / (1 + row),
            dense_n.get(item, 0.0),
            lexical_n.get(item, 0.0),
            1.0 / (1 + dense_rank[item]) if item in dense_rank else 0.0,
            1.0 / (1 + lexical_rank[item]) if item in lexical_rank else 0.0,
            *reading.base(),
        )
        answer[row] = reading.answer()
    return np.hstack([base, answer])


class _Reading:
    """The query's terms against one passage's sentences (each a list of words, and each
    word's stemmed terms)."""

    def __init__(
        self, query: Query, sentences: list[list[str]], word_terms: list[list[list[str]]]
    ) -> None:
        self.query = query
        self.sentences = sentences
        self.word_terms = word_terms
        self.sentence_terms = [[t for word in words for t in word] for words in word_terms]
        self.sets = [set(terms) for terms in self.sentence_terms]
        self.per_sentence = [self.cover(s) for s in self.sets]
        self.best = int(np.argmax(self.per_sentence)) if self.sets else 0

    def cover(self, terms: set[str]) -> float:
        return sum(w for t, w in self.query.weights.items() if t in terms)

    def base(self) -> tuple[float, ...]:
        """length, coverage, sentence_coverage (and its square), window_coverage, bigrams,
        sentence_bigrams, proximity."""
        stream = [t for terms in self.sentence_terms for t in terms]
        length = float(np.log1p(len(stream)))
        if not self.query.weights or not self.sets:
            return (length, *(0.0,) * 7)
        sets, best = self.sets, self.per_sentence[self.best]
        window = max((self.cover(a | b) for a, b in itertools.pairwise(sets)), default=best)
        coverage = self.cover(set(stream))
        return (
            length,
            coverage,
            best,
            best * best,
            window,
            self._bigrams(
                itertools.chain.from_iterable(self._pairs(t) for t in self.sentence_terms)
            ),
            self._bigrams(self._pairs(self.sentence_terms[self.best])),
            coverage * _tightness(stream, self.query.weights),
        )

    @staticmethod
    def _pairs(terms: list[str]) -> Iterator[tuple[str, str]]:
        return itertools.pairwise(terms)

    def _bigrams(self, pairs: Iterable[tuple[str, str]]) -> float:
        wanted = self.query.bigrams
        return len(wanted & set(pairs)) / len(wanted) if wanted else 0.0

    def answer(self) -> tuple[float, float, float]:
        """answer_type (the best sentence holds a word of the asked kind), the coverage of the
        best sentence that holds one, and the coverage of the best window of ANSWER_WINDOW words
        either side of one: where the question's words meet next to its answer."""
        if self.query.answer_type is None or not self.query.weights or not self.sets:
            return (0.0, 0.0, 0.0)
        typed, windowed = 0.0, 0.0
        best_typed = False
        for index, (words, terms) in enumerate(zip(self.sentences, self.word_terms, strict=True)):
            hits = [i for i, word in enumerate(words) if self._is_answer(word, terms[i], i)]
            if not hits:
                continue
            best_typed = best_typed or index == self.best
            typed = max(typed, self.per_sentence[index])
            for i in hits:
                near = terms[max(0, i - ANSWER_WINDOW) : i + ANSWER_WINDOW + 1]
                windowed = max(windowed, self.cover({t for word in near for t in word}))
        return (1.0 if best_typed else 0.0, typed, windowed)

    def _is_answer(self, word: str, terms: list[str], position: int) -> bool:
        """A word of the kind the question asks for that the question does not already hold."""
        kind = self.query.answer_type
        if terms and set(terms) <= self.query.term_set:
            return False
        if kind == "date":
            return bool(_DATE.search(word))
        if kind == "number":
            return bool(_NUMBER.search(word))
        # A capitalised word that does not open its sentence: a name (person, place, body).
        return position > 0 and bool(terms) and word.lstrip("\"'([")[:1].isupper()


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


def _words(text: str) -> list[list[str]]:
    """The text's sentences, each as its words."""
    if not text.strip():
        return []
    sentences = blingfire.text_to_sentences(" ".join(text.split())).split("\n")
    return [words for sentence in sentences if (words := sentence.split())]
