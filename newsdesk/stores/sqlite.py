"""The article store: the source of truth for articles, chunks and their vectors.

SQLite in the data directory by default; PostgreSQL when ``NEWSDESK_DATABASE_URL`` names one
(newsdesk/stores/connections.py: one implementation, the dialect's differences kept there).
One writer at a time (a lock in the process; SQLite's write lock or a PostgreSQL advisory lock
between processes), readers on per-thread connections. SQLite keeps a WAL journal with
``synchronous=FULL`` so that a write acknowledged to a caller survives a crash or ``kill -9``;
PostgreSQL's commits are durable by default. On PostgreSQL each write also records its chunk
changes in ``change_log``, so that other processes sharing the database can follow them."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from newsdesk.domain import Article, ArticleSummary, ChunkInfo, SearchFilters
from newsdesk.stores import groups, lexical_postgres
from newsdesk.stores.connections import (
    CHANGES_CHANNEL,
    Connection,
    DatabaseTarget,
    connect,
    is_postgres,
    read_snapshot,
)
from newsdesk.stores.groups import Fingerprint, GroupRules
from newsdesk.stores.lexical_postgres_search import PostgresLexicalView
from newsdesk.stores.migrations import migrate
from newsdesk.stores.transactions import immediate_transaction

# How often (in writes) the change log is pruned to its newest `change_log_keep` writes.
PRUNE_EVERY = 1000

_ARTICLE_COLUMNS = (
    "a.id, a.title, a.url, a.source, a.author, a.published_at, a.metadata, a.content_hash, "
    "a.ingested_at, a.updated_at,"
    " (SELECT COUNT(*) FROM chunks c WHERE c.article_id = a.id) AS chunk_count"
)
# A chunk's text is a slice of its article's text, cut in Python from the article read once:
# substr(a.text, …) in SQL reads the whole article again for every chunk, which is quadratic
# in the article's length (1.7 s for the 5,000 chunks of a 1,000,000-character article).


@dataclass(frozen=True, slots=True)
class ChunkWrite:
    seq: int
    char_start: int
    char_end: int
    token_count: int
    embedding: np.ndarray


@dataclass(slots=True)
class ArticleWrite:
    """One article to upsert. ``chunks`` is None when only the fields changed, not the text."""

    id: str
    title: str
    text: str
    url: str | None
    source: str | None
    author: str | None
    published_at: datetime | None
    metadata: dict[str, Any]
    content_hash: str
    record_hash: str
    chunks: list[ChunkWrite] | None
    # Duplicate detection's view of the text (index/duplicates.py); None when the text did
    # not change, or for an article grouped on its own.
    fingerprint: Fingerprint | None = None


@dataclass(frozen=True, slots=True)
class StoredHashes:
    content_hash: str
    record_hash: str


@dataclass(frozen=True, slots=True)
class WriteResult:
    generation: int
    removed_chunk_ids: np.ndarray
    added_chunk_ids: np.ndarray
    added_vectors: np.ndarray
    # The added chunks' texts, in the same order: what the lexical index appends at once.
    added_texts: tuple[str, ...] = ()
    # Chunks kept as they were whose article's fields (outlet, date…) changed: what a vector
    # store holding those fields for its filters must update.
    relabelled_chunk_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))


@dataclass(frozen=True, slots=True)
class ChunkAttributes:
    """What search filters look at, per chunk: its article's id, outlet and date."""

    article_id: str
    source: str | None
    published_at: datetime | None


@dataclass(frozen=True, slots=True)
class PassageRow:
    chunk_id: int
    article_id: str
    title: str
    url: str | None
    source: str | None
    published_at: datetime | None
    text: str
    char_start: int
    char_end: int
    embedding: np.ndarray
    group_id: int | None = None
    original_id: str | None = None
    carried_by: list[str] = field(default_factory=list)


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment else None


def _moment(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


@dataclass(frozen=True, slots=True)
class Changes:
    """What other processes wrote after a generation, from the change log: their writes in
    commit order, and the generation they bring the indexes to."""

    writes: list[WriteResult]
    generation: int
    # A write changed every chunk's vector (a new embedding model): rebuild, don't replay.
    rebuild: bool = False


class ArticleStore:
    def __init__(self, database: DatabaseTarget, change_log_keep: int = 100_000) -> None:
        # A file (SQLite) or a postgresql:// URL.
        self.database = database
        # The newest writes the change log keeps (PostgreSQL): older ones are pruned.
        self.change_log_keep = change_log_keep
        self.path = Path(database) if not is_postgres(database) else None
        self._write_lock = threading.Lock()
        self._local = threading.local()
        self._all_connections: list[Connection] = []
        self._connections_lock = threading.Lock()
        # How near-duplicates are grouped (set from the settings by the ingestor).
        self.group_rules = GroupRules()
        migrate(self._connection())
        # Whether the database keeps PostgreSQL's lexical tables (see _keeps_lexical).
        self.lexical_tables = False

    # --- connections ---------------------------------------------------------------------
    @property
    def shared(self) -> bool:
        """Whether other processes may write this database (their writes are in the change
        log, for the derived indexes to follow)."""
        return self._connection().dialect.keeps_change_log

    def _connection(self) -> Connection:
        db: Connection | None = getattr(self._local, "db", None)
        if db is not None and getattr(db, "broken", False):
            # A PostgreSQL connection lost (a server restart): this thread opens another.
            db = None
        if db is None:
            db = connect(self.database)
            self._local.db = db
            with self._connections_lock:
                self._all_connections.append(db)
        return db

    def close(self) -> None:
        with self._connections_lock:
            for db in self._all_connections:
                db.close()
            self._all_connections.clear()
        self._local = threading.local()

    def _snapshot(self) -> AbstractContextManager[Connection]:
        """A read transaction: the statements in the block see one state of the database."""
        return read_snapshot(self._connection())

    def read_transaction(self) -> AbstractContextManager[Connection]:
        """Reads on this thread inside the block see one state of the database, however
        many writes commit meanwhile (WAL): what a rebuild beside the writers reads from."""
        return self._snapshot()

    @contextmanager
    def _transaction(self) -> Iterator[Connection]:
        """One write transaction under the writer lock. A block that finds nothing to do
        returns before its first write, so its commit changes nothing."""
        with self._write_lock, immediate_transaction(self._connection()) as db:
            yield db

    # --- state ---------------------------------------------------------------------------
    def generation(self) -> int:
        return int(self.get_state("generation") or 0)

    def get_state(self, key: str) -> str | None:
        return _read_state(self._connection(), key)

    def set_state(self, key: str, value: str) -> None:
        with self._write_lock:
            _write_state(self._connection(), {key: value})

    # --- writes --------------------------------------------------------------------------
    def stored_hashes(self, ids: Sequence[str]) -> dict[str, StoredHashes]:
        query = "SELECT id, content_hash, record_hash FROM articles WHERE id IN ({marks})"
        return {
            row["id"]: StoredHashes(row["content_hash"], row["record_hash"])
            for row in self._select_in(query, ids)
        }

    def write(self, articles: Sequence[ArticleWrite]) -> WriteResult:
        """Upsert articles (and replace the chunks of those whose text changed) atomically."""
        now = _iso(datetime.now(UTC))
        removed: list[int] = []
        added: list[int] = []
        vectors: list[np.ndarray] = []
        texts: list[str] = []
        relabelled: list[int] = []
        with self._transaction() as db:
            for article in articles:
                db.execute(
                    "INSERT INTO articles (id, title, text, url, source, author, published_at,"
                    " metadata, content_hash, record_hash, ingested_at, updated_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT(id) DO UPDATE SET title = excluded.title,"
                    " text = excluded.text, url = excluded.url, source = excluded.source,"
                    " author = excluded.author, published_at = excluded.published_at,"
                    " metadata = excluded.metadata, content_hash = excluded.content_hash,"
                    " record_hash = excluded.record_hash, updated_at = excluded.updated_at",
                    (
                        article.id,
                        article.title,
                        article.text,
                        article.url,
                        article.source,
                        article.author,
                        _iso(article.published_at),
                        json.dumps(article.metadata, ensure_ascii=False, sort_keys=True),
                        article.content_hash,
                        article.record_hash,
                        now,
                        now,
                    ),
                )
                # Grouping commits with the article: a changed text is regrouped from scratch
                # (the old group may split); changed fields may change the group's original.
                # The summaries citing the old group and the new one go with it (stale
                # `carried_by` and corroboration otherwise).
                _forget_group_summaries(db, article.id)
                if article.chunks is None and article.fingerprint is None:
                    groups.refresh(db, article.id, self.group_rules)
                else:
                    groups.detach(db, article.id, self.group_rules)
                    groups.place(db, article.id, article.fingerprint, self.group_rules)
                _forget_group_summaries(db, article.id)
                if article.chunks is None:
                    relabelled += _chunk_ids(db, article.id)
                    continue
                _forget_summaries(db, article.id)
                removed += _delete_chunks(db, article.id)
                for chunk in article.chunks:
                    vector = np.ascontiguousarray(chunk.embedding, dtype=np.float32)
                    inserted = db.execute(
                        "INSERT INTO chunks (article_id, seq, char_start, char_end,"
                        " token_count, embedding) VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
                        (
                            article.id,
                            chunk.seq,
                            chunk.char_start,
                            chunk.char_end,
                            chunk.token_count,
                            vector.tobytes(),
                        ),
                    ).fetchone()
                    added.append(inserted["id"])
                    vectors.append(vector)
                    texts.append(article.text[chunk.char_start : chunk.char_end])
            if self._keeps_lexical(db):
                lexical_postgres.apply_write(db, removed, added, texts)
            generation = self._bump_generation(db)
            _log_changes(db, generation, removed, added, self.change_log_keep)
        return WriteResult(
            generation=generation,
            removed_chunk_ids=np.array(removed, dtype=np.int64),
            added_chunk_ids=np.array(added, dtype=np.int64),
            added_vectors=np.vstack(vectors) if vectors else np.zeros((0, 0), dtype=np.float32),
            added_texts=tuple(texts),
            relabelled_chunk_ids=np.array(relabelled, dtype=np.int64),
        )

    def delete(self, article_id: str) -> WriteResult | None:
        """Remove an article and its chunks; None when there was no such article."""
        with self._transaction() as db:
            if db.execute("SELECT 1 FROM articles WHERE id = ?", (article_id,)).fetchone() is None:
                return None
            removed = _delete_chunks(db, article_id)
            _forget_group_summaries(db, article_id)
            groups.detach(db, article_id, self.group_rules)
            db.execute("DELETE FROM articles WHERE id = ?", (article_id,))
            _forget_summaries(db, article_id)
            if self._keeps_lexical(db):
                lexical_postgres.apply_write(db, removed, [], [])
            generation = self._bump_generation(db)
            _log_changes(db, generation, removed, [], self.change_log_keep)
        return WriteResult(
            generation=generation,
            removed_chunk_ids=np.array(removed, dtype=np.int64),
            added_chunk_ids=np.zeros(0, dtype=np.int64),
            added_vectors=np.zeros((0, 0), dtype=np.float32),
        )

    def replace_embeddings(self, chunk_ids: np.ndarray, vectors: np.ndarray) -> int:
        """Store new vectors for existing chunks (after a model change); bumps the generation."""
        with self._transaction() as db:
            db.executemany(
                "UPDATE chunks SET embedding = ? WHERE id = ?",
                [
                    (np.ascontiguousarray(v, dtype=np.float32).tobytes(), int(i))
                    for i, v in zip(chunk_ids, vectors, strict=True)
                ],
            )
            generation = self._bump_generation(db)
            if db.dialect.keeps_change_log:
                db.execute(
                    "INSERT INTO change_log (generation, op) VALUES (?, 'rebuild')", (generation,)
                )
        return generation

    # --- lexical search in PostgreSQL (lexical_store=postgres) -----------------------------
    def keep_lexical_tables(self) -> int:
        """Create PostgreSQL's lexical tables if missing and bring them in line with the
        chunks (the chunks written while no process kept them, or all of them the first
        time), then maintain them in every write. Returns the chunks added or removed."""
        if not self.shared:
            raise ValueError("lexical tables need the article store on PostgreSQL")
        with self._transaction() as db:
            lexical_postgres.create_tables(db)
            changed = lexical_postgres.reconcile(db, self._chunk_texts)
        self.lexical_tables = True
        return changed

    def _keeps_lexical(self, db: Connection) -> bool:
        """Whether this write must maintain PostgreSQL's lexical tables: once any process
        made them (lexical_store=postgres), every write does, in its own transaction,
        whatever this process's lexical_store, so that processes sharing the database never
        disagree. Looked up under the writers' lock (the tables are made under it too) until
        found: one cheap query per write on a database without them."""
        if not self.lexical_tables and db.dialect.keeps_change_log:
            self.lexical_tables = lexical_postgres.tables_present(db)
        return self.lexical_tables

    def lexical_view(self) -> PostgresLexicalView:
        """Searches of the lexical tables, on the calling thread's connection."""
        return PostgresLexicalView(self._connection, _article_conditions)

    def _chunk_texts(self, chunk_ids: Sequence[int]) -> dict[int, str]:
        """The text of each of these chunks that still exists."""
        return self._chunk_rows(chunk_ids)[1]

    def _chunk_rows(
        self, chunk_ids: Sequence[int], columns: str = ""
    ) -> tuple[list[Any], dict[int, str]]:
        """The rows of these chunks that still exist (id, article id, offsets and the extra
        ``columns``), and each one's text by id."""
        query = (
            f"SELECT id, article_id, char_start, char_end{columns} FROM chunks"
            " WHERE id IN ({marks})"
        )
        rows = list(self._select_in(query, [int(i) for i in chunk_ids]))
        texts = self._article_texts({r["article_id"] for r in rows})
        return rows, {
            r["id"]: texts[r["article_id"]][r["char_start"] : r["char_end"]] for r in rows
        }

    # --- re-embedding beside the live vectors (index/reindex.py) ----------------------------
    def unstaged_chunks(
        self, model_id: str, after_id: int, limit: int
    ) -> tuple[np.ndarray, list[str]]:
        """(ids, texts) of up to ``limit`` chunks after ``after_id`` (in id order) that have
        no vector staged for ``model_id``."""
        with self._snapshot() as db:
            rows = db.execute(
                "SELECT c.id, c.article_id, c.char_start, c.char_end FROM chunks c"
                " WHERE c.id > ? AND NOT EXISTS (SELECT 1 FROM staged_embeddings s"
                " WHERE s.chunk_id = c.id AND s.model_id = ?) ORDER BY c.id LIMIT ?",
                (after_id, model_id, limit),
            ).fetchall()
            texts = self._article_texts({r["article_id"] for r in rows})
        ids = np.array([r["id"] for r in rows], dtype=np.int64)
        return ids, [texts[r["article_id"]][r["char_start"] : r["char_end"]] for r in rows]

    def all_chunk_ids(self) -> np.ndarray:
        """Every chunk id, ascending."""
        rows = self._connection().execute("SELECT id FROM chunks ORDER BY id")
        return np.fromiter((r["id"] for r in rows), dtype=np.int64)

    def stage_embeddings(self, model_id: str, chunk_ids: np.ndarray, vectors: np.ndarray) -> None:
        """Keep ``model_id``'s vectors of these chunks beside the live ones (chunks deleted
        meanwhile are skipped). Searches do not see them: the generation stays."""
        with self._transaction() as db:
            db.executemany(
                "INSERT INTO staged_embeddings (chunk_id, model_id, embedding)"
                " SELECT ?, ?, ? WHERE EXISTS (SELECT 1 FROM chunks WHERE id = ?)"
                " ON CONFLICT (chunk_id, model_id) DO UPDATE SET embedding = excluded.embedding",
                [
                    (int(i), model_id, np.ascontiguousarray(v, dtype=np.float32).tobytes(), int(i))
                    for i, v in zip(chunk_ids, vectors, strict=True)
                ],
            )

    def staged_count(self, model_id: str) -> int:
        return self._count(
            "SELECT COUNT(*) AS n FROM staged_embeddings WHERE model_id = ?", (model_id,)
        )

    def drop_staged(self, keep_model_id: str | None = None) -> None:
        """Forget the staged vectors of every model but ``keep_model_id``."""
        with self._transaction() as db:
            if keep_model_id is None:
                db.execute("DELETE FROM staged_embeddings")
            else:
                db.execute("DELETE FROM staged_embeddings WHERE model_id <> ?", (keep_model_id,))

    def iter_staged_vectors(
        self, model_id: str, batch_size: int = 10_000
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """``model_id``'s staged (chunk ids, vectors) in id order, in batches: what the
        vector index built beside the live one is made of."""
        last_id = -1
        db = self._connection()
        while True:
            rows = db.execute(
                "SELECT chunk_id, embedding FROM staged_embeddings"
                " WHERE model_id = ? AND chunk_id > ? ORDER BY chunk_id LIMIT ?",
                (model_id, last_id, batch_size),
            ).fetchall()
            if not rows:
                return
            last_id = rows[-1]["chunk_id"]
            ids = np.array([r["chunk_id"] for r in rows], dtype=np.int64)
            yield ids, _vectors([r["embedding"] for r in rows])

    def switch_embeddings(self, model_id: str, state: dict[str, str]) -> int:
        """Make ``model_id``'s staged vectors the live ones, in one transaction with the
        ``state`` entries that record the switch; the new generation. Raises ValueError
        (and changes nothing) if a chunk has no staged vector."""
        with self._transaction() as db:
            missing = db.execute(
                "SELECT COUNT(*) AS n FROM chunks c WHERE NOT EXISTS (SELECT 1 FROM"
                " staged_embeddings s WHERE s.chunk_id = c.id AND s.model_id = ?)",
                (model_id,),
            ).fetchone()["n"]
            if missing:
                raise ValueError(f"{missing} chunks have no vector staged for {model_id}")
            db.execute(
                "UPDATE chunks SET embedding = (SELECT s.embedding FROM staged_embeddings s"
                " WHERE s.chunk_id = chunks.id AND s.model_id = ?)",
                (model_id,),
            )
            db.execute("DELETE FROM staged_embeddings")
            _write_state(db, state)
            generation = self._bump_generation(db)
            if db.dialect.keeps_change_log:  # other replicas rebuild from the new vectors
                db.execute(
                    "INSERT INTO change_log (generation, op) VALUES (?, 'rebuild')", (generation,)
                )
            return generation

    @staticmethod
    def _bump_generation(db: Connection) -> int:
        row = db.execute(
            "UPDATE state SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'"
            " RETURNING value"
        ).fetchone()
        return int(row["value"])

    # --- following other processes' writes (PostgreSQL) -----------------------------------
    def changes_after(self, generation: int, max_rows: int = 20_000) -> Changes:
        """The writes committed after ``generation``, as one state of the database: each as
        the writer's own ``WriteResult`` (the added chunks' vectors and texts read now; a
        chunk deleted since is left out, and its later removal finds nothing to remove).
        At most about ``max_rows`` log rows at a time: call again until ``generation`` is
        the store's."""
        with self._snapshot() as db:
            current = self.generation()
            if generation < _pruned_through(db):  # the writes since are no longer all logged
                return Changes([], current, rebuild=True)
            rows = db.execute(
                "SELECT generation, chunk_id, op FROM change_log"
                " WHERE generation > ? AND generation <= ? ORDER BY generation LIMIT ?",
                (generation, current, max_rows + 1),
            ).fetchall()
            if len(rows) > max_rows:
                # Stop before the last generation read: its rows may go on past the limit.
                # Every row of the generations before it was read (rows come in order).
                last = rows[-1]["generation"]
                rows = [r for r in rows if r["generation"] < last]
                current = last - 1
                if not rows:  # one write larger than the limit: read it whole
                    current = last
                    rows = db.execute(
                        "SELECT generation, chunk_id, op FROM change_log WHERE generation = ?",
                        (last,),
                    ).fetchall()
            if any(r["op"] == "rebuild" for r in rows):
                return Changes([], current, rebuild=True)
            added = [int(r["chunk_id"]) for r in rows if r["op"] == "add"]
            found = self._chunk_contents(added)
        writes: list[WriteResult] = []
        for number in sorted({int(r["generation"]) for r in rows}):
            mine = [r for r in rows if r["generation"] == number]
            ids = [int(r["chunk_id"]) for r in mine if r["op"] == "add"]
            ids = [i for i in ids if i in found]
            writes.append(
                WriteResult(
                    generation=number,
                    removed_chunk_ids=np.array(
                        [r["chunk_id"] for r in mine if r["op"] == "remove"], dtype=np.int64
                    ),
                    added_chunk_ids=np.array(ids, dtype=np.int64),
                    added_vectors=np.vstack([found[i][0] for i in ids])
                    if ids
                    else np.zeros((0, 0), dtype=np.float32),
                    added_texts=tuple(found[i][1] for i in ids),
                )
            )
        return Changes(writes, current)

    def replay_gap(self, generation: int) -> str | None:
        """Why the change log cannot bring indexes at ``generation`` up to date (None if it
        can): a write since replaced every vector (a re-embedding), or the entries since
        were pruned."""
        db = self._connection()
        pruned = _pruned_through(db)
        if generation < pruned:
            return f"the change log was pruned through generation {pruned}"
        row = db.execute(
            "SELECT 1 FROM change_log WHERE generation > ? AND op = 'rebuild' LIMIT 1",
            (generation,),
        ).fetchone()
        return "the collection was re-embedded since" if row is not None else None

    def _chunk_contents(self, chunk_ids: Sequence[int]) -> dict[int, tuple[np.ndarray, str]]:
        """(vector, text) of each of these chunks that still exists."""
        rows, texts = self._chunk_rows(chunk_ids, ", embedding")
        return {
            r["id"]: (np.frombuffer(r["embedding"], dtype=np.float32), texts[r["id"]]) for r in rows
        }

    # --- summary cache ---------------------------------------------------------------------
    def cached_summary(self, key: str) -> str | None:
        row = (
            self._connection()
            .execute("SELECT value FROM summary_cache WHERE key = ?", (key,))
            .fetchone()
        )
        return row["value"] if row else None

    def cache_summary(self, key: str, article_ids: Sequence[str], value: str) -> None:
        """Store a summary unless one of its articles was deleted meanwhile."""
        with self._transaction() as db:
            present = {
                row["id"]
                for row in self._select_in(
                    "SELECT id FROM articles WHERE id IN ({marks})", list(article_ids)
                )
            }
            if present != set(article_ids):
                return
            db.execute(
                "INSERT INTO summary_cache (key, value, created_at) VALUES (?, ?, ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value,"
                " created_at = excluded.created_at",
                (key, value, _iso(datetime.now(UTC))),
            )
            db.executemany(
                "INSERT INTO summary_cache_articles (key, article_id) VALUES (?, ?)"
                " ON CONFLICT DO NOTHING",
                [(key, article_id) for article_id in article_ids],
            )

    def cached_summary_count(self) -> int:
        return self._count("SELECT COUNT(*) AS n FROM summary_cache")

    # --- reads ---------------------------------------------------------------------------
    def _count(self, query: str, params: Sequence[Any] = ()) -> int:
        """The value of a ``SELECT COUNT(*) AS n …`` query."""
        return int(self._connection().execute(query, params).fetchone()["n"])

    def article_count(self) -> int:
        return self._count("SELECT COUNT(*) AS n FROM articles")

    def chunk_count(self) -> int:
        return self._count("SELECT COUNT(*) AS n FROM chunks")

    def get_article(self, article_id: str) -> Article | None:
        with self._snapshot() as db:
            row = db.execute(
                f"SELECT {_ARTICLE_COLUMNS}, a.text FROM articles a WHERE a.id = ?", (article_id,)
            ).fetchone()
            if row is None:
                return None
            text = row["text"]
            chunks = [
                ChunkInfo(
                    chunk_id=r["id"],
                    seq=r["seq"],
                    char_start=r["char_start"],
                    char_end=r["char_end"],
                    text=text[r["char_start"] : r["char_end"]],
                )
                for r in db.execute(
                    "SELECT c.id, c.seq, c.char_start, c.char_end FROM chunks c"
                    " WHERE c.article_id = ? ORDER BY c.seq",
                    (article_id,),
                )
            ]
            group = groups.describe(db, article_id)
        return Article(**_summary_fields(row), text=text, chunks=chunks, group=group)

    def list_articles(
        self, filters: SearchFilters, *, limit: int, offset: int
    ) -> tuple[list[ArticleSummary], int]:
        where, params = _article_conditions(filters)
        db = self._connection()
        total = self._count(f"SELECT COUNT(*) AS n FROM articles a {where}", params)
        rows = db.execute(
            f"SELECT {_ARTICLE_COLUMNS} FROM articles a {where}"
            " ORDER BY a.published_at IS NULL, a.published_at DESC, a.id LIMIT ? OFFSET ?",
            [*params, limit, offset],
        ).fetchall()
        return [ArticleSummary(**_summary_fields(row)) for row in rows], total

    def chunk_ids_matching(self, filters: SearchFilters) -> np.ndarray:
        where, params = _article_conditions(filters)
        rows = self._connection().execute(
            f"SELECT c.id FROM chunks c JOIN articles a ON a.id = c.article_id {where}", params
        )
        return np.fromiter((r["id"] for r in rows), dtype=np.int64)

    def passages(self, chunk_ids: Sequence[int]) -> dict[int, PassageRow]:
        found: dict[int, PassageRow] = {}
        query = (
            "SELECT c.id AS chunk_id, a.id AS article_id, a.title, a.url, a.source,"
            " a.published_at, c.char_start, c.char_end, c.embedding, g.id AS group_id,"
            " g.original_id FROM chunks c JOIN articles a ON a.id = c.article_id"
            " LEFT JOIN article_groups m ON m.article_id = a.id"
            " LEFT JOIN duplicate_groups g ON g.id = m.group_id WHERE c.id IN ({marks})"
        )
        with self._snapshot() as db:
            rows = list(self._select_in(query, [int(i) for i in chunk_ids]))
            texts = self._article_texts({r["article_id"] for r in rows})
            outlets = groups.group_outlets(
                db, {r["group_id"] for r in rows if r["group_id"] is not None}
            )
        for r in rows:
            found[r["chunk_id"]] = PassageRow(
                chunk_id=r["chunk_id"],
                article_id=r["article_id"],
                title=r["title"],
                url=r["url"],
                source=r["source"],
                published_at=_moment(r["published_at"]),
                text=texts[r["article_id"]][r["char_start"] : r["char_end"]],
                char_start=r["char_start"],
                char_end=r["char_end"],
                embedding=np.frombuffer(r["embedding"], dtype=np.float32),
                group_id=r["group_id"],
                original_id=r["original_id"],
                carried_by=outlets.get(r["group_id"], []),
            )
        return found

    def chunk_attributes(self, chunk_ids: Sequence[int]) -> dict[int, ChunkAttributes]:
        """The filtered-on fields of each chunk's article (chunks not stored are left out)."""
        query = (
            "SELECT c.id, a.id AS article_id, a.source, a.published_at FROM chunks c"
            " JOIN articles a ON a.id = c.article_id WHERE c.id IN ({marks})"
        )
        with self._snapshot():
            return {
                r["id"]: ChunkAttributes(r["article_id"], r["source"], _moment(r["published_at"]))
                for r in self._select_in(query, [int(i) for i in chunk_ids])
            }

    def chunk_groups(self, chunk_ids: Sequence[int]) -> dict[int, tuple[str, int | None]]:
        """(article id, group id) of each chunk: what collapsing copies in search reads."""
        dialect = self._connection().dialect
        # From the covering indexes, not the tables' wide rows (see migrations).
        query = (
            f"SELECT c.id, c.article_id, m.group_id FROM chunks c"
            f"{dialect.indexed_by('chunks_article_of')}"
            f" LEFT JOIN article_groups m{dialect.indexed_by('article_groups_group_of')}"
            " ON m.article_id = c.article_id WHERE c.id IN ({marks})"
        )
        with self._snapshot():
            return {
                r["id"]: (r["article_id"], r["group_id"])
                for r in self._select_in(query, [int(i) for i in chunk_ids])
            }

    # --- duplicate groups ------------------------------------------------------------------
    def ungrouped_article_ids(self) -> list[str]:
        """Ids of the articles in no near-duplicate group yet, oldest first."""
        with self._snapshot() as db:
            return groups.ungrouped_ids(db)

    def article_texts(self, article_ids: Sequence[str]) -> list[tuple[str, str]]:
        """(id, text) of these articles, in the order given; deleted ones are left out."""
        with self._snapshot():
            texts = self._article_texts(set(article_ids))
        return [(i, texts[i]) for i in article_ids if i in texts]

    def place_in_groups(self, fingerprints: Sequence[tuple[str, Fingerprint | None]]) -> None:
        """Group articles stored without grouping (one transaction); skips any that were
        grouped or deleted meanwhile."""
        with self._transaction() as db:
            for article_id, fingerprint in fingerprints:
                exists = db.execute(
                    "SELECT 1 FROM articles a LEFT JOIN article_groups m"
                    " ON m.article_id = a.id WHERE a.id = ? AND m.article_id IS NULL",
                    (article_id,),
                ).fetchone()
                if exists:
                    groups.place(db, article_id, fingerprint, self.group_rules)
                    _forget_group_summaries(db, article_id)

    def clear_groups(self) -> None:
        """Forget all groups (their parameters changed); ungrouped_articles() lists all."""
        with self._transaction() as db:
            groups.clear(db)

    def article_lengths(self, article_ids: Sequence[str]) -> dict[str, int]:
        """Characters of each stored article's text (for cost caps, before reading any)."""
        query = "SELECT id, length(text) AS n FROM articles WHERE id IN ({marks})"
        return {row["id"]: row["n"] for row in self._select_in(query, list(article_ids))}

    def _article_texts(self, article_ids: set[str]) -> dict[str, str]:
        """The texts of these articles, each read once."""
        query = "SELECT id, text FROM articles WHERE id IN ({marks})"
        return {row["id"]: row["text"] for row in self._select_in(query, sorted(article_ids))}

    def _select_in(self, query: str, values: Sequence[Any]) -> Iterator[Any]:
        """Run ``query`` (with a ``{marks}`` placeholder for an IN list) over ``values`` in
        batches, staying under SQLite's limit on bound parameters."""
        db = self._connection()
        for start in range(0, len(values), 500):
            batch = list(values[start : start + 500])
            yield from db.execute(query.format(marks=",".join("?" * len(batch))), batch)

    def iter_versions(self, batch_size: int = 10_000) -> Iterator[list[tuple[str, str]]]:
        """(id, content hash) of every stored article, in id order, in batches: what a
        distributed ingest tells its workers so that they skip what is already stored."""
        last_id = ""
        db = self._connection()
        while True:
            rows = db.execute(
                "SELECT id, content_hash FROM articles WHERE id > ? ORDER BY id LIMIT ?",
                (last_id, batch_size),
            ).fetchall()
            if not rows:
                return
            last_id = rows[-1]["id"]
            yield [(r["id"], r["content_hash"]) for r in rows]

    def iter_vectors(self, batch_size: int = 10_000) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """All (chunk ids, vectors) in id order, in batches: what derived indexes rebuild from."""
        yield from self._iter_chunks("c.embedding", batch_size, _vectors)

    def iter_texts(self, batch_size: int = 10_000) -> Iterator[tuple[np.ndarray, list[str]]]:
        """All (chunk ids, chunk texts) in id order, in batches; each batch reads the text of
        each of its articles once."""
        last_id = -1
        while True:
            with self._snapshot() as db:
                rows = db.execute(
                    "SELECT c.id, c.article_id, c.char_start, c.char_end FROM chunks c"
                    " WHERE c.id > ? ORDER BY c.id LIMIT ?",
                    (last_id, batch_size),
                ).fetchall()
                texts = self._article_texts({r["article_id"] for r in rows})
            if not rows:
                return
            last_id = rows[-1]["id"]
            rows = [r for r in rows if r["article_id"] in texts]
            ids = np.array([r["id"] for r in rows], dtype=np.int64)
            yield ids, [texts[r["article_id"]][r["char_start"] : r["char_end"]] for r in rows]

    def _iter_chunks(self, column: str, batch_size: int, convert: Any) -> Iterator[Any]:
        last_id = -1
        db = self._connection()
        while True:
            rows = db.execute(
                f"SELECT c.id, {column} AS value FROM chunks c"
                " JOIN articles a ON a.id = c.article_id WHERE c.id > ? ORDER BY c.id LIMIT ?",
                (last_id, batch_size),
            ).fetchall()
            if not rows:
                return
            last_id = rows[-1]["id"]
            ids = np.array([r["id"] for r in rows], dtype=np.int64)
            yield ids, convert([r["value"] for r in rows])


def _log_changes(
    db: Connection, generation: int, removed: list[int], added: list[int], keep: int
) -> None:
    """Record a write's chunk changes for the other processes sharing the database (and wake
    their followers at commit); nothing where no other process can write (SQLite). Every
    ``PRUNE_EVERY`` writes (or ``keep``, if fewer), entries older than the newest ``keep``
    writes are deleted in the same transaction, and the state records how far: a process
    further behind rebuilds rather than replays (``ArticleStore.replay_gap``)."""
    if not db.dialect.keeps_change_log:
        return
    db.executemany(
        "INSERT INTO change_log (generation, chunk_id, op) VALUES (?, ?, ?)",
        [(generation, i, "remove") for i in removed] + [(generation, i, "add") for i in added],
    )
    if generation > keep and generation % min(PRUNE_EVERY, keep) == 0:
        horizon = generation - keep
        db.execute("DELETE FROM change_log WHERE generation <= ?", (horizon,))
        _write_state(db, {"change_log_pruned_through": str(horizon)})
    db.execute("SELECT pg_notify(?, ?)", (CHANGES_CHANNEL, str(generation)))


def _pruned_through(db: Connection) -> int:
    """The newest generation whose change-log entries were pruned (0: none)."""
    return int(_read_state(db, "change_log_pruned_through") or 0)


def _read_state(db: Connection, key: str) -> str | None:
    row = db.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
    return row["value"] if row else None


def _write_state(db: Connection, values: dict[str, str]) -> None:
    db.executemany(
        "INSERT INTO state (key, value) VALUES (?, ?)"
        " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        list(values.items()),
    )


def _forget_summaries(db: Connection, article_id: str) -> None:
    db.execute(
        "DELETE FROM summary_cache WHERE key IN"
        " (SELECT key FROM summary_cache_articles WHERE article_id = ?)",
        (article_id,),
    )


def _forget_group_summaries(db: Connection, article_id: str) -> None:
    """Forget the summaries citing an article or any member of its near-duplicate group: a
    cached summary's citations list the outlets that carried each story (`carried_by`) and
    its sentences count independent sources, both as the group was when it was cached. With
    no summary cached (a bulk ingest, mostly) this is one step, not a walk of the group."""
    if db.execute("SELECT 1 FROM summary_cache LIMIT 1").fetchone() is None:
        return
    db.execute(
        "DELETE FROM summary_cache WHERE key IN (SELECT c.key FROM summary_cache_articles c"
        " WHERE c.article_id = ? OR c.article_id IN (SELECT m.article_id FROM article_groups m"
        " WHERE m.group_id = (SELECT group_id FROM article_groups WHERE article_id = ?)))",
        (article_id, article_id),
    )


def _chunk_ids(db: Connection, article_id: str) -> list[int]:
    return [
        row["id"] for row in db.execute("SELECT id FROM chunks WHERE article_id = ?", (article_id,))
    ]


def _delete_chunks(db: Connection, article_id: str) -> list[int]:
    """Delete an article's chunks; their ids (for the derived indexes to forget)."""
    deleted = db.execute("DELETE FROM chunks WHERE article_id = ? RETURNING id", (article_id,))
    return [row["id"] for row in deleted]


def _vectors(blobs: list[bytes]) -> np.ndarray:
    return np.vstack([np.frombuffer(b, dtype=np.float32) for b in blobs])


def _summary_fields(row: Any) -> dict[str, Any]:
    """The ArticleSummary fields of a row selected with ``_ARTICLE_COLUMNS``."""
    return {
        "id": row["id"],
        "title": row["title"],
        "url": row["url"],
        "source": row["source"],
        "author": row["author"],
        "published_at": _moment(row["published_at"]),
        "metadata": json.loads(row["metadata"]),
        "content_hash": row["content_hash"],
        "ingested_at": _moment(row["ingested_at"]),
        "updated_at": _moment(row["updated_at"]),
        "chunk_count": row["chunk_count"],
    }


def _article_conditions(filters: SearchFilters) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    if filters.sources:
        clauses.append(f"a.source IN ({','.join('?' * len(filters.sources))})")
        params += filters.sources
    if filters.article_ids:
        clauses.append(f"a.id IN ({','.join('?' * len(filters.article_ids))})")
        params += filters.article_ids
    dates: list[str] = []
    if filters.published_after:
        dates.append("a.published_at >= ?")
        params.append(_iso(filters.published_after))
    if filters.published_before:
        dates.append("a.published_at <= ?")
        params.append(_iso(filters.published_before))
    if dates:
        # An undated article matches no date bound, unless the bounds say to keep it.
        within = " AND ".join(dates)
        clauses.append(
            f"(a.published_at IS NULL OR {within})" if filters.include_undated else within
        )
    return ("WHERE " + " AND ".join(clauses)) if clauses else "", params
