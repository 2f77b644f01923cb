"""The domain vocabulary shared by every layer: articles, chunks, passages and the reports
about writing them. Defined once; the API, the CLI and the evals all speak these types."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

ARTICLE_ID_PATTERN = r"^[\w][\w.:@-]{0,199}$"


def parse_timestamp(value: Any) -> datetime | None:
    """Accept ISO 8601 dates and datetimes; naive values are taken as UTC."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError as exc:
            raise ValueError(f"not an ISO 8601 date or datetime: {value!r}") from exc
    else:
        raise ValueError(f"not a date: {value!r}")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


class ArticleInput(BaseModel):
    """An article as submitted, before normalisation and chunking."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)

    id: str = Field(
        pattern=ARTICLE_ID_PATTERN, description="Stable identifier chosen by the caller."
    )
    title: str = Field(default="", max_length=2000)
    text: str = Field(description="Body text. Normalised before storage; offsets refer to that.")
    url: str | None = Field(default=None, max_length=4000)
    source: str | None = Field(default=None, max_length=500, description="Outlet or publisher.")
    author: str | None = Field(default=None, max_length=500)
    published_at: datetime | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)

    @field_validator("published_at", mode="before")
    @classmethod
    def _timestamp(cls, value: Any) -> datetime | None:
        return parse_timestamp(value)


class ChunkInfo(BaseModel):
    chunk_id: int = Field(description="Stable 64-bit id; also the vector id in faiss.")
    seq: int = Field(description="Position of the chunk within its article.")
    text: str
    char_start: int = Field(description="Offset of the chunk's first character in article.text.")
    char_end: int = Field(description="Offset one past the chunk's last character.")


class ArticleSummary(BaseModel):
    """An article without its body: what listings show."""

    id: str
    title: str
    url: str | None = None
    source: str | None = None
    author: str | None = None
    published_at: datetime | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    content_hash: str
    chunk_count: int
    ingested_at: datetime
    updated_at: datetime


class Article(ArticleSummary):
    text: str = Field(description="The normalised text that chunk offsets point into.")
    chunks: list[ChunkInfo] = Field(default_factory=list)


class ChunkOrigin(BaseModel):
    """Where a piece of text comes from: the chunk and the article it belongs to."""

    chunk_id: int
    article_id: str
    title: str
    url: str | None = None
    source: str | None = None
    published_at: datetime | None = None


class Passage(ChunkOrigin):
    """A chunk as retrieved for a query, with the scores that ranked it."""

    text: str
    char_start: int
    char_end: int
    score: float = Field(description="Fused score used for ranking (RRF in hybrid mode).")
    dense_score: float | None = Field(
        description="Cosine similarity, if the dense retriever found it."
    )
    similarity: float | None = Field(
        default=None,
        description="Cosine similarity of the chunk to the query, whichever retriever found "
        "it (null only in lexical mode, where the query is not embedded).",
    )
    lexical_score: float | None = Field(
        description="BM25 score, if the lexical retriever found it."
    )


class SearchFilters(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sources: list[str] | None = Field(default=None, description="Keep articles from these outlets.")
    article_ids: list[str] | None = Field(default=None, description="Keep only these articles.")
    published_after: datetime | None = Field(default=None, description="Inclusive lower bound.")
    published_before: datetime | None = Field(default=None, description="Inclusive upper bound.")

    @field_validator("published_after", "published_before", mode="before")
    @classmethod
    def _timestamp(cls, value: Any) -> datetime | None:
        return parse_timestamp(value)

    def is_empty(self) -> bool:
        return not (
            self.sources or self.article_ids or self.published_after or self.published_before
        )


class RejectedArticle(BaseModel):
    id: str | None = Field(description="The article id, when one could be read.")
    origin: str | None = Field(default=None, description="File (and line) the article came from.")
    reason: str


class IngestReport(BaseModel):
    added: list[str] = Field(default_factory=list)
    updated: list[str] = Field(default_factory=list)
    unchanged: list[str] = Field(default_factory=list)
    rejected: list[RejectedArticle] = Field(default_factory=list)
    chunks: int = Field(default=0, description="Chunks written by this call.")

    def merge(self, other: IngestReport) -> None:
        self.added += other.added
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.rejected += other.rejected
        self.chunks += other.chunks

    def summary_line(self) -> str:
        return (
            f"{len(self.added)} added, {len(self.updated)} updated, "
            f"{len(self.unchanged)} unchanged, {len(self.rejected)} rejected; "
            f"{self.chunks} chunks written"
        )
