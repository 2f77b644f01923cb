"""BM25 lexical search (bm25s, English stemming and stop words), keyed by chunk id.

bm25s builds a static index, and building one over a large collection takes tens of seconds.
So the searchable state is a ``LexicalView``: a static ``Bm25Index`` built at some generation
(the *base*), plus the chunks written since (small immutable *segments*, scored here with the
same BM25 formula) minus the chunks removed since. A write adds a segment in milliseconds; the
owner rebuilds the base now and then, away from readers, and swaps it in. Every view is
immutable, so a search runs on the view it was handed without any lock."""

from __future__ import annotations

import json
import logging
import math
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Protocol

import bm25s
import numpy as np
import Stemmer

from newsdesk.domain import SearchFilters

# bm25s sets its own logger to DEBUG on import, which floods every caller's output.
logging.getLogger("bm25s").setLevel(logging.WARNING)

# bm25s defaults (method "lucene": Lucene's idf, Robertson's term-frequency part).
K1 = 1.5
B = 0.75
# A query's rarest terms, whose lists hold up to this share of the documents in all, are
# scored over their whole lists first.
RARE_SHARE = 0.1
# The score floor (Bm25Index._score_floor) is the k-th best full score of this many of the
# documents the rare terms score best (or of 2k, if more): cheap to score, and usually close
# to the true k-th best.
FLOOR_SEEDS = 64
# Relative slack on the floor: float32 sums in another order differ in the last bits.
FLOOR_SLACK = 1e-5
# A binary search per candidate costs about as much as walking this many list entries
# (measured at 1M chunks: 55 ns against 9.5 ns): a term's list is looked up per candidate
# only while candidates x this stay below the list's length.
LOOKUP_COST = 6

_EMPTY = np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
# PyStemmer objects are not safe to share between threads; searches now run concurrently.
_stemmers = threading.local()


def lucene_idf(documents: float, df: float) -> float:
    """BM25's idf as Lucene (and bm25s) compute it: never negative."""
    return math.log(1 + (documents - df + 0.5) / (df + 0.5))


def tokenize(texts: Sequence[str]) -> list[list[str]]:
    """Stemmed tokens without stop words: the terms BM25 counts."""
    tokens = bm25s.tokenize(
        list(texts), stopwords="en", stemmer=_stemmer(), return_ids=False, show_progress=False
    )
    return [list(doc) for doc in tokens]


class LexicalIndex(Protocol):
    """A static BM25 index over (chunk id, text) pairs; built once, then only read."""

    @property
    def document_count(self) -> int: ...

    @property
    def token_count(self) -> int:
        """Total number of terms in the indexed documents (for the average length)."""

    def __len__(self) -> int: ...

    def rebuild(self, ids: np.ndarray, texts: Sequence[str]) -> None:
        """Build from scratch; only on an index no reader has been handed yet."""

    def document_frequencies(self, terms: Sequence[str]) -> np.ndarray: ...

    def search(
        self,
        query: str,
        k: int,
        allowed_ids: np.ndarray | None = None,
        excluded_ids: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """BM25 scores and ids of the k best chunks with a positive score."""

    def save(self, directory: Path) -> None: ...

    def load(self, directory: Path) -> None: ...


class LexicalReader(Protocol):
    """What a lexical search reads: the embedded ``LexicalView`` (bm25s and the segments
    written since), or an engine's view of its own index (``PostgresLexicalView``)."""

    @property
    def pushes_down_filters(self) -> bool:
        """Whether ``search`` applies ``filters`` itself; if not, the caller passes the
        filtered chunks as ``allowed_ids``."""

    @property
    def pending(self) -> int:
        """Chunks searched outside the main index (written or removed since it was built)."""

    @property
    def indexed_chunks(self) -> int:
        """Chunks in the main index."""

    def search(
        self,
        query: str,
        k: int,
        allowed_ids: np.ndarray | None = None,
        filters: SearchFilters | None = None,
    ) -> tuple[np.ndarray, np.ndarray]: ...

    def idf(self, terms: Sequence[str]) -> list[float]: ...


class Bm25Index:
    def __init__(self) -> None:
        self._bm25: bm25s.BM25 | None = None
        self._ids = np.zeros(0, dtype=np.int64)
        self._token_count = 0
        # Per term (column), its highest BM25 score in any document: the bound that lets a
        # search skip the long posting lists of frequent terms (MaxScore, see search).
        self._column_max = np.zeros(0, dtype=np.float32)

    def __len__(self) -> int:
        return len(self._ids)

    @property
    def document_count(self) -> int:
        return len(self._ids)

    @property
    def token_count(self) -> int:
        return self._token_count

    def rebuild(self, ids: np.ndarray, texts: Sequence[str]) -> None:
        order = np.argsort(ids, kind="stable")
        self._ids = np.ascontiguousarray(ids[order], dtype=np.int64)
        self._bm25 = None
        self._token_count = 0
        if not len(ids):
            return
        tokens = bm25s.tokenize(
            [texts[i] for i in order], stopwords="en", stemmer=_stemmer(), show_progress=False
        )
        self._token_count = sum(len(doc) for doc in tokens.ids)
        if not tokens.vocab or not self._token_count:
            # Nothing but stop words: nothing to match (bm25s cannot index an empty vocabulary).
            return
        bm25 = bm25s.BM25(k1=K1, b=B, method="lucene")
        bm25.index(tokens, show_progress=False)
        self._bm25 = bm25
        self._column_max = _column_maxima(bm25.scores)

    def document_frequencies(self, terms: Sequence[str]) -> np.ndarray:
        """How many indexed documents contain each term (0 for terms it has never seen)."""
        found = np.zeros(len(terms), dtype=np.float64)
        if self._bm25 is None:
            return found
        # Scores are stored column per term (CSC): a term's documents are one indptr range.
        indptr = self._bm25.scores["indptr"]
        for i, term in enumerate(terms):
            column = self._bm25.vocab_dict.get(term)
            if column is not None and column + 1 < len(indptr):
                found[i] = indptr[column + 1] - indptr[column]
        return found

    def search(
        self,
        query: str,
        k: int,
        allowed_ids: np.ndarray | None = None,
        excluded_ids: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        if self._bm25 is None or k <= 0:
            return _EMPTY
        vocabulary = self._bm25.vocab_dict
        # A term the query repeats counts once per occurrence, as in bm25s's own retrieve.
        columns = [vocabulary[t] for t in tokenize([query])[0] if t in vocabulary]
        # A query of nothing but stop words or unseen terms matches nothing.
        if not columns:
            return _EMPTY
        excluded = (
            self._positions(excluded_ids)
            if excluded_ids is not None and len(excluded_ids)
            else None
        )
        allowed = self._positions(allowed_ids) if allowed_ids is not None else None
        # Rare terms first: their short lists are walked whole, and the documents they score
        # best give the floor below.
        columns = sorted(columns, key=self._posting_length)
        rare = _cheapest(columns, self._posting_length, len(self._ids) * RARE_SHARE)
        rest = columns[len(rare) :]
        scores = np.zeros(len(self._ids), dtype=np.float32)
        self._add_columns(scores, rare)
        if excluded is not None:
            scores[excluded] = 0.0
        floor = self._score_floor(scores, rare, rest, k, allowed)
        # MaxScore: of the other terms, in order of their best score, the longest run whose
        # best scores add up to less than the floor (a score the k-th best document surely
        # reaches) cannot lift a document into the top k on its own. Only documents in the
        # other lists are candidates, and the run's lists are looked up for those alone:
        # common terms' long lists are not walked when rarer terms decide the race.
        rest = sorted(rest, key=lambda c: float(self._column_max[c]))
        bounds = np.cumsum([float(self._column_max[c]) for c in rest])
        split = int(np.searchsorted(bounds, floor, side="left"))
        optional, essential = rest[:split], rest[split:]
        self._add_columns(scores, essential)
        if excluded is not None:
            scores[excluded] = 0.0
        remaining = float(bounds[split - 1]) if optional else 0.0
        candidates = _reaching(scores, floor - remaining, allowed)
        if optional:  # the best documents so far give a higher floor (rarely a lower one)
            floor = max(floor, self._kth_full_score(scores, candidates, optional, k))
        # The strongest optional terms first: after each, documents that cannot reach the
        # floor even with every remaining term's best score leave the race, so the longest
        # lists (the weakest terms) are looked up for the fewest documents.
        for column in reversed(optional):
            candidates = candidates[scores[candidates] + remaining >= floor]
            self._add_column_for(scores, column, candidates)
            remaining -= float(self._column_max[column])
        if len(candidates) > k:
            candidates = candidates[np.argpartition(-scores[candidates], k - 1)[:k]]
        # Best first; equal scores in chunk-id order, so results never depend on the
        # partition's arbitrary order.
        best = candidates[np.lexsort((candidates, -scores[candidates]))]
        return scores[best].astype(np.float32), self._ids[best]

    def _score_floor(
        self,
        partial: np.ndarray,
        scored: Sequence[int],
        others: Sequence[int],
        k: int,
        allowed: np.ndarray | None,
    ) -> float:
        """A score the k-th best document surely reaches (0 when unknown): the k-th best
        *full* score of the eligible documents whose ``partial`` scores (those of the terms
        ``scored`` so far) are highest. Any k eligible documents' full scores bound the true
        k-th best from below."""
        if not others:
            return 0.0
        matrix = self._bm25.scores  # type: ignore[union-attr]
        indices, indptr = matrix["indices"], matrix["indptr"]
        # The scored terms' documents (one appears once per term it holds), read from their
        # lists rather than found among all documents' scores.
        rows = np.concatenate([indices[indptr[c] : indptr[c + 1]] for c in scored])
        if allowed is not None:
            rows = rows[_contains(allowed, rows)]
        rows = rows[partial[rows] > 0]  # not removed
        wanted = min(len(rows), max(2 * k, FLOOR_SEEDS) * len(scored))
        if wanted < len(rows):
            rows = rows[np.argpartition(-partial[rows], wanted - 1)[:wanted]]
        return self._kth_full_score(partial, np.unique(rows), others, k)

    def _kth_full_score(
        self, partial: np.ndarray, rows: np.ndarray, others: Sequence[int], k: int
    ) -> float:
        """The k-th best full score (``partial`` plus the ``others`` terms') of the best
        documents among ``rows`` (distinct) by partial score; 0 when fewer than k. Lowered a
        hair: float32 sums in another order differ in the last bits."""
        if len(rows) < k:
            return 0.0
        seeds = max(2 * k, FLOOR_SEEDS)
        if seeds < len(rows):
            rows = rows[np.argpartition(-partial[rows], seeds - 1)[:seeds]]
        full = partial[rows] + self._scores_at(others, rows)
        return float(np.partition(full, len(full) - k)[len(full) - k]) * (1 - FLOOR_SLACK)

    def _posting_length(self, column: int) -> int:
        indptr = self._bm25.scores["indptr"]  # type: ignore[union-attr]
        return int(indptr[column + 1] - indptr[column])

    def _add_columns(self, scores: np.ndarray, columns: Sequence[int]) -> None:
        """Add these terms' BM25 scores to every document's. A document occurs at most once
        in a term's column, so a plain indexed add is exact; bm25s's own loop uses
        ``np.add.at``, about ten times slower (200 ms for a query touching 550k postings)."""
        matrix = self._bm25.scores  # type: ignore[union-attr]
        data, indices, indptr = matrix["data"], matrix["indices"], matrix["indptr"]
        for column in columns:
            start, end = int(indptr[column]), int(indptr[column + 1])
            scores[indices[start:end]] += data[start:end]

    def _add_column_for(self, scores: np.ndarray, column: int, rows: np.ndarray) -> None:
        """Add a term's scores to the given documents: looked up per document where they are
        few against its list, else the whole list walked (cheaper than that many binary
        searches; other documents' scores are not read again)."""
        if len(rows) * LOOKUP_COST < self._posting_length(column):
            scores[rows] += self._scores_at([column], rows)
        else:
            self._add_columns(scores, [column])

    def _scores_at(self, columns: Sequence[int], rows: np.ndarray) -> np.ndarray:
        """These terms' summed scores for the given documents only: a binary search per
        document in each column (rows within a column are sorted: bm25s builds the matrix
        in (column, row) order)."""
        matrix = self._bm25.scores  # type: ignore[union-attr]
        data, indices, indptr = matrix["data"], matrix["indices"], matrix["indptr"]
        total = np.zeros(len(rows), dtype=np.float32)
        # In the lists' own type: searchsorted would otherwise convert each whole list.
        rows = rows.astype(indices.dtype, copy=False)
        for column in columns:
            start, end = int(indptr[column]), int(indptr[column + 1])
            if start == end:
                continue
            column_rows = indices[start:end]
            at = np.minimum(np.searchsorted(column_rows, rows), end - start - 1)
            found = column_rows[at] == rows
            total[found] += data[start + at[found]]
        return total

    def _positions(self, chunk_ids: np.ndarray) -> np.ndarray:
        """Rows of these chunk ids (ids not in the index are left out); ``_ids`` is sorted,
        so this costs O(m log n), not a pass over all n ids per query."""
        wanted = np.asarray(chunk_ids, dtype=np.int64)
        rows = np.searchsorted(self._ids, wanted)
        inside = rows < len(self._ids)
        rows, wanted = rows[inside], wanted[inside]
        return np.unique(rows[self._ids[rows] == wanted])

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        np.save(directory / "chunk_ids.npy", self._ids)
        if self._bm25 is not None:
            self._bm25.save(str(directory / "bm25"), show_progress=False)
            np.save(directory / "column_max.npy", self._column_max)
        meta = {"empty": self._bm25 is None, "token_count": self._token_count}
        (directory / "lexical.json").write_text(json.dumps(meta))

    def load(self, directory: Path) -> None:
        self._ids = np.load(directory / "chunk_ids.npy")
        meta = json.loads((directory / "lexical.json").read_text())
        self._token_count = int(meta["token_count"])
        # Memory-mapped: a restart on a large collection pages the score matrix in as
        # searches touch it instead of reading it all first. Snapshot files never change once
        # written (a new snapshot is a new directory), so the mapping stays valid.
        self._bm25 = (
            None
            if meta["empty"]
            else bm25s.BM25.load(str(directory / "bm25"), mmap=True, show_progress=False)
        )
        maxima = directory / "column_max.npy"
        if self._bm25 is None:
            self._column_max = np.zeros(0, dtype=np.float32)
        elif maxima.is_file():
            self._column_max = np.load(maxima)
        else:  # a snapshot from before the bound was saved: one pass over the scores
            self._column_max = _column_maxima(self._bm25.scores)


def _column_maxima(matrix: dict[str, np.ndarray]) -> np.ndarray:
    """The highest score in each column of bm25s's score matrix (0 for an empty column)."""
    data, indptr = np.asarray(matrix["data"]), np.asarray(matrix["indptr"])
    columns = len(indptr) - 1
    if not len(data):
        return np.zeros(columns, dtype=np.float32)
    starts = np.minimum(indptr[:-1], len(data) - 1)
    maxima = np.maximum.reduceat(data, starts).astype(np.float32)
    maxima[indptr[1:] == indptr[:-1]] = 0.0
    return maxima


def _reaching(scores: np.ndarray, threshold: float, allowed: np.ndarray | None) -> np.ndarray:
    """Rows (within the allowed) with a positive score of at least ``threshold``."""
    if allowed is not None:
        scores = scores[allowed]
    reaching = scores >= threshold if threshold > 0 else scores > 0
    rows = np.flatnonzero(reaching)
    return allowed[rows] if allowed is not None else rows


def _contains(sorted_rows: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """For each of ``rows``, whether it is in ``sorted_rows`` (sorted, unique)."""
    if not len(sorted_rows):
        return np.zeros(len(rows), dtype=bool)
    at = np.minimum(np.searchsorted(sorted_rows, rows), len(sorted_rows) - 1)
    return np.asarray(sorted_rows[at] == rows)


def _cheapest(columns: Sequence[int], length: Callable[[int], int], budget: float) -> list[int]:
    """The first of ``columns`` (shortest lists first) whose lists add up to at most
    ``budget`` postings, and always at least one."""
    chosen: list[int] = []
    total = 0
    for column in columns:
        total += length(column)
        if chosen and total > budget:
            break
        chosen.append(column)
    return chosen


def _stemmer() -> Stemmer.Stemmer:
    stemmer = getattr(_stemmers, "english", None)
    if stemmer is None:
        stemmer = _stemmers.english = Stemmer.Stemmer("english")
    return stemmer


@dataclass(frozen=True)
class Segment:
    """The chunks of one write, tokenized: a tiny inverted index, never changed."""

    generation: int
    ids: np.ndarray  # chunk ids, one per document
    lengths: np.ndarray  # terms per document
    postings: dict[str, tuple[np.ndarray, np.ndarray]]  # term -> (document rows, counts)
    tokens: tuple[tuple[str, ...], ...]  # kept so that a snapshot can save the segment

    @classmethod
    def of(cls, generation: int, ids: np.ndarray, tokens: Sequence[Sequence[str]]) -> Segment:
        rows: dict[str, list[int]] = {}
        counts: dict[str, list[int]] = {}
        for row, doc in enumerate(tokens):
            for term, count in Counter(doc).items():
                rows.setdefault(term, []).append(row)
                counts.setdefault(term, []).append(count)
        postings = {
            term: (np.array(rows[term], dtype=np.int64), np.array(counts[term], dtype=np.float64))
            for term in rows
        }
        return cls(
            generation=generation,
            ids=np.asarray(ids, dtype=np.int64),
            lengths=np.array([len(doc) for doc in tokens], dtype=np.float64),
            postings=postings,
            tokens=tuple(tuple(doc) for doc in tokens),
        )

    def to_json(self) -> dict[str, object]:
        return {
            "generation": self.generation,
            "ids": self.ids.tolist(),
            "tokens": [list(doc) for doc in self.tokens],
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Segment:
        tokens = data["tokens"]
        assert isinstance(tokens, list)
        return cls.of(int(str(data["generation"])), np.array(data["ids"], dtype=np.int64), tokens)


@dataclass(frozen=True)
class LexicalView:
    """What a lexical search sees: the base index, the segments written since it was built,
    and the chunk ids removed since (in the base or in a segment) with the generation of each
    removal. It is derived from SQLite's chunks and saved in the indexes' snapshots
    (stores/derived.py); ``EngineView`` is its counterpart when an engine keeps the index.

    Segments are scored with BM25 over the statistics of base and segments together (document
    count, document frequencies, average length). The base keeps the statistics it was built
    with, so until the next rebuild its scores differ from a fresh index's only by the terms'
    frequency among the chunks written since — the same formula, on slightly older counts."""

    base: LexicalIndex
    base_generation: int
    segments: tuple[Segment, ...] = ()
    removed: tuple[tuple[int, int], ...] = ()  # (chunk id, generation of the removal)

    # Filters reach it as the filtered chunks' ids (allowed_ids), read by the caller.
    pushes_down_filters = False
    derived: ClassVar[bool] = True

    @property
    def reader(self) -> LexicalReader:
        return self

    def segment(self, generation: int, ids: np.ndarray, texts: Sequence[str]) -> Segment | None:
        """A write's added chunks as a segment to append (tokenizing is the slow part)."""
        return Segment.of(generation, ids, tokenize(texts))

    def rebuilt(
        self,
        empty_base: LexicalIndex,
        read_texts: Callable[[], tuple[np.ndarray, list[str]]],
        generation: int,
    ) -> LexicalView:
        """A view of a base built from every chunk (``read_texts``) as of ``generation``."""
        empty_base.rebuild(*read_texts())
        return LexicalView(empty_base, generation)

    def loaded(self, empty_base: LexicalIndex, directory: Path) -> LexicalView:
        return LexicalView.load(empty_base, directory)

    @property
    def pending(self) -> int:
        """Chunks searched outside the base: what a rebuild would fold in."""
        return sum(len(s.ids) for s in self.segments) + len(self.removed)

    @property
    def indexed_chunks(self) -> int:
        return len(self.base)

    def added(self, segment: Segment, removed_ids: np.ndarray) -> LexicalView:
        if segment.generation <= self.base_generation:
            # The base was read from a state that already holds this write (a rebuild read
            # it between its commit and this update, or it came from another process).
            return self
        removals = tuple((int(i), segment.generation) for i in removed_ids)
        segments = (*self.segments, segment) if len(segment.ids) else self.segments
        return LexicalView(self.base, self.base_generation, segments, self.removed + removals)

    def rebased(self, base: LexicalIndex, generation: int) -> LexicalView:
        """This view with ``base`` (built from SQLite at ``generation``) replacing everything
        written up to that generation."""
        return LexicalView(
            base,
            generation,
            tuple(s for s in self.segments if s.generation > generation),
            tuple(r for r in self.removed if r[1] > generation),
        )

    def search(
        self,
        query: str,
        k: int,
        allowed_ids: np.ndarray | None = None,
        filters: SearchFilters | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """BM25 over base and segments; ``filters`` are not read here (pushes_down_filters
        is False): the caller restricts by ``allowed_ids``."""
        if k <= 0:
            return _EMPTY
        excluded = np.array([chunk_id for chunk_id, _ in self.removed], dtype=np.int64)
        scores, ids = self.base.search(query, k, allowed_ids, excluded)
        if not self.segments:
            return scores, ids
        more_scores, more_ids = self._search_segments(query, allowed_ids, excluded)
        all_scores = np.concatenate([scores, more_scores])
        all_ids = np.concatenate([ids, more_ids])
        best = np.argsort(-all_scores, kind="stable")[:k]
        return all_scores[best].astype(np.float32), all_ids[best]

    def idf(self, terms: Sequence[str]) -> list[float]:
        """BM25's (Lucene) idf of each stemmed term over base and segments together."""
        documents = self.base.document_count + sum(len(s.ids) for s in self.segments)
        frequencies = self.base.document_frequencies(terms)
        for segment in self.segments:
            for i, term in enumerate(terms):
                if (posting := segment.postings.get(term)) is not None:
                    frequencies[i] += len(posting[0])
        return [lucene_idf(documents, df) for df in frequencies]

    def _search_segments(
        self, query: str, allowed_ids: np.ndarray | None, excluded: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        terms = tokenize([query])[0]
        if not terms:
            return _EMPTY
        documents = self.base.document_count + sum(len(s.ids) for s in self.segments)
        tokens = self.base.token_count + sum(float(s.lengths.sum()) for s in self.segments)
        average_length = tokens / documents if documents and tokens else 1.0
        idf = self.idf(terms)

        score_parts, id_parts = [], []
        for segment in self.segments:
            scores = np.zeros(len(segment.ids), dtype=np.float64)
            norm = K1 * ((1 - B) + B * segment.lengths / average_length)
            for i, term in enumerate(terms):
                if (posting := segment.postings.get(term)) is not None:
                    rows, counts = posting
                    scores[rows] += idf[i] * counts / (norm[rows] + counts)
            keep = scores > 0
            if allowed_ids is not None:
                keep &= np.isin(segment.ids, allowed_ids)
            if len(excluded):
                keep &= ~np.isin(segment.ids, excluded)
            score_parts.append(scores[keep])
            id_parts.append(segment.ids[keep])
        return np.concatenate(score_parts).astype(np.float32), np.concatenate(id_parts)

    def save(self, directory: Path) -> None:
        self.base.save(directory)
        pending = {
            "base_generation": self.base_generation,
            "segments": [s.to_json() for s in self.segments],
            "removed": [list(r) for r in self.removed],
        }
        (directory / "pending.json").write_text(json.dumps(pending))

    @classmethod
    def load(cls, base: LexicalIndex, directory: Path) -> LexicalView:
        base.load(directory)
        pending = json.loads((directory / "pending.json").read_text())
        return cls(
            base,
            int(pending["base_generation"]),
            tuple(Segment.from_json(s) for s in pending["segments"]),
            tuple((int(i), int(g)) for i, g in pending["removed"]),
        )


@dataclass(frozen=True)
class EngineView:
    """The lexical view when an engine keeps the index (``lexical_store=postgres``): the
    store's write transactions update it, so nothing is derived here — writes add no
    segment, rebuilds and snapshots leave it alone, and searches read the engine."""

    engine: LexicalReader
    derived: ClassVar[bool] = False
    pending: ClassVar[int] = 0

    @property
    def reader(self) -> LexicalReader:
        return self.engine

    def segment(self, generation: int, ids: np.ndarray, texts: Sequence[str]) -> Segment | None:
        return None

    def added(self, segment: Segment, removed_ids: np.ndarray) -> EngineView:
        return self

    def rebuilt(
        self,
        empty_base: LexicalIndex,
        read_texts: Callable[[], tuple[np.ndarray, list[str]]],
        generation: int,
    ) -> EngineView:
        return self

    def loaded(self, empty_base: LexicalIndex, directory: Path) -> EngineView:
        return self

    def save(self, directory: Path) -> None:
        """Nothing to save: the engine's index lives in the engine."""
