"""Ingest → search → delete → restart, on the real model, real BM25 and each vector store
(faiss, and Milvus through milvus-lite: the `settings` fixture below)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from newsdesk.container import Newsdesk
from newsdesk.domain import ArticleInput, SearchFilters
from newsdesk.embedding import Embedder
from newsdesk.errors import InvalidInput, NotFound
from newsdesk.settings import RetrievalMode, Settings
from tests.support.postgres import store_database
from tests.support.vector_stores import VECTOR_STORES, store_settings

from .support.stored import stored_article

# Every test that uses the article store runs on SQLite, on PostgreSQL, and on PostgreSQL with
# lexical search in it (lexical_store=postgres), and (through the `settings` fixture below) on
# each vector store: every combination.
pytestmark = [pytest.mark.both_stores, pytest.mark.lexical_stores]

QUESTIONS = [
    ("Why did NATO refuse to impose a no-fly zone over Ukraine?", "nato-no-fly-zone-stoltenberg"),
    (
        "How many people died when a crane fell on the Grand Mosque?",
        "wikinews-2015-mecca-crane-collapse",
    ),
    (
        "When was the space shuttle programme retired?",
        "wikinews-2011-nasa-shuttle-anniversary-retirement",
    ),
    (
        "Which countries' asylum seekers get a questionnaire instead of an interview?",
        "wikinews-2023-uk-asylum-questionnaire",
    ),
]


@pytest.fixture(params=VECTOR_STORES)
def settings(
    request: pytest.FixtureRequest, tmp_path: Path, database_url: str | None, lexical_store: str
) -> Settings:
    """Every test here that opens the default collection runs on each vector store."""
    return store_settings(
        tmp_path / "data", request.param, database_url=database_url, lexical_store=lexical_store
    )


@pytest.mark.parametrize("mode", ["hybrid", "dense", "lexical"])
def test_the_right_article_comes_first(loaded_desk: Newsdesk, mode: RetrievalMode) -> None:
    for question, article_id in QUESTIONS:
        results = loaded_desk.searcher.search(question, top_k=5, mode=mode)
        assert results, question
        assert results[0].article_id == article_id, (mode, question, results[0].title)


def test_results_carry_exact_offsets_and_scores(loaded_desk: Newsdesk) -> None:
    results = loaded_desk.searcher.search(
        "Biden described Zelenskyy as a tough negotiator", top_k=5
    )
    assert len(results) == 5
    assert [r.score for r in results] == sorted((r.score for r in results), reverse=True)
    for passage in results:
        article = stored_article(loaded_desk.store, passage.article_id)
        assert article.text[passage.char_start : passage.char_end] == passage.text
    best = results[0]
    assert "tough negotiator" in best.text
    assert best.dense_score is not None and best.lexical_score is not None
    # similarity is the stored vector's cosine to the query: equal to the dense score where
    # the dense retriever found the chunk, and present even where only BM25 did.
    for passage in results:
        assert passage.similarity is not None and -1 <= passage.similarity <= 1
        if passage.dense_score is not None:
            assert abs(passage.similarity - passage.dense_score) < 1e-4


def test_filters_restrict_every_retriever(loaded_desk: Newsdesk) -> None:
    only = SearchFilters(article_ids=["wikinews-2015-mecca-crane-collapse"])
    for mode in ("hybrid", "dense", "lexical"):
        results = loaded_desk.searcher.search("NATO no-fly zone", top_k=5, filters=only, mode=mode)
        assert {r.article_id for r in results} <= {"wikinews-2015-mecca-crane-collapse"}
    wikinews = loaded_desk.searcher.search(
        "NATO no-fly zone", top_k=10, filters=SearchFilters(sources=["Wikinews"])
    )
    assert wikinews and all(r.source == "Wikinews" for r in wikinews)
    dated = loaded_desk.searcher.search(
        "news",
        top_k=20,
        filters=SearchFilters(published_after="2015-01-01", published_before="2016-12-31"),
    )
    assert dated and all(
        r.published_at is not None and r.published_at.year in (2015, 2016) for r in dated
    )
    nothing = loaded_desk.searcher.search("crane", filters=SearchFilters(sources=["Nobody"]))
    assert nothing == []


def test_reingesting_unchanged_articles_changes_nothing(
    loaded_desk: Newsdesk, samples: list[ArticleInput]
) -> None:
    generation = loaded_desk.store.generation()
    vectors = len(loaded_desk.indexes.vectors)
    report = loaded_desk.ingestor.ingest(samples)
    assert report.added == [] and report.updated == [] and report.chunks == 0
    assert sorted(report.unchanged) == sorted(a.id for a in samples)
    assert loaded_desk.store.generation() == generation
    assert len(loaded_desk.indexes.vectors) == vectors


def test_changed_text_replaces_the_old_chunks(
    loaded_desk: Newsdesk, samples: list[ArticleInput]
) -> None:
    original = samples[0]
    old = stored_article(loaded_desk.store, original.id)
    old_ids = {c.chunk_id for c in old.chunks}
    changed = original.model_copy(
        update={"text": "Zebras escaped from the city zoo on Tuesday. Keepers caught them by noon."}
    )
    report = loaded_desk.ingestor.ingest([changed])
    assert report.updated == [original.id] and report.chunks == 1
    article = stored_article(loaded_desk.store, original.id)
    assert {c.chunk_id for c in article.chunks}.isdisjoint(old_ids)
    hits = loaded_desk.searcher.search("zebras escaped from the zoo", top_k=3)
    assert hits[0].article_id == original.id
    # No retriever can return the old chunks any more.
    for mode in ("dense", "lexical"):
        ids = {r.chunk_id for r in loaded_desk.searcher.search(original.title, top_k=50, mode=mode)}
        assert ids.isdisjoint(old_ids)


def test_metadata_only_change_keeps_chunks(
    loaded_desk: Newsdesk, samples: list[ArticleInput]
) -> None:
    original = samples[1]
    old = stored_article(loaded_desk.store, original.id)
    before = [c.chunk_id for c in old.chunks]
    report = loaded_desk.ingestor.ingest([original.model_copy(update={"title": "A new title"})])
    assert report.updated == [original.id] and report.chunks == 0
    article = stored_article(loaded_desk.store, original.id)
    assert article.title == "A new title" and [c.chunk_id for c in article.chunks] == before


def test_delete_removes_the_article_from_all_three_stores(loaded_desk: Newsdesk) -> None:
    article_id = "wikinews-2015-mecca-crane-collapse"
    article = stored_article(loaded_desk.store, article_id)
    chunk_ids = np.array([c.chunk_id for c in article.chunks])
    loaded_desk.ingestor.delete(article_id)
    assert loaded_desk.store.get_article(article_id) is None
    assert loaded_desk.store.passages(chunk_ids.tolist()) == {}
    _, dense_ids = loaded_desk.indexes.vectors.search(
        loaded_desk.embedder.embed(["crane collapse Mecca Grand Mosque"]), 1000
    )
    assert not np.isin(chunk_ids, dense_ids).any()
    _, lexical_ids = loaded_desk.indexes.fresh_lexical().search("crane Mecca mosque", 1000)
    assert not np.isin(chunk_ids, lexical_ids).any()
    with pytest.raises(NotFound):
        loaded_desk.ingestor.delete(article_id)


def test_restart_reloads_the_same_results(
    settings: Settings, embedder: Embedder, samples: list[ArticleInput]
) -> None:
    query = "crane fell into the mosque during a storm"
    with Newsdesk.open(settings, embedder=embedder) as desk:
        desk.ingestor.ingest(samples)
        before = desk.searcher.search(query)
    with Newsdesk.open(settings, embedder=embedder) as desk:
        assert desk.index_status == "loaded"
        after = desk.searcher.search(query)
    assert [r.chunk_id for r in after] == [r.chunk_id for r in before]
    # Equal up to float32 rounding: a reloaded Milvus collection may sum in another order
    # (rounding both to 6 places failed on 0.3368595 vs 0.3368594).
    assert [r.score for r in after] == pytest.approx([r.score for r in before], abs=1e-5)


def test_indexes_behind_sqlite_are_rebuilt_at_start(
    settings: Settings, embedder: Embedder, samples: list[ArticleInput], store_kind: str
) -> None:
    # Simulate a crash after the SQLite commit but before the index snapshot was written.
    desk = Newsdesk.open(settings, embedder=embedder)
    desk.ingestor.ingest(samples[:5])
    desk.indexes.flush()
    desk.ingestor.ingest(samples[5:])
    if desk.follower is not None:
        desk.follower.stop()  # the crashed process's threads are gone with it
    desk.store.close()  # no flush: the saved snapshot is now older than SQLite
    desk.data_lock.release()  # as the OS does when the crashed process is gone
    with Newsdesk.open(settings, embedder=embedder) as reopened:
        # SQLite: rebuilt. PostgreSQL: the change log brings the snapshot up to date —
        # unless the vectors live in Milvus, which already holds the later writes' vectors
        # and is reconciled with the store (rebuilt) instead.
        expected = "rebuilt: snapshot generation" if store_kind == "sqlite" else "loaded, then"
        if settings.vector_store == "milvus" and store_kind != "sqlite":
            expected = "rebuilt"
        assert reopened.index_status.startswith(expected), reopened.index_status
        hits = reopened.searcher.search(samples[-1].title, top_k=3)
        assert hits[0].article_id == samples[-1].id
        assert len(reopened.indexes.vectors) == reopened.store.chunk_count()


def test_a_damaged_snapshot_is_rebuilt(
    settings: Settings, embedder: Embedder, samples: list[ArticleInput]
) -> None:
    with Newsdesk.open(settings, embedder=embedder) as desk:
        desk.ingestor.ingest(samples[:3])
        snapshot_file = desk.indexes.vectors.snapshot_file
    current = (settings.index_dir / "CURRENT").read_text()
    (settings.index_dir / current / snapshot_file).write_bytes(b"garbage")
    with Newsdesk.open(settings, embedder=embedder) as desk:
        assert desk.index_status.startswith("rebuilt: snapshot unreadable")
        assert desk.searcher.search(samples[0].title)[0].article_id == samples[0].id


def test_bad_input_is_rejected_and_leaves_the_index_untouched(loaded_desk: Newsdesk) -> None:
    generation = loaded_desk.store.generation()
    report = loaded_desk.ingestor.ingest([ArticleInput(id="blank", title="Blank", text=" \n\t ")])
    assert [r.id for r in report.rejected] == ["blank"] and "empty" in report.rejected[0].reason
    with pytest.raises(InvalidInput):
        loaded_desk.searcher.search("anything", top_k=10**6)
    with pytest.raises(InvalidInput):
        loaded_desk.searcher.search("   ")
    assert loaded_desk.store.generation() == generation


def test_approximate_index_kinds_search_and_delete(
    tmp_path,
    embedder: Embedder,
    samples: list[ArticleInput],
    store_kind: str,
    lexical_store: str,
) -> None:
    for kind in ("hnsw", "ivfpq"):
        with store_database(store_kind) as url:
            _search_and_delete(tmp_path, kind, url, lexical_store, embedder, samples)


def _search_and_delete(
    tmp_path,
    kind: str,
    url: str | None,
    lexical_store: str,
    embedder: Embedder,
    samples: list[ArticleInput],
) -> None:
    settings = Settings(
        data_dir=tmp_path / kind,
        vector_index=kind,
        database_url=url,
        lexical_store=lexical_store,
        _env_file=None,
    )
    with Newsdesk.open(settings, embedder=embedder) as desk:
        desk.ingestor.ingest(samples)
        question, expected = QUESTIONS[1]
        assert desk.searcher.search(question, mode="dense")[0].article_id == expected
        desk.ingestor.delete(expected)
        assert expected not in {
            r.article_id for r in desk.searcher.search(question, top_k=20, mode="dense")
        }
    with Newsdesk.open(settings, embedder=embedder) as desk:
        assert desk.index_status == "loaded"
        assert len(desk.indexes.vectors) == desk.store.chunk_count()


def test_vectors_from_another_model_are_re_embedded_at_start(
    settings: Settings, embedder: Embedder, samples: list[ArticleInput]
) -> None:
    with Newsdesk.open(settings, embedder=embedder) as desk:
        desk.ingestor.ingest(samples[:4])
        # Pretend the stored vectors came from another model, and spoil them.
        desk.store.set_state("embedding_model", "some-older-model")
        ids, _ = next(desk.store.iter_vectors())
        desk.store.replace_embeddings(ids, np.zeros((len(ids), embedder.dimension), np.float32))
    with Newsdesk.open(settings, embedder=embedder) as desk:
        assert desk.store.get_state("embedding_model") == embedder.model_id
        assert desk.index_status.startswith("rebuilt")
        ids, vectors = next(desk.store.iter_vectors())
        assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)
        hits = desk.searcher.search(samples[2].title, top_k=1, mode="dense")
        assert hits[0].article_id == samples[2].id


def test_passages_are_cut_at_character_offsets_whatever_the_script(desk: Newsdesk) -> None:
    """Passages are cut out of the article in the database: offsets count characters there as
    in Python, through emoji (4 bytes in UTF-8, 2 UTF-16 units), CJK and combining marks."""
    sentences = [
        "The café in Zürich 🇨🇭 reopened on Monday, its owner said.",
        "東京の市場は月曜日に再開した。 Traders 🚀 cheered the news.",
        "Ŝtorm wàrnings (é as e + \u0301: e\u0301) were lifted 🌪️ by noon.",
    ]
    text = " ".join(sentences * 12)
    desk.ingestor.ingest([ArticleInput(id="scripts", title="Scripts 🌍", text=text)])
    article = stored_article(desk.store, "scripts")
    assert len(article.chunks) > 1
    passages = desk.store.passages([c.chunk_id for c in article.chunks])
    for chunk in article.chunks:
        assert passages[chunk.chunk_id].text == article.text[chunk.char_start : chunk.char_end]
