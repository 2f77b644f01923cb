"""What each endpoint does, shared by the HTTP routes and the CLI so that `--json` prints
exactly what the endpoint returns."""

from __future__ import annotations

import time
from collections.abc import Iterable

from newsdesk import __version__
from newsdesk.api.schemas import ArticlePage, Health, SearchBody, SearchResponse
from newsdesk.container import Newsdesk
from newsdesk.domain import Article, IngestReport, SearchFilters
from newsdesk.errors import NotFound
from newsdesk.index.ingest import Progress
from newsdesk.index.readers import ReadResult

MAX_PAGE = 500


def ingest(
    desk: Newsdesk, items: Iterable[ReadResult], progress: Progress | None = None
) -> IngestReport:
    return desk.ingestor.ingest_or_raise(items, progress)


def search(desk: Newsdesk, body: SearchBody) -> SearchResponse:
    started = time.perf_counter()
    request = desk.searcher.request(body.query, body.top_k, body.filters, body.mode)
    results = desk.searcher.run(request)
    return SearchResponse(
        query=request.query,
        mode=request.mode,
        results=results,
        took_ms=round((time.perf_counter() - started) * 1000, 2),
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
