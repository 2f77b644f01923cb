"""The one way newsdesk writes to its database: a write transaction that takes the write lock
at BEGIN (SQLite's ``BEGIN IMMEDIATE``; on PostgreSQL an advisory lock every writer takes), so
a concurrent writer waits instead of failing halfway; committed when the block ends and rolled
back when it raises."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TypeVar

from newsdesk.stores.connections import Connection

C = TypeVar("C", bound=Connection)


@contextmanager
def immediate_transaction(db: C) -> Iterator[C]:
    """COMMIT when the block ends (by a ``return`` too), ROLLBACK when the block or the commit
    raises. The connection must be in autocommit mode (``isolation_level=None``)."""
    begin, *locks = db.dialect.begin_write
    db.execute(begin)
    try:
        for statement in locks:
            db.execute(statement)
        yield db
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
