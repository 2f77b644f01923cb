"""Request and response bodies of the HTTP API that are not domain types themselves."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from newsdesk.answers import AS_OF_DESCRIPTION, TimeRange
from newsdesk.domain import ArticleSummary, AsOf, Passage, SearchFilters
from newsdesk.settings import Backend, RetrievalMode


class SearchBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1, max_length=4000)
    top_k: int | None = Field(default=None, description="Passages to return (1 to max_top_k).")
    filters: SearchFilters | None = None
    mode: RetrievalMode | None = Field(
        default=None, description="Override the configured retrieval mode for this query."
    )
    as_of: AsOf = Field(default=None, description=AS_OF_DESCRIPTION)


class SearchResponse(BaseModel):
    query: str
    mode: RetrievalMode
    results: list[Passage]
    took_ms: float
    time_range: TimeRange | None = Field(
        default=None,
        description="The publication range resolved from the query's time words and applied.",
    )


# Longest page of `GET /articles` and `newsdesk articles list`.
MAX_PAGE = 500


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
        "first question), `starting`, `ready`, `failing: <error>` (the last LLM call failed; "
        "answers fall back to extractive until one succeeds), `open circuit: <why>` (after "
        "repeated failures calls fail at once until a trial call succeeds), `restarting: "
        "<attempt, wait, why>` (the local server died and is being restarted) or "
        "`unavailable: <reason>` (it could not start, or gave up restarting)."
    )


LlmReadiness = Literal[
    "none", "not started", "starting", "ready", "failing", "open circuit", "restarting",
    "unavailable",
]  # fmt: skip


class Readiness(BaseModel):
    """`/ready`: whether the service can do its work, in words only (no reasons, paths or
    URLs; those are in `/health` for callers with a key)."""

    status: Literal["ready", "not ready"] = Field(
        description="`not ready` (HTTP 503) while the LLM the configuration needs is "
        "`starting`, or `unavailable` (it could not start, or its restarts gave up). A "
        "`failing`, `open circuit` or `restarting` LLM leaves the service ready: answers "
        "degrade to extractive (marked) and heal by themselves, and search is unaffected."
    )
    model: Literal["ready"] = Field(description="The embedding model (loaded at start).")
    index: Literal["loaded", "rebuilt"] = Field(
        description="The search indexes: loaded from their snapshot or rebuilt at start."
    )
    llm: LlmReadiness = Field(
        description="The answer LLM: `none` (extractive backend), `not started` (starts with "
        "the first question), `starting`, `ready`, `failing` (answers fall back to extractive "
        "until a call succeeds), `open circuit` (calls fail at once for a cool-down), "
        "`restarting` (the local server died) or `unavailable` (it could not start, or gave up "
        "restarting)."
    )
