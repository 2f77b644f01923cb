"""Deletes and replacements on an HNSW index: tombstones instead of rebuilds under the
readers' lock, kept across restarts, and a compaction beside the readers past
`hnsw_max_deleted_share`. Real model, real faiss, real SQLite, through the ingest path."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import pytest

from newsdesk.container import Newsdesk
from newsdesk.domain import ArticleInput, SearchFilters
from newsdesk.embedding import Embedder
from newsdesk.settings import Settings
from newsdesk.stores.vectors import FaissVectorIndex

from .support.patience import PATIENCE_S
from .support.stored import stored_article
from .support.vector_stores import VECTOR_STORES, store_settings

# Every test that uses the article store runs on SQLite and on PostgreSQL.
pytestmark = [pytest.mark.both_stores, pytest.mark.lexical_stores]

DIMENSION = 16
QUERIES = [
    "Why did NATO refuse to impose a no-fly zone over Ukraine?",
    "When was the space shuttle programme retired?",
    "robotics team of girls from Afghanistan",
    "homeopathy manslaughter trial",
    "World Cup match results",
]


def _hnsw(tmp_path: Path, database_url: str | None, share: float = 0.9) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        vector_index="hnsw",
        hnsw_max_deleted_share=share,
        backend="extractive",
        _env_file=None,
    )


def _chunk_ids(desk: Newsdesk, article_id: str) -> set[int]:
    article = stored_article(desk.store, article_id)
    return {c.chunk_id for c in article.chunks}


def _vector_rebuilds(desk: Newsdesk) -> int:
    return desk.indexes.rebuild_metrics.count("vectors")


def _every_hit(desk: Newsdesk, queries: list[str], **options: Any) -> set[int]:
    """Chunk ids any of these searches returns, dense and hybrid, deep."""
    found: set[int] = set()
    for query in queries:
        for mode in ("dense", "hybrid"):
            hits = desk.searcher.search(query, top_k=50, mode=mode, **options)
            found |= {hit.chunk_id for hit in hits}
    return found


def _assert_never_found(desk: Newsdesk, removed: set[int], queries: list[str]) -> None:
    assert _every_hit(desk, queries).isdisjoint(removed)
    # Nor by the index itself, asked for everything it holds, with each removed vector it still
    # stores (tombstoned, not yet compacted away) as the query.
    vectors = _faiss(desk)
    held = set(vectors.deleted_ids().tolist()) & removed
    for chunk_id in sorted(held)[:5]:
        query = vectors._index.reconstruct(chunk_id)
        _, ids = vectors.search(query[None, :], len(vectors) + vectors.deleted)
        assert len(ids) and removed.isdisjoint(ids.tolist())


def _faiss(desk: Newsdesk) -> FaissVectorIndex:
    assert isinstance(desk.indexes.vectors, FaissVectorIndex)
    return desk.indexes.vectors


def _unit_vectors(count: int, seed: int) -> np.ndarray:
    vectors = np.random.default_rng(seed).normal(size=(count, DIMENSION)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_hnsw_removals_are_tombstones_searches_skip_and_len_does_not_count(
    tmp_path: Path,
) -> None:
    index = FaissVectorIndex(DIMENSION, Settings(vector_index="hnsw", _env_file=None))
    vectors, ids = _unit_vectors(300, seed=3), np.arange(10, 310, dtype=np.int64)
    index.rebuild(ids, vectors)
    assert index.can_update(removing=True)
    index.remove(ids[:20])
    index.remove(np.array([ids[0], 99_999]))  # again, and one the index never held: no effect
    assert (len(index), index.deleted) == (280, 20)
    for row in (0, 7, 19):  # a removed vector is not found even by itself
        _, found = index.search(vectors[row], 300)
        assert not np.isin(ids[:20], found).any() and len(found) > 0
    # Filters and tombstones together: only allowed, live ids.
    _, found = index.search(vectors[0], 50, allowed_ids=ids[:40])
    assert set(found.tolist()) == set(ids[20:40].tolist())
    with pytest.raises(ValueError, match="never reused"):
        index.add(ids[:1], vectors[:1])
    index.save(tmp_path / "vectors.faiss")
    loaded = FaissVectorIndex(DIMENSION, Settings(vector_index="hnsw", _env_file=None))
    loaded.load(tmp_path / "vectors.faiss")
    assert (len(loaded), loaded.deleted) == (280, 20)
    assert np.array_equal(loaded.deleted_ids(), ids[:20])
    # Rebuilt from live vectors, nothing is deleted any more.
    loaded.rebuild(ids[20:], vectors[20:])
    assert (len(loaded), loaded.deleted) == (280, 0)


def test_delete_and_replace_on_hnsw_never_rebuild_the_index(
    tmp_path: Path,
    embedder: Embedder,
    samples: list[ArticleInput],
    database_url: str | None,
) -> None:
    with Newsdesk.open(_hnsw(tmp_path, database_url), embedder=embedder) as desk:
        desk.ingestor.ingest(samples)
        assert desk.indexes.vectors.kind == "hnsw"
        rebuilds = _vector_rebuilds(desk)
        largest_id = max(int(ids.max()) for ids, _ in desk.store.iter_vectors())

        deleted = _chunk_ids(desk, samples[1].id)
        desk.ingestor.delete(samples[1].id)
        replaced = _chunk_ids(desk, samples[2].id)
        revised = samples[2].model_copy(
            update={"text": samples[2].text.replace("Indonesia", "Sumatra") + " Revised."}
        )
        assert desk.ingestor.ingest([revised]).updated == [samples[2].id]

        # In place: no rebuild of the vector index, under the lock or beside it.
        assert _vector_rebuilds(desk) == rebuilds and desk.indexes.vector_switches == 0
        assert desk.indexes.vectors.deleted == len(deleted) + len(replaced)
        assert len(desk.indexes.vectors) == desk.store.chunk_count()
        # The revised article's chunks are new ids (SQLite AUTOINCREMENT): plain adds.
        assert min(_chunk_ids(desk, samples[2].id)) > largest_id
        titles = [samples[1].title, samples[2].title, *QUERIES]
        _assert_never_found(desk, deleted | replaced, titles)
        hit = desk.searcher.search("asylum seekers rescued off Sumatra", top_k=1, mode="dense")
        assert hit[0].article_id == samples[2].id


@pytest.mark.parametrize("vector_store", VECTOR_STORES)
def test_deleted_and_replaced_chunks_are_never_found_on_any_store(
    tmp_path: Path, embedder: Embedder, samples: list[ArticleInput], vector_store: str
) -> None:
    """What every vector store owes: after deletes and replacements, no search (filtered or
    not, dense or hybrid, asked for everything) returns a removed chunk, and the index counts
    exactly SQLite's chunks, before and after a restart."""
    settings = store_settings(tmp_path / "data", vector_store, vector_index="hnsw")
    with Newsdesk.open(settings, embedder=embedder) as desk:
        desk.ingestor.ingest(samples[:8])
        removed = _chunk_ids(desk, samples[1].id) | _chunk_ids(desk, samples[2].id)
        desk.ingestor.delete(samples[1].id)
        revised = samples[2].model_copy(
            update={"text": samples[2].text.replace("Indonesia", "Sumatra") + " Revised."}
        )
        assert desk.ingestor.ingest([revised]).updated == [samples[2].id]
        assert len(desk.indexes.vectors) == desk.store.chunk_count()
        titles = [samples[1].title, samples[2].title, *QUERIES]
        assert _every_hit(desk, titles).isdisjoint(removed)
        both = SearchFilters(article_ids=[samples[1].id, samples[2].id])
        found = _every_hit(desk, titles, filters=both)
        assert found and found <= _chunk_ids(desk, samples[2].id)
        everything = desk.indexes.vectors.search(desk.embedder.embed([titles[0]]), 10_000)[1]
        assert len(everything) == desk.store.chunk_count()
        assert removed.isdisjoint(everything.tolist())
    with Newsdesk.open(settings, embedder=embedder) as desk:
        assert desk.index_status == "loaded"
        assert len(desk.indexes.vectors) == desk.store.chunk_count()
        assert _every_hit(desk, titles).isdisjoint(removed)


def test_filters_work_with_tombstones(
    tmp_path: Path,
    embedder: Embedder,
    samples: list[ArticleInput],
    database_url: str | None,
) -> None:
    with Newsdesk.open(_hnsw(tmp_path, database_url), embedder=embedder) as desk:
        desk.ingestor.ingest(samples)
        kept, gone = samples[4].id, samples[5].id
        removed = _chunk_ids(desk, gone)
        desk.ingestor.delete(gone)
        both = SearchFilters(article_ids=[kept, gone])
        found = _every_hit(desk, [samples[4].title, samples[5].title], filters=both)
        assert found and found <= _chunk_ids(desk, kept)
        only_gone = SearchFilters(article_ids=[gone])
        assert not _every_hit(desk, [samples[5].title], filters=only_gone)
        # The filter's ids and the tombstones combine in faiss: an allowed but deleted id and
        # an allowed live one, searched for with the deleted chunk's own vector.
        chunk = next(iter(removed))
        vectors = _faiss(desk)
        allowed = np.array([chunk, *_chunk_ids(desk, kept)], dtype=np.int64)
        _, ids = vectors.search(vectors._index.reconstruct(chunk)[None, :], 20, allowed)
        assert chunk not in ids.tolist() and set(ids.tolist()) == _chunk_ids(desk, kept)
        assert removed.isdisjoint(_every_hit(desk, [samples[5].title]))


def test_tombstones_survive_a_restart_and_a_damaged_file_costs_a_rebuild(
    tmp_path: Path,
    embedder: Embedder,
    samples: list[ArticleInput],
    database_url: str | None,
) -> None:
    settings = _hnsw(tmp_path, database_url)
    with Newsdesk.open(settings, embedder=embedder) as desk:
        desk.ingestor.ingest(samples)
        removed = _chunk_ids(desk, samples[0].id) | _chunk_ids(desk, samples[3].id)
        desk.ingestor.delete(samples[0].id)
        desk.ingestor.delete(samples[3].id)
    snapshot = settings.index_dir / (settings.index_dir / "CURRENT").read_text()
    manifest = json.loads((snapshot / "manifest.json").read_text())
    assert manifest["format"] == 3 and manifest["vectors_deleted"] == len(removed)
    with Newsdesk.open(settings, embedder=embedder) as desk:
        assert desk.index_status == "loaded"  # no rebuild on a clean restart
        assert desk.indexes.vectors.deleted == len(removed)
        assert len(desk.indexes.vectors) == desk.store.chunk_count()
        _assert_never_found(desk, removed, [samples[0].title, samples[3].title, *QUERIES])
    # A lost deleted-ids file would bring the removed chunks back: the counts in the manifest
    # catch it, and it costs a rebuild, never consistency; so does a damaged one.
    (snapshot / "vectors.deleted.npy").unlink()
    with Newsdesk.open(settings, embedder=embedder) as desk:
        assert desk.index_status.startswith("rebuilt: snapshot unreadable")
        assert desk.indexes.vectors.deleted == 0
        assert len(desk.indexes.vectors) == desk.store.chunk_count()
        assert _every_hit(desk, [samples[0].title, samples[3].title]).isdisjoint(removed)
        desk.ingestor.delete(samples[6].id)
    snapshot = settings.index_dir / (settings.index_dir / "CURRENT").read_text()
    (snapshot / "vectors.deleted.npy").write_bytes(b"garbage")
    with Newsdesk.open(settings, embedder=embedder) as desk:
        assert desk.index_status.startswith("rebuilt: snapshot unreadable")
        assert len(desk.indexes.vectors) == desk.store.chunk_count()


def test_a_snapshot_of_the_previous_format_loads_without_tombstones(
    tmp_path: Path,
    embedder: Embedder,
    samples: list[ArticleInput],
    database_url: str | None,
) -> None:
    settings = _hnsw(tmp_path, database_url)
    with Newsdesk.open(settings, embedder=embedder) as desk:
        desk.ingestor.ingest(samples[:4])
    snapshot = settings.index_dir / (settings.index_dir / "CURRENT").read_text()
    manifest = json.loads((snapshot / "manifest.json").read_text())
    (snapshot / "manifest.json").write_text(json.dumps({**manifest, "format": 2}))
    (snapshot / "vectors.deleted.npy").unlink()  # format 2 had no deleted ids
    with Newsdesk.open(settings, embedder=embedder) as desk:
        assert desk.index_status == "loaded"
        assert desk.indexes.vectors.deleted == 0
        assert len(desk.indexes.vectors) == desk.store.chunk_count()


def _wait_for_switches(desk: Newsdesk, count: int) -> None:
    """Until ``count`` new indexes were swapped in and no rebuild is under way."""
    deadline = time.monotonic() + PATIENCE_S
    while time.monotonic() < deadline and (
        desk.indexes.vector_switches < count or desk.indexes._vector_log is not None
    ):
        time.sleep(0.05)
    assert desk.indexes.vector_switches >= count and desk.indexes._vector_log is None


def _ranked(desk: Newsdesk) -> list[list[tuple[int, float]]]:
    return [
        [(hit.chunk_id, round(hit.score, 5)) for hit in desk.searcher.search(q, top_k=10, mode=m)]
        for q in QUERIES
        for m in ("dense", "hybrid")
    ]


def test_past_the_share_the_index_is_compacted_beside_the_readers_with_the_same_results(
    tmp_path: Path,
    embedder: Embedder,
    samples: list[ArticleInput],
    database_url: str | None,
) -> None:
    # Tombstones kept while the share is high...
    with Newsdesk.open(_hnsw(tmp_path, database_url, share=0.9), embedder=embedder) as desk:
        desk.ingestor.ingest(samples)
        removed: set[int] = set()
        for article in samples[12:16]:
            removed |= _chunk_ids(desk, article.id)
            desk.ingestor.delete(article.id)
        share = desk.indexes.vectors.deleted / (len(desk.indexes.vectors) + len(removed))
        assert share > 0.05 and desk.indexes.vector_switches == 0
        before = _ranked(desk)
    # ... and compacted in the background when a lower share applies (here: at start).
    with Newsdesk.open(_hnsw(tmp_path, database_url, share=0.05), embedder=embedder) as desk:
        assert desk.index_status == "loaded"
        rebuilds = _vector_rebuilds(desk)
        _wait_for_switches(desk, 1)
        assert desk.indexes.vector_switches == 1
        assert desk.indexes.vectors.kind == "hnsw" and desk.indexes.vectors.deleted == 0
        assert len(desk.indexes.vectors) == desk.store.chunk_count()
        # Every rebuild of the vector index was one beside the readers, none under the lock.
        assert _vector_rebuilds(desk) - rebuilds == desk.indexes.vector_switches
        assert _ranked(desk) == before

        # A write that takes the deleted vectors past the share starts the next compaction;
        # a delete committed right after it, probably while it builds, is replayed onto it.
        for article in samples[:12]:
            removed |= _chunk_ids(desk, article.id)
            desk.ingestor.delete(article.id)
            if desk.indexes.vectors.deleted == 0 or desk.indexes._vector_log is not None:
                break
        later = samples[16]
        removed |= _chunk_ids(desk, later.id)
        desk.ingestor.delete(later.id)
        _wait_for_switches(desk, 2)
        assert _vector_rebuilds(desk) - rebuilds == desk.indexes.vector_switches
        assert desk.indexes.vectors.deleted <= 0.05 * (len(desk.indexes.vectors) + 1)
        assert len(desk.indexes.vectors) == desk.store.chunk_count()
        _assert_never_found(desk, removed, [a.title for a in samples] + QUERIES)


def test_a_loaded_hnsw_index_gets_room_to_grow_beside_the_readers(
    tmp_path: Path,
    embedder: Embedder,
    samples: list[ArticleInput],
    database_url: str | None,
) -> None:
    """faiss loads an index at exactly its size, so its first add would copy all of it under
    the readers' lock; after a load a copy with spare capacity is swapped in instead, with the
    same contents and tombstones, and adds within the room never grow the arrays again."""
    settings = _hnsw(tmp_path, database_url)
    with Newsdesk.open(settings, embedder=embedder) as desk:
        desk.ingestor.ingest(samples[:-1])
        removed = _chunk_ids(desk, samples[0].id)
        desk.ingestor.delete(samples[0].id)
        before = _ranked(desk)
    with Newsdesk.open(settings, embedder=embedder) as desk:
        assert desk.index_status == "loaded"
        vectors = _faiss(desk)
        deadline = time.monotonic() + PATIENCE_S
        while vectors.needs_room(1):
            assert time.monotonic() < deadline, "no room was made after the load"
            time.sleep(0.05)
        assert vectors._room is not None and vectors._room >= 1024
        assert _ranked(desk) == before
        assert vectors.deleted == len(removed)
        _assert_never_found(desk, removed, [samples[0].title, *QUERIES])
        address = _vectors_address(vectors)
        desk.ingestor.ingest([samples[-1]])  # a write within the room: no reallocation
        assert _vectors_address(vectors) == address
        assert _chunk_ids(desk, samples[-1].id) <= _every_hit(desk, [samples[-1].title])


def _vectors_address(vectors: FaissVectorIndex) -> int:
    """Where the HNSW index's vector array lives (it moves when faiss reallocates it)."""
    inner = faiss.downcast_index(faiss.downcast_index(vectors._index).index)
    return int(faiss.downcast_index(inner.storage).codes.data())
