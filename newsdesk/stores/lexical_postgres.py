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
server) and opens new blocks past ``BLOCK``; it touches one row per term it holds.
Searching them is lexical_postgres_search.py's job."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from newsdesk.stores.connections import Connection
from newsdesk.stores.lexical import tokenize

# Postings per block: a block row stays under PostgreSQL's 8 kB page without TOAST (16 bytes
# a posting), and a term's headers are 1/BLOCK of its postings.
BLOCK = 128
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

ID_DTYPE, COUNT_DTYPE, TERM_DTYPE = np.dtype("<i8"), np.dtype("<i4"), np.dtype("<i4")


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
    terms = np.concatenate([np.frombuffer(r["terms"], dtype=TERM_DTYPE) for r in gone])
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
            select_ids(
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
        keep = contains(live, ids)
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
        term_ids = np.array([int(known[t]["term_id"]) for t in counts], dtype=TERM_DTYPE)
        tfs = np.array(list(counts.values()), dtype=COUNT_DTYPE)
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
        ids.astype(ID_DTYPE).tobytes(),
        tfs.astype(COUNT_DTYPE).tobytes(),
        dls.astype(COUNT_DTYPE).tobytes(),
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
        np.frombuffer(row["ids"], dtype=ID_DTYPE).astype(np.int64),
        np.frombuffer(row["tfs"], dtype=COUNT_DTYPE).astype(np.int64),
        np.frombuffer(row["dls"], dtype=COUNT_DTYPE).astype(np.int64),
    )


def contains(sorted_values: np.ndarray, values: np.ndarray) -> np.ndarray:
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
    stale = select_ids(
        db,
        "SELECT chunk_id AS id FROM lexical_documents d"
        " WHERE NOT EXISTS (SELECT 1 FROM chunks c WHERE c.id = d.chunk_id)",
    )
    if stale:
        _remove(db, stale)
    missing = select_ids(
        db,
        "SELECT id FROM chunks c WHERE NOT EXISTS"
        " (SELECT 1 FROM lexical_documents d WHERE d.chunk_id = c.id) ORDER BY id",
    )
    if missing and missing[0] <= row["last_indexed"]:
        # A chunk id indexed before may still have dead postings in blocks (a hand-edited
        # table): adding it again would count them twice. Everything is refilled instead.
        db.execute("TRUNCATE lexical_terms, lexical_blocks, lexical_documents RESTART IDENTITY")
        db.execute("UPDATE lexical_stats SET documents = 0, tokens = 0, last_chunk = 0")
        missing = select_ids(db, "SELECT id FROM chunks ORDER BY id")
    for start in range(0, len(missing), FILL_BATCH):
        batch = missing[start : start + FILL_BATCH]
        texts: dict[int, str] = chunk_texts(batch)
        found = [i for i in batch if i in texts]
        if found:
            _add(db, found, tokenize([texts[i] for i in found]))
    return len(stale) + len(missing)


def select_ids(db: Connection, query: str, parameters: Sequence[Any] = ()) -> list[int]:
    """The ``id`` column of a query's rows."""
    return [int(r["id"]) for r in db.execute(query, parameters).fetchall()]
