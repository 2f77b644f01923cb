"""Request and response bodies of the HTTP API that are not domain types themselves."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from newsdesk.domain import ArticleSummary, Passage, SearchFilters
from newsdesk.settings import Backend, RetrievalMode


class SearchBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1, max_length=4000)
    top_k: int | None = Field(default=None, description="Passages to return (1 to max_top_k).")
    filters: SearchFilters | None = None
    mode: RetrievalMode | None = Field(
        default=None, description="Override the configured retrieval mode for this query."
    )


class SearchResponse(BaseModel):
    query: str
    mode: RetrievalMode
    results: list[Passage]
    took_ms: float


class ArticlePage(BaseModel):
    items: list[ArticleSummary]
    total: int
    limit: int
    offset: int


class ServiceStatus(BaseModel):
    """What `/health` tells callers without a key (when keys are configured)."""

    status: Literal["ok"] = Field(description="`ok` whenever the service answers.")


class Health(ServiceStatus):
    """`/health` for callers with a key, or for everyone when no keys are configured."""

    version: str
    articles: int
    chunks: int
    embedding_model: str
    vector_index: str
    retrieval_mode: RetrievalMode
    index_status: str
    backend: Backend = Field(description="The configured answer backend.")
    llm: str = Field(
        description="The answer LLM: `none` (extractive backend), `not started` (starts with the "
        "first question), `ready`, `failing: <error>` (the last LLM call failed; answers fall "
        "back to extractive until one succeeds) or `unavailable: <reason>` (it could not start)."
    )


LlmReadiness = Literal["none", "not started", "ready", "failing", "unavailable"]


class Readiness(BaseModel):
    """`/ready`: whether the service can do its work, in words only (no reasons, paths or
    URLs; those are in `/health` for callers with a key)."""

    status: Literal["ready", "not ready"] = Field(
        description="`not ready` (HTTP 503) when a component the configuration needs cannot "
        "work: today, an LLM that could not start."
    )
    model: Literal["ready"] = Field(description="The embedding model (loaded at start).")
    index: Literal["loaded", "rebuilt"] = Field(
        description="The search indexes: loaded from their snapshot or rebuilt at start."
    )
    llm: LlmReadiness = Field(
        description="The answer LLM: `none` (extractive backend), `not started` (starts with "
        "the first question), `ready`, `failing` (answers fall back to extractive until a call "
        "succeeds) or `unavailable` (it could not start)."
    )
