"""/reindex: re-embed the collection with another model while the service keeps serving
(index/reindex.py). The running server does it itself: one process per data directory, so
`newsdesk reindex` cannot while the server holds the directory."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from newsdesk.api import operations
from newsdesk.api.auth import require_admin
from newsdesk.api.deps import DeskDep
from newsdesk.api.problems import PROBLEM_RESPONSES
from newsdesk.domain import ReindexReport
from newsdesk.settings import EmbeddingBackend

router = APIRouter(tags=["service"], responses=PROBLEM_RESPONSES)


class ReindexBody(BaseModel):
    model: str = Field(
        min_length=1,
        max_length=500,
        description="The new embedding model: the packaged all-MiniLM-L6-v2, or a folder "
        "holding a sentence-transformers model (nothing is downloaded).",
    )
    backend: EmbeddingBackend | None = Field(
        default=None, description="What runs it (default: the backend in use)."
    )


@router.post(
    "/reindex",
    response_model=ReindexReport,
    summary="Re-embed the collection with another model, then switch to it (admin)",
    description="Answers when the switch is done (minutes to hours: a client that stops "
    "waiting does not stop it). Searches and writes go on meanwhile, on the old model until "
    "the switch. 409 while another reindex runs.",
    dependencies=[Depends(require_admin)],
)
def reindex(desk: DeskDep, body: ReindexBody) -> ReindexReport:
    return operations.reindex(desk, body.model, body.backend)
