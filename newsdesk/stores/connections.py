"""Connections to the article database: SQLite in the data directory (the default) or
PostgreSQL (``NEWSDESK_DATABASE_URL=postgresql://…``, several processes sharing one collection).

The stores write one dialect of SQL, SQLite's with portable upserts (``INSERT … ON CONFLICT``);
a PostgreSQL connection (newsdesk/stores/postgres.py) takes the same statements. What differs
and cannot be written once is the dialect's: how a write transaction begins (SQLite's write
lock; a PostgreSQL advisory lock, so writers from every process take turns as in SQLite), how a
read sees one state of the database, where the schema version is kept, the column types of the
schema, and whether writes are recorded in a change log for other processes to follow."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol

from newsdesk.errors import DatabaseUnavailable

# What a database is named by: a file (SQLite) or a URL (PostgreSQL).
DatabaseTarget = Path | str

POSTGRES_SCHEMES = ("postgresql://", "postgres://")
# Upper bound of SQLite's memory map of the database file (see connect_sqlite).
SQLITE_MMAP_BYTES = 8 << 30
# PostgreSQL NOTIFY channel on which every write announces its generation (at commit).
CHANGES_CHANNEL = "newsdesk_changes"


@dataclass(frozen=True, slots=True)
class Dialect:
    name: str
    # Statements that open a write transaction: writers from every connection take turns.
    begin_write: tuple[str, ...]
    # Opens a read transaction whose statements all see one state of the database.
    begin_read: str
    # Whether writes record their chunk changes in `change_log` (other processes follow it).
    keeps_change_log: bool

    def indexed_by(self, index: str) -> str:
        """The clause that makes SQLite read ``index`` (after a table name in FROM). SQLite
        always looks a rowid or primary key up in the table itself, even where a covering
        index holds every column asked for; PostgreSQL's planner chooses index-only scans
        itself and has no such clause."""
        return f" INDEXED BY {index}" if self.name == "sqlite" else ""


SQLITE = Dialect(
    name="sqlite", begin_write=("BEGIN IMMEDIATE",), begin_read="BEGIN", keeps_change_log=False
)
# One advisory lock for every writer (any fixed key; this one spells "newsdesk" in ASCII).
WRITE_LOCK_KEY = 0x6E657773_6465736B
POSTGRES = Dialect(
    name="postgresql",
    begin_write=("BEGIN", f"SELECT pg_advisory_xact_lock({WRITE_LOCK_KEY})"),
    begin_read="BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
    keeps_change_log=True,
)


class Connection(Protocol):
    """What the stores use of a connection: sqlite3's interface, rows by name or position."""

    @property
    def dialect(self) -> Dialect: ...

    @property
    def in_transaction(self) -> bool: ...

    def execute(self, sql: str, parameters: Sequence[Any] = ..., /) -> Any: ...

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> Any: ...

    def close(self) -> None: ...


class SqliteConnection(sqlite3.Connection):
    dialect: ClassVar[Dialect] = SQLITE


def is_postgres(target: DatabaseTarget) -> bool:
    return isinstance(target, str) and target.startswith(POSTGRES_SCHEMES)


def connect(target: DatabaseTarget) -> Connection:
    """A new connection in autocommit mode (transactions are begun explicitly)."""
    if is_postgres(target):
        try:
            from newsdesk.stores.postgres import connect_postgres  # an optional extra
        except ImportError as exc:
            raise DatabaseUnavailable(
                f"{describe(target)} needs psycopg: pip install 'newsdesk[postgres]' ({exc})"
            ) from None
        return connect_postgres(str(target))
    return connect_sqlite(Path(target))


def connect_sqlite(path: Path) -> SqliteConnection:
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(
        path, isolation_level=None, check_same_thread=False, factory=SqliteConnection
    )
    db.row_factory = sqlite3.Row  # columns by name: row["title"]
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = FULL")
    db.execute("PRAGMA foreign_keys = ON")
    db.execute("PRAGMA busy_timeout = 10000")
    # Reads through a memory map instead of a read() per page: hydrating a search's passages
    # on a million chunks took ~6 ms in page reads, ~2 ms mapped. (SQLite caps the map at its
    # compile-time maximum, 2 GiB in the usual builds; pages past it are read as before.)
    db.execute(f"PRAGMA mmap_size = {SQLITE_MMAP_BYTES}")
    return db


def describe(target: DatabaseTarget) -> str:
    """The database for messages and logs, without a password."""
    if not is_postgres(target):
        return str(target)
    scheme, _, rest = str(target).partition("://")
    credentials, at, location = rest.rpartition("@")
    if not at:
        return str(target)
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}@{location}"


@contextmanager
def read_snapshot(db: Connection) -> Iterator[Connection]:
    """A read transaction on ``db``: the statements in the block see one committed state (or,
    inside a caller's transaction, that transaction's)."""
    if db.in_transaction:
        yield db
        return
    db.execute(db.dialect.begin_read)
    try:
        yield db
    finally:
        db.execute("COMMIT")
