"""The read path: embed the query, search faiss and BM25 (restricted to the filtered chunks),
fuse the two candidate lists (retrieval/fusion.py), rerank the head of the fused list against
the query (retrieval/rerank.py), and hydrate the winners from SQLite."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields

import numpy as np

from newsdesk.domain import Passage, SearchFilters
from newsdesk.embedding import Embedder
from newsdesk.errors import InvalidInput
from newsdesk.retrieval.collapse import collapse_copies
from newsdesk.retrieval.fusion import convex_fusion, query_dense_share, reciprocal_rank_fusion
from newsdesk.retrieval.recency import Recency, prefer_recent
from newsdesk.retrieval.rerank import packaged_model, rerank
from newsdesk.settings import RetrievalMode, Settings
from newsdesk.stores.derived import DerivedIndexes
from newsdesk.stores.lexical import LexicalReader
from newsdesk.stores.sqlite import ArticleStore

# The dense side of hybrid searches, beside the lexical scoring (Searcher._retrieve). More
# threads than cores, so that concurrent searches do not queue behind one another's.
_DENSE_POOL = ThreadPoolExecutor(max_workers=16, thread_name_prefix="dense-search")


# Widening the candidate lists when collapsing copies left fewer than top_k: by this factor,
# up to this many per list.
WIDENING = 4
MAX_CANDIDATES = 2_000


@dataclass(frozen=True, slots=True)
class _Retrieved:
    dense: dict[int, float]  # chunk id → similarity, best first
    lexical: dict[int, float]  # chunk id → BM25 score, best first
    lexical_view: LexicalReader
    query_vector: np.ndarray | None
    query_model: str  # the model that embedded the query (a reindex may switch it)


@dataclass(frozen=True, slots=True)
class SearchRequest:
    query: str
    top_k: int
    filters: SearchFilters
    mode: RetrievalMode
    recency: Recency | None = None  # "latest" questions: prefer recent passages


class Searcher:
    def __init__(
        self, store: ArticleStore, indexes: DerivedIndexes, embedder: Embedder, settings: Settings
    ) -> None:
        self.store = store
        self.indexes = indexes
        self.embedder = embedder
        self.settings = settings

    def request(
        self,
        query: str,
        top_k: int | None = None,
        filters: SearchFilters | None = None,
        mode: RetrievalMode | None = None,
        *,
        recency: Recency | None = None,
    ) -> SearchRequest:
        """Validate and complete a search request with the configured defaults."""
        query = query.strip()
        if not query:
            raise InvalidInput("query is empty")
        top_k = self.settings.default_top_k if top_k is None else top_k
        if not 1 <= top_k <= self.settings.max_top_k:
            raise InvalidInput(f"top_k must be between 1 and {self.settings.max_top_k}")
        return SearchRequest(
            query, top_k, filters or SearchFilters(), mode or self.settings.retrieval_mode, recency
        )

    def search(
        self,
        query: str,
        top_k: int | None = None,
        filters: SearchFilters | None = None,
        mode: RetrievalMode | None = None,
    ) -> list[Passage]:
        return self.run(self.request(query, top_k, filters, mode))

    def run(self, request: SearchRequest) -> list[Passage]:
        allowed = None
        if not request.filters.is_empty() and not self._filters_pushed_down(request):
            allowed = self.store.chunk_ids_matching(request.filters)
            if not len(allowed):
                return []
        candidates = request.top_k * self.settings.candidate_multiplier
        found = self._retrieve(request, candidates, allowed, None)
        fused = self._ranked(request, found)
        # Copies of one story collapse into one place: when a widely syndicated story filled
        # the candidate lists, fewer than top_k remain, so look deeper (the lists were full,
        # so there is more to find), a bounded number of times.
        while (
            len(fused) < request.top_k
            and candidates < MAX_CANDIDATES
            and max(len(found.dense), len(found.lexical)) >= candidates
        ):
            candidates = min(MAX_CANDIDATES, candidates * WIDENING)
            found = self._retrieve(request, candidates, allowed, found)
            fused = self._ranked(request, found)
        dense, lexical, query_vector = found.dense, found.lexical, found.query_vector
        lexical_view = found.lexical_view

        reranking = request.mode == "hybrid" and self.settings.rerank
        # Reranking reads the texts of the fused head: hydrate those along with the top_k.
        wanted = max(request.top_k, self.settings.rerank_depth) if reranking else request.top_k
        if request.recency is not None:
            wanted = max(wanted, candidates)  # recency re-orders every candidate: read dates
        rows = self.store.passages([chunk_id for chunk_id, _ in fused[:wanted]])
        rerank_scores: dict[int, float] = {}
        if reranking:
            texts = {chunk_id: row.text for chunk_id, row in rows.items()}
            fused, rerank_scores = rerank(
                request.query,
                fused,
                dense,
                lexical,
                texts,
                lexical_view.idf,
                packaged_model(),
                self.settings.rerank_depth,
            )
        if request.recency is not None:
            published = {chunk_id: row.published_at for chunk_id, row in rows.items()}
            if query_vector is not None:
                relevance = {
                    c: _similarity(row.embedding, query_vector) or 0.0 for c, row in rows.items()
                }
            else:  # lexical: BM25 over the best score, on the same scale within the query
                best = max(lexical.values(), default=0.0) or 1.0
                relevance = {c: lexical.get(c, 0.0) / best for c in rows}
            fused = prefer_recent(relevance, published, request.recency)
        top = fused[: request.top_k]
        return [
            Passage(
                **{f.name: getattr(row, f.name) for f in fields(row) if f.name != "embedding"},
                score=score,
                dense_score=dense.get(chunk_id),
                lexical_score=lexical.get(chunk_id),
                similarity=_similarity(row.embedding, query_vector),
                rerank_score=rerank_scores.get(chunk_id),
            )
            for chunk_id, score in top
            if (row := rows.get(chunk_id)) is not None
        ]

    def _retrieve(
        self,
        request: SearchRequest,
        candidates: int,
        allowed: np.ndarray | None,
        earlier: _Retrieved | None,
    ) -> _Retrieved:
        """Each retriever's best ``candidates`` chunks (``earlier``: a narrower round's, whose
        query vector is reused)."""
        # The lexical view is immutable: scoring it needs no lock, so writers and the
        # background BM25 rebuild never wait for it, nor it for them. In hybrid mode the dense
        # side — embedding the query, then searching the vectors — runs on another thread
        # meanwhile: on a large collection BM25 and the dense side are the two slowest steps,
        # and that thread spends its time in native code (the model, faiss) without the GIL.
        early: tuple[LexicalReader, tuple[np.ndarray, np.ndarray]] | None = None
        dense: dict[int, float]
        # The lexical retriever takes the filters themselves, or the allowed chunks' ids.
        filters = request.filters if self._lexical_pushes_down(request) else None
        lexical_allowed = None if filters is not None else allowed
        # The query's vector from an earlier round, or embedded here; its model is read
        # before embedding: see the check under the lock.
        query_vector = earlier.query_vector if earlier is not None else None
        model = earlier.query_model if earlier is not None else self.embedder.model_id
        if request.mode == "hybrid":
            dense_side = _DENSE_POOL.submit(
                self._dense_side, request, candidates, allowed, query_vector, model
            )
            view = self.indexes.fresh_lexical()
            early = (view, view.search(request.query, candidates, lexical_allowed, filters))
            dense, lexical_view, query_vector, model = dense_side.result()
        elif request.mode == "dense":
            dense, lexical_view, query_vector, model = self._dense_side(
                request, candidates, allowed, query_vector, model
            )
        else:
            dense = {}
            with self.indexes.lock:
                lexical_view = self.indexes.fresh_lexical()
        lexical: dict[int, float] = {}
        if request.mode != "dense":
            if early is not None and lexical_view is early[0]:
                scores, ids = early[1]
            else:  # lexical only, or a write landed meanwhile: score what the dense side saw
                scores, ids = lexical_view.search(
                    request.query, candidates, lexical_allowed, filters
                )
            lexical = _as_dict(ids, scores)
        return _Retrieved(dense, lexical, lexical_view, query_vector, model)

    def _dense_side(
        self,
        request: SearchRequest,
        candidates: int,
        allowed: np.ndarray | None,
        query_vector: np.ndarray | None,
        model: str,
    ) -> tuple[dict[int, float], LexicalReader, np.ndarray, str]:
        """The query's vector (embedded unless given) and its best ``candidates`` chunks, with
        the lexical view current when the vectors were searched."""
        if query_vector is None:
            query_vector = self.embedder.embed([request.query])
        with self.indexes.lock:
            if model != self.indexes.embedding_model:
                # A reindex switched models since the query was embedded (rare): embed it
                # again with the model the index now holds (the switch needs this lock).
                model = self.indexes.embedding_model
                query_vector = self.embedder.embed([request.query])
            if self._pushes_down(request):
                scores, ids = self.indexes.vectors.search(
                    query_vector, candidates, filters=request.filters
                )
            else:
                scores, ids = self.indexes.vectors.search(query_vector, candidates, allowed)
            return _as_dict(ids, scores), self.indexes.fresh_lexical(), query_vector, model

    def _filters_pushed_down(self, request: SearchRequest) -> bool:
        """Whether every retriever the mode uses applies the filters in its own search
        (Milvus, PostgreSQL's lexical tables): then no list of allowed chunks is read from
        the store, as faiss and the embedded BM25 need."""
        dense = request.mode == "lexical" or self._pushes_down(request)
        lexical = request.mode == "dense" or self._lexical_pushes_down(request)
        return dense and lexical

    def _pushes_down(self, request: SearchRequest) -> bool:
        """Whether the vector store applies this request's filters itself."""
        return not request.filters.is_empty() and self.indexes.vectors.pushes_down_filters

    def _lexical_pushes_down(self, request: SearchRequest) -> bool:
        """Whether the lexical retriever applies this request's filters itself."""
        return not request.filters.is_empty() and self.indexes.fresh_lexical().pushes_down_filters

    def _ranked(self, request: SearchRequest, found: _Retrieved) -> list[tuple[int, float]]:
        """The candidates fused into one ranking, copies of one story collapsed."""
        if request.mode == "hybrid":
            fused = self._fuse(request.query, found.dense, found.lexical)
        else:
            fused = list((found.dense or found.lexical).items())
        if self.settings.collapse_duplicates:
            fused = collapse_copies(fused, self.store.chunk_groups([c for c, _ in fused]))
        return fused

    def _fuse(
        self, query: str, dense: dict[int, float], lexical: dict[int, float]
    ) -> list[tuple[int, float]]:
        settings = self.settings
        if settings.fusion == "convex":
            share = query_dense_share(
                query, settings.fusion_dense_share, settings.fusion_lexical_shift
            )
            return convex_fusion(dense, lexical, share)
        rankings, weights = [], []
        if dense:
            rankings.append(list(dense))
            weights.append(settings.dense_weight)
        if lexical:
            rankings.append(list(lexical))
            weights.append(settings.lexical_weight)
        return reciprocal_rank_fusion(rankings, weights, k=settings.rrf_k)


def _as_dict(ids: np.ndarray, scores: np.ndarray) -> dict[int, float]:
    # dicts keep insertion order, so this is also the ranking, best first.
    return {int(i): float(s) for i, s in zip(ids, scores, strict=True)}


def _similarity(passage: np.ndarray, query_vector: np.ndarray | None) -> float | None:
    """Cosine of a passage's stored vector and the query's; None without a query vector, or
    when a reindex to a model of another dimension landed between the search and the read."""
    if query_vector is None or passage.shape[0] != query_vector.shape[1]:
        return None
    return float(passage @ query_vector[0])
