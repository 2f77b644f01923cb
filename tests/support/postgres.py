"""A fresh PostgreSQL database per test (or module), dropped after: tests never see each
other's rows. The server is the development and CI one (127.0.0.1:5432, trust auth); another
can be named by NEWSDESK_TEST_DATABASE_URL (a database to connect to for CREATE DATABASE)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

ADMIN_URL = os.environ.get(
    "NEWSDESK_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


def _admin() -> object:
    """An autocommit connection to the admin database, or a skip saying why there is none."""
    try:
        import psycopg
    except ImportError as exc:
        pytest.skip(f"psycopg is not installed (pip install 'newsdesk[postgres]'): {exc}")
    try:
        return psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL unreachable at {ADMIN_URL}: {str(exc).strip()}")


def database_url(name: str) -> str:
    base, _, _ = ADMIN_URL.rpartition("/")
    return f"{base}/{name}"


@contextmanager
def fresh_database() -> Iterator[str]:
    """The URL of a new, empty database, dropped (with any connection left to it) after."""
    import psycopg

    admin = _admin()
    assert isinstance(admin, psycopg.Connection)
    name = f"newsdesk_test_{uuid.uuid4().hex[:12]}"
    with admin:
        admin.execute(f"CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8'")
        try:
            yield database_url(name)
        finally:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@contextmanager
def store_database(store_kind: str) -> Iterator[str | None]:
    """NEWSDESK_DATABASE_URL for a store kind: None (SQLite in the data directory) or a
    fresh PostgreSQL database."""
    if store_kind == "sqlite":
        yield None
    else:
        with fresh_database() as url:
            yield url
