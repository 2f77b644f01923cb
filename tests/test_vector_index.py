"""The vector index kinds, and `vector_index=auto`: exact below `auto_hnsw_chunks` chunks,
HNSW from there on, switching once as a collection grows (built beside the readers) and
loading the saved index on a restart instead of rebuilding it."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from newsdesk.container import Newsdesk
from newsdesk.domain import ArticleInput
from newsdesk.embedding import Embedder
from newsdesk.settings import Settings
from newsdesk.stores.vectors import FaissVectorIndex

from .support.patience import PATIENCE_S

DIMENSION = 16


def _unit_vectors(count: int, seed: int) -> np.ndarray:
    vectors = np.random.default_rng(seed).normal(size=(count, DIMENSION)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def _auto(threshold: int) -> FaissVectorIndex:
    settings = Settings(vector_index="auto", auto_hnsw_chunks=threshold, _env_file=None)
    return FaissVectorIndex(DIMENSION, settings)


def test_auto_is_exact_below_the_threshold_and_hnsw_from_it() -> None:
    vectors = _unit_vectors(120, seed=1)
    ids = np.arange(1000, 1120, dtype=np.int64)
    small = _auto(threshold=100)
    small.rebuild(ids[:99], vectors[:99])
    assert small.kind == "flat" and not small.wants_rebuild()
    small.add(ids[99:], vectors[99:])  # grew past the threshold in place
    assert small.kind == "flat" and small.wants_rebuild()
    large = small.rebuilt(ids, vectors)
    assert large.kind == "hnsw" and not large.wants_rebuild()
    assert small.kind == "flat" and len(small) == 120  # rebuilt() left the original alone
    small.adopt(large)
    assert small.kind == "hnsw"
    # Every vector finds itself first, through the HNSW index now in use.
    for row in (0, 57, 119):
        _, found = small.search(vectors[row], 5)
        assert found[0] == ids[row]


def test_auto_accepts_saved_flat_or_hnsw_and_knows_which_it_loaded(tmp_path: Path) -> None:
    vectors = _unit_vectors(50, seed=2)
    ids = np.arange(50, dtype=np.int64)
    saved = _auto(threshold=10)
    saved.rebuild(ids, vectors)
    saved.save(tmp_path / "hnsw.faiss")
    loaded = _auto(threshold=1000)
    loaded.load(tmp_path / "hnsw.faiss")
    assert loaded.kind == "hnsw"  # a shrunk threshold never switches back to flat
    assert not loaded.wants_rebuild()
    assert loaded.accepts("flat") and loaded.accepts("hnsw") and not loaded.accepts("ivfpq")
    exact = FaissVectorIndex(DIMENSION, Settings(vector_index="flat", _env_file=None))
    assert exact.accepts("flat") and not exact.accepts("hnsw")


def _wait_for_kind(desk: Newsdesk, kind: str) -> None:
    deadline = time.monotonic() + PATIENCE_S
    while desk.indexes.vectors.kind != kind and time.monotonic() < deadline:
        time.sleep(0.05)
    assert desk.indexes.vectors.kind == kind


def test_a_growing_collection_switches_to_hnsw_beside_the_readers_and_reloads_it(
    tmp_path: Path, embedder: Embedder, samples: list[ArticleInput]
) -> None:
    settings = Settings(
        data_dir=tmp_path / "data", vector_index="auto", auto_hnsw_chunks=25, _env_file=None
    )
    with Newsdesk.open(settings, embedder=embedder) as desk:
        desk.ingestor.ingest(samples[:2])
        assert desk.store.chunk_count() < 25 and desk.indexes.vectors.kind == "flat"
        for article in samples[2:]:  # one write at a time: some land during the switch
            desk.ingestor.ingest([article])
            # Whatever the index in use, what was just written is found at once.
            hit = desk.searcher.search(article.title, top_k=1, mode="dense")[0]
            assert hit.article_id == article.id
        assert desk.store.chunk_count() >= 25
        _wait_for_kind(desk, "hnsw")
        assert desk.indexes.vector_switches == 1
        assert len(desk.indexes.vectors) == desk.store.chunk_count()
        for article in samples:
            assert desk.searcher.search(article.title, top_k=1, mode="dense")[0].article_id == (
                article.id
            )
    with Newsdesk.open(settings, embedder=embedder) as desk:
        assert desk.index_status == "loaded"  # no rebuild on a clean restart
        assert desk.indexes.vectors.kind == "hnsw"
        assert len(desk.indexes.vectors) == desk.store.chunk_count()


def test_a_saved_flat_index_above_the_threshold_loads_then_switches(
    tmp_path: Path, embedder: Embedder, samples: list[ArticleInput]
) -> None:
    flat = Settings(data_dir=tmp_path / "data", vector_index="flat", _env_file=None)
    with Newsdesk.open(flat, embedder=embedder) as desk:
        desk.ingestor.ingest(samples)
        chunks = desk.store.chunk_count()
    auto = flat.model_copy(update={"vector_index": "auto", "auto_hnsw_chunks": chunks // 2})
    with Newsdesk.open(auto, embedder=embedder) as desk:
        # Ready at once with the saved exact index; HNSW follows in the background.
        assert desk.index_status == "loaded"
        assert len(desk.searcher.search(samples[0].title, top_k=3)) == 3
        _wait_for_kind(desk, "hnsw")
        assert len(desk.indexes.vectors) == chunks
