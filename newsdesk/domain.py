"""The domain vocabulary shared by every layer: articles, chunks, passages and the reports
about writing them. Defined once; the API, the CLI and the evals all speak these types."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, field_validator

ARTICLE_ID_PATTERN = r"^[\w][\w.:@-]{0,199}$"
LINK_SCHEMES = frozenset({"http", "https"})
MAX_METADATA_DEPTH = 20
"""Most levels of nested objects and lists in an article's metadata (the metadata object is 1)."""

_URL_FORBIDDEN = re.compile(r"[\s\x00-\x1f\x7f]")


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
    try:
        return parsed.astimezone(UTC)
    except OverflowError as exc:  # e.g. 9999-12-31T23:59:59-14:00 is in the year 10000 UTC
        raise ValueError(f"outside the range of dates in UTC: {value!r}") from exc


# The reference time of a request's relative dates ("last week"): an ISO date or datetime,
# naive values taken as UTC (a bad value is a 422 problem like any other field).
AsOf = Annotated[datetime | None, BeforeValidator(parse_timestamp)]


def check_text(value: str) -> str:
    """Refuse text that cannot be stored as UTF-8 (a lone surrogate such as ``"\\ud800"``)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(
            f"contains a lone surrogate {value[exc.start]!r} at position {exc.start}; "
            "text must be valid Unicode"
        ) from exc
    return value


# A request string that is stored, searched for or embedded. JSON may spell a lone surrogate
# ("\ud800"), which Python decodes but SQLite and the tokenizer refuse (a 500 before).
UnicodeText = Annotated[str, AfterValidator(check_text)]


def check_link(value: str) -> str:
    """An absolute http(s) URL with a host: the only kind shown to readers as a link."""
    if _URL_FORBIDDEN.search(value):
        raise ValueError("URL must not contain whitespace or control characters")
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError as exc:
        raise ValueError(f"not a valid URL: {exc}") from exc
    if parts.scheme.lower() not in LINK_SCHEMES or not host:
        raise ValueError("URL must be an absolute http:// or https:// URL with a host")
    return value


def metadata_depth_exceeds(value: Any, limit: int = MAX_METADATA_DEPTH) -> bool:
    """Whether ``value`` nests objects and lists more than ``limit`` levels deep. Iterative,
    and stops at the first too-deep container, so any depth costs little to detect."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list | tuple):
            if depth > limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return False


def _check_metadata_text(value: Any) -> None:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            check_text(item)
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)


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
    metadata: dict[str, Any] = Field(
        default_factory=dict,
        description=f"Free-form JSON object, at most {MAX_METADATA_DEPTH} levels deep "
        "(and NEWSDESK_MAX_METADATA_BYTES serialised).",
    )

    @field_validator("published_at", mode="before")
    @classmethod
    def _timestamp(cls, value: Any) -> datetime | None:
        return parse_timestamp(value)

    @field_validator("id", "title", "text", "source", "author")
    @classmethod
    def _valid_unicode(cls, value: str | None) -> str | None:
        return None if value is None else check_text(value)

    @field_validator("url")
    @classmethod
    def _link(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        return check_link(check_text(value))

    @field_validator("metadata")
    @classmethod
    def _bounded_metadata(cls, value: dict[str, Any]) -> dict[str, Any]:
        if metadata_depth_exceeds(value):
            raise ValueError(f"nested more than {MAX_METADATA_DEPTH} levels deep")
        _check_metadata_text(value)
        return value


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


class GroupMember(BaseModel):
    id: str
    source: str | None = None
    published_at: datetime | None = None


class ArticleGroup(BaseModel):
    """The near-duplicates of an article: syndicated copies and revisions of one story."""

    id: int = Field(description="The group's id (`group_id` in search results).")
    original_id: str = Field(
        description="The earliest full copy: the first published member at least 80 % as long "
        "as the longest, a shorter one being an excerpt (undated members come after dated ones; "
        "ties go to the first ingested)."
    )
    members: list[GroupMember] = Field(
        description="Every member, the article itself included, in order of publication."
    )


class Article(ArticleSummary):
    text: str = Field(description="The normalised text that chunk offsets point into.")
    chunks: list[ChunkInfo] = Field(default_factory=list)
    group: ArticleGroup | None = Field(
        default=None,
        description="The article's near-duplicate group (a group of one for a unique article).",
    )


class ChunkOrigin(BaseModel):
    """Where a piece of text comes from: the chunk and the article it belongs to."""

    chunk_id: int
    article_id: str
    title: str
    url: str | None = None
    source: str | None = None
    published_at: datetime | None = None
    group_id: int | None = Field(
        default=None, description="The article's near-duplicate group (`GET /articles/{id}`)."
    )
    original_id: str | None = Field(
        default=None, description="The group's original: its earliest full copy."
    )
    carried_by: list[str] = Field(
        default_factory=list,
        description="The outlets whose copies are in the group, in order of first publication "
        "(at most 100).",
    )


class Passage(ChunkOrigin):
    """A chunk as retrieved for a query, with the scores that ranked it."""

    text: str
    char_start: int
    char_end: int
    score: float = Field(
        description="Fused score (hybrid mode; the retriever's own score otherwise). With "
        "reranking on, the order is the reranker's: see `rerank_score`."
    )
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
    rerank_score: float | None = Field(
        default=None,
        description="Reranker score that ordered the passage (hybrid mode with `rerank` on, "
        "within the first `rerank_depth` fused candidates); null otherwise.",
    )


class SearchFilters(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sources: list[UnicodeText] | None = Field(
        default=None, description="Keep articles from these outlets."
    )
    article_ids: list[UnicodeText] | None = Field(
        default=None, description="Keep only these articles."
    )
    published_after: datetime | None = Field(default=None, description="Inclusive lower bound.")
    published_before: datetime | None = Field(default=None, description="Inclusive upper bound.")
    include_undated: bool = Field(
        default=False,
        description="Keep articles with no publication date when a date bound is set (set for"
        " bounds read from a question's time words: an undated article cannot be shown to fall"
        " outside them).",
    )

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


class ReindexReport(BaseModel):
    """What `newsdesk reindex` did: the collection's vectors now come from `model`."""

    model: str = Field(description="The embedding model id the collection now uses.")
    previous_model: str = Field(description="The model id it used before.")
    chunks: int = Field(description="Chunks embedded with the new model, all of them.")
    embedded: int = Field(
        description="Chunks this run embedded (the rest were staged by an interrupted earlier run)."
    )
    resumed: int = Field(
        description="Chunks whose new vectors an interrupted earlier run had staged."
    )
    seconds: float = Field(description="Time the reindex took.")
