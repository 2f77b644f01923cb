"""/articles: ingest (JSON or files), list, read, delete."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Body, Depends, File, Query, Response, UploadFile
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from newsdesk.api import operations
from newsdesk.api.auth import require_admin
from newsdesk.api.deps import DeskDep, SettingsDep
from newsdesk.api.problems import PROBLEM_RESPONSES
from newsdesk.api.schemas import MAX_PAGE, ArticlePage
from newsdesk.domain import Article, ArticleInput, IngestReport, SearchFilters
from newsdesk.errors import PayloadTooLarge
from newsdesk.index.readers import read_uploads

router = APIRouter(prefix="/articles", tags=["articles"], responses=PROBLEM_RESPONSES)
# Writes need an admin key (reads a read key). The auth middleware refuses others before the
# body is read; the dependency states it on the route itself.
ADMIN = [Depends(require_admin)]


@router.post(
    "",
    response_model=IngestReport,
    summary="Ingest one article or a batch (admin)",
    dependencies=ADMIN,
)
def ingest_articles(
    desk: DeskDep,
    settings: SettingsDep,
    articles: Annotated[
        ArticleInput | list[ArticleInput],
        Body(description="One article object, or a list of them."),
    ],
) -> IngestReport:
    batch = articles if isinstance(articles, list) else [articles]
    if len(batch) > settings.max_batch_articles:
        raise PayloadTooLarge(
            f"{len(batch)} articles in one request; the limit is {settings.max_batch_articles}"
        )
    report = operations.ingest(desk, batch)
    return report


@router.post(
    "/upload",
    response_model=IngestReport,
    summary="Ingest article files (admin)",
    dependencies=ADMIN,
)
async def upload_articles(
    desk: DeskDep,
    settings: SettingsDep,
    files: Annotated[list[UploadFile], File(description=".txt, .md, .html, .json or .jsonl files")],
) -> IngestReport:
    budget = settings.max_upload_bytes
    contents: list[tuple[str, bytes]] = []
    for upload in files:
        data = await upload.read(budget + 1)
        budget -= len(data)
        if budget < 0:
            raise PayloadTooLarge(f"uploads exceed {settings.max_upload_bytes:,} bytes")
        contents.append((upload.filename or "upload.txt", data))

    report = await run_in_threadpool(operations.ingest, desk, read_uploads(contents))
    return report


@router.get("", response_model=ArticlePage, summary="List articles, newest first")
def list_articles(
    desk: DeskDep,
    source: Annotated[list[str] | None, Query(description="Keep these outlets.")] = None,
    published_after: datetime | None = None,
    published_before: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    offset: Annotated[int, Query(ge=0, le=operations.MAX_OFFSET)] = 0,
) -> ArticlePage:
    try:
        filters = SearchFilters(
            sources=source, published_after=published_after, published_before=published_before
        )
    except ValidationError as exc:  # e.g. a bound at the start of time that UTC cannot hold
        raise RequestValidationError(
            [{**error, "loc": ("query", *error["loc"])} for error in exc.errors()]
        ) from exc
    return operations.list_articles(desk, filters, limit, offset)


@router.get("/{article_id}", response_model=Article, summary="An article with its chunks")
def get_article(desk: DeskDep, article_id: str) -> Article:
    return operations.get_article(desk, article_id)


@router.delete(
    "/{article_id}",
    status_code=204,
    summary="Delete an article everywhere (admin)",
    dependencies=ADMIN,
)
def delete_article(desk: DeskDep, article_id: str) -> Response:
    operations.delete_article(desk, article_id)
    return Response(status_code=204)
