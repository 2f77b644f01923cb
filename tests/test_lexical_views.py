"""What the derived indexes keep of the lexical index: the embedded BM25 view is derived from
SQLite (segments per write, background rebuilds, saved in snapshots); with
``lexical_store=postgres`` the engine keeps it, and the derived indexes hold nothing of it.

Real PostgreSQL (skipped, saying why, only where it is unreachable) and the real model."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from newsdesk.container import Newsdesk
from newsdesk.domain import ArticleInput
from newsdesk.embedding import Embedder
from newsdesk.settings import Settings
from newsdesk.stores.lexical_postgres_search import PostgresLexicalView

from .support.postgres import fresh_database
from .support.samples import load_samples


@pytest.fixture
def url() -> Iterator[str]:
    with fresh_database() as database:
        yield database


def _open(data_dir: Path, url: str, lexical_store: str, embedder: Embedder) -> Newsdesk:
    settings = Settings(
        data_dir=data_dir,
        database_url=url,
        lexical_store=lexical_store,
        backend="extractive",
        _env_file=None,
    )
    return Newsdesk.open(settings, embedder=embedder)


CRANE = "wikinews-2015-mecca-crane-collapse"


def _articles() -> list[ArticleInput]:
    """Three sample articles, the crane collapse among them."""
    samples = load_samples()
    return [a for a in samples if a.id == CRANE] + [a for a in samples if a.id != CRANE][:2]


def _snapshot(desk: Newsdesk) -> Path:
    directory = desk.indexes.directory
    return directory / (directory / "CURRENT").read_text().strip()


def _rebuild_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name == "bm25-rebuild"]


@pytest.mark.parametrize("lexical_store", ["bm25", "postgres"])
def test_only_the_embedded_view_is_derived_saved_and_rebuilt(
    tmp_path: Path, url: str, embedder: Embedder, lexical_store: str
) -> None:
    with _open(tmp_path / "data", url, lexical_store, embedder) as desk:
        desk.ingestor.ingest(_articles())
        view = desk.indexes.lexical_view
        desk.indexes.flush()
        saved = (_snapshot(desk) / "lexical").exists()
        threads_before = len(_rebuild_threads())
        desk.indexes.request_lexical_rebuild()
        started_rebuild = len(_rebuild_threads()) > threads_before
        reader = desk.indexes.fresh_lexical()
        if lexical_store == "bm25":
            assert view.derived and view.pending > 0  # the writes' segments
            assert saved and started_rebuild
            assert reader is desk.indexes.lexical_view
        else:
            assert not view.derived and view.pending == 0
            assert not saved and not started_rebuild
            assert isinstance(reader, PostgresLexicalView)
        hits = desk.searcher.search("crane collapse Grand Mosque Mecca", mode="lexical")
        assert hits and hits[0].article_id == CRANE


def test_a_restart_with_the_engine_loads_the_snapshot_and_searches_the_engine(
    tmp_path: Path, url: str, embedder: Embedder
) -> None:
    with _open(tmp_path / "data", url, "postgres", embedder) as desk:
        desk.ingestor.ingest(_articles())
    with _open(tmp_path / "data", url, "postgres", embedder) as desk:
        assert desk.index_status == "loaded"
        hits = desk.searcher.search("crane collapse Grand Mosque Mecca", mode="lexical")
        assert hits and hits[0].article_id == CRANE
