"""API keys kept in the article database (SQLite in the data directory, or PostgreSQL): name, role, SHA-256 of the key,
when it was created and revoked. Never the key itself: it is shown once, when created.

A ``KeyStore`` opens only the database (its own connection, WAL), not the collection: the
`newsdesk keys` commands run while `newsdesk serve` holds the data directory, and the server
looks each offered key up here per request, so a new or revoked key counts at once. Key
writes never touch the articles' ``generation`` counter (the derived indexes' consistency
check). A SHA-256 digest is enough for generated keys (256 random bits: nothing to guess), and
an indexed lookup of a digest tells a timing observer nothing about any key."""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, get_args

from newsdesk.errors import InvalidInput, NewsdeskError, NotFound
from newsdesk.stores.connections import Connection, DatabaseTarget, connect
from newsdesk.stores.migrations import migrate
from newsdesk.stores.transactions import immediate_transaction

Role = Literal["read", "admin"]
ROLES: tuple[Role, ...] = get_args(Role)
MIN_KEY_CHARS = 32
KEY_PREFIX = "nd_"
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


class KeyNameTaken(NewsdeskError):
    status = 409
    title = "Key name taken"
    slug = "key-name-taken"


@dataclass(frozen=True, slots=True)
class StoredKey:
    """A key's record; safe to show and log (it holds neither the key nor its hash)."""

    name: str
    role: Role
    created_at: datetime
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def key_digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8")).digest()


def new_key() -> str:
    """A fresh key: the recognisable prefix and 256 random bits (43 URL-safe characters)."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def check_key_length(key: str) -> None:
    if len(key) < MIN_KEY_CHARS:
        raise InvalidInput(
            f"API keys must be at least {MIN_KEY_CHARS} characters; this one has {len(key)}"
        )


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _moment(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


class KeyStore:
    """The key table. Lookups share one long-lived connection (a lock serialises them: the
    server makes them from its event loop); each write opens a connection of its own, so a
    write waiting for SQLite's write lock (an ingest in progress) never holds up a lookup."""

    def __init__(self, database: DatabaseTarget) -> None:
        self._database = database
        self._db = connect(database)
        self._lock = threading.Lock()
        # Creates the whole schema on a new data directory; the server's own ArticleStore
        # finds it done.
        migrate(self._db)
        # Rows are never deleted, so once there has been a key, there always is one.
        self._ever_had_keys = False

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        db = connect(self._database)
        try:
            with immediate_transaction(db):
                yield db
        finally:
            db.close()

    def __enter__(self) -> KeyStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- reads ---------------------------------------------------------------------------
    def has_keys(self) -> bool:
        """Whether a key was ever created here (revoked ones count: revoking the last key
        leaves the service closed rather than opening it to everyone)."""
        if not self._ever_had_keys:
            with self._lock:
                row = self._db.execute("SELECT 1 FROM api_keys LIMIT 1").fetchone()
            self._ever_had_keys = row is not None
        return self._ever_had_keys

    def lookup(self, key: str) -> StoredKey | None:
        """The active key this is, or None."""
        with self._lock:
            row = self._db.execute(
                "SELECT name, role, created_at, revoked_at FROM api_keys"
                " WHERE key_hash = ? AND revoked_at IS NULL",
                (key_digest(key),),
            ).fetchone()
        return self._record(row) if row else None

    def list(self) -> list[StoredKey]:
        with self._lock:
            rows = self._db.execute(
                "SELECT name, role, created_at, revoked_at FROM api_keys ORDER BY created_at, name"
            ).fetchall()
        return [self._record(row) for row in rows]

    # --- writes --------------------------------------------------------------------------
    def create(
        self, role: Role, name: str | None = None, key: str | None = None
    ) -> tuple[StoredKey, str]:
        """Store a new key (generated unless given) and return its record and the key, which
        is never available again."""
        if role not in ROLES:
            raise InvalidInput(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
        key = new_key() if key is None else key
        check_key_length(key)
        name = name if name is not None else f"{role}-{secrets.token_hex(3)}"
        if not NAME_PATTERN.fullmatch(name):
            raise InvalidInput(
                f"invalid key name {name!r}: 1 to 64 letters, digits, '.', '_' or '-', "
                "starting with a letter or digit"
            )
        created = _now()
        with self._write() as db:
            if db.execute("SELECT 1 FROM api_keys WHERE name = ?", (name,)).fetchone():
                raise KeyNameTaken(f"there is already a key named {name!r}")
            if db.execute(
                "SELECT 1 FROM api_keys WHERE key_hash = ?", (key_digest(key),)
            ).fetchone():
                raise KeyNameTaken("that key is already stored under another name")
            db.execute(
                "INSERT INTO api_keys (name, role, key_hash, created_at) VALUES (?, ?, ?, ?)",
                (name, role, key_digest(key), created.isoformat()),
            )
        self._ever_had_keys = True
        return StoredKey(name=name, role=role, created_at=created, revoked_at=None), key

    def revoke(self, name: str) -> StoredKey:
        """Revoke a key by name (revoking a revoked key changes nothing); NotFound if unknown."""
        with self._write() as db:
            db.execute(
                "UPDATE api_keys SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL",
                (_now().isoformat(), name),
            )
            row = db.execute(
                "SELECT name, role, created_at, revoked_at FROM api_keys WHERE name = ?", (name,)
            ).fetchone()
        if row is None:
            raise NotFound(f"no key named {name!r}")
        return self._record(row)

    @staticmethod
    def _record(row: Sequence[str | None]) -> StoredKey:
        name, role, created_at, revoked_at = row
        assert name is not None and role is not None and created_at is not None
        return StoredKey(
            name=name,
            role=role,  # type: ignore[arg-type]  # the table's CHECK holds it to ROLES
            created_at=datetime.fromisoformat(created_at),
            revoked_at=_moment(revoked_at),
        )
