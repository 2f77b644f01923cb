"""What each endpoint does. Every route that works on the collection calls one of these
functions, and so does the CLI command that is its twin, so that `--json` prints exactly what
the endpoint returns. Streaming operations check the request before they return, so a bad
request is still a plain error rather than a failure half-way through a stream."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import get_args

from newsdesk import __version__
from newsdesk.answers import CitedAnswer, CitedSummary, SummaryRequest, Timeline, TimelineRequest
from newsdesk.api.schemas import (
    ArticlePage,
    Health,
    LlmReadiness,
    Readiness,
    SearchBody,
    SearchResponse,
)
from newsdesk.container import Newsdesk, build_embedder
from newsdesk.domain import Article, IngestReport, ReindexReport, SearchFilters
from newsdesk.embedding import PACKAGED_MODEL_NAMES, is_local_model
from newsdesk.errors import InvalidInput, NotFound
from newsdesk.generation.answer import StreamEvent
from newsdesk.generation.conversation import QuestionRewriter
from newsdesk.generation.llm import GenerationOptions
from newsdesk.generation.summarize import SummaryStreamEvent
from newsdesk.generation.timeline import Timeliner
from newsdesk.index import ray_ingest
from newsdesk.index.ingest import Progress
from newsdesk.index.ray_ingest import RayOptions
from newsdesk.index.readers import ReadResult
from newsdesk.retrieval.time_scope import time_scope
from newsdesk.settings import EmbeddingBackend

MAX_OFFSET = 2**63 - 1  # SQLite's largest integer


def ingest(
    desk: Newsdesk, items: Iterable[ReadResult], progress: Progress | None = None
) -> IngestReport:
    return desk.ingestor.ingest_or_raise(items, progress)


def ingest_on_ray(
    desk: Newsdesk,
    paths: Iterable[Path],
    options: RayOptions,
    progress: Progress | None = None,
) -> IngestReport:
    """`newsdesk ingest --ray`: the same report as ingest(), the work spread over Ray."""
    return ray_ingest.ingest_on_ray(desk.ingestor, paths, options, build_embedder, progress)


def reindex(
    desk: Newsdesk,
    model: str,
    backend: EmbeddingBackend | None = None,
    progress: Progress | None = None,
) -> ReindexReport:
    """Re-embed the collection with ``model`` (run by ``backend``, default: the current
    one) beside the live vectors, then switch to it; searches go on meanwhile."""
    choice = {
        "embedding_model": model,
        "embedding_backend": backend or desk.settings.embedding_backend,
    }
    if desk.settings.offline and not is_local_model(model):
        raise InvalidInput(
            f"{model!r} is neither the packaged model ({', '.join(sorted(PACKAGED_MODEL_NAMES))})"
            " nor a folder holding a sentence-transformers model (NEWSDESK_OFFLINE: nothing is"
            " downloaded)"
        )
    try:
        new = build_embedder(desk.settings.model_copy(update=choice))
    except (OSError, ValueError, ImportError) as exc:
        raise InvalidInput(f"cannot load the embedding model {model!r}: {exc}") from None
    return desk.reindexer.reindex(new, choice, progress)


def search(desk: Newsdesk, body: SearchBody) -> SearchResponse:
    started = time.perf_counter()
    scope = time_scope(body.query, body.filters, body.as_of, desk.settings.recency_half_life_days)
    request = desk.searcher.request(
        body.query, body.top_k, scope.filters, body.mode, recency=scope.recency
    )
    results = desk.searcher.run(request)
    return SearchResponse(
        query=request.query,
        mode=request.mode,
        results=results,
        took_ms=round((time.perf_counter() - started) * 1000, 2),
        time_range=scope.time_range,
    )


def list_articles(desk: Newsdesk, filters: SearchFilters, limit: int, offset: int) -> ArticlePage:
    items, total = desk.store.list_articles(filters, limit=limit, offset=offset)
    return ArticlePage(items=items, total=total, limit=limit, offset=offset)


def get_article(desk: Newsdesk, article_id: str) -> Article:
    article = desk.store.get_article(article_id)
    if article is None:
        raise NotFound(f"no article with id {article_id!r}")
    return article


def delete_article(desk: Newsdesk, article_id: str) -> None:
    desk.ingestor.delete(article_id)


def health(desk: Newsdesk) -> Health:
    return Health(
        status="ok",
        version=__version__,
        articles=desk.store.article_count(),
        chunks=desk.store.chunk_count(),
        embedding_model=desk.embedder.model_id,
        vector_index=desk.settings.vector_index,
        retrieval_mode=desk.settings.retrieval_mode,
        index_status=desk.index_status,
        backend=desk.settings.backend,
        llm=desk.llm_state(),
    )


def readiness(desk: Newsdesk) -> Readiness:
    """Component states as single words, cheap (no database query, never starts the LLM)."""
    llm = _llm_word(desk.llm_state())
    index = "rebuilt" if desk.index_status.startswith("rebuilt") else "loaded"
    return Readiness(
        status="not ready" if llm in _LLM_NOT_READY else "ready",
        model="ready",
        index=index,
        llm=llm,
    )


_LLM_WORDS: dict[str, LlmReadiness] = {word: word for word in get_args(LlmReadiness)}
# A degraded LLM (failing, open circuit, restarting) leaves the replica ready: it heals by
# itself, search works and answers say they are degraded; an orchestrator that pulled every
# replica out during a provider outage would take search down with it.
_LLM_NOT_READY: frozenset[LlmReadiness] = frozenset({"starting", "unavailable"})


def _llm_word(state: str) -> LlmReadiness:
    """`failing: <error>` → `failing`: the reason may hold paths, URLs or a log's tail."""
    return _LLM_WORDS[state.split(":", 1)[0]]


def ask(
    desk: Newsdesk,
    question: str,
    top_k: int | None = None,
    filters: SearchFilters | None = None,
    options: GenerationOptions = GenerationOptions(),
    as_of: datetime | None = None,
) -> CitedAnswer:
    return desk.answerer().ask(question, top_k, filters, options=options, as_of=as_of)


def ask_stream(
    desk: Newsdesk,
    question: str,
    top_k: int | None = None,
    filters: SearchFilters | None = None,
    options: GenerationOptions = GenerationOptions(),
    as_of: datetime | None = None,
) -> Iterator[StreamEvent]:
    desk.searcher.request(question, top_k, filters)  # raises now if the request is bad
    return desk.answerer().stream(question, top_k, filters, options=options, as_of=as_of)


def question_rewriter(desk: Newsdesk) -> QuestionRewriter:
    """What turns a conversation's last question into one that stands on its own."""
    return QuestionRewriter.configured(
        desk.settings.chat_rewrite, desk.settings.backend, desk.chat_model()
    )


def summarize(desk: Newsdesk, request: SummaryRequest) -> CitedSummary:
    return desk.summarizer().summarize(request)


def summary_stream(desk: Newsdesk, request: SummaryRequest) -> Iterator[SummaryStreamEvent]:
    summarizer = desk.summarizer()
    summarizer.validate(request)  # raises now if the request is bad
    return summarizer.stream(request)


def timeline(desk: Newsdesk, request: TimelineRequest) -> Timeline:
    """Built per request: it holds no model of its own (the embedder and checker are shared)."""
    return Timeliner(desk.searcher, desk.caching_embedder, desk.checker, desk.settings).build(
        request
    )
