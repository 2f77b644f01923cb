"""Hybrid fusion: the score-aware convex fusion (the default) and reciprocal rank fusion, on the
real embedding model, real faiss and real BM25 indexes."""

from __future__ import annotations

import pytest

from newsdesk.container import Newsdesk
from newsdesk.domain import SearchFilters
from newsdesk.retrieval.fusion import (
    convex_fusion,
    max_scaled,
    min_max,
    query_dense_share,
    reciprocal_rank_fusion,
    specific_share,
)
from newsdesk.retrieval.search import Searcher
from newsdesk.settings import RetrievalMode, Settings

# --- the fusion functions ------------------------------------------------------------------


def test_a_confident_retriever_outweighs_an_unsure_one() -> None:
    # Dense is unsure (its scores nearly flat, 1 barely ahead of 2); BM25 is sure (2 far ahead).
    dense = {1: 0.61, 2: 0.60, 3: 0.20}
    lexical = {2: 14.0, 1: 3.0, 3: 2.9}
    # Ranks alone cannot see the margins: RRF calls it a tie and keeps dense's first.
    assert reciprocal_rank_fusion([list(dense), list(lexical)], [1.0, 1.0])[0][0] == 1
    assert convex_fusion(dense, lexical, 0.5)[0][0] == 2


def test_shares_zero_and_one_give_a_single_retriever_ranking() -> None:
    dense = {4: 0.9, 5: 0.5, 6: 0.4}
    lexical = {6: 9.0, 7: 4.0, 4: 1.0}
    assert [i for i, _ in convex_fusion(dense, lexical, 1.0)][:3] == [4, 5, 6]
    assert [i for i, _ in convex_fusion(dense, lexical, 0.0)][:3] == [6, 7, 4]
    # Every candidate of either retriever is kept, each once.
    assert sorted(i for i, _ in convex_fusion(dense, lexical, 0.5)) == [4, 5, 6, 7]


def test_one_retriever_empty_leaves_the_other_ranking() -> None:
    dense = {1: 0.3, 2: 0.2, 3: 0.1}
    assert [i for i, _ in convex_fusion(dense, {}, 0.5)] == [1, 2, 3]
    assert [i for i, _ in convex_fusion({}, dense, 0.5)] == [1, 2, 3]
    assert convex_fusion({}, {}, 0.5) == []


def test_min_max_normalisation() -> None:
    assert min_max({1: 2.0, 2: 4.0, 3: 3.0}) == {1: 0.0, 2: 1.0, 3: 0.5}
    assert min_max({1: 5.0, 2: 5.0}) == {1: 1.0, 2: 1.0}  # nothing to tell apart
    assert min_max({}) == {}
    assert max_scaled({1: 2.0, 2: 8.0, 3: 0.0}) == {1: 0.25, 2: 1.0, 3: 0.0}
    assert max_scaled({1: 0.0}) == {1: 0.0}


def test_out_of_range_share_is_refused() -> None:
    with pytest.raises(ValueError):
        convex_fusion({1: 1.0}, {1: 1.0}, 1.5)


def test_names_and_numbers_lean_towards_bm25() -> None:
    assert specific_share("what causes rain") == 0.0
    assert specific_share("When did Warsaw host the 1955 festival") == pytest.approx(2 / 7)
    # The first word is capitalised by grammar, not because it is a name.
    assert specific_share("Which river") == 0.0
    assert specific_share("") == 0.0
    assert query_dense_share("what causes rain", 0.6, 0.5) == 0.6
    assert query_dense_share("Warsaw 1955", 0.6, 0.5) == pytest.approx(0.6 - 0.5 * 0.5)
    assert query_dense_share("Warsaw 1955", 0.3, 1.0) == 0.0  # kept in [0, 1]


# --- through the searcher, on real indexes ---------------------------------------------------


def _searcher(desk: Newsdesk, **changes: object) -> Searcher:
    settings = desk.settings.model_copy(update=changes)
    return Searcher(desk.store, desk.indexes, desk.embedder, settings)


def test_convex_is_the_default() -> None:
    assert Settings(_env_file=None).fusion == "convex"


QUERIES = [
    "Biden described Zelenskyy as a tough negotiator",
    "How many people died when a crane fell on the Grand Mosque?",
    "When was the space shuttle programme retired?",
]


@pytest.mark.parametrize("query", QUERIES)
def test_share_one_is_the_dense_ranking_and_zero_the_bm25_one(
    loaded_desk: Newsdesk, query: str
) -> None:
    def ids(searcher: Searcher, mode: RetrievalMode) -> list[int]:
        return [p.chunk_id for p in searcher.search(query, top_k=5, mode=mode)]

    # The fused order itself: reranking (tests/test_rerank.py) would reorder its head.
    all_dense = _searcher(
        loaded_desk, fusion_dense_share=1.0, fusion_lexical_shift=0.0, rerank=False
    )
    all_lexical = _searcher(
        loaded_desk, fusion_dense_share=0.0, fusion_lexical_shift=0.0, rerank=False
    )
    assert ids(all_dense, "hybrid") == ids(all_dense, "dense")
    # BM25 returns only chunks holding a query term; the dense leftovers follow them.
    lexical = ids(all_lexical, "lexical")
    assert len(lexical) >= 3
    assert ids(all_lexical, "hybrid")[: len(lexical)] == lexical
    assert ids(all_dense, "hybrid") != ids(all_lexical, "hybrid")  # the shares do something


@pytest.mark.parametrize("fusion", ["convex", "rrf"])
def test_filters_and_top_k_are_honoured(loaded_desk: Newsdesk, fusion: str) -> None:
    searcher = _searcher(loaded_desk, fusion=fusion, rerank=False)
    only = "wikinews-2015-mecca-crane-collapse"
    filtered = searcher.search(
        "space shuttle retirement", top_k=3, filters=SearchFilters(article_ids=[only])
    )
    assert filtered and len(filtered) <= 3
    assert {p.article_id for p in filtered} == {only}
    for top_k in (1, 4, 7):
        results = searcher.search("NATO no-fly zone over Ukraine", top_k=top_k)
        assert len(results) == top_k
        assert [r.score for r in results] == sorted((r.score for r in results), reverse=True)
    assert searcher.search("zzzqqq", top_k=3, filters=SearchFilters(sources=["nobody"])) == []
