"""Searching PostgreSQL's lexical tables (``lexical_store=postgres``; the tables and the
writes that keep them are lexical_postgres.py's).

A search (one REPEATABLE READ snapshot, so any replica sees every write that returned) reads
the query terms' rows and block headers, reads the rarest terms' blocks whole and scores the best of
their documents exactly for a floor (the k-th best score is at least that), then MaxScore:
terms whose best scores together stay under the floor cannot bring a document in alone, and of
the others only blocks whose bound plus every other term's best can reach the floor are read.
Candidates are scored exactly from their forward rows, best bound first, until the next bound
is under the k-th best score found: the same scores and top k as bm25s, without reading the
posting lists of common words."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from newsdesk.domain import SearchFilters
from newsdesk.stores.connections import Connection, read_snapshot
from newsdesk.stores.lexical import K1, B, lucene_idf, tokenize
from newsdesk.stores.lexical_postgres import (
    COUNT_DTYPE,
    ID_DTYPE,
    TERM_DTYPE,
    contains,
)

# Terms whose posting lists hold up to this share of the documents in all are read whole first.
RARE_SHARE = 0.05
# Documents scored exactly for the first floor, and per step while candidates remain.
FLOOR_SEEDS = 64
RESCORE_BATCH = 1024
# Floors lowered a hair: sums in another order differ in the last bits.
FLOOR_SLACK = 1e-6

_EMPTY = np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)


class PostgresLexicalView:
    """What a lexical search sees with ``lexical_store=postgres``: the tables themselves, so
    always every committed write. ``connection`` gives the calling thread's connection."""

    pushes_down_filters = True
    pending = 0  # nothing is searched outside the engine's index

    def __init__(self, connection: Any, article_conditions: Any) -> None:
        self._connection = connection
        # (filters) -> (WHERE clause over `articles a`, parameters): the store's own.
        self._conditions = article_conditions
        # Blocks read by the last search (the benchmark reports them).
        self.last_blocks_read = 0

    @property
    def indexed_chunks(self) -> int:
        row = self._connection().execute("SELECT documents FROM lexical_stats").fetchone()
        return int(row["documents"]) if row else 0

    def search(
        self,
        query: str,
        k: int,
        allowed_ids: np.ndarray | None = None,
        filters: SearchFilters | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """BM25 scores and ids of the k best chunks with a positive score, among
        ``allowed_ids`` and the chunks of articles matching ``filters`` (each if given)."""
        counts = Counter(tokenize([query])[0])
        if k <= 0 or not counts or (allowed_ids is not None and not len(allowed_ids)):
            return _EMPTY
        allowed = None if allowed_ids is None else np.unique(np.asarray(allowed_ids, np.int64))
        # Filters join the candidates' forward rows to their articles: only the chunks
        # scored are checked, never a list of every matching chunk read.
        condition: tuple[str, list[Any]] | None = None
        if filters is not None and not filters.is_empty():
            where, values = self._conditions(filters)
            condition = (where.removeprefix("WHERE "), list(values))
        with read_snapshot(self._connection()) as db:
            return _Search(db, counts, k, allowed, condition).run(self)

    def idf(self, terms: Sequence[str]) -> list[float]:
        """BM25's (Lucene) idf of each stemmed term over every indexed chunk."""
        # One statement: the counts and the total from one committed state.
        rows = (
            self._connection()
            .execute(
                "SELECT NULL AS term, documents AS n FROM lexical_stats UNION ALL"
                " SELECT term, df FROM lexical_terms WHERE term = ANY(?::text[])",
                (list(dict.fromkeys(terms)),),
            )
            .fetchall()
        )
        frequencies = {r["term"]: int(r["n"]) for r in rows if r["term"] is not None}
        documents = next((int(r["n"]) for r in rows if r["term"] is None), 0)
        return [lucene_idf(documents, frequencies.get(t, 0)) for t in terms]


class _Search:
    """One query's block-max MaxScore over the tables, inside the caller's snapshot."""

    def __init__(
        self,
        db: Connection,
        counts: Counter[str],
        k: int,
        allowed: np.ndarray | None,
        condition: tuple[str, list[Any]] | None,
    ) -> None:
        self.db, self.counts, self.k, self.allowed = db, counts, k, allowed
        # (SQL over `articles a`, parameters) a chunk's article must meet, if any.
        self.condition = condition
        self.blocks_read = 0
        self.avgdl = 1.0
        self.query_ids = np.zeros(0, dtype=np.int64)  # sorted term ids
        self.query_weights = np.zeros(0, dtype=np.float64)  # idf times the count in the query
        self.exact: dict[int, float] = {}  # live (and allowed) chunks scored from their rows

    def run(self, view: PostgresLexicalView) -> tuple[np.ndarray, np.ndarray]:
        try:
            return self._run()
        finally:
            view.last_blocks_read = self.blocks_read

    def _run(self) -> tuple[np.ndarray, np.ndarray]:
        rows = self.db.execute(
            "SELECT s.documents, s.tokens, t.term, t.term_id, t.df FROM lexical_stats s"
            " LEFT JOIN lexical_terms t ON t.term = ANY(?::text[]) AND t.df > 0",
            (list(self.counts),),
        ).fetchall()
        terms = [r for r in rows if r["term"] is not None]
        if not terms:
            return _EMPTY
        documents, tokens = int(rows[0]["documents"]), int(rows[0]["tokens"])
        self.avgdl = tokens / documents if documents > 0 and tokens > 0 else 1.0
        terms.sort(key=lambda r: int(r["term_id"]))
        self.query_ids = np.array([int(r["term_id"]) for r in terms], dtype=np.int64)
        frequencies = np.array([int(r["df"]) for r in terms], dtype=np.float64)
        idf = np.log(1 + (documents - frequencies + 0.5) / (frequencies + 0.5))
        self.query_weights = np.array([self.counts[r["term"]] for r in terms]) * idf

        headers = self.db.execute(
            "SELECT term_id, block, max_tf, min_dl FROM lexical_blocks"
            " WHERE term_id = ANY(?::int[])",
            (self.query_ids.tolist(),),
        ).fetchall()
        # Columns by position (a Row's lookup by name costs more than the rest per row).
        h_term, h_block, h_tf, h_dl = (
            np.array(c, dtype=np.int64)
            for c in (zip(*headers, strict=True) if headers else [[]] * 4)
        )
        position = np.searchsorted(self.query_ids, h_term)
        h_bound = self.query_weights[position] * self._part(
            h_tf.astype(np.float64), h_dl.astype(np.float64)
        )
        best = np.zeros(len(self.query_ids))  # each term's best score in any document
        np.maximum.at(best, position, h_bound)
        total_best = float(best.sum())

        # Rare terms first: their blocks are read whole, and their best documents scored
        # exactly give the floor.
        by_rarity = np.argsort(frequencies, kind="stable")
        budget = max(RARE_SHARE * documents, 1.0)
        spent, rare = 0.0, list[int]()
        for t in by_rarity:
            if rare and spent + frequencies[t] > budget:
                break
            rare.append(int(t))
            spent += frequencies[t]
        rest = [int(t) for t in by_rarity[len(rare) :]]
        read = np.isin(position, rare)
        ids, scores = self._read_blocks(h_term[read], h_block[read])
        floor = self._seed_floor(ids, scores) if rest else 0.0

        # MaxScore: the weakest terms whose best scores add up to less than the floor cannot
        # lift a document into the top k alone; of the others' blocks, only those whose bound
        # plus every other term's best can reach the floor hold a top-k document.
        rest.sort(key=lambda t: float(best[t]))
        bounds = np.cumsum([float(best[t]) for t in rest])
        split = int(np.searchsorted(bounds, floor, side="left"))
        optional_best = float(bounds[split - 1]) if split else 0.0
        essential = rest[split:]
        wanted = np.isin(position, essential) & (
            h_bound + (total_best - best[position]) >= floor * (1 - FLOOR_SLACK)
        )
        more_ids, more_scores = self._read_blocks(h_term[wanted], h_block[wanted])
        ids, scores = np.concatenate([ids, more_ids]), np.concatenate([scores, more_scores])
        # A top-k document's rare and essential postings are all in the blocks read (any
        # other block's bound rules it out), so its partial sum plus the optional terms'
        # best bounds its score.
        candidates, inverse = np.unique(ids, return_inverse=True)
        partial = np.bincount(inverse, weights=scores)
        # A forward row costs about what a block does: while many candidates would still
        # need one, the strongest optional term's blocks are read instead — its best score
        # leaves every candidate's bound, and candidates that cannot reach the floor go.
        remaining = optional_best
        for t in reversed(rest[:split]):
            alive = partial + remaining >= floor * (1 - FLOOR_SLACK)
            candidates, partial = candidates[alive], partial[alive]
            term_blocks = position == t
            if len(candidates) <= RESCORE_BATCH or int(term_blocks.sum()) > len(candidates):
                break
            more_ids, more_scores = self._read_blocks(h_term[term_blocks], h_block[term_blocks])
            held = contains(candidates, more_ids)
            partial[np.searchsorted(candidates, more_ids[held])] += more_scores[held]
            remaining -= float(best[t])
        self._rescore(candidates, partial + remaining, floor)
        return self._top()

    def _part(self, tf: np.ndarray, dl: np.ndarray) -> np.ndarray:
        """BM25's term-frequency part (bm25s's Lucene variant: no (k1 + 1) factor)."""
        return tf / (tf + K1 * (1 - B + B * dl / self.avgdl))

    def _read_blocks(self, terms: np.ndarray, blocks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The chunk ids and term scores of these blocks' postings (dead ones included)."""
        if not len(terms):
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
        self.blocks_read += len(terms)
        rows = self.db.execute(
            "SELECT b.term_id, b.ids, b.tfs, b.dls FROM lexical_blocks b"
            " JOIN unnest(?::int[], ?::int[]) AS u (term_id, block)"
            " ON b.term_id = u.term_id AND b.block = u.block",
            (terms.tolist(), blocks.tolist()),
        ).fetchall()
        if not rows:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
        term_ids, id_bytes, tf_bytes, dl_bytes = zip(*rows, strict=True)
        ids = np.frombuffer(b"".join(id_bytes), dtype=ID_DTYPE).astype(np.int64)
        tfs = np.frombuffer(b"".join(tf_bytes), dtype=COUNT_DTYPE).astype(np.float64)
        dls = np.frombuffer(b"".join(dl_bytes), dtype=COUNT_DTYPE).astype(np.float64)
        term = np.repeat(term_ids, [len(b) // ID_DTYPE.itemsize for b in id_bytes])
        weights = self.query_weights[np.searchsorted(self.query_ids, term)]
        keep = slice(None) if self.allowed is None else contains(self.allowed, ids)
        return ids[keep], (weights * self._part(tfs, dls))[keep]

    def _seed_floor(self, ids: np.ndarray, scores: np.ndarray) -> float:
        """A score the k-th best chunk surely reaches: the k-th best exact score of the chunks
        best by their rare terms (any k live chunks' scores bound it from below); 0 if fewer."""
        if not len(ids):
            return 0.0
        candidates, inverse = np.unique(ids, return_inverse=True)
        partial = np.bincount(inverse, weights=scores)
        seeds = max(2 * self.k, FLOOR_SEEDS)
        if seeds < len(candidates):
            candidates = candidates[np.argpartition(-partial, seeds - 1)[:seeds]]
        self._score_exactly(candidates)
        return self._kth()

    def _rescore(self, candidates: np.ndarray, bound: np.ndarray, floor: float) -> None:
        """Score candidates exactly, best bound first, until no bound reaches the floor (the
        k-th best exact score so far, once k are known)."""
        order = np.argsort(-bound, kind="stable")
        candidates, bound = candidates[order], bound[order]
        start = 0
        while start < len(candidates) and bound[start] >= floor * (1 - FLOOR_SLACK):
            end = start + max(RESCORE_BATCH, 2 * self.k)
            batch = candidates[start:end]
            self._score_exactly(batch[[int(i) not in self.exact for i in batch]])
            floor = max(floor, self._kth())
            start = end

    def _kth(self) -> float:
        if len(self.exact) < self.k:
            return 0.0
        scores = np.fromiter(self.exact.values(), dtype=np.float64, count=len(self.exact))
        return float(np.partition(scores, len(scores) - self.k)[len(scores) - self.k]) * (
            1 - FLOOR_SLACK
        )

    def _score_exactly(self, chunk_ids: np.ndarray) -> None:
        """Full BM25 scores of these chunks from their forward rows; deleted ones have none."""
        if not len(chunk_ids):
            return
        query = "SELECT d.chunk_id, d.dl, d.terms, d.tfs FROM lexical_documents d"
        parameters: list[Any] = [chunk_ids.tolist()]
        if self.condition is None:
            query += " WHERE d.chunk_id = ANY(?::bigint[])"
        else:
            where, values = self.condition
            query += (
                " JOIN chunks c ON c.id = d.chunk_id JOIN articles a ON a.id = c.article_id"
                f" WHERE d.chunk_id = ANY(?::bigint[]) AND {where}"
            )
            parameters += values
        rows = self.db.execute(query, parameters).fetchall()
        if not rows:
            return
        found_ids, lengths, term_bytes, tf_bytes = zip(*rows, strict=True)
        terms = np.frombuffer(b"".join(term_bytes), dtype=TERM_DTYPE).astype(np.int64)
        tfs = np.frombuffer(b"".join(tf_bytes), dtype=COUNT_DTYPE).astype(np.float64)
        document = np.repeat(
            np.arange(len(rows)), [len(b) // TERM_DTYPE.itemsize for b in term_bytes]
        )
        at = np.minimum(np.searchsorted(self.query_ids, terms), len(self.query_ids) - 1)
        hit = self.query_ids[at] == terms
        dls = np.array(lengths, dtype=np.float64)[document[hit]]
        scores = np.bincount(
            document[hit],
            weights=self.query_weights[at[hit]] * self._part(tfs[hit], dls),
            minlength=len(rows),
        )
        self.exact.update(zip(found_ids, scores.tolist(), strict=True))

    def _top(self) -> tuple[np.ndarray, np.ndarray]:
        ids = np.fromiter(self.exact.keys(), dtype=np.int64, count=len(self.exact))
        scores = np.fromiter(self.exact.values(), dtype=np.float64, count=len(self.exact))
        keep = scores > 0
        ids, scores = ids[keep], scores[keep]
        # Best first; equal scores in chunk-id order.
        best = np.lexsort((ids, -scores))[: self.k]
        return scores[best].astype(np.float32), ids[best]
