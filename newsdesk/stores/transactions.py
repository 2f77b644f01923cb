"""The one way newsdesk writes to SQLite: an immediate transaction (the write lock taken at
BEGIN, so a concurrent writer waits instead of failing halfway), committed when the block
ends and rolled back when it raises."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def immediate_transaction(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """COMMIT when the block ends (by a ``return`` too), ROLLBACK when the block or the commit
    raises. The connection must be in autocommit mode (``isolation_level=None``)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
