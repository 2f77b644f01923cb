"""Shared fixtures: one real embedding model for the whole session, a fresh data directory
for every test (so tests never see each other's articles), and the sample articles behind a
live server. Helpers that tests import live in tests/support/, not here: nothing imports a
conftest.

The article store is SQLite unless a module is marked ``both_stores``: then each of its tests
that uses the store (through ``settings``, ``desk``, ``sample_desk`` or ``database_url``) runs
on SQLite and on PostgreSQL, each PostgreSQL run in a fresh database of its own. A module also
marked ``lexical_stores`` runs a third time on PostgreSQL with ``lexical_store=postgres`` (BM25
in PostgreSQL's lexical tables), through the ``lexical_store`` fixture; one marked
``vector_stores`` runs once more on SQLite with the vectors in Milvus (milvus-lite), through
the ``vector_store`` fixture."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from newsdesk.api.app import create_app
from newsdesk.container import Newsdesk, build_embedder
from newsdesk.domain import ArticleInput
from newsdesk.embedding import Embedder
from newsdesk.settings import Settings
from tests.support.live_server import serve
from tests.support.postgres import store_database
from tests.support.samples import load_samples
from tests.support.vector_stores import needs_milvus

STORES = ("sqlite", "postgresql")
# The PostgreSQL article store with lexical search in it too (lexical_store=postgres).
POSTGRES_LEXICAL = "postgresql+lexical"
# The SQLite article store with the vectors in Milvus (vector_store=milvus, milvus-lite).
SQLITE_MILVUS = "sqlite+milvus"

# Starlette's TestClient sends `Host: testserver`, which the service refuses like any host it
# is not told about (DNS rebinding); live servers in tests are reached as 127.0.0.1 anyway.
os.environ.setdefault("NEWSDESK_ALLOWED_HOSTS", "testserver")


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    return build_embedder(Settings())


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "store_kind" in metafunc.fixturenames and metafunc.definition.get_closest_marker(
        "both_stores"
    ):
        kinds: list[Any] = list(STORES)
        if metafunc.definition.get_closest_marker("lexical_stores"):
            kinds.append(POSTGRES_LEXICAL)
        if metafunc.definition.get_closest_marker("vector_stores"):
            kinds.append(pytest.param(SQLITE_MILVUS, marks=needs_milvus))
        metafunc.parametrize("store_kind", kinds, indirect=True, scope="module")


@pytest.fixture(scope="module")
def store_kind(request: pytest.FixtureRequest) -> str:
    """Which article store the module's tests run on (SQLite unless marked both_stores)."""
    return str(getattr(request, "param", "sqlite"))


@pytest.fixture(scope="module")
def lexical_store(store_kind: str) -> str:
    """NEWSDESK_LEXICAL_STORE for the module's store kind."""
    return "postgres" if store_kind == POSTGRES_LEXICAL else "bm25"


@pytest.fixture(scope="module")
def vector_store(store_kind: str) -> str:
    """NEWSDESK_VECTOR_STORE for the module's store kind."""
    return "milvus" if store_kind == SQLITE_MILVUS else "faiss"


def _article_store(store_kind: str) -> str:
    """The article store of a store kind: `sqlite` or `postgresql`."""
    return store_kind.split("+")[0]


@pytest.fixture
def database_url(store_kind: str) -> Iterator[str | None]:
    """NEWSDESK_DATABASE_URL for a test: None (SQLite) or a fresh PostgreSQL database."""
    with store_database(_article_store(store_kind)) as url:
        yield url


@pytest.fixture(scope="module")
def module_database_url(store_kind: str) -> Iterator[str | None]:
    """The same for a module-scoped collection."""
    with store_database(_article_store(store_kind)) as url:
        yield url


@pytest.fixture
def settings(
    tmp_path: Path, database_url: str | None, lexical_store: str, vector_store: str
) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        backend="extractive",
        database_url=database_url,
        lexical_store=lexical_store,
        vector_store=vector_store,
        _env_file=None,
    )


@pytest.fixture
def desk(settings: Settings, embedder: Embedder) -> Iterator[Newsdesk]:
    with Newsdesk.open(settings, embedder=embedder) as opened:
        yield opened


@pytest.fixture
def client(desk: Newsdesk) -> Iterator[TestClient]:
    with TestClient(create_app(desk.settings, desk=desk)) as test_client:
        yield test_client


@pytest.fixture
def samples() -> list[ArticleInput]:
    return load_samples()


@pytest.fixture
def loaded_desk(desk: Newsdesk, samples: list[ArticleInput]) -> Newsdesk:
    desk.ingestor.ingest(samples)
    return desk


@pytest.fixture(scope="module")
def sample_desk(
    tmp_path_factory: pytest.TempPathFactory,
    embedder: Embedder,
    store_kind: str,
    lexical_store: str,
    vector_store: str,
) -> Iterator[Newsdesk]:
    """The sample articles, extractive backend (fast and deterministic), one per module."""
    with store_database(_article_store(store_kind)) as url:
        settings = Settings(
            data_dir=tmp_path_factory.mktemp("samples") / "data",
            backend="extractive",
            database_url=url,
            lexical_store=lexical_store,
            vector_store=vector_store,
            _env_file=None,
        )
        with Newsdesk.open(settings, embedder=embedder) as opened:
            opened.ingestor.ingest(load_samples())
            yield opened


@pytest.fixture(scope="module")
def sample_url(sample_desk: Newsdesk) -> Iterator[str]:
    """`sample_desk` served by uvicorn on a loopback port: its base URL."""
    with serve(create_app(sample_desk.settings, desk=sample_desk)) as url:
        yield url
