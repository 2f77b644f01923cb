"""BM25 in PostgreSQL (``lexical_store=postgres``): the chunks' terms kept as posting lists in
the article database, written in the same transaction as the chunks, scored by one SQL query.

Why this and not milvus-lite's BM25 or PostgreSQL's own ``tsvector`` ranking (docs/scaling.md
has the measurements): milvus-lite 3.2.2 has no English analyzer (a ``stemmer`` filter is
accepted and silently ignored) and keeps BM25 statistics per segment; ``ts_rank_cd`` is not
BM25, and reading term frequencies back out of ``tsvector`` values means unnesting every
matching row. Here the terms are the embedded index's own (``lexical.tokenize``: bm25s's
tokenizer, English stemmer and stop words), so the scores are the same BM25 (Lucene idf,
k1 1.5, b 0.75) and the reranker's idf features keep their meaning.

Tables (created on first use, under the writers' advisory lock):

- ``lexical_postings (term, chunk_id, tf, dl)``: one row per distinct term of a chunk, its
  count and the chunk's length; the primary key (term, chunk_id) is the posting list, read by
  an index range scan per query term.
- ``lexical_documents (chunk_id, dl)``: every indexed chunk (a chunk of nothing but stop words
  counts as a document, as in bm25s).
- ``lexical_stats``: one row, the document count and the total of their lengths.

Document frequencies are counted from the posting rows a query reads anyway, so a write
touches no per-term counter: writers add and delete their chunks' rows and move the two
totals. Every statement sees one committed state, so a search in any replica sees every write
that returned, in any replica, with exact collection-wide statistics."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from newsdesk.domain import SearchFilters
from newsdesk.stores.connections import Connection
from newsdesk.stores.lexical import K1, B, tokenize

SCHEMA = (
    'CREATE TABLE IF NOT EXISTS lexical_postings (term TEXT COLLATE "C" NOT NULL,'
    " chunk_id BIGINT NOT NULL, tf INTEGER NOT NULL, dl INTEGER NOT NULL,"
    " PRIMARY KEY (term, chunk_id) INCLUDE (tf, dl))",
    # Deletes find a chunk's rows by id.
    "CREATE INDEX IF NOT EXISTS lexical_postings_chunk ON lexical_postings (chunk_id)",
    "CREATE TABLE IF NOT EXISTS lexical_documents (chunk_id BIGINT PRIMARY KEY,"
    " dl INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS lexical_stats (id INTEGER PRIMARY KEY CHECK (id = 1),"
    " documents BIGINT NOT NULL, tokens BIGINT NOT NULL)",
    "INSERT INTO lexical_stats (id, documents, tokens) VALUES (1, 0, 0) ON CONFLICT DO NOTHING",
)
# Chunks tokenized and copied per step when filling the tables from the stored chunks.
FILL_BATCH = 5_000

_EMPTY = np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)

# One query: the query terms' posting rows (an index range scan each), their document
# frequencies counted from those rows, each term's weight (idf times its count in the query)
# computed once, and BM25 summed per chunk. The filters, when given,
# restrict the chunks scored, never the statistics.
_SEARCH = """
WITH q (term, n) AS (SELECT * FROM unnest(?::text[], ?::int[])),
p AS MATERIALIZED (
    SELECT term, chunk_id, tf, dl FROM lexical_postings WHERE term = ANY(?::text[])
),
f AS (SELECT term, count(*)::float8 AS df FROM p GROUP BY term),
w AS (
    SELECT q.term, q.n * ln(1 + (s.n - f.df + 0.5) / (f.df + 0.5)) AS weight, s.avgdl
    FROM q JOIN f USING (term), (
        SELECT documents::float8 AS n,
            CASE WHEN documents > 0 AND tokens > 0 THEN tokens::float8 / documents ELSE 1 END
                AS avgdl
        FROM lexical_stats
    ) s
)
SELECT p.chunk_id AS id, sum(w.weight * p.tf / (p.tf + ? * (1 - ? + ? * p.dl / w.avgdl))) AS score
FROM p JOIN w USING (term)
{where}
GROUP BY p.chunk_id ORDER BY score DESC, p.chunk_id LIMIT ?
"""


def tables_present(db: Connection) -> bool:
    """Whether this database keeps lexical tables (then every writer must maintain them)."""
    if not db.dialect.keeps_change_log:  # SQLite: never
        return False
    row = db.execute("SELECT to_regclass('lexical_stats') IS NOT NULL AS present").fetchone()
    return bool(row["present"])


def create_tables(db: Connection) -> None:
    """Create the tables if missing; run inside a write transaction (the writers' lock keeps
    two replicas starting at once from racing on CREATE TABLE IF NOT EXISTS)."""
    for statement in SCHEMA:
        db.execute(statement)


def apply_write(
    db: Connection, removed_ids: Sequence[int], added_ids: Sequence[int], texts: Sequence[str]
) -> None:
    """A write's chunk changes, in the write's own transaction: the removed chunks' rows go,
    the added chunks' terms come in, and the totals move with them."""
    documents, tokens = 0, 0
    if len(removed_ids):
        ids = [int(i) for i in removed_ids]
        gone = db.execute(
            "DELETE FROM lexical_documents WHERE chunk_id = ANY(?::bigint[]) RETURNING dl", (ids,)
        ).fetchall()
        db.execute("DELETE FROM lexical_postings WHERE chunk_id = ANY(?::bigint[])", (ids,))
        documents -= len(gone)
        tokens -= sum(int(r["dl"]) for r in gone)
    if len(added_ids):
        added_documents, added_tokens = _insert(db, added_ids, tokenize(texts))
        documents += added_documents
        tokens += added_tokens
    if documents or tokens:
        db.execute(
            "UPDATE lexical_stats SET documents = documents + ?, tokens = tokens + ? WHERE id = 1",
            (documents, tokens),
        )


def _insert(db: Connection, ids: Sequence[int], terms: Sequence[Sequence[str]]) -> tuple[int, int]:
    """Insert chunks' documents and postings; (documents, tokens) added."""
    documents = [(int(i), len(doc)) for i, doc in zip(ids, terms, strict=True)]
    postings = [
        (term, chunk_id, count, length)
        for (chunk_id, length), doc in zip(documents, terms, strict=True)
        for term, count in Counter(doc).items()
    ]
    # A PostgreSQL connection bulk-loads with COPY (stores/postgres.py): an order of
    # magnitude faster than row inserts.
    copy = getattr(db, "copy_rows", None)
    if copy is not None:
        copy("COPY lexical_documents (chunk_id, dl) FROM STDIN", documents)
        copy("COPY lexical_postings (term, chunk_id, tf, dl) FROM STDIN", postings)
    else:
        db.executemany("INSERT INTO lexical_documents (chunk_id, dl) VALUES (?, ?)", documents)
        db.executemany(
            "INSERT INTO lexical_postings (term, chunk_id, tf, dl) VALUES (?, ?, ?, ?)", postings
        )
    return len(documents), sum(length for _, length in documents)


def reconcile(db: Connection, chunk_texts: Any) -> int:
    """Bring the tables in line with the chunks table, inside a write transaction: rows of
    chunks gone are deleted, chunks missing are tokenized and added, the totals recounted.
    ``chunk_texts(ids)`` gives the texts of chunk ids. Returns the chunks added or removed.
    Cheap when nothing differs: two counts and two maxima are compared first."""
    row = db.execute(
        "SELECT (SELECT count(*) FROM chunks) AS chunks,"
        " (SELECT coalesce(max(id), 0) FROM chunks) AS last_chunk,"
        " (SELECT documents FROM lexical_stats) AS documents,"
        " (SELECT count(*) FROM lexical_documents) AS indexed,"
        " (SELECT coalesce(max(chunk_id), 0) FROM lexical_documents) AS last_indexed"
    ).fetchone()
    if row["chunks"] == row["documents"] == row["indexed"] and (
        row["last_chunk"] == row["last_indexed"]
    ):
        return 0
    stale = _ids(
        db,
        "SELECT chunk_id AS id FROM lexical_documents d"
        " WHERE NOT EXISTS (SELECT 1 FROM chunks c WHERE c.id = d.chunk_id)",
    )
    if stale:
        db.execute("DELETE FROM lexical_documents WHERE chunk_id = ANY(?::bigint[])", (stale,))
    # Postings without a document row too (a write that lost its document row cannot happen
    # in one transaction, but a hand-edited table can).
    db.execute(
        "DELETE FROM lexical_postings p WHERE NOT EXISTS"
        " (SELECT 1 FROM lexical_documents d WHERE d.chunk_id = p.chunk_id)"
    )
    missing = _ids(
        db,
        "SELECT id FROM chunks c WHERE NOT EXISTS"
        " (SELECT 1 FROM lexical_documents d WHERE d.chunk_id = c.id) ORDER BY id",
    )
    for start in range(0, len(missing), FILL_BATCH):
        batch = missing[start : start + FILL_BATCH]
        texts: dict[int, str] = chunk_texts(batch)
        found = [i for i in batch if i in texts]
        _insert(db, found, tokenize([texts[i] for i in found]))
    db.execute(
        "UPDATE lexical_stats SET documents = (SELECT count(*) FROM lexical_documents),"
        " tokens = (SELECT coalesce(sum(dl), 0) FROM lexical_documents) WHERE id = 1"
    )
    return len(stale) + len(missing)


def _ids(db: Connection, query: str) -> list[int]:
    """The ``id`` column of a query's rows."""
    return [int(r["id"]) for r in db.execute(query).fetchall()]


class PostgresLexicalView:
    """What a lexical search sees with ``lexical_store=postgres``: the tables themselves, so
    always every committed write. ``connection`` gives the calling thread's connection."""

    pushes_down_filters = True
    pending = 0  # nothing is searched outside the engine's index

    def __init__(self, connection: Any, article_conditions: Any) -> None:
        self._connection = connection
        # (filters) -> (WHERE clause over `articles a`, parameters): the store's own.
        self._conditions = article_conditions

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
        terms = list(counts)
        clauses: list[str] = []
        params: list[Any] = [terms, [counts[t] for t in terms], terms, K1, B, B]
        if allowed_ids is not None:
            clauses.append("p.chunk_id = ANY(?::bigint[])")
            params.append([int(i) for i in allowed_ids])
        if filters is not None and not filters.is_empty():
            where, values = self._conditions(filters)
            clauses.append(
                "p.chunk_id IN (SELECT c.id FROM chunks c JOIN articles a"
                f" ON a.id = c.article_id {where})"
            )
            params += values
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        rows = self._connection().execute(_SEARCH.format(where=where), [*params, k]).fetchall()
        rows = [r for r in rows if r["score"] > 0]
        return (
            np.array([r["score"] for r in rows], dtype=np.float32),
            np.array([r["id"] for r in rows], dtype=np.int64),
        )

    def idf(self, terms: Sequence[str]) -> list[float]:
        """BM25's (Lucene) idf of each stemmed term over every indexed chunk."""
        # One statement: the counts and the total from one committed state.
        rows = (
            self._connection()
            .execute(
                "SELECT NULL AS term, documents AS n FROM lexical_stats UNION ALL"
                " SELECT term, count(*) FROM lexical_postings WHERE term = ANY(?::text[])"
                " GROUP BY term",
                (list(dict.fromkeys(terms)),),
            )
            .fetchall()
        )
        frequencies = {r["term"]: int(r["n"]) for r in rows if r["term"] is not None}
        documents = next((int(r["n"]) for r in rows if r["term"] is None), 0)
        return [
            math.log(1 + (documents - df + 0.5) / (df + 0.5))
            for df in (frequencies.get(t, 0) for t in terms)
        ]
