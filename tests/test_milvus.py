"""Vectors in Milvus (vector_store=milvus) through milvus-lite, a `.db` directory in the test's
data directory: real model, real Milvus engine, real SQLite and BM25. The store-facing tests
of test_ingest_search.py also run on it; these cover what is Milvus's own: filters pushed
down into its search expression, rows following changed article fields, reconciliation with
SQLite at start, and the settings that choose it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from newsdesk.api.app import create_app
from newsdesk.container import Newsdesk
from newsdesk.domain import ArticleInput, SearchFilters
from newsdesk.embedding import Embedder
from newsdesk.errors import VectorStoreUnavailable
from newsdesk.settings import Settings
from newsdesk.stores.milvus import MilvusVectorIndex, filter_expression

from .support.samples import load_samples
from .support.stored import stored_article
from .support.vector_stores import needs_milvus, store_settings

pytestmark = needs_milvus

CRANE = "wikinews-2015-mecca-crane-collapse"
CRANE_QUESTION = "How many people died when a crane fell on the Grand Mosque?"


@pytest.fixture
def milvus_settings(tmp_path: Path) -> Settings:
    return store_settings(tmp_path / "data", "milvus")


@pytest.fixture(scope="module")
def milvus_desk(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[Newsdesk]:
    """The samples in Milvus, one per module (ingesting them is the slow part). The tests
    that change it come last, each changing an article no other test looks at after it."""
    data_dir = tmp_path_factory.mktemp("milvus") / "data"
    with Newsdesk.open(store_settings(data_dir, "milvus"), embedder=embedder) as desk:
        desk.ingestor.ingest(load_samples())
        yield desk


def _milvus(desk: Newsdesk) -> MilvusVectorIndex:
    vectors = desk.indexes.vectors
    assert isinstance(vectors, MilvusVectorIndex)
    return vectors


def _chunk_ids(desk: Newsdesk, article_id: str) -> set[int]:
    article = stored_article(desk.store, article_id)
    return {c.chunk_id for c in article.chunks}


def test_search_and_ask_over_http_give_cited_results(milvus_desk: Newsdesk) -> None:
    assert milvus_desk.settings.milvus_target.endswith("milvus.db")
    assert len(milvus_desk.indexes.vectors) == milvus_desk.store.chunk_count()
    with TestClient(create_app(milvus_desk.settings, desk=milvus_desk)) as client:
        found = client.post("/search", json={"query": CRANE_QUESTION, "top_k": 3})
        assert found.status_code == 200, found.text
        assert found.json()["results"][0]["article_id"] == CRANE
        answered = client.post("/ask", json={"question": CRANE_QUESTION, "stream": False})
        assert answered.status_code == 200, answered.text
        body = answered.json()
        assert body["citations"], body
        assert CRANE in {c["article_id"] for c in body["citations"]}


def test_filters_are_pushed_down_into_the_milvus_search(
    milvus_desk: Newsdesk, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Dense mode reads no allowed ids from SQLite: the filters go to Milvus as an expression.
    reads: list[SearchFilters] = []
    matching = milvus_desk.store.chunk_ids_matching

    def counted(filters: SearchFilters) -> np.ndarray:
        reads.append(filters)
        return matching(filters)

    monkeypatch.setattr(milvus_desk.store, "chunk_ids_matching", counted)
    wikinews = SearchFilters(sources=["Wikinews"])
    hits = milvus_desk.searcher.search("NATO no-fly zone", top_k=20, filters=wikinews, mode="dense")
    assert hits and all(h.source == "Wikinews" for h in hits) and reads == []
    dated = SearchFilters(published_after="2015-01-01", published_before="2016-12-31")
    hits = milvus_desk.searcher.search("news", top_k=20, filters=dated, mode="dense")
    assert hits and all(h.published_at and h.published_at.year in (2015, 2016) for h in hits)
    one = SearchFilters(article_ids=[CRANE])
    hits = milvus_desk.searcher.search("NATO no-fly zone", top_k=5, filters=one, mode="dense")
    assert hits and {h.article_id for h in hits} == {CRANE}
    nobody = SearchFilters(sources=["Nobody"])
    assert milvus_desk.searcher.search("crane", filters=nobody, mode="dense") == []
    # Hybrid: BM25 (in process) still needs the allowed ids; the dense side does not.
    hybrid = milvus_desk.searcher.search("crane collapse", top_k=10, filters=wikinews)
    assert hybrid and all(h.source == "Wikinews" for h in hybrid) and reads == [wikinews]


def test_filter_values_are_quoted_not_interpreted(
    milvus_desk: Newsdesk, samples: list[ArticleInput]
) -> None:
    outlet = 'The "Daily" \\ Planet\'s\nwire'
    tricky = samples[0].model_copy(update={"id": "tricky", "source": outlet})
    milvus_desk.ingestor.ingest([tricky])
    expression = filter_expression(SearchFilters(sources=[outlet, '" or id > 0 or "']))
    assert expression.startswith("source in [") and "\n" not in expression
    hits = milvus_desk.searcher.search(
        samples[0].title, top_k=20, filters=SearchFilters(sources=[outlet]), mode="dense"
    )
    assert hits and {h.article_id for h in hits} == {"tricky"}
    injected = SearchFilters(sources=['" or id > 0 or "'])
    assert milvus_desk.searcher.search(samples[0].title, filters=injected, mode="dense") == []


def test_changed_outlet_and_date_reach_the_milvus_rows(
    milvus_desk: Newsdesk, samples: list[ArticleInput]
) -> None:
    article = samples[1]
    kept = _chunk_ids(milvus_desk, article.id)
    moved = article.model_copy(
        update={"source": "Relabelled Wire", "published_at": datetime(1999, 5, 1, tzinfo=UTC)}
    )
    assert milvus_desk.ingestor.ingest([moved]).updated == [article.id]
    assert _chunk_ids(milvus_desk, article.id) == kept  # same chunks: only the fields changed
    relabelled = SearchFilters(sources=["Relabelled Wire"], published_before="1999-12-31")
    hits = milvus_desk.searcher.search(article.title, top_k=20, filters=relabelled, mode="dense")
    assert hits and {h.chunk_id for h in hits} <= kept
    if article.source:
        old = SearchFilters(sources=[article.source])
        hits = milvus_desk.searcher.search(article.title, top_k=50, filters=old, mode="dense")
        assert kept.isdisjoint(h.chunk_id for h in hits)


def test_a_deleted_article_is_never_found_again(milvus_desk: Newsdesk) -> None:
    removed = _chunk_ids(milvus_desk, CRANE)
    milvus_desk.ingestor.delete(CRANE)
    assert len(milvus_desk.indexes.vectors) == milvus_desk.store.chunk_count()
    for mode in ("dense", "hybrid"):
        hits = milvus_desk.searcher.search(CRANE_QUESTION, top_k=50, mode=mode)
        assert removed.isdisjoint(h.chunk_id for h in hits)
    query = milvus_desk.embedder.embed([CRANE_QUESTION])
    _, ids = milvus_desk.indexes.vectors.search(query, 1000)
    assert removed.isdisjoint(ids.tolist()) and len(ids) == milvus_desk.store.chunk_count()


def test_a_restart_keeps_the_vectors_in_milvus(
    milvus_settings: Settings, embedder: Embedder, samples: list[ArticleInput]
) -> None:
    with Newsdesk.open(milvus_settings, embedder=embedder) as desk:
        desk.ingestor.ingest(samples[:5])  # the crane article is the fifth
        before = [(h.chunk_id, round(h.score, 5)) for h in desk.searcher.search(CRANE_QUESTION)]
        count = len(desk.indexes.vectors)
    # The snapshot holds a marker, not vectors: the rows are in the milvus-lite directory.
    current = (milvus_settings.index_dir / "CURRENT").read_text()
    assert not (milvus_settings.index_dir / current / "vectors.faiss").exists()
    with Newsdesk.open(milvus_settings, embedder=embedder) as desk:
        assert desk.index_status == "loaded"
        assert len(desk.indexes.vectors) == count == desk.store.chunk_count()
        after = [(h.chunk_id, round(h.score, 5)) for h in desk.searcher.search(CRANE_QUESTION)]
    assert after == before


def test_milvus_is_reconciled_with_sqlite_at_start(
    milvus_settings: Settings, embedder: Embedder, samples: list[ArticleInput]
) -> None:
    with Newsdesk.open(milvus_settings, embedder=embedder) as desk:
        desk.ingestor.ingest(samples[:6])
        milvus = _milvus(desk)
        # Rows lost behind the snapshot's back (and one that SQLite never had).
        lost = sorted(_chunk_ids(desk, samples[0].id))
        milvus._client.delete(milvus.collection, ids=lost)
        ghost = {"id": 10**12, "vector": [0.0] * desk.embedder.dimension, "article_id": "ghost"}
        milvus._client.insert(milvus.collection, [{**ghost, "source": None, "published_at": None}])
    with Newsdesk.open(milvus_settings, embedder=embedder) as desk:
        assert desk.index_status.startswith("rebuilt: snapshot unreadable"), desk.index_status
        assert len(desk.indexes.vectors) == desk.store.chunk_count()
        hits = desk.searcher.search(samples[0].title, top_k=3, mode="dense")
        assert hits[0].article_id == samples[0].id
        milvus = _milvus(desk)
        assert milvus._client.query(milvus.collection, filter="id == 1000000000000") == []


def test_a_crash_before_the_snapshot_is_caught_up_at_start(
    milvus_settings: Settings, embedder: Embedder, samples: list[ArticleInput]
) -> None:
    desk = Newsdesk.open(milvus_settings, embedder=embedder)
    desk.ingestor.ingest(samples[:4])
    desk.indexes.flush()
    desk.ingestor.ingest(samples[4:])
    desk.ingestor.delete(samples[1].id)
    # A crash: no snapshot of the last writes (Milvus has them, the marker does not).
    desk.store.close()
    desk.data_lock.release()
    desk.indexes.vectors.close()
    with Newsdesk.open(milvus_settings, embedder=embedder) as reopened:
        assert reopened.index_status.startswith("rebuilt: snapshot generation")
        assert len(reopened.indexes.vectors) == reopened.store.chunk_count()
        hits = reopened.searcher.search(samples[-1].title, top_k=3, mode="dense")
        assert hits[0].article_id == samples[-1].id


def test_a_failed_milvus_write_keeps_the_article_and_is_caught_up_at_start(
    milvus_settings: Settings, embedder: Embedder, samples: list[ArticleInput]
) -> None:
    with Newsdesk.open(milvus_settings, embedder=embedder) as desk:
        desk.ingestor.ingest(samples[:2])
        milvus = _milvus(desk)
        milvus._client.drop_collection(milvus.collection)  # Milvus refuses writes now
        with pytest.raises(VectorStoreUnavailable, match="the article is stored"):
            desk.ingestor.ingest(samples[2:3])
        assert desk.store.get_article(samples[2].id) is not None
    with Newsdesk.open(milvus_settings, embedder=embedder) as desk:
        assert desk.index_status.startswith("rebuilt"), desk.index_status
        assert len(desk.indexes.vectors) == desk.store.chunk_count()
        hits = desk.searcher.search(samples[2].title, top_k=1, mode="dense")
        assert hits[0].article_id == samples[2].id


def test_a_collection_new_to_milvus_is_filled_from_sqlite(
    milvus_settings: Settings, embedder: Embedder, samples: list[ArticleInput]
) -> None:
    with Newsdesk.open(milvus_settings, embedder=embedder) as desk:
        desk.ingestor.ingest(samples[:3])
        first = _milvus(desk).collection
    other = milvus_settings.model_copy(update={"milvus_collection": "other_prefix"})
    with Newsdesk.open(other, embedder=embedder) as desk:
        # Another name (as a model change gives): nothing there yet, so it is filled.
        assert desk.index_status.startswith("rebuilt")
        assert _milvus(desk).collection != first
        assert len(desk.indexes.vectors) == desk.store.chunk_count()


@pytest.mark.parametrize(
    "uri", ["vectors", "ftp://host:19530", "/tmp/milvus.sqlite3", "http//missing-colon"]
)
def test_a_milvus_uri_that_is_neither_a_db_path_nor_a_server_is_refused(uri: str) -> None:
    with pytest.raises(ValidationError, match=r"\.db or a Milvus server"):
        Settings(vector_store="milvus", milvus_uri=uri, _env_file=None)


def test_ivfpq_on_milvus_lite_is_refused_up_front(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="needs a Milvus server"):
        Settings(data_dir=tmp_path, vector_store="milvus", vector_index="ivfpq", _env_file=None)
    server = "http://milvus.internal:19530"
    settings = Settings(vector_store="milvus", vector_index="ivfpq", milvus_uri=server)
    assert settings.milvus_target == server


def test_milvus_uri_forms(tmp_path: Path) -> None:
    assert Settings(data_dir=tmp_path, _env_file=None).milvus_target == str(tmp_path / "milvus.db")
    for uri in ("http://milvus.internal:19530", "https://x.example:443", "/srv/vectors.db"):
        assert Settings(milvus_uri=uri, _env_file=None).milvus_target == uri
