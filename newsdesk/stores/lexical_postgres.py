"""BM25 in PostgreSQL (``lexical_store=postgres``): the chunks' terms kept as posting blocks in
the article database, written in the same transaction as the chunks, searched by reading only
the blocks that can still reach the top k.

Why this and not milvus-lite's BM25 or PostgreSQL's own ``tsvector`` ranking (docs/scaling.md
has the measurements): milvus-lite 3.2.2 has no English analyzer (a ``stemmer`` filter is
accepted and silently ignored) and keeps BM25 statistics per segment; ``ts_rank_cd`` is not
BM25, and reading term frequencies back out of ``tsvector`` values means unnesting every
matching row. Here the terms are the embedded index's own (``lexical.tokenize``: bm25s's
tokenizer, English stemmer and stop words), so the scores are the same BM25 (Lucene idf,
k1 1.5, b 0.75) and the reranker's idf features keep their meaning.

Tables (created on first use, under the writers' advisory lock):

- ``lexical_terms (term, term_id, df, postings, tail, tail_n)``: a term's live document
  frequency (moved by every write, so idf needs no count over postings), the postings its
  blocks hold (dead ones included) and its last block's number and size.
- ``lexical_blocks (term_id, block, n, max_tf, min_dl, ids, tfs, dls)``: a term's postings in
  blocks of up to ``BLOCK``, packed arrays (int64 chunk ids, int32 counts and document
  lengths). The header (max tf, min length) bounds the BM25 term score of any posting in the
  block for any average length: the score grows with tf and falls with the length.
- ``lexical_documents (chunk_id, dl, terms, tfs)``: every indexed chunk with its length and
  its terms (ids and counts): the forward index that scores a candidate exactly, and the
  terms whose df a delete lowers. A chunk without a row is deleted: its postings left in
  blocks are dead, skipped by every query, and dropped when a term's dead share passes a
  quarter (the term's blocks are rewritten in the deleting write).
- ``lexical_stats``: one row, the document count, the total of their lengths and the highest
  chunk id ever indexed.

A write appends its postings to each term's open tail block (a bytea concatenation in the
server) and opens new blocks past ``BLOCK``; it touches one row per term it holds. A search
(one REPEATABLE READ snapshot, so any replica sees every write that returned) reads the query
terms' rows and block headers, reads the rarest terms' blocks whole and scores the best of
their documents exactly for a floor (the k-th best score is at least that), then MaxScore:
terms whose best scores together stay under the floor cannot bring a document in alone, and of
the others only blocks whose bound plus every other term's best can reach the floor are read.
Candidates are scored exactly from their forward rows, best bound first, until the next bound
is under the k-th best score found: the same scores and top k as bm25s, without reading the
posting lists of common words."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from newsdesk.domain import SearchFilters
from newsdesk.stores.connections import Connection
from newsdesk.stores.lexical import K1, B, tokenize

# Postings per block: a block row stays under PostgreSQL's 8 kB page without TOAST (16 bytes
# a posting), and a term's headers are 1/BLOCK of its postings.
BLOCK = 128
# Terms whose posting lists hold up to this share of the documents in all are read whole first.
RARE_SHARE = 0.05
# Documents scored exactly for the first floor, and per step while candidates remain.
FLOOR_SEEDS = 64
RESCORE_BATCH = 1024
# Floors lowered a hair: sums in another order differ in the last bits.
FLOOR_SLACK = 1e-6
# Chunks tokenized and written per step when filling the tables from the stored chunks.
FILL_BATCH = 5_000

SCHEMA = (
    'CREATE TABLE IF NOT EXISTS lexical_terms (term TEXT COLLATE "C" PRIMARY KEY,'
    " term_id INTEGER GENERATED ALWAYS AS IDENTITY UNIQUE, df BIGINT NOT NULL,"
    " postings BIGINT NOT NULL, tail INTEGER NOT NULL, tail_n INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS lexical_blocks (term_id INTEGER NOT NULL,"
    " block INTEGER NOT NULL, n INTEGER NOT NULL, max_tf INTEGER NOT NULL,"
    " min_dl INTEGER NOT NULL, ids BYTEA NOT NULL, tfs BYTEA NOT NULL, dls BYTEA NOT NULL,"
    " PRIMARY KEY (term_id, block) INCLUDE (n, max_tf, min_dl))"
    # Blocks stay inline and uncompressed: decompressing every block read costs more than
    # the pages saved.
    " WITH (toast_tuple_target = 8160)",
    "CREATE TABLE IF NOT EXISTS lexical_documents (chunk_id BIGINT PRIMARY KEY,"
    " dl INTEGER NOT NULL, terms BYTEA NOT NULL, tfs BYTEA NOT NULL)",
    "CREATE TABLE IF NOT EXISTS lexical_stats (id INTEGER PRIMARY KEY CHECK (id = 1),"
    " documents BIGINT NOT NULL, tokens BIGINT NOT NULL, last_chunk BIGINT NOT NULL)",
    "INSERT INTO lexical_stats (id, documents, tokens, last_chunk) VALUES (1, 0, 0, 0)"
    " ON CONFLICT DO NOTHING",
)
# Tables of the first design (one row per posting): dropped and refilled from the chunks.
OLD_SCHEMA_MARK = "lexical_postings"
DROP_OLD = "DROP TABLE IF EXISTS lexical_postings, lexical_documents, lexical_stats"

_EMPTY = np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
_IDS, _COUNTS, _TERMS = np.dtype("<i8"), np.dtype("<i4"), np.dtype("<i4")


def tables_present(db: Connection) -> bool:
    """Whether this database keeps lexical tables (then every writer must maintain them)."""
    if not db.dialect.keeps_change_log:  # SQLite: never
        return False
    row = db.execute("SELECT to_regclass('lexical_stats') IS NOT NULL AS present").fetchone()
    return bool(row["present"])


def create_tables(db: Connection) -> None:
    """Create the tables if missing, dropping the first design's (``reconcile`` refills them);
    run inside a write transaction (the writers' lock keeps two replicas starting at once from
    racing on CREATE TABLE IF NOT EXISTS)."""
    old = db.execute(f"SELECT to_regclass('{OLD_SCHEMA_MARK}') IS NOT NULL AS old").fetchone()
    if old["old"]:
        db.execute(DROP_OLD)
    for statement in SCHEMA:
        db.execute(statement)


def apply_write(
    db: Connection, removed_ids: Sequence[int], added_ids: Sequence[int], texts: Sequence[str]
) -> None:
    """A write's chunk changes, in the write's own transaction: the removed chunks' rows go
    (their terms' df with them), the added chunks' postings come in, the totals move."""
    if len(removed_ids):
        _remove(db, [int(i) for i in removed_ids])
    if len(added_ids):
        _add(db, [int(i) for i in added_ids], tokenize(texts))


def _remove(db: Connection, ids: list[int]) -> None:
    gone = db.execute(
        "DELETE FROM lexical_documents WHERE chunk_id = ANY(?::bigint[]) RETURNING dl, terms",
        (ids,),
    ).fetchall()
    if not gone:
        return
    db.execute(
        "UPDATE lexical_stats SET documents = documents - ?, tokens = tokens - ? WHERE id = 1",
        (len(gone), sum(int(r["dl"]) for r in gone)),
    )
    terms = np.concatenate([np.frombuffer(r["terms"], dtype=_TERMS) for r in gone])
    if not len(terms):
        return
    term_ids, counts = np.unique(terms, return_counts=True)
    changed = db.execute(
        "UPDATE lexical_terms t SET df = t.df - u.n"
        " FROM unnest(?::int[], ?::bigint[]) AS u (term_id, n) WHERE t.term_id = u.term_id"
        " RETURNING t.term_id, t.df, t.postings",
        (term_ids.tolist(), counts.tolist()),
    ).fetchall()
    # Dead postings only loosen block bounds and cost reads: a term's blocks are rewritten
    # once a quarter of its postings are dead, so the work is paid once per quarter.
    dead = [int(r["term_id"]) for r in changed if 4 * (r["postings"] - r["df"]) > r["postings"]]
    _compact(db, dead)


def _compact(db: Connection, term_ids: list[int]) -> None:
    """Rewrite these terms' blocks with their live postings only (terms left with none go)."""
    if not term_ids:
        return
    rows = db.execute(
        "SELECT term_id, ids, tfs, dls FROM lexical_blocks WHERE term_id = ANY(?::int[])"
        " ORDER BY term_id, block",
        (term_ids,),
    ).fetchall()
    postings: dict[int, list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = {}
    for r in rows:
        postings.setdefault(int(r["term_id"]), []).append(_unpack(r))
    every = [p[0] for parts in postings.values() for p in parts]
    mentioned = np.unique(np.concatenate(every)) if every else np.zeros(0, dtype=np.int64)
    live = np.sort(
        np.array(
            _ids(
                db,
                "SELECT chunk_id AS id FROM lexical_documents WHERE chunk_id = ANY(?::bigint[])",
                (mentioned.tolist(),),
            ),
            dtype=np.int64,
        )
    )
    db.execute("DELETE FROM lexical_blocks WHERE term_id = ANY(?::int[])", (term_ids,))
    blocks: list[tuple[Any, ...]] = []
    tails: list[tuple[int, int, int]] = []
    for term_id in term_ids:
        parts = postings.get(term_id, [])
        if not parts:
            tails.append((term_id, -1, 0))
            continue
        ids, tfs, dls = (np.concatenate([p[i] for p in parts]) for i in range(3))
        keep = _contains(live, ids)
        ids, tfs, dls = ids[keep], tfs[keep], dls[keep]
        order = np.argsort(ids, kind="stable")
        made = _blocks(term_id, 0, ids[order], tfs[order], dls[order])
        blocks += made
        tails.append((term_id, len(made) - 1, made[-1][2] if made else 0))
    _copy_blocks(db, blocks)
    db.execute(
        "UPDATE lexical_terms t SET tail = u.tail, tail_n = u.tail_n, postings = t.df"
        " FROM unnest(?::int[], ?::int[], ?::int[]) AS u (term_id, tail, tail_n)"
        " WHERE t.term_id = u.term_id",
        ([t[0] for t in tails], [t[1] for t in tails], [t[2] for t in tails]),
    )
    db.execute("DELETE FROM lexical_terms WHERE term_id = ANY(?::int[]) AND df = 0", (term_ids,))


def _add(db: Connection, ids: list[int], docs: Sequence[Sequence[str]]) -> None:
    """Insert chunks' documents and append their postings to their terms' blocks."""
    counted = [Counter(doc) for doc in docs]
    lengths = [len(doc) for doc in docs]
    by_term: dict[str, list[tuple[int, int, int]]] = {}
    for chunk_id, counts, length in zip(ids, counted, lengths, strict=True):
        for term, tf in counts.items():
            by_term.setdefault(term, []).append((chunk_id, tf, length))
    names = sorted(by_term)
    known: dict[str, Any] = {}
    if names:
        rows = db.execute(
            "INSERT INTO lexical_terms (term, df, postings, tail, tail_n)"
            " SELECT term, n, 0, -1, 0 FROM unnest(?::text[], ?::bigint[]) AS u (term, n)"
            " ON CONFLICT (term) DO UPDATE SET df = lexical_terms.df + excluded.df"
            " RETURNING term, term_id, tail, tail_n",
            (names, [len(by_term[t]) for t in names]),
        ).fetchall()
        known = {r["term"]: r for r in rows}
    appends: list[tuple[Any, ...]] = []
    blocks: list[tuple[Any, ...]] = []
    tails: list[tuple[int, int, int, int]] = []
    for term in names:
        row, postings = known[term], by_term[term]
        term_id, tail, tail_n = int(row["term_id"]), int(row["tail"]), int(row["tail_n"])
        p_ids, p_tfs, p_dls = (np.array(c, dtype=np.int64) for c in zip(*postings, strict=True))
        room = BLOCK - tail_n if tail >= 0 else 0
        if room > 0:  # the open tail block takes what fits
            head = slice(0, room)
            appends.append(_pack(term_id, tail, p_ids[head], p_tfs[head], p_dls[head]))
            tail_n += min(room, len(p_ids))
            p_ids, p_tfs, p_dls = p_ids[room:], p_tfs[room:], p_dls[room:]
        made = _blocks(term_id, tail + 1, p_ids, p_tfs, p_dls)
        if made:
            blocks += made
            tail, tail_n = made[-1][1], made[-1][2]
        tails.append((term_id, tail, tail_n, len(postings)))
    if appends:
        columns = list(zip(*appends, strict=True))
        db.execute(
            "UPDATE lexical_blocks b SET ids = b.ids || u.ids, tfs = b.tfs || u.tfs,"
            " dls = b.dls || u.dls, n = b.n + u.n, max_tf = greatest(b.max_tf, u.max_tf),"
            " min_dl = least(b.min_dl, u.min_dl)"
            " FROM unnest(?::int[], ?::int[], ?::int[], ?::int[], ?::int[], ?::bytea[],"
            " ?::bytea[], ?::bytea[]) AS u (term_id, block, n, max_tf, min_dl, ids, tfs, dls)"
            " WHERE b.term_id = u.term_id AND b.block = u.block",
            [list(c) for c in columns],
        )
    _copy_blocks(db, blocks)
    if tails:
        db.execute(
            "UPDATE lexical_terms t SET tail = u.tail, tail_n = u.tail_n,"
            " postings = t.postings + u.added"
            " FROM unnest(?::int[], ?::int[], ?::int[], ?::bigint[])"
            " AS u (term_id, tail, tail_n, added) WHERE t.term_id = u.term_id",
            [[t[i] for t in tails] for i in range(4)],
        )
    documents = []
    for chunk_id, counts, length in zip(ids, counted, lengths, strict=True):
        term_ids = np.array([int(known[t]["term_id"]) for t in counts], dtype=_TERMS)
        tfs = np.array(list(counts.values()), dtype=_COUNTS)
        documents.append((chunk_id, length, term_ids.tobytes(), tfs.tobytes()))
    copy = getattr(db, "copy_rows", None)
    if copy is not None:
        copy("COPY lexical_documents (chunk_id, dl, terms, tfs) FROM STDIN", documents)
    else:
        db.executemany(
            "INSERT INTO lexical_documents (chunk_id, dl, terms, tfs) VALUES (?, ?, ?, ?)",
            documents,
        )
    db.execute(
        "UPDATE lexical_stats SET documents = documents + ?, tokens = tokens + ?,"
        " last_chunk = greatest(last_chunk, ?) WHERE id = 1",
        (len(ids), sum(lengths), max(ids)),
    )


def _pack(
    term_id: int, block: int, ids: np.ndarray, tfs: np.ndarray, dls: np.ndarray
) -> tuple[Any, ...]:
    """A block row: (term_id, block, n, max_tf, min_dl, ids, tfs, dls)."""
    return (
        term_id,
        block,
        len(ids),
        int(tfs.max()),
        int(dls.min()),
        ids.astype(_IDS).tobytes(),
        tfs.astype(_COUNTS).tobytes(),
        dls.astype(_COUNTS).tobytes(),
    )


def _blocks(
    term_id: int, first: int, ids: np.ndarray, tfs: np.ndarray, dls: np.ndarray
) -> list[tuple[Any, ...]]:
    """Postings cut into full blocks (the last one partial), numbered from ``first``."""
    return [
        _pack(term_id, first + n, ids[s : s + BLOCK], tfs[s : s + BLOCK], dls[s : s + BLOCK])
        for n, s in enumerate(range(0, len(ids), BLOCK))
    ]


def _copy_blocks(db: Connection, blocks: list[tuple[Any, ...]]) -> None:
    if not blocks:
        return
    copy = getattr(db, "copy_rows", None)
    if copy is not None:
        copy(
            "COPY lexical_blocks (term_id, block, n, max_tf, min_dl, ids, tfs, dls) FROM STDIN",
            blocks,
        )
    else:
        db.executemany(
            "INSERT INTO lexical_blocks (term_id, block, n, max_tf, min_dl, ids, tfs, dls)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            blocks,
        )


def _unpack(row: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return (
        np.frombuffer(row["ids"], dtype=_IDS).astype(np.int64),
        np.frombuffer(row["tfs"], dtype=_COUNTS).astype(np.int64),
        np.frombuffer(row["dls"], dtype=_COUNTS).astype(np.int64),
    )


def _contains(sorted_values: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Which ``values`` are in the sorted array (a binary search each)."""
    if not len(sorted_values):
        return np.zeros(len(values), dtype=bool)
    at = np.minimum(np.searchsorted(sorted_values, values), len(sorted_values) - 1)
    return sorted_values[at] == values


def reconcile(db: Connection, chunk_texts: Any) -> int:
    """Bring the tables in line with the chunks table, inside a write transaction: chunks gone
    are removed, chunks missing are tokenized and added. ``chunk_texts(ids)`` gives the texts
    of chunk ids. Returns the chunks added or removed. Cheap when nothing differs: two counts
    and two maxima are compared first."""
    row = db.execute(
        "SELECT (SELECT count(*) FROM chunks) AS chunks,"
        " (SELECT coalesce(max(id), 0) FROM chunks) AS last_chunk,"
        " (SELECT documents FROM lexical_stats) AS documents,"
        " (SELECT last_chunk FROM lexical_stats) AS last_indexed,"
        " (SELECT count(*) FROM lexical_documents) AS indexed,"
        " (SELECT coalesce(max(chunk_id), 0) FROM lexical_documents) AS last_document"
    ).fetchone()
    if row["chunks"] == row["documents"] == row["indexed"] and (
        row["last_chunk"] == row["last_document"]
    ):
        return 0
    stale = _ids(
        db,
        "SELECT chunk_id AS id FROM lexical_documents d"
        " WHERE NOT EXISTS (SELECT 1 FROM chunks c WHERE c.id = d.chunk_id)",
    )
    if stale:
        _remove(db, stale)
    missing = _ids(
        db,
        "SELECT id FROM chunks c WHERE NOT EXISTS"
        " (SELECT 1 FROM lexical_documents d WHERE d.chunk_id = c.id) ORDER BY id",
    )
    if missing and missing[0] <= row["last_indexed"]:
        # A chunk id indexed before may still have dead postings in blocks (a hand-edited
        # table): adding it again would count them twice. Everything is refilled instead.
        db.execute("TRUNCATE lexical_terms, lexical_blocks, lexical_documents RESTART IDENTITY")
        db.execute("UPDATE lexical_stats SET documents = 0, tokens = 0, last_chunk = 0")
        missing = _ids(db, "SELECT id FROM chunks ORDER BY id")
    for start in range(0, len(missing), FILL_BATCH):
        batch = missing[start : start + FILL_BATCH]
        texts: dict[int, str] = chunk_texts(batch)
        found = [i for i in batch if i in texts]
        if found:
            _add(db, found, tokenize([texts[i] for i in found]))
    return len(stale) + len(missing)


def _ids(db: Connection, query: str, parameters: Sequence[Any] = ()) -> list[int]:
    """The ``id`` column of a query's rows."""
    return [int(r["id"]) for r in db.execute(query, parameters).fetchall()]


@contextmanager
def _snapshot(db: Connection) -> Iterator[Connection]:
    """The search's statements in one committed state (or the caller's transaction's)."""
    if db.in_transaction:
        yield db
        return
    db.execute(db.dialect.begin_read)
    try:
        yield db
    finally:
        db.execute("COMMIT")


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
        with _snapshot(self._connection()) as db:
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
        return [
            math.log(1 + (documents - df + 0.5) / (df + 0.5))
            for df in (frequencies.get(t, 0) for t in terms)
        ]


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
            held = _contains(candidates, more_ids)
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
        ids = np.frombuffer(b"".join(id_bytes), dtype=_IDS).astype(np.int64)
        tfs = np.frombuffer(b"".join(tf_bytes), dtype=_COUNTS).astype(np.float64)
        dls = np.frombuffer(b"".join(dl_bytes), dtype=_COUNTS).astype(np.float64)
        term = np.repeat(term_ids, [len(b) // _IDS.itemsize for b in id_bytes])
        weights = self.query_weights[np.searchsorted(self.query_ids, term)]
        keep = slice(None) if self.allowed is None else _contains(self.allowed, ids)
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
        terms = np.frombuffer(b"".join(term_bytes), dtype=_TERMS).astype(np.int64)
        tfs = np.frombuffer(b"".join(tf_bytes), dtype=_COUNTS).astype(np.float64)
        document = np.repeat(np.arange(len(rows)), [len(b) // _TERMS.itemsize for b in term_bytes])
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
