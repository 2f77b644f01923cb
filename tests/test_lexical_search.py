"""BM25 search over the base index is exact: the same scores as bm25s's own full scoring,
including when the frequent terms of a query are scored only on the documents still in the
race (the bound that makes it fast on large collections), with filters and removals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from newsdesk.stores import lexical
from newsdesk.stores.lexical import Bm25Index, tokenize

# A skewed vocabulary, as in news text: a few words in most documents, many in few.
COMMON = ["minister", "government", "police", "people", "country", "report", "week", "city"]
RARE = [f"{a}{b}" for a in ("zor", "vel", "quan", "mib", "tesh") for b in ("ax", "ol", "ur", "en")]


def _corpus(seed: int, documents: int) -> tuple[np.ndarray, list[str]]:
    rng = np.random.default_rng(seed)
    texts = []
    for _ in range(documents):
        words = list(rng.choice(COMMON, size=int(rng.integers(3, 12))))
        words += list(rng.choice(RARE, size=int(rng.integers(0, 3))))
        texts.append(" ".join(words))
    ids = rng.permutation(np.arange(10_000, 10_000 + documents, dtype=np.int64))
    return ids, texts


def _full_scores(index: Bm25Index, query: str) -> dict[int, float]:
    """Every document's score by bm25s's own (slow, plainly exact) scoring."""
    bm25 = index._bm25
    assert bm25 is not None
    terms = [t for t in tokenize([query])[0] if t in bm25.vocab_dict]
    scores = bm25.get_scores(terms) if terms else np.zeros(len(index))
    return {int(i): float(s) for i, s in zip(index._ids, scores, strict=True) if s > 0}


def _check(found: tuple[np.ndarray, np.ndarray], full: dict[int, float], k: int) -> None:
    scores, ids = found
    expected = sorted(full.values(), reverse=True)[:k]
    assert np.allclose(scores, expected, atol=1e-4)
    for chunk_id, score in zip(ids, scores, strict=True):
        assert full[int(chunk_id)] == pytest.approx(float(score), abs=1e-4)


@pytest.fixture(scope="module")
def index() -> Bm25Index:
    ids, texts = _corpus(seed=7, documents=3000)
    built = Bm25Index()
    built.rebuild(ids, texts)
    return built


QUERIES = [
    "zorax minister police week",
    "quanen government people country report city minister police",
    "velur tesholl mibax zoren minister minister government",
    "people country",
    "teshen",
]


@pytest.mark.parametrize("query", QUERIES)
@pytest.mark.parametrize("k", [1, 10, 40])
def test_search_matches_full_scoring(index: Bm25Index, query: str, k: int) -> None:
    _check(index.search(query, k), _full_scores(index, query), k)


def test_frequent_terms_are_skipped_where_they_cannot_matter(
    index: Bm25Index, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On queries mixing rare and common terms, the common terms' lists are not walked
    (only looked up for the candidates), and the results stay exact."""
    walked: list[int] = []
    real = Bm25Index._add_columns

    def recording(self: Bm25Index, scores: np.ndarray, columns: list[int]) -> None:
        walked.extend(columns)
        real(self, scores, columns)

    monkeypatch.setattr(Bm25Index, "_add_columns", recording)
    skipped = 0
    for query in QUERIES:
        walked.clear()
        _check(index.search(query, 10), _full_scores(index, query), 10)
        bm25 = index._bm25
        assert bm25 is not None
        asked = [bm25.vocab_dict[t] for t in lexical.tokenize([query])[0]]
        skipped += len(set(asked) - set(walked)) > 0
    assert skipped >= 2


def test_filters_and_removals_apply_before_the_bound(index: Bm25Index) -> None:
    rng = np.random.default_rng(3)
    allowed = rng.choice(index._ids, size=400, replace=False)
    excluded = rng.choice(index._ids, size=300, replace=False)
    for query in QUERIES:
        full = _full_scores(index, query)
        wanted = {i: s for i, s in full.items() if i in set(allowed.tolist())}
        wanted = {i: s for i, s in wanted.items() if i not in set(excluded.tolist())}
        _check(index.search(query, 10, allowed, excluded), wanted, 10)
        # Ids the index has never seen are ignored, not errors.
        _check(index.search(query, 10, np.array([1, 2, 3], dtype=np.int64)), {}, 10)


def test_column_maxima_survive_save_and_load(index: Bm25Index, tmp_path: Path) -> None:
    index.save(tmp_path / "lexical")
    loaded = Bm25Index()
    loaded.load(tmp_path / "lexical")
    assert np.array_equal(loaded._column_max, index._column_max)
    (tmp_path / "lexical" / "column_max.npy").unlink()  # a snapshot from before: recomputed
    older = Bm25Index()
    older.load(tmp_path / "lexical")
    assert np.allclose(older._column_max, index._column_max)
    for query in QUERIES:
        assert np.allclose(older.search(query, 10)[0], index.search(query, 10)[0])


@pytest.mark.parametrize("seed", range(6))
def test_random_queries_match_full_scoring(index: Bm25Index, seed: int) -> None:
    """Queries of many terms (where the floor and the optional terms' pruning do the most)
    with repeated words, filters and removals, against bm25s's own scoring."""
    rng = np.random.default_rng(seed)
    for _ in range(20):
        words = list(rng.choice(COMMON + RARE, size=int(rng.integers(2, 16))))
        query = " ".join(words)
        k = int(rng.choice([1, 5, 40, 200]))
        excluded = rng.choice(index._ids, size=int(rng.integers(0, 500)), replace=False)
        full = _full_scores(index, query)
        wanted = {i: s for i, s in full.items() if i not in set(excluded.tolist())}
        _check(index.search(query, k, None, excluded), wanted, k)
