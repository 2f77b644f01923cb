"""The schema as an ordered list of migrations; ``PRAGMA user_version`` (on PostgreSQL the
``newsdesk_schema`` table) records how many have run. Append new functions, never edit old
ones. The statements are SQLite's; on PostgreSQL the column types are mapped
(stores/postgres.py ``schema_statement``), so both stores have one schema history."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable

from newsdesk.stores.connections import Connection
from newsdesk.stores.groups import MAX_LISTED_OUTLETS, outlet_order
from newsdesk.stores.transactions import immediate_transaction

Migration = Callable[[Connection], None]


def _initial_schema(db: Connection) -> None:
    _run_statements(
        db,
        """
        CREATE TABLE articles (
            id            TEXT PRIMARY KEY,
            title         TEXT NOT NULL,
            text          TEXT NOT NULL,
            url           TEXT,
            source        TEXT,
            author        TEXT,
            published_at  TEXT,            -- ISO 8601 UTC, so text order is time order
            metadata      TEXT NOT NULL DEFAULT '{}',
            content_hash  TEXT NOT NULL,   -- of the normalised text: decides re-chunking
            record_hash   TEXT NOT NULL,   -- of every field: decides "unchanged"
            ingested_at   TEXT NOT NULL,
            updated_at    TEXT NOT NULL
        );
        CREATE INDEX articles_source ON articles(source);
        CREATE INDEX articles_published_at ON articles(published_at);

        -- A chunk's text is not stored: it is substr(article.text, char_start, …), so the
        -- offsets can never disagree with it. AUTOINCREMENT: ids are never reused, which
        -- keeps faiss ids stable across deletes.
        CREATE TABLE chunks (
            id           INTEGER PRIMARY KEY AUTOINCREMENT,
            article_id   TEXT NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
            seq          INTEGER NOT NULL,
            char_start   INTEGER NOT NULL,
            char_end     INTEGER NOT NULL,
            token_count  INTEGER NOT NULL,
            embedding    BLOB NOT NULL,    -- float32, unit length; lets indexes be rebuilt
            UNIQUE (article_id, seq)
        );

        -- generation: bumped by every committed write; derived indexes record the one
        -- they reflect, and are rebuilt when it differs.
        CREATE TABLE state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        INSERT INTO state (key, value) VALUES ('generation', '0');
        """,
    )


def _summary_cache(db: Connection) -> None:
    _run_statements(
        db,
        """
        -- Summaries keyed by a hash of the articles' content hashes, the options and the
        -- model: a changed article gets a new key. Rows of changed or deleted articles are
        -- removed in the same transaction as the change, so the table does not grow stale.
        CREATE TABLE summary_cache (
            key         TEXT PRIMARY KEY,
            value       TEXT NOT NULL,     -- the CitedSummary JSON
            created_at  TEXT NOT NULL
        );
        CREATE TABLE summary_cache_articles (
            key         TEXT NOT NULL REFERENCES summary_cache(key) ON DELETE CASCADE,
            article_id  TEXT NOT NULL,
            PRIMARY KEY (key, article_id)
        );
        CREATE INDEX summary_cache_articles_article ON summary_cache_articles(article_id);
        """,
    )


def _api_keys(db: Connection) -> None:
    _run_statements(
        db,
        """
        -- API keys made with `newsdesk keys create`: the SHA-256 of the key, never the key.
        -- Revoked keys keep their row (revoked_at set): names stay unique and `keys list`
        -- shows the history.
        CREATE TABLE api_keys (
            name        TEXT PRIMARY KEY,
            role        TEXT NOT NULL CHECK (role IN ('read', 'admin')),
            key_hash    BLOB NOT NULL UNIQUE,  -- sha256 digest, 32 bytes; UNIQUE indexes it
            created_at  TEXT NOT NULL,
            revoked_at  TEXT
        );
        """,
    )


def _duplicate_groups(db: Connection) -> None:
    _run_statements(
        db,
        """
        -- Near-duplicate groups (stores/groups.py). Articles stored before this migration
        -- are grouped when the service starts (Ingestor.reconcile_duplicates).
        CREATE TABLE duplicate_groups (
            id           INTEGER PRIMARY KEY AUTOINCREMENT,
            original_id  TEXT NOT NULL,     -- the earliest full copy
            max_chars    INTEGER NOT NULL,  -- the longest member's length (decides "full")
            size         INTEGER NOT NULL
        );
        CREATE TABLE article_groups (
            article_id  TEXT PRIMARY KEY REFERENCES articles(id) ON DELETE CASCADE,
            group_id    INTEGER NOT NULL REFERENCES duplicate_groups(id),
            signature   BLOB                -- MinHash values (uint32 LE); null: none computed
        );
        CREATE INDEX article_groups_group ON article_groups(group_id);
        -- The LSH index: one key per band of each signature.
        CREATE TABLE minhash_bands (
            band        INTEGER NOT NULL,
            key         INTEGER NOT NULL,
            article_id  TEXT NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
            PRIMARY KEY (band, key, article_id)
        ) WITHOUT ROWID;
        CREATE INDEX minhash_bands_article ON minhash_bands(article_id);
        -- Confirmed near-duplicate pairs: a group is a connected component of these.
        CREATE TABLE near_duplicates (
            a           TEXT NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
            b           TEXT NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
            similarity  REAL NOT NULL,
            PRIMARY KEY (a, b)
        ) WITHOUT ROWID;
        CREATE INDEX near_duplicates_b ON near_duplicates(b);
        """,
    )


def _group_outlets(db: Connection) -> None:
    _run_statements(
        db,
        """
        -- Each group's outlets in order of first publication (a JSON list of [outlet, first
        -- publication], kept by the writes that change the group), so that a search hit
        -- reads one row instead of every member of a story copied thousands of times.
        ALTER TABLE duplicate_groups ADD COLUMN outlets TEXT;
        UPDATE duplicate_groups SET outlets = '[]';
        """,
    )
    # The existing groups' lists, from one pass over the members.
    outlets: dict[int, list[tuple[str, str | None]]] = {}
    for group, source, first in db.execute(
        "SELECT m.group_id, a.source, min(a.published_at) FROM article_groups m"
        " JOIN articles a ON a.id = m.article_id WHERE a.source IS NOT NULL"
        " GROUP BY m.group_id, a.source"
    ):
        outlets.setdefault(group, []).append((source, first))
    db.executemany(
        "UPDATE duplicate_groups SET outlets = ? WHERE id = ?",
        [
            (json.dumps(sorted(found, key=outlet_order)[:MAX_LISTED_OUTLETS]), group)
            for group, found in outlets.items()
        ],
    )


def _staged_embeddings(db: Connection) -> None:
    _run_statements(
        db,
        """
        -- `newsdesk reindex`: the vectors of another model, built beside the live ones
        -- (chunks.embedding) and switched to in one transaction when every chunk has one.
        -- Chunk id first: a deleted chunk's staged vectors go with it (cascade) by the key.
        CREATE TABLE staged_embeddings (
            chunk_id   INTEGER NOT NULL REFERENCES chunks(id) ON DELETE CASCADE,
            model_id   TEXT NOT NULL,
            embedding  BLOB NOT NULL,
            PRIMARY KEY (chunk_id, model_id)
        ) WITHOUT ROWID;
        """,
    )


def _chunk_origin_indexes(db: Connection) -> None:
    """Covering indexes for what every search reads of its ~80 candidates before collapsing
    copies of a story: each chunk's article and each article's group. Looked up in the tables,
    each chunk costs a page of its row (which holds the 1.5 KB vector) and each group a row
    holding a MinHash signature: at a million chunks those pages are mostly not in memory,
    and the lookup took 7 ms at the median and 42 ms at p95 on a cold page cache, against
    0.5 / 10 ms reading these indexes (1M-chunk bench collection; about 34 MB together)."""
    _run_statements(
        db,
        """
        CREATE INDEX IF NOT EXISTS chunks_article_of ON chunks(id, article_id);
        CREATE INDEX IF NOT EXISTS article_groups_group_of ON article_groups(article_id, group_id);
        """,
    )


MIGRATIONS: list[Migration] = [
    _initial_schema,
    _summary_cache,
    _api_keys,
    _duplicate_groups,
    _group_outlets,
    _staged_embeddings,
    _chunk_origin_indexes,
]


def migrate(db: Connection) -> None:
    """Run the pending migrations, each in its own transaction with its version bump."""
    version = _schema_version(db)
    if version > len(MIGRATIONS):
        raise RuntimeError(
            f"database schema version {version} is newer than this newsdesk knows "
            f"({len(MIGRATIONS)}); upgrade newsdesk"
        )
    for number, migration in enumerate(MIGRATIONS[version:], start=version + 1):
        with immediate_transaction(db):
            # Read again under the write lock: another process (`newsdesk keys` beside a
            # starting server) may have run this migration since the first read.
            if _schema_version(db) >= number:
                continue
            migration(db)
            _set_schema_version(db, number)
    if db.dialect.keeps_change_log:
        with immediate_transaction(db):
            _run_statements(db, CHANGE_LOG_SCHEMA)


# Kept where several processes share the database (PostgreSQL), outside the numbered history
# (SQLite files stay as they were): every write's chunk changes, by the generation it bumped
# to, written in the write's own transaction. Each process applies the entries after the
# generation its derived indexes reflect (stores/follower.py).
CHANGE_LOG_SCHEMA = """
CREATE TABLE IF NOT EXISTS change_log (
    generation  INTEGER NOT NULL,
    chunk_id    INTEGER,              -- null for 'rebuild'
    op          TEXT NOT NULL CHECK (op IN ('add', 'remove', 'rebuild'))
);
CREATE INDEX IF NOT EXISTS change_log_generation ON change_log(generation);
"""


def _schema_version(db: Connection) -> int:
    if db.dialect.name == "sqlite":
        return int(db.execute("PRAGMA user_version").fetchone()[0])
    if db.execute("SELECT to_regclass('newsdesk_schema')").fetchone()[0] is None:
        return 0
    row = db.execute("SELECT version FROM newsdesk_schema").fetchone()
    return int(row[0]) if row else 0


def _set_schema_version(db: Connection, number: int) -> None:
    if db.dialect.name == "sqlite":
        db.execute(f"PRAGMA user_version = {number}")
        return
    db.execute("CREATE TABLE IF NOT EXISTS newsdesk_schema (version INTEGER NOT NULL)")
    db.execute("DELETE FROM newsdesk_schema")
    db.execute("INSERT INTO newsdesk_schema (version) VALUES (?)", (number,))


def _run_statements(db: Connection, script: str) -> None:
    # executescript() would commit the surrounding transaction; run statement by statement.
    for statement in sqlite3_statements(script):
        if db.dialect.name == "postgresql":
            from newsdesk.stores.postgres import schema_statement  # psycopg: an optional extra

            statement = schema_statement(statement)
        db.execute(statement)


def sqlite3_statements(script: str) -> list[str]:
    """Split a script into complete statements (sqlite3.complete_statement knows quoting)."""
    statements, pending = [], ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            statements.append(pending.strip())
            pending = ""
    if pending.strip():
        statements.append(pending.strip())
    return [s for s in statements if s.strip(" ;\n")]
