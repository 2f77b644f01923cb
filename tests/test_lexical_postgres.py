"""Lexical search in PostgreSQL (``lexical_store=postgres``, issue 15): the same BM25 as the
embedded bm25s index, kept in the article database by each write's own transaction, filters
applied in the engine, shared by the processes on one database, kept across restarts.

Real PostgreSQL (skipped, saying why, only where it is unreachable) and the real model."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from newsdesk.container import Newsdesk
from newsdesk.domain import ArticleInput, SearchFilters
from newsdesk.embedding import Embedder
from newsdesk.settings import RetrievalMode, Settings
from newsdesk.stores import lexical_postgres, lexical_postgres_search
from newsdesk.stores.lexical import Bm25Index
from newsdesk.stores.lexical_postgres_search import PostgresLexicalView
from newsdesk.stores.sqlite import ArticleStore, ArticleWrite, ChunkWrite

from .support.cli import run_newsdesk
from .support.postgres import fresh_database
from .support.samples import load_samples
from .support.stored import stored_article

QUERIES = [
    "NATO no-fly zone Ukraine",
    "crane collapse Grand Mosque Mecca",
    "space shuttle programme retired",
    "asylum seekers questionnaire",
    "Biden Zelenskyy tough negotiator",
    "storm killed people",
]


def _settings(data_dir: Path, url: str, lexical_store: str = "postgres") -> Settings:
    return Settings(
        data_dir=data_dir,
        database_url=url,
        lexical_store=lexical_store,
        backend="extractive",
        follow_seconds=0.2,
        _env_file=None,
    )


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with fresh_database() as database:
        yield database


@pytest.fixture(scope="module")
def desk(
    tmp_path_factory: pytest.TempPathFactory, url: str, embedder: Embedder
) -> Iterator[Newsdesk]:
    settings = _settings(tmp_path_factory.mktemp("lexical") / "data", url)
    with Newsdesk.open(settings, embedder=embedder) as opened:
        opened.ingestor.ingest(load_samples())
        yield opened


def _fresh_bm25(desk: Newsdesk) -> Bm25Index:
    """The embedded index built from scratch over the same chunks."""
    index = Bm25Index()
    ids, texts = [], []
    for batch_ids, batch_texts in desk.store.iter_texts():
        ids.append(batch_ids)
        texts += batch_texts
    index.rebuild(np.concatenate(ids), texts)
    return index


def test_the_engine_ranks_as_the_embedded_bm25_does(desk: Newsdesk) -> None:
    engine = desk.indexes.fresh_lexical()
    assert isinstance(engine, PostgresLexicalView)
    embedded = _fresh_bm25(desk)
    assert engine.indexed_chunks == desk.store.chunk_count() == len(embedded)
    for query in QUERIES:
        scores, ids = engine.search(query, 10)
        expected_scores, expected_ids = embedded.search(query, 10)
        assert len(ids) == len(expected_ids) > 0, query
        assert ids[0] == expected_ids[0], query
        # Same terms, same statistics, same formula: the same scores (float32 against
        # float64 sums), so the same ranking but for exact ties.
        assert np.allclose(scores, expected_scores, rtol=1e-4), query
        assert set(ids[:5]) == set(expected_ids[:5]), query
    # The reranker's idf feature reads the engine's collection-wide statistics.
    terms = ["nato", "crane", "unseenterm"]
    bm25_idf = [
        float(np.log(1 + (len(embedded) - df + 0.5) / (df + 0.5)))
        for df in embedded.document_frequencies(terms)
    ]
    assert np.allclose(engine.idf(terms), bm25_idf)


def test_lexical_search_through_the_searcher_uses_the_engine(desk: Newsdesk) -> None:
    hits = desk.searcher.search("crane collapse Grand Mosque Mecca", top_k=3, mode="lexical")
    assert hits[0].article_id == "wikinews-2015-mecca-crane-collapse"
    assert hits[0].lexical_score is not None and hits[0].lexical_score > 0
    assert desk.indexes.lexical_kind == "postgres"
    assert not desk.indexes.lexical_view.derived  # nothing embedded besides


@pytest.mark.parametrize("mode", ["lexical", "hybrid"])
def test_filters_apply_in_the_engine(desk: Newsdesk, mode: RetrievalMode) -> None:
    search = desk.searcher.search
    # Words found in many articles; the filter keeps one that does not come first.
    query = "people killed in the storm"
    unfiltered = [h.article_id for h in search(query, top_k=20, mode=mode)]
    kept = next(a for a in unfiltered if a != unfiltered[0])
    only = SearchFilters(article_ids=[kept])
    hits = search(query, top_k=5, filters=only, mode=mode)
    assert hits and {h.article_id for h in hits} == {kept}
    wikinews = search(query, top_k=10, filters=SearchFilters(sources=["Wikinews"]), mode=mode)
    assert wikinews and all(h.source == "Wikinews" for h in wikinews)
    dated = search(
        "people killed",
        top_k=20,
        mode=mode,
        filters=SearchFilters(published_after="2015-01-01", published_before="2016-12-31"),
    )
    assert dated and all(h.published_at and h.published_at.year in (2015, 2016) for h in dated)
    assert search("crane", filters=SearchFilters(sources=["Nobody"]), mode=mode) == []
    # Filters restrict the chunks scored, not the statistics: the same score as unfiltered.
    engine = desk.indexes.fresh_lexical()
    scores, ids = engine.search(query, 50)
    kept_scores, kept_ids = engine.search(query, 50, filters=only)
    assert len(kept_ids) and np.isin(kept_ids, ids).all()
    by_id = dict(zip(ids.tolist(), scores.tolist(), strict=True))
    kept_pairs = zip(kept_ids.tolist(), kept_scores.tolist(), strict=True)
    assert all(abs(by_id[i] - s) < 1e-6 for i, s in kept_pairs)
    _, allowed_ids = engine.search(query, 50, allowed_ids=kept_ids[:1])
    assert allowed_ids.tolist() == kept_ids[:1].tolist()


def test_a_write_and_a_delete_reach_the_engine_in_their_transaction(
    tmp_path: Path, embedder: Embedder
) -> None:
    story = ArticleInput(
        id="okapi", title="Okapi calf born in Lisbon", text="A rare okapi calf was born."
    )
    with fresh_database() as url, Newsdesk.open(_settings(tmp_path, url), embedder=embedder) as d:
        d.ingestor.ingest([story])
        engine = d.indexes.fresh_lexical()
        _, ids = engine.search("okapi calf", 10)
        article = stored_article(d.store, "okapi")
        chunk_ids = [c.chunk_id for c in article.chunks]
        assert ids.tolist() == chunk_ids
        d.ingestor.ingest([story.model_copy(update={"text": "A tapir moved to Bristol."})])
        assert len(engine.search("okapi calf", 10)[1]) == 0
        assert len(engine.search("tapir Bristol", 10)[1]) == 1
        d.ingestor.delete("okapi")
        assert len(engine.search("tapir Bristol", 10)[1]) == 0
        assert engine.indexed_chunks == d.store.chunk_count() == 0


def test_a_restart_keeps_the_engine_and_rebuilds_nothing(
    tmp_path: Path, embedder: Embedder, caplog: pytest.LogCaptureFixture
) -> None:
    samples = load_samples()
    query = "crane fell into the mosque during a storm"
    with fresh_database() as url:
        settings = _settings(tmp_path / "data", url)
        with Newsdesk.open(settings, embedder=embedder) as d:
            d.ingestor.ingest(samples)
            before = [(h.chunk_id, round(h.score, 5)) for h in d.searcher.search(query)]
            lexical_before = d.searcher.search(query, mode="lexical")
        caplog.set_level("INFO")
        with Newsdesk.open(settings, embedder=embedder) as d:
            assert d.index_status == "loaded"
            assert "lexical tables in PostgreSQL brought in line" not in caplog.text
            assert [(h.chunk_id, round(h.score, 5)) for h in d.searcher.search(query)] == before
            assert d.searcher.search(query, mode="lexical") == lexical_before
        # Switching an existing collection between the two: the snapshot says which it holds.
        with Newsdesk.open(_settings(tmp_path / "data", url, "bm25"), embedder=embedder) as d:
            assert d.index_status.startswith("rebuilt: snapshot lexical_store")
            lexical = d.searcher.search(query, mode="lexical")
            assert [h.chunk_id for h in lexical] == [h.chunk_id for h in lexical_before]


def test_a_collection_without_the_tables_is_filled_and_kept_by_every_writer(
    tmp_path: Path, embedder: Embedder
) -> None:
    samples = load_samples()
    with fresh_database() as url:
        # Written with the embedded index only: no lexical tables yet.
        with Newsdesk.open(_settings(tmp_path / "a", url, "bm25"), embedder=embedder) as d:
            d.ingestor.ingest(samples[:10])
        engine_desk = Newsdesk.open(_settings(tmp_path / "b", url), embedder=embedder)
        # A replica keeping the embedded index, opened before the tables existed.
        other = Newsdesk.open(_settings(tmp_path / "a", url, "bm25"), embedder=embedder)
        try:
            engine = engine_desk.indexes.fresh_lexical()
            assert engine.indexed_chunks == engine_desk.store.chunk_count()
            title = samples[3].title
            assert engine_desk.searcher.search(title, mode="lexical")[0].article_id == samples[3].id
            # Its writes maintain the tables too, in their own transactions: found at once.
            other.ingestor.ingest(samples[10:])
            assert engine.indexed_chunks == engine_desk.store.chunk_count()
            hit = engine_desk.searcher.search(samples[-1].title, top_k=1, mode="lexical")[0]
            assert hit.article_id == samples[-1].id
            other.ingestor.delete(samples[-1].id)
            assert samples[-1].id not in {
                h.article_id for h in engine_desk.searcher.search(samples[-1].title, mode="lexical")
            }
        finally:
            other.close()
            engine_desk.close()


def test_replicas_share_the_engine(tmp_path: Path, embedder: Embedder) -> None:
    story = ArticleInput(
        id="pangolin", title="A pangolin moves to Oslo", text="Oslo zoo welcomed a pangolin."
    )
    with fresh_database() as url:
        first = Newsdesk.open(_settings(tmp_path / "a", url), embedder=embedder)
        second = Newsdesk.open(_settings(tmp_path / "b", url), embedder=embedder)
        try:
            assert second.follower is not None
            second.follower.stop()  # the engine needs no follower: the write is its own
            first.ingestor.ingest([story])
            hits = second.searcher.search("pangolin Oslo", mode="lexical")
            assert [h.article_id for h in hits] == ["pangolin"]
            first.ingestor.delete("pangolin")
            assert second.searcher.search("pangolin Oslo", mode="lexical") == []
        finally:
            first.close()
            second.close()


def test_the_engine_without_postgresql_is_refused_at_start(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"lexical_store=postgres .* database_url"):
        Settings(data_dir=tmp_path, lexical_store="postgres", _env_file=None)
    with pytest.raises(ValueError, match="lexical_store"):
        Settings(data_dir=tmp_path, lexical_store="elastic", _env_file=None)
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSDESK_")}
    result = run_newsdesk(
        tmp_path, "search", "okapi", env={**env, "NEWSDESK_LEXICAL_STORE": "postgres"}
    )
    assert result.returncode != 0
    assert "lexical_store=postgres" in result.stderr and "database_url" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "newsdesk.sqlite3").exists()  # nothing half-made


# --- the posting blocks, at the store level: many small writes, deletes, replicas ------------

_WORDS = [f"w{n}x" for n in range(400)]  # words the stemmer keeps as they are


def _text(rng: np.random.Generator, words: int) -> str:
    # Zipf-like: a few words in most chunks (lists of many blocks), most words rare.
    picks = np.minimum(rng.zipf(1.3, size=words) - 1, len(_WORDS) - 1)
    return " ".join(_WORDS[int(i)] for i in picks)


def _article(rng: np.random.Generator, article_id: str, source: str) -> ArticleWrite:
    pieces = [_text(rng, int(rng.integers(3, 40))) for _ in range(int(rng.integers(1, 4)))]
    text, chunks, start = "", [], 0
    for seq, piece in enumerate(pieces):
        text += piece + "\n"
        chunks.append(ChunkWrite(seq, start, start + len(piece), len(piece.split()), _VECTOR))
        start = len(text)
    digest = hashlib.sha256(text.encode()).hexdigest()
    return ArticleWrite(
        article_id, article_id, text, None, source, None, None, {}, digest, digest, chunks
    )


_VECTOR = np.ones(4, dtype=np.float32) / 2


def _embedded(store: ArticleStore) -> Bm25Index:
    index = Bm25Index()
    ids, texts = [], []
    for batch_ids, batch_texts in store.iter_texts():
        ids.append(batch_ids)
        texts += batch_texts
    index.rebuild(np.concatenate(ids) if ids else np.zeros(0, dtype=np.int64), texts)
    return index


def _assert_same_top(
    got: tuple[np.ndarray, np.ndarray], expected: tuple[np.ndarray, np.ndarray], what: str
) -> None:
    """Same scores position by position; the same ids but where scores tie."""
    (scores, ids), (expected_scores, expected_ids) = got, expected
    assert len(ids) == len(expected_ids), what
    assert np.allclose(scores, expected_scores, rtol=1e-4, atol=1e-6), what
    if len(ids):
        cut = float(expected_scores[-1]) * (1 + 1e-4) + 1e-6
        assert set(ids[scores > cut].tolist()) == set(
            expected_ids[expected_scores > cut].tolist()
        ), what


def _check_blocks(url: str) -> None:
    """Every term's blocks: full but the tail, headers bounding their postings, df and the
    posting counts right, at most a quarter of the postings dead."""
    import psycopg

    with psycopg.connect(url) as raw:
        live = {r[0] for r in raw.execute("SELECT chunk_id FROM lexical_documents")}
        terms = raw.execute("SELECT term_id, df, postings, tail, tail_n FROM lexical_terms")
        for term_id, df, postings, tail, tail_n in terms.fetchall():
            blocks = raw.execute(
                "SELECT block, n, max_tf, min_dl, ids, tfs, dls FROM lexical_blocks"
                " WHERE term_id = %s ORDER BY block",
                (term_id,),
            ).fetchall()
            assert [b[0] for b in blocks] == list(range(tail + 1))
            assert all(b[1] == lexical_postgres.BLOCK for b in blocks[:-1])
            assert blocks[-1][1] == tail_n
            ids = np.concatenate([np.frombuffer(b[4], dtype="<i8") for b in blocks])
            assert len(ids) == len(set(ids.tolist())) == postings == sum(b[1] for b in blocks)
            assert sum(int(i) in live for i in ids) == df > 0
            assert 4 * (postings - df) <= postings
            for _, _n, max_tf, min_dl, _, tfs, dls in blocks:
                assert np.frombuffer(tfs, dtype="<i4").max() == max_tf
                assert np.frombuffer(dls, dtype="<i4").min() == min_dl


def _queries(rng: np.random.Generator, count: int) -> list[str]:
    queries = []
    for _ in range(count):
        common = [_WORDS[int(i)] for i in rng.integers(0, 8, size=int(rng.integers(1, 5)))]
        rare = [_WORDS[int(i)] for i in rng.integers(8, 400, size=int(rng.integers(0, 4)))]
        queries.append(" ".join(common + rare))
    return queries


@pytest.mark.parametrize("rescore_batch", [lexical_postgres_search.RESCORE_BATCH, 4])
def test_blocks_stay_exact_through_small_writes_deletes_and_replicas(
    rescore_batch: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A small batch makes searches of this small collection read optional terms' blocks
    # instead of rescoring every candidate (what long queries do at 100k chunks).
    monkeypatch.setattr(lexical_postgres_search, "RESCORE_BATCH", rescore_batch)
    rng = np.random.default_rng(7)
    sources = ["north", "south", "east"]
    with fresh_database() as url:
        first, second = ArticleStore(url), ArticleStore(url)
        try:
            first.keep_lexical_tables()
            view = second.lexical_view()  # a replica: it reads what the other one wrote
            written: list[str] = []
            for step in range(160):
                writer = first if step % 2 else second
                articles = [
                    _article(rng, f"a{step}-{n}", sources[int(rng.integers(0, 3))])
                    for n in range(int(rng.integers(1, 6)))
                ]
                if written and step % 5 == 0:  # a rewrite: the old chunks go, new ones come
                    again = written[int(rng.integers(0, len(written)))]
                    articles.append(_article(rng, again, "north"))
                writer.write(articles)
                written += [a.id for a in articles if a.id not in written]
                if step % 7 == 0:
                    gone = written.pop(int(rng.integers(0, len(written))))
                    (second if step % 2 else first).delete(gone)
                if step % 40 == 39:
                    _compare(first.lexical_view(), view, first, rng)
            _check_blocks(url)
            # Common words' lists span many blocks; a query with a rarer word reads few.
            import psycopg

            with psycopg.connect(url) as raw:
                row = raw.execute(
                    "SELECT count(*) FROM lexical_blocks b JOIN lexical_terms t USING (term_id)"
                    " WHERE t.term = ANY(%s)",
                    (_WORDS[:3],),
                ).fetchone()
                assert row is not None
                blocks = row[0]
            assert blocks > 20
            view.search(" ".join([*_WORDS[:3], _WORDS[30]]), 5)
            assert 0 < view.last_blocks_read < blocks
            _compare(first.lexical_view(), view, first, rng)
        finally:
            first.close()
            second.close()


def _compare(
    engine: PostgresLexicalView,
    replica: PostgresLexicalView,
    store: ArticleStore,
    rng: np.random.Generator,
) -> None:
    embedded = _embedded(store)
    assert engine.indexed_chunks == replica.indexed_chunks == store.chunk_count() == len(embedded)
    north = SearchFilters(sources=["north"])
    north_ids = store.chunk_ids_matching(north)
    for query in _queries(rng, 40):
        for k in (1, 10, 50):
            expected = embedded.search(query, k)
            _assert_same_top(replica.search(query, k), expected, f"{query!r} k={k}")
        allowed = rng.choice(store.chunk_ids_matching(SearchFilters()), size=30, replace=False)
        _assert_same_top(
            engine.search(query, 10, allowed_ids=allowed),
            embedded.search(query, 10, allowed),
            f"{query!r} allowed",
        )
        _assert_same_top(
            replica.search(query, 10, filters=north),
            embedded.search(query, 10, north_ids),
            f"{query!r} north",
        )
    terms = [_WORDS[0], _WORDS[50], "neverseen"]
    expected_idf = [
        float(np.log(1 + (len(embedded) - df + 0.5) / (df + 0.5)))
        for df in embedded.document_frequencies(terms)
    ]
    assert np.allclose(engine.idf(terms), expected_idf)


def test_a_database_with_the_first_design_tables_is_migrated() -> None:
    rng = np.random.default_rng(3)
    with fresh_database() as url:
        store = ArticleStore(url)
        try:
            store.write([_article(rng, f"m{n}", "north") for n in range(60)])
            import psycopg

            # The first design: one row per posting (what a database of the last release has).
            with psycopg.connect(url, autocommit=True) as raw:
                raw.execute(
                    "CREATE TABLE lexical_postings (term TEXT NOT NULL, chunk_id BIGINT NOT NULL,"
                    " tf INTEGER NOT NULL, dl INTEGER NOT NULL, PRIMARY KEY (term, chunk_id))"
                )
                raw.execute(
                    "CREATE TABLE lexical_documents (chunk_id BIGINT PRIMARY KEY, dl INTEGER NOT NULL)"
                )
                raw.execute(
                    "CREATE TABLE lexical_stats (id INTEGER PRIMARY KEY, documents BIGINT NOT NULL,"
                    " tokens BIGINT NOT NULL)"
                )
                raw.execute("INSERT INTO lexical_stats VALUES (1, 0, 0)")
            assert store.keep_lexical_tables() == store.chunk_count()
            with psycopg.connect(url) as raw:
                row = raw.execute("SELECT to_regclass('lexical_postings')").fetchone()
                assert row is not None and row[0] is None
            _check_blocks(url)
            embedded, view = _embedded(store), store.lexical_view()
            for query in _queries(rng, 20):
                _assert_same_top(view.search(query, 10), embedded.search(query, 10), query)
            assert store.keep_lexical_tables() == 0  # in line: nothing to do the next time
        finally:
            store.close()
